//! The presence mirror: best effort, coalesced. A member whose connections change is
//! marked; once a second the marked members are written as they are then (every node's
//! connections counted), in as few multi-path PATCHes as fit, so a user flapping between
//! tabs costs at most one write a second and a room of 10,000 joining costs ten PATCHes,
//! not 10,000. Presence is not in the outbox: it is not stored in MariaDB, and a lost
//! write is repaired by the next change or by the cleanup below.
//!
//! Cleanup: on a graceful shutdown every socket leaves first, and the last flush writes
//! their members away; when another node dies, the nodes that see its members leave
//! rewrite them; a node that starts with no other node alive clears presence under every
//! video, since whatever is there was left by nodes that are gone.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::VideoId;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::client::RealtimeDatabase;
use crate::layout;

/// Paths per PATCH.
const PATHS_PER_WRITE: usize = 1000;

/// A member of a video's room as it is now, on every node.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomMember {
    pub username: String,
    pub connections: usize,
    /// When its first connection joined, in Unix seconds.
    pub online_at: i64,
}

/// Where the mirror looks members up (the realtime side's presence).
pub trait RoomMembers: Send + Sync {
    /// `user` in the room of `video`; `None` once it has no connection anywhere.
    fn member(&self, video: &str, user: &str) -> Option<RoomMember>;
}

/// Writes presence to Firebase.
pub struct PresenceMirror {
    members: Arc<dyn RoomMembers>,
    database: Arc<dyn RealtimeDatabase>,
    /// Members whose presence changed since the last flush, by (video, user).
    marked: Mutex<HashSet<(String, String)>>,
    every: Duration,
}

impl std::fmt::Debug for PresenceMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceMirror")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl PresenceMirror {
    /// Nothing is written until [`run`](Self::run) or [`flush`](Self::flush).
    pub fn new(
        members: Arc<dyn RoomMembers>,
        database: Arc<dyn RealtimeDatabase>,
        every: Duration,
    ) -> Self {
        Self {
            members,
            database,
            marked: Mutex::new(HashSet::new()),
            every,
        }
    }

    fn marked(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.marked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `user`'s connections in the room of `video` may have changed: written at the next
    /// flush.
    pub fn changed(&self, video: &str, user: &str) {
        self.marked().insert((video.to_owned(), user.to_owned()));
    }

    /// Writes marked members every `every` until `stop` turns true, then once more (the
    /// members of the sockets the shutdown closed).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush().await,
                _ = stop.changed() => {
                    self.flush().await;
                    return;
                }
            }
        }
    }

    /// Writes every marked member now.
    pub async fn flush(&self) {
        let marked: Vec<(String, String)> = self.marked().drain().collect();
        for chunk in marked.chunks(PATHS_PER_WRITE) {
            let updates: Map<String, Value> = chunk
                .iter()
                .filter_map(|(video, user)| self.entry(video, user))
                .collect();
            if updates.is_empty() {
                continue;
            }
            match self.database.update(&updates).await {
                Ok(()) => {
                    metrics::counter!("firebase_presence_writes_total").increment(1);
                }
                Err(e) => {
                    metrics::counter!("firebase_failures_total", "kind" => e.kind.as_str())
                        .increment(1);
                    tracing::debug!(error = %e, "firebase mirror: presence write failed; retried next time");
                    // Marked again, unless they changed since (then they are marked anyway).
                    self.marked().extend(chunk.iter().cloned());
                }
            }
        }
    }

    /// The path and value of `user` in the room of `video` as it is now: `null` once it
    /// has no connection left.
    fn entry(&self, video: &str, user: &str) -> Option<(String, Value)> {
        let video_id = VideoId::parse(video).ok()?;
        // Members are user ids (UUIDs); anything else is not ours to write.
        let user_id = uuid::Uuid::parse_str(user).ok()?;
        let path = layout::member(&video_id, &user_id.to_string());
        let value = match self.members.member(video, user) {
            None => Value::Null,
            Some(m) => json!({
                "username": m.username,
                "connections": m.connections,
                "online_at": m.online_at,
            }),
        };
        Some((path, value))
    }

    /// Removes presence under every video: for a node that starts alone.
    pub async fn clear_all(database: &dyn RealtimeDatabase) -> Result<usize, crate::RtdbError> {
        let videos = database.children("videos").await?;
        let mut cleared = 0;
        for chunk in videos.chunks(PATHS_PER_WRITE) {
            let updates: Map<String, Value> = chunk
                .iter()
                .filter_map(|v| VideoId::parse(v).ok())
                .map(|v| (layout::presence(&v), Value::Null))
                .collect();
            if !updates.is_empty() {
                database.update(&updates).await?;
                cleared += updates.len();
            }
        }
        Ok(cleared)
    }
}
