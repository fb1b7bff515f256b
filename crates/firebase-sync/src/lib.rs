//! Mirrors comments and presence into Firebase Realtime Database (docs/firebase.md).
//!
//! - Comments (and each user's last login) go through the transactional outbox: a post's
//!   outbox row is written by a trigger inside its `INSERT`, an edit's or deletion's in its
//!   use case's transaction, so a change and its row commit together; the
//!   [`OutboxWorker`] sends due rows in batches, each batch one multi-path PATCH. Nothing
//!   a user waits on ever waits for Firebase.
//! - Presence is written best effort, coalesced, by the [`PresenceMirror`].
//! - [`reconcile`](reconcile::reconcile) repairs whatever drifted.
//!
//! [`FirebaseMirror`] starts and stops all of it for a server.

mod auth;
mod breaker;
mod client;
pub mod layout;
mod outbox;
mod presence;
pub mod reconcile;
mod settings;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::mirror::MirrorQueue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use client::{FailureKind, REQUEST_TIMEOUT, RealtimeDatabase, RestClient, RtdbError};
pub use outbox::{OutboxWorker, WorkerOptions};
pub use presence::{PresenceMirror, RoomMember, RoomMembers};
pub use settings::{Credentials, DatabaseUrl, MirrorSettings, ServiceAccount, SettingError};

/// How often the presence mirror writes what changed.
pub const PRESENCE_EVERY: Duration = Duration::from_secs(1);

/// The mirror of one server: its outbox worker and its presence mirror.
pub struct FirebaseMirror {
    presence: Arc<PresenceMirror>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for FirebaseMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirebaseMirror").finish_non_exhaustive()
    }
}

impl FirebaseMirror {
    /// Starts the worker and the presence mirror against `database`. `alone` tells, once
    /// this node has had time to hear the others, whether no other node is alive: then the
    /// presence left in Firebase is stale (nodes that are gone left it) and is cleared
    /// before this node writes any.
    pub fn start(
        database: Arc<dyn RealtimeDatabase>,
        queue: Arc<dyn MirrorQueue>,
        members: Arc<dyn RoomMembers>,
        options: WorkerOptions,
        alone: impl Future<Output = bool> + Send + 'static,
    ) -> Arc<Self> {
        let (stop, stopped) = watch::channel(false);
        let presence = Arc::new(PresenceMirror::new(
            members,
            database.clone(),
            PRESENCE_EVERY,
        ));
        let worker = OutboxWorker::new(queue, database.clone(), options);
        let outbox_task = tokio::spawn(worker.run(stopped.clone()));
        let presence_task = {
            let presence = presence.clone();
            tokio::spawn(async move {
                if alone.await {
                    match PresenceMirror::clear_all(&*database).await {
                        Ok(videos) => {
                            tracing::info!(
                                videos,
                                "firebase mirror: cleared presence left by nodes that are gone"
                            );
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "firebase mirror: cannot clear stale presence");
                        }
                    }
                }
                presence.run(stopped).await;
            })
        };
        Arc::new(Self {
            presence,
            stop,
            tasks: Mutex::new(vec![outbox_task, presence_task]),
        })
    }

    /// For the realtime side: a member's connections in a video's room may have changed.
    pub fn presence_changed(&self, video: &str, user: &str) {
        self.presence.changed(video, user);
    }

    /// Finishes the batch in flight, writes the last presence changes (the members of the
    /// sockets a shutdown closed), and stops; waits at most `within`.
    pub async fn stop(&self, within: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let all = futures_join(tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!(
                "firebase mirror: did not stop in time; pending changes go out from the next node to run"
            );
        }
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}
