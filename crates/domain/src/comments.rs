//! The comment use cases, shared by REST and WebSocket so both behave the same: validate,
//! authorize, rate-limit, store (each change in a transaction of its own, with the rows
//! that go with it), then announce.

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditAction, AuditEntry};
use crate::entities::{Comment, NewComment};
use crate::error::{Error, Result};
use crate::ids::CommentId;
use crate::limits::{RateKey, RateLimiter};
use crate::mirror::{Mirror, MirrorChange};
use crate::page::{Page, PageRequest};
use crate::policy::{Action, Actor, Policy, Scope};
use crate::ports::{CommentEvent, CommentEvents, CommentStore, Posted, UnitOfWork};
use crate::values::{ClientId, CommentBody, VideoId};

/// Where a rejoining client stands in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayFrom {
    /// It holds every comment up to this position.
    Position(u64),
    /// It holds every comment up to this one (as positioned in the room).
    Comment(CommentId),
}

/// Comments for a joiner, and where it then stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    /// By position, oldest first.
    pub comments: Vec<Comment>,
    /// Whether these are all the comments after the position asked for.
    pub complete: bool,
    /// The position up to which the joiner now has every comment (deleted ones aside):
    /// the room's last position, or the last comment's when `complete` is false.
    pub position: u64,
}

/// Posting, editing, deleting and reading comments.
#[derive(Clone)]
pub struct Comments {
    /// For reads; every write goes through a transaction.
    store: Arc<dyn CommentStore>,
    policy: Arc<dyn Policy>,
    limiter: Arc<dyn RateLimiter>,
    events: Arc<dyn CommentEvents>,
    transactions: Arc<dyn UnitOfWork>,
    mirror: Mirror,
}

impl std::fmt::Debug for Comments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Comments")
    }
}

impl Comments {
    pub fn new(
        store: Arc<dyn CommentStore>,
        policy: Arc<dyn Policy>,
        limiter: Arc<dyn RateLimiter>,
        events: Arc<dyn CommentEvents>,
        transactions: Arc<dyn UnitOfWork>,
    ) -> Self {
        Self {
            store,
            policy,
            limiter,
            events,
            transactions,
            mirror: Mirror::Off,
        }
    }

    /// With the mirror on, every change also writes its mirror outbox row, in the same
    /// transaction.
    pub fn mirrored(mut self, mirror: Mirror) -> Self {
        self.mirror = mirror;
        self
    }

    fn authorize(&self, actor: &Actor, action: Action, scope: Scope) -> Result<()> {
        if self.policy.allows(actor.role, action, scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                self.policy.refusal(actor.role, action, scope),
            ))
        }
    }

    async fn limit(&self, key: RateKey) -> Result<()> {
        self.limiter
            .check(&key)
            .await
            .map_err(|retry_after| Error::RateLimited {
                limit: key.kind(),
                retry_after,
            })
    }

    /// Posts `body` on `video` as `actor`; the comment is stored before it is announced.
    /// A `client_id` the author already used on this video makes it a retried post:
    /// nothing is stored or announced again, and the answer is the original comment, or
    /// `Conflict` if that was deleted since. On another video the same client id is a new
    /// post.
    pub async fn post(
        &self,
        actor: &Actor,
        video: VideoId,
        body: CommentBody,
        client_id: Option<ClientId>,
    ) -> Result<Comment> {
        self.authorize(actor, Action::PostComment, Scope::Own)?;
        if let Some(id) = &client_id
            && let Some(original) = self.store.by_client_id(actor.user_id, &video, id).await?
        {
            return retried(original);
        }
        self.limit(RateKey::CommentsByUser(actor.user_id)).await?;
        self.limit(RateKey::CommentsByDevice(actor.device)).await?;
        let new = NewComment {
            video_id: video.clone(),
            user_id: actor.user_id,
            username: actor.username.clone(),
            body,
            client_id: client_id.clone(),
        };
        // No transaction of the use case's own: the store writes what goes with the
        // comment in one step (with MariaDB one round trip either way, so posting costs
        // about the same with the mirror on as off).
        let inserted = match self.mirror {
            Mirror::Off => self.store.insert(new).await,
            Mirror::On => self.store.insert_mirrored(new).await,
        };
        let comment = match (inserted, &client_id) {
            (Ok(comment), _) => comment,
            // Two retries raced; the other one stored it.
            (Err(Error::Conflict(_)), Some(id)) => {
                return match self.store.by_client_id(actor.user_id, &video, id).await? {
                    Some(original) => retried(original),
                    None => Err(Error::internal("client id clash without a comment")),
                };
            }
            (Err(e), _) => return Err(e),
        };
        self.events
            .publish(CommentEvent::Created {
                comment: comment.clone(),
                author_role: actor.role,
            })
            .await;
        Ok(comment)
    }

    /// A live comment; `NotFound` if it does not exist or was deleted.
    pub async fn get(&self, id: CommentId) -> Result<Comment> {
        self.store
            .by_id(id)
            .await?
            .ok_or(Error::NotFound("comment"))
    }

    /// Newest first, a page at a time.
    pub async fn list(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> Result<Page<Comment, CommentId>> {
        self.store.newest_for_video(video, page).await
    }

    /// The latest `limit` comments (oldest first), standing at the newest one's position:
    /// one query, as a join is the common case. (Everything after it is replayed by a
    /// rejoin, deleted comments aside, so that is exact; a room whose newest comments were
    /// deleted only makes the rejoin read a few deleted rows.)
    pub async fn latest(&self, video: &VideoId, limit: u16) -> Result<Replay> {
        let mut comments = self
            .store
            .newest_for_video(video, PageRequest::new(limit, None)?)
            .await?
            .items;
        comments.reverse();
        let position = comments.iter().map(|c| c.position).max().unwrap_or(0);
        Ok(Replay {
            comments,
            complete: true,
            position,
        })
    }

    /// Every comment stored after `from`, by position, up to `limit`: what a client that
    /// holds every comment up to there missed. `NotFound` for a comment not in the room.
    pub async fn replay(&self, video: &VideoId, from: ReplayFrom, limit: u16) -> Result<Replay> {
        let last = self.store.last_position(video).await?;
        let after = match from {
            ReplayFrom::Position(after) => after,
            ReplayFrom::Comment(id) => self
                .store
                .position_of(video, id)
                .await?
                .ok_or(Error::NotFound("comment"))?,
        };
        let mut comments = self
            .store
            .after_position(video, after, limit.saturating_add(1))
            .await?;
        let complete = comments.len() <= usize::from(limit);
        comments.truncate(usize::from(limit));
        let position = if complete {
            last.max(after)
        } else {
            comments.last().map_or(after, |c| c.position)
        };
        Ok(Replay {
            comments,
            complete,
            position,
        })
    }

    /// Replaces the text of a comment; only its author may, whatever the role.
    pub async fn edit(&self, actor: &Actor, id: CommentId, body: CommentBody) -> Result<Comment> {
        let current = self.get(id).await?;
        self.authorize(
            actor,
            Action::EditComment,
            Scope::of(actor, current.user_id),
        )?;
        let tx = self.transactions.begin().await?;
        let updated = async {
            let comment = tx.comments().update_body(id, body).await?;
            if self.mirror == Mirror::On {
                tx.outbox().enqueue(&MirrorChange::saved(&comment)).await?;
            }
            Ok::<_, Error>(comment)
        }
        .await;
        let comment = tx.finish(updated).await?;
        self.events
            .publish(CommentEvent::Updated(comment.clone()))
            .await;
        Ok(comment)
    }

    /// Soft-deletes a comment: its author may, and moderators and admins may delete any
    /// (which is audited).
    pub async fn delete(&self, actor: &Actor, id: CommentId) -> Result<()> {
        let current = self.get(id).await?;
        let scope = Scope::of(actor, current.user_id);
        self.authorize(actor, Action::DeleteComment, scope)?;
        let tx = self.transactions.begin().await?;
        let deleted = async {
            tx.comments().soft_delete(id).await?;
            if self.mirror == Mirror::On {
                tx.outbox()
                    .enqueue(&MirrorChange::CommentDeleted {
                        id,
                        video_id: current.video_id.clone(),
                    })
                    .await?;
            }
            if scope == Scope::Others {
                tx.audit()
                    .record(AuditEntry {
                        action: AuditAction::CommentDeletedByModerator,
                        actor: Some(actor.user_id),
                        subject: Some(*id.as_uuid()),
                        detail: json!({ "author": current.user_id, "video_id": current.video_id }),
                        ip: None,
                    })
                    .await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        tx.finish(deleted).await?;
        self.events
            .publish(CommentEvent::Deleted {
                id,
                video_id: current.video_id,
            })
            .await;
        Ok(())
    }
}

/// The answer to a retried post: the original comment, or `Conflict` if it was deleted
/// (storing it again would bring back what its author or a moderator removed).
fn retried(original: Posted) -> Result<Comment> {
    match original {
        Posted::Live(comment) => Ok(comment),
        Posted::Deleted => Err(Error::Conflict(
            "the comment posted with this client_id was deleted".into(),
        )),
    }
}
