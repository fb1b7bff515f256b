//! In-memory fakes of the domain ports the comment use cases need.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use domain::audit::AuditEntry;
use domain::limits::{RateKey, RateLimiter};
use domain::policy::{Action, Policy, Scope};
use domain::ports::{
    AuditLog, CommentStore, DeviceStore, Posted, RefreshTokenStore, Transaction, UnitOfWork,
    UserStore,
};
use domain::{
    ClientId, Comment, CommentBody, CommentId, Error, NewComment, Page, PageRequest, Result, Role,
    UserId, Username, VideoId,
};
use tokio::sync::Notify;

#[derive(Debug)]
struct Stored {
    comment: Comment,
    client_id: Option<ClientId>,
    deleted: bool,
}

/// Comments in a `Vec`, in insertion (= id) order; usernames come from `name`.
#[derive(Debug, Default)]
pub struct MemStore {
    comments: Mutex<Vec<Stored>>,
    usernames: Mutex<HashMap<UserId, Username>>,
    /// When set, every call fails as if the database were down.
    pub down: AtomicBool,
    /// When set, the next history read (`newest_for_video` or `after_for_video`) takes its
    /// snapshot, signals `entered`, and returns only after `release`: a slow query.
    gate: Mutex<Option<Gate>>,
}

/// The two sides of a paused history read.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    pub entered: Arc<Notify>,
    pub release: Arc<Notify>,
}

impl MemStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stored>> {
        self.comments.lock().unwrap()
    }

    fn check_up(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::unavailable("fake store", "switched off by the test"))
        } else {
            Ok(())
        }
    }

    /// Pauses the next history read after it has read the comments.
    pub fn pause_next_read(&self) -> Gate {
        let gate = Gate::default();
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    async fn maybe_pause(&self) {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.entered.notify_one();
            gate.release.notified().await;
        }
    }

    /// Registers the username shown on the user's comments.
    pub fn name(&self, user: UserId, username: &str) {
        self.usernames
            .lock()
            .unwrap()
            .insert(user, Username::parse(username).unwrap());
    }

    /// Stores a comment directly (history for joins); returns it.
    pub fn seed(&self, video: &str, user: UserId, body: &str) -> Comment {
        let username = self
            .usernames
            .lock()
            .unwrap()
            .get(&user)
            .cloned()
            .unwrap_or_else(|| Username::parse("someone").unwrap());
        let comment = self.make(NewComment {
            video_id: VideoId::parse(video).unwrap(),
            user_id: user,
            username,
            body: CommentBody::parse(body).unwrap(),
            client_id: None,
        });
        self.lock().push(Stored {
            comment: comment.clone(),
            client_id: None,
            deleted: false,
        });
        comment
    }

    /// How many live comments `video` has.
    pub fn count(&self, video: &str) -> usize {
        self.lock()
            .iter()
            .filter(|s| s.comment.video_id.as_str() == video && !s.deleted)
            .count()
    }

    /// Marks a comment deleted without going through the use case.
    pub fn delete(&self, id: CommentId) {
        let mut all = self.lock();
        let stored = all.iter_mut().find(|s| s.comment.id == id).unwrap();
        stored.deleted = true;
    }

    /// Every stored comment, deleted ones included, oldest first.
    pub fn all(&self) -> Vec<Comment> {
        self.lock().iter().map(|s| s.comment.clone()).collect()
    }

    fn make(&self, new: NewComment) -> Comment {
        let now = Utc::now();
        let position = self.last(&new.video_id) + 1;
        Comment {
            id: CommentId::generate(),
            video_id: new.video_id,
            user_id: new.user_id,
            username: new.username,
            body: new.body,
            inserted_at: now,
            updated_at: now,
            position,
            version: 1,
        }
    }

    /// The video's last position: comments are numbered 1, 2, 3, ... per video.
    fn last(&self, video: &VideoId) -> u64 {
        self.lock()
            .iter()
            .filter(|s| &s.comment.video_id == video)
            .map(|s| s.comment.position)
            .max()
            .unwrap_or(0)
    }
}

#[async_trait]
impl CommentStore for MemStore {
    async fn insert(&self, new: NewComment) -> Result<Comment> {
        self.check_up()?;
        if let Some(client_id) = &new.client_id {
            let taken = self.lock().iter().any(|s| {
                s.comment.user_id == new.user_id
                    && s.comment.video_id == new.video_id
                    && s.client_id.as_ref() == Some(client_id)
            });
            if taken {
                return Err(Error::Conflict("client id already used".into()));
            }
        }
        let client_id = new.client_id.clone();
        let comment = self.make(new);
        self.lock().push(Stored {
            comment: comment.clone(),
            client_id,
            deleted: false,
        });
        Ok(comment)
    }

    async fn insert_mirrored(&self, _: NewComment) -> Result<Comment> {
        panic!("the mirror is off in these tests")
    }

    async fn by_client_id(
        &self,
        author: UserId,
        video: &VideoId,
        client_id: &ClientId,
    ) -> Result<Option<Posted>> {
        self.check_up()?;
        Ok(self
            .lock()
            .iter()
            .find(|s| {
                s.comment.user_id == author
                    && &s.comment.video_id == video
                    && s.client_id.as_ref() == Some(client_id)
            })
            .map(|s| {
                if s.deleted {
                    Posted::Deleted
                } else {
                    Posted::Live(s.comment.clone())
                }
            }))
    }

    async fn by_id(&self, id: CommentId) -> Result<Option<Comment>> {
        self.check_up()?;
        Ok(self
            .lock()
            .iter()
            .find(|s| s.comment.id == id && !s.deleted)
            .map(|s| s.comment.clone()))
    }

    async fn newest_for_video(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> Result<Page<Comment, CommentId>> {
        self.check_up()?;
        let mut items: Vec<Comment> = self
            .lock()
            .iter()
            .filter(|s| &s.comment.video_id == video && !s.deleted)
            .filter(|s| page.before().is_none_or(|b| s.comment.id < *b))
            .map(|s| s.comment.clone())
            .collect();
        items.sort_by_key(|c| std::cmp::Reverse(c.id));
        let more = items.len() > usize::from(page.limit());
        items.truncate(usize::from(page.limit()));
        let next = if more {
            items.last().map(|c| c.id)
        } else {
            None
        };
        self.maybe_pause().await;
        Ok(Page { items, next })
    }

    async fn after_position(
        &self,
        video: &VideoId,
        after: u64,
        limit: u16,
    ) -> Result<Vec<Comment>> {
        self.check_up()?;
        let mut items: Vec<Comment> = self
            .lock()
            .iter()
            .filter(|s| &s.comment.video_id == video && !s.deleted && s.comment.position > after)
            .map(|s| s.comment.clone())
            .collect();
        items.sort_by_key(|c| c.position);
        items.truncate(usize::from(limit));
        self.maybe_pause().await;
        Ok(items)
    }

    async fn last_position(&self, video: &VideoId) -> Result<u64> {
        self.check_up()?;
        Ok(self.last(video))
    }

    async fn position_of(&self, video: &VideoId, id: CommentId) -> Result<Option<u64>> {
        self.check_up()?;
        Ok(self
            .lock()
            .iter()
            .find(|s| &s.comment.video_id == video && s.comment.id == id)
            .map(|s| s.comment.position))
    }

    async fn update_body(&self, id: CommentId, body: CommentBody) -> Result<Comment> {
        self.check_up()?;
        let mut all = self.lock();
        let stored = all
            .iter_mut()
            .find(|s| s.comment.id == id && !s.deleted)
            .ok_or(Error::NotFound("comment"))?;
        stored.comment.body = body;
        stored.comment.updated_at = Utc::now();
        stored.comment.version += 1;
        Ok(stored.comment.clone())
    }

    async fn soft_delete(&self, id: CommentId) -> Result<()> {
        self.check_up()?;
        let mut all = self.lock();
        let stored = all
            .iter_mut()
            .find(|s| s.comment.id == id && !s.deleted)
            .ok_or(Error::NotFound("comment"))?;
        stored.deleted = true;
        Ok(())
    }
}

/// Keeps every audit entry.
#[derive(Debug, Default)]
pub struct MemAudit {
    pub entries: Mutex<Vec<AuditEntry>>,
}

#[async_trait]
impl AuditLog for MemAudit {
    async fn record(&self, entry: AuditEntry) -> Result<()> {
        self.entries.lock().unwrap().push(entry);
        Ok(())
    }
}

/// Transactions over the fakes. Writes apply at once and a rollback undoes nothing: the
/// room tests never make a write fail halfway (the real one is tested against MariaDB).
#[derive(Clone, Debug)]
pub struct MemTransactions {
    pub store: Arc<MemStore>,
    pub audit: Arc<MemAudit>,
}

#[async_trait]
impl UnitOfWork for MemTransactions {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Transaction for MemTransactions {
    fn users(&self) -> &dyn UserStore {
        panic!("the comment use cases do not touch users")
    }

    fn devices(&self) -> &dyn DeviceStore {
        panic!("the comment use cases do not touch devices")
    }

    fn tokens(&self) -> &dyn RefreshTokenStore {
        panic!("the comment use cases do not touch refresh tokens")
    }

    fn comments(&self) -> &dyn CommentStore {
        &*self.store
    }

    fn audit(&self) -> &dyn AuditLog {
        &*self.audit
    }

    fn outbox(&self) -> &dyn domain::mirror::MirrorOutbox {
        panic!("the mirror is off in these tests")
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    async fn rollback(self: Box<Self>) {}
}

/// Allows a fixed number of attempts per key, then refuses (and counts every check).
#[derive(Debug)]
pub struct CountingLimiter {
    per_key: u32,
    counts: Mutex<HashMap<RateKey, u32>>,
}

impl CountingLimiter {
    pub fn new(per_key: u32) -> Self {
        Self {
            per_key,
            counts: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn check(&self, key: &RateKey) -> std::result::Result<(), Duration> {
        let mut counts = self.counts.lock().unwrap();
        let n = counts.entry(key.clone()).or_default();
        *n += 1;
        if *n > self.per_key {
            Err(Duration::from_secs(1))
        } else {
            Ok(())
        }
    }
}

/// Everyone may post (and edit, delete) their own comments; moderators and admins may
/// delete others'. Roles in `no_posting` may not post at all.
#[derive(Debug, Default)]
pub struct SimplePolicy {
    pub no_posting: Vec<Role>,
}

impl Policy for SimplePolicy {
    fn allows(&self, role: Role, action: Action, scope: Scope) -> bool {
        match (action, scope) {
            (Action::PostComment, Scope::Own) => !self.no_posting.contains(&role),
            (Action::EditComment | Action::DeleteComment, Scope::Own) => true,
            (Action::DeleteComment, Scope::Others) => role != Role::User,
            _ => false,
        }
    }
}
