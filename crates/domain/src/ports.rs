//! Ports: what the domain needs from the outside world, implemented by outer crates
//! (persistence for the stores, server wiring for probes) and swappable in tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::entities::{Comment, Device, NewComment, NewUser, Role, User};
use crate::error::Result;
use crate::ids::{CommentId, UserId};
use crate::page::{Page, PageRequest};
use crate::values::{CommentBody, DeviceId, Email, VideoId};

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
}

/// Comments on videos. Deleted comments are kept but invisible through this port.
#[async_trait]
pub trait CommentStore: Send + Sync {
    async fn insert(&self, comment: NewComment) -> Result<Comment>;
    async fn by_id(&self, id: CommentId) -> Result<Option<Comment>>;
    /// Newest first, keyset-paginated by comment id.
    async fn newest_for_video(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> Result<Page<Comment, CommentId>>;
    /// `NotFound` if the comment does not exist or was deleted.
    async fn update_body(&self, id: CommentId, body: CommentBody) -> Result<Comment>;
    /// `NotFound` if the comment does not exist or was already deleted.
    async fn soft_delete(&self, id: CommentId) -> Result<()>;
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
    /// `NotFound` if the user has no such device.
    async fn deactivate(&self, user: UserId, device: &DeviceId) -> Result<()>;
}

/// A dependency whose health decides whether this node is ready for traffic.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// A short stable name for reports, e.g. "mariadb".
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answers now; otherwise a reason safe to show operators.
    async fn check(&self) -> std::result::Result<(), String>;
}
