//! Ports: what the domain needs from the outside world, implemented by outer crates
//! (persistence for the stores, server wiring for probes) and swappable in tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
use crate::entities::{Comment, Device, NewComment, NewUser, Role, User};
use crate::error::Result;
use crate::ids::{CommentId, DeviceRowId, RefreshTokenId, UserId};
use crate::page::{Page, PageRequest};
use crate::tokens::{NewRefreshToken, Rotation, TokenHash};
use crate::values::{ClientId, CommentBody, DeviceId, Email, Username, VideoId};

/// User accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` if the email or username (ignoring case) is taken.
    async fn insert(&self, user: NewUser) -> Result<User>;
    async fn by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn by_email(&self, email: &Email) -> Result<Option<User>>;
    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<()>;
    /// `NotFound` if there is no such user.
    async fn set_role(&self, id: UserId, role: Role) -> Result<()>;
    /// `NotFound` if there is no such user.
    async fn set_active(&self, id: UserId, active: bool) -> Result<()>;
    /// `NotFound` if there is no such user; `Conflict` if the name is taken.
    async fn set_username(&self, id: UserId, username: &Username) -> Result<()>;
    /// `NotFound` if there is no such user.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()>;
    /// Users newest first, optionally only those whose username or email starts with
    /// `prefix`; keyset-paginated by user id.
    async fn search(
        &self,
        prefix: Option<&str>,
        page: PageRequest<UserId>,
    ) -> Result<Page<User, UserId>>;
}

/// Comments on videos. Deleted comments are kept but invisible through this port.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Stores a new comment; `Conflict` if its author already used its client id on the
    /// same video.
    async fn insert(&self, comment: NewComment) -> Result<Comment>;
    /// Stores a new comment and its mirror outbox row
    /// ([`MirrorChange::saved`](crate::mirror::MirrorChange::saved)) as one change: both or
    /// neither. Errors as [`insert`](Self::insert).
    async fn insert_mirrored(&self, comment: NewComment) -> Result<Comment>;
    /// What the author posted on the video with that client id, if anything.
    async fn by_client_id(
        &self,
        author: UserId,
        video: &VideoId,
        client_id: &ClientId,
    ) -> Result<Option<Posted>>;
    async fn by_id(&self, id: CommentId) -> Result<Option<Comment>>;
    /// Newest first, keyset-paginated by comment id.
    async fn newest_for_video(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> Result<Page<Comment, CommentId>>;
    /// Live comments of the video after position `after`, by position, at most `limit`.
    async fn after_position(&self, video: &VideoId, after: u64, limit: u16)
    -> Result<Vec<Comment>>;
    /// The video's last position: every comment up to it is stored (0 for none yet).
    async fn last_position(&self, video: &VideoId) -> Result<u64>;
    /// The position of comment `id` of the video, deleted or not; `None` if the video has
    /// no such comment.
    async fn position_of(&self, video: &VideoId, id: CommentId) -> Result<Option<u64>>;
    /// `NotFound` if the comment does not exist or was deleted.
    async fn update_body(&self, id: CommentId, body: CommentBody) -> Result<Comment>;
    /// `NotFound` if the comment does not exist or was already deleted.
    async fn soft_delete(&self, id: CommentId) -> Result<()>;
}

/// The comment a client id was used for, as a retried post finds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Posted {
    Live(Comment),
    /// Posted, then deleted.
    Deleted,
}

/// The devices users sign in from.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Registers the device for the user, or refreshes it (info, last seen, active again).
    async fn upsert(
        &self,
        user: UserId,
        device: &DeviceId,
        info: serde_json::Value,
    ) -> Result<Device>;
    async fn list_for_user(&self, user: UserId) -> Result<Vec<Device>>;
    async fn by_id(&self, id: DeviceRowId) -> Result<Option<Device>>;
    /// Marks the user's device inactive; `NotFound` if the user has no such device.
    async fn deactivate(&self, user: UserId, device: DeviceRowId) -> Result<()>;
}

/// Refresh tokens, stored as hashes, chained per device.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    async fn issue(&self, token: NewRefreshToken) -> Result<()>;
    /// In one transaction: if the token with `presented` hash is live (not used, not
    /// revoked, not expired, device active), mark it replaced by `next` and store `next`
    /// for the same user and device; if it was already used (replaced by a successor),
    /// revoke every token of its device. A token revoked without being used (logout,
    /// device revocation, deactivation) is `Rejected`, as an unknown one. `next.user_id`
    /// and `next.device` are ignored (taken from the old token).
    async fn rotate(&self, presented: &TokenHash, next: NewRefreshToken) -> Result<Rotation>;
    /// Revokes every live token of the device; returns how many.
    async fn revoke_device(&self, device: DeviceRowId) -> Result<u64>;
    /// Revokes every live token of the user; returns how many.
    async fn revoke_user(&self, user: UserId) -> Result<u64>;
    /// The device a token was issued to, for logout by refresh token.
    async fn device_of(
        &self,
        presented: &TokenHash,
    ) -> Result<Option<(UserId, DeviceRowId, RefreshTokenId)>>;
}

/// The audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, entry: AuditEntry) -> Result<()>;
}

/// Opens transactions: a use case that writes more than one row (a change and its audit
/// entry, a change and its mirror outbox row) writes them through one [`Transaction`], so they are stored
/// together or not at all.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    async fn begin(&self) -> Result<Box<dyn Transaction>>;
}

/// An open transaction: stores whose writes become visible together on
/// [`commit`](Transaction::commit). Dropped without a commit (an early return, a cancelled
/// request), it is rolled back. Reads through it see its own writes.
#[async_trait]
pub trait Transaction: Send + Sync {
    fn users(&self) -> &dyn UserStore;
    fn devices(&self) -> &dyn DeviceStore;
    fn tokens(&self) -> &dyn RefreshTokenStore;
    fn comments(&self) -> &dyn CommentStore;
    fn audit(&self) -> &dyn AuditLog;
    fn outbox(&self) -> &dyn crate::mirror::MirrorOutbox;
    async fn commit(self: Box<Self>) -> Result<()>;
    /// Undoes every write. Never fails: a transaction that cannot be rolled back is
    /// abandoned, which undoes it too.
    async fn rollback(self: Box<Self>);
}

impl dyn Transaction {
    /// Commits when `outcome` is `Ok`, rolls back when it is `Err`; answers `outcome`
    /// (or the commit's failure). The usual way to end a transaction:
    ///
    /// ```text
    /// let tx = transactions.begin().await?;
    /// let outcome = async { tx.users().set_role(id, role).await?; tx.audit().record(entry).await }.await;
    /// tx.finish(outcome).await
    /// ```
    pub async fn finish<T, E>(self: Box<Self>, outcome: Result<T, E>) -> Result<T, E>
    where
        T: Send,
        E: From<crate::Error> + Send,
    {
        match outcome {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }
}

/// Where changes to comments are announced (live rooms, mirrors).
#[async_trait]
pub trait CommentEvents: Send + Sync {
    async fn publish(&self, event: CommentEvent);
}

/// A change to a comment, after it was stored.
#[derive(Clone, Debug, PartialEq)]
pub enum CommentEvent {
    /// Posted by a user of `author_role` (a large room always shows moderators' comments).
    Created {
        comment: Comment,
        author_role: Role,
    },
    Updated(Comment),
    Deleted {
        id: CommentId,
        video_id: VideoId,
    },
}

/// Announces nothing (single-purpose tools and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCommentEvents;

#[async_trait]
impl CommentEvents for NoCommentEvents {
    async fn publish(&self, _event: CommentEvent) {}
}

/// Whether `realtime-server seed` has filled this database with demo data (known users
/// and passwords), so the web client may show them there and nowhere else.
#[async_trait]
pub trait DemoData: Send + Sync {
    async fn seeded(&self) -> Result<bool>;
    /// Records that demo data is seeded.
    async fn mark_seeded(&self) -> Result<()>;
}

/// A dependency whose health decides whether this node is ready for traffic.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// A short stable name for reports, e.g. "mariadb".
    fn name(&self) -> &'static str;
    /// Whether the node is unready without it (MariaDB) or only degraded (Redis).
    fn required(&self) -> bool {
        true
    }
    /// `Ok` when the dependency answers now; otherwise a reason safe to show operators.
    async fn check(&self) -> std::result::Result<(), String>;
}

/// Live connections (WebSockets) that must end when their credentials do, and the other
/// nodes, which must hear of every change to who may do what (their caches and sockets).
pub trait LiveConnections: Send + Sync {
    /// Closes every connection of the device.
    fn device_revoked(&self, device: DeviceRowId);
    /// Closes every connection of the user.
    fn user_deactivated(&self, user: UserId);
    /// The user's role, name or password changed: what is cached about them is stale.
    fn user_changed(&self, _user: UserId) {}
}

/// No live connections (tools, tests of the REST side alone).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLiveConnections;

impl LiveConnections for NoLiveConnections {
    fn device_revoked(&self, _device: DeviceRowId) {}
    fn user_deactivated(&self, _user: UserId) {}
}
