//! The mirror's outbox: changes that an outside copy of the data (Firebase Realtime
//! Database) must receive, written in the same transaction as the change itself, so a
//! committed change is never lost and a rolled-back one never mirrored.
//!
//! Use cases write a [`MirrorChange`] through [`MirrorOutbox`] inside their transaction;
//! the mirror's workers take them through [`MirrorQueue`], one change per subject at a
//! time and in the order they were written, so an edit never overtakes an older one.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::entities::Comment;
use crate::error::Result;
use crate::ids::{CommentId, UserId};
use crate::values::VideoId;

/// Whether use cases write mirror changes at all: with no mirror configured nothing is
/// written, so no outbox rows pile up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mirror {
    #[default]
    Off,
    On,
}

/// A change the mirror must copy.
#[derive(Clone, Debug, PartialEq)]
pub enum MirrorChange {
    /// Created or edited: the comment as every client sees it (see [`crate::wire`]).
    CommentSaved {
        id: CommentId,
        video_id: VideoId,
        comment: serde_json::Value,
    },
    CommentDeleted {
        id: CommentId,
        video_id: VideoId,
    },
    /// A user signed in at `at`.
    SignedIn {
        user: UserId,
        at: DateTime<Utc>,
    },
}

impl MirrorChange {
    pub fn saved(comment: &Comment) -> Self {
        Self::CommentSaved {
            id: comment.id,
            video_id: comment.video_id.clone(),
            comment: serde_json::to_value(comment).unwrap_or_default(),
        }
    }

    /// What the change is about; changes to one subject are mirrored in order.
    pub fn subject(&self) -> uuid::Uuid {
        match self {
            Self::CommentSaved { id, .. } | Self::CommentDeleted { id, .. } => *id.as_uuid(),
            Self::SignedIn { user, .. } => *user.as_uuid(),
        }
    }
}

/// Where a use case writes its mirror changes: bound to its transaction.
#[async_trait]
pub trait MirrorOutbox: Send + Sync {
    async fn enqueue(&self, change: &MirrorChange) -> Result<()>;
}

/// Changes a worker took while it held the sender lease: its own until `lease` expires or
/// it releases it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub lease: uuid::Uuid,
    pub entries: Vec<Claimed>,
    /// More changes may be pending: the batch was full or cut short.
    pub more: bool,
}

/// One leased change.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub id: u64,
    /// Tries so far, this one included.
    pub attempts: u32,
    pub enqueued_at: DateTime<Utc>,
    pub change: MirrorChange,
}

/// How the outbox stands, for metrics and `realtime-server firebase status`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboxStatus {
    pub pending: u64,
    /// When the oldest pending change was written: the mirror is this far behind.
    pub oldest_pending: Option<DateTime<Utc>>,
    pub dead: u64,
}

/// A change the mirror gave up on, kept for an operator.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub id: u64,
    pub attempts: u32,
    pub enqueued_at: DateTime<Utc>,
    pub change: MirrorChange,
    pub error: String,
}

/// The mirror workers' side of the outbox. Safe with any number of workers on any number
/// of nodes: one at a time holds the sender lease and sends, oldest change first, so no
/// change is sent by two at once and no change overtakes an older one.
#[async_trait]
pub trait MirrorQueue: Send + Sync {
    /// Takes the sender lease for `lease_for` and up to `limit` pending changes, oldest
    /// first, stopping before a second change to one subject; nothing while another worker
    /// holds the lease or the queue waits after a failure. Claimed changes are the
    /// worker's until it releases the lease (or retries).
    async fn claim(&self, limit: u32, lease_for: Duration) -> Result<Claim>;
    /// The changes arrived: done, deleted. Left alone if the lease was lost.
    async fn sent(&self, lease: uuid::Uuid, ids: &[u64]) -> Result<()>;
    /// The changes failed: counts the try, and ends the lease with the whole queue waiting
    /// `after`, so nothing overtakes them.
    async fn retry(
        &self,
        lease: uuid::Uuid,
        ids: &[u64],
        after: Duration,
        error: &str,
    ) -> Result<()>;
    /// Give up: the changes become dead letters.
    async fn bury(&self, lease: uuid::Uuid, ids: &[u64], error: &str) -> Result<()>;
    /// Keeps the lease `lease_for` longer; false if it is no longer held (it ran out and
    /// another worker took it, or a retry gave it back): then send nothing more of it.
    async fn renew(&self, lease: uuid::Uuid, lease_for: Duration) -> Result<bool>;
    /// Ends the lease, so the next batch can be taken by any worker.
    async fn release(&self, lease: uuid::Uuid) -> Result<()>;
    async fn status(&self) -> Result<OutboxStatus>;
    /// The newest dead letters, at most `limit`.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>>;
    /// Makes every dead letter pending again (after the cause was fixed); returns how many.
    async fn revive_dead(&self) -> Result<u64>;
}

/// What reconciliation compares the mirror with, besides the comments themselves.
#[async_trait]
pub trait MirrorSource: Send + Sync {
    /// Ids of the videos with at least one live comment, in order, after `after`, at most
    /// `limit`.
    async fn videos(&self, after: Option<&VideoId>, limit: u32) -> Result<Vec<VideoId>>;
}
