//! The topic hub of one node: which sockets listen to which topic, and fanout. A broadcast
//! is serialized once; the same shared bytes are queued to every subscriber, whose queue
//! ([`Outbox`]) is bounded.
//!
//! A topic is delivered to at once, or *paced*: a large room's broadcasts wait in the
//! topic and go out once per window, all of a window's frames to each socket together, so
//! a viewer costs one wake-up and one write per window however busy the room is. A window
//! is handed to each runtime its sockets run on (see [`homes`]) rather than offered from
//! wherever the window closed.

mod homes;
mod outbox;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use domain::UserId;

use crate::frame::Encoded;
use homes::{Home, Homes};

pub use outbox::{CloseReason, Outbox, OutboxReceiver, QueueLimits};

/// Identifies one socket on this node.
pub type SocketId = u64;

/// Who is behind a subscription, as far as fanout cares: comments held back from a large
/// room still reach their author and the room's moderators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user: UserId,
    /// A moderator or admin: sees every comment of a large room.
    pub moderates: bool,
}

#[derive(Debug)]
struct Subscriber {
    socket: SocketId,
    outbox: Outbox,
    viewer: Viewer,
    /// The runtime the socket runs on.
    home: Home,
}

#[derive(Debug, Default)]
struct Topic {
    subscribers: Vec<Subscriber>,
    /// Whom a held comment may be for, found without a scan of the room: every held
    /// comment reaches every node, and a node of 100,000 sockets in a room where 1,000
    /// comments a second are held would otherwise look at each socket 1,000 times a
    /// second.
    held_for: HeldFor,
    /// Paced: the broadcasts waiting for the next window.
    paced: Option<Mutex<Vec<Encoded>>>,
}

/// A topic's moderators' sockets, and every user's sockets.
#[derive(Debug, Default)]
struct HeldFor {
    moderators: Vec<(SocketId, Outbox)>,
    users: HashMap<UserId, Vec<(SocketId, Outbox)>>,
}

impl HeldFor {
    fn add(&mut self, socket: SocketId, outbox: &Outbox, viewer: Viewer) {
        if viewer.moderates {
            self.moderators.push((socket, outbox.clone()));
        } else {
            self.users
                .entry(viewer.user)
                .or_default()
                .push((socket, outbox.clone()));
        }
    }

    fn remove(&mut self, socket: SocketId, viewer: Viewer) {
        if viewer.moderates {
            self.moderators.retain(|(s, _)| *s != socket);
        } else if let Some(sockets) = self.users.get_mut(&viewer.user) {
            sockets.retain(|(s, _)| *s != socket);
            if sockets.is_empty() {
                self.users.remove(&viewer.user);
            }
        }
    }

    /// The moderators' sockets and `author`'s (a moderator's own once).
    fn of(&self, author: UserId) -> impl Iterator<Item = &Outbox> {
        self.moderators
            .iter()
            .chain(self.users.get(&author).into_iter().flatten())
            .map(|(_, outbox)| outbox)
    }
}

impl Topic {
    /// Takes `socket` out of the topic, if it is in.
    fn remove(&mut self, socket: SocketId) {
        if let Some(at) = self.subscribers.iter().position(|s| s.socket == socket) {
            let gone = self.subscribers.swap_remove(at);
            self.held_for.remove(socket, gone.viewer);
        }
    }

    /// Queues `frame` to every subscriber but `except`; how many took it.
    fn offer(&self, frame: &Encoded, except: Option<SocketId>) -> usize {
        self.subscribers
            .iter()
            .filter(|s| Some(s.socket) != except)
            .filter(|s| s.outbox.offer(frame))
            .count()
    }
}

/// A topic gained its first local subscriber, or lost its last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicChange {
    Added(String),
    Removed(String),
}

/// Topic subscriptions of this node.
#[derive(Debug, Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, Topic>>,
    next_id: AtomicU64,
    /// Told about topics coming and going (a broker that subscribes per topic).
    watcher: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<TopicChange>>,
    homes: Homes,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// The topics that have local subscribers now, and every later change. One watcher
    /// per hub; `None` if it has one already.
    pub fn watch_topics(
        &self,
    ) -> Option<(
        Vec<String>,
        tokio::sync::mpsc::UnboundedReceiver<TopicChange>,
    )> {
        // Under the write lock, so no change falls between the list and the channel.
        let topics = self.write();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.watcher.set(tx).ok()?;
        Some((topics.keys().cloned().collect(), rx))
    }

    fn tell(&self, change: TopicChange) {
        if let Some(watcher) = self.watcher.get() {
            let _ = watcher.send(change);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Topic>> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Topic>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds `socket` to `topic`'s subscribers; called from the socket's own task, so the
    /// hub knows which runtime it runs on.
    pub fn subscribe(&self, topic: &str, socket: SocketId, outbox: Outbox, viewer: Viewer) {
        let home = self.homes.here();
        let mut topics = self.write();
        let new = !topics.contains_key(topic);
        let entry = topics.entry(topic.to_owned()).or_default();
        entry.remove(socket);
        entry.held_for.add(socket, &outbox, viewer);
        entry.subscribers.push(Subscriber {
            socket,
            outbox,
            viewer,
            home,
        });
        if new {
            self.tell(TopicChange::Added(topic.to_owned()));
        }
    }

    pub fn unsubscribe(&self, topic: &str, socket: SocketId) {
        let mut topics = self.write();
        if let Some(entry) = topics.get_mut(topic) {
            entry.remove(socket);
            if entry.subscribers.is_empty() {
                topics.remove(topic);
                self.tell(TopicChange::Removed(topic.to_owned()));
            }
        }
    }

    /// Queues `frame` to every subscriber of `topic` but `except`, now, paced or not;
    /// returns how many got it.
    pub fn broadcast(&self, topic: &str, frame: &Encoded, except: Option<SocketId>) -> usize {
        self.read()
            .get(topic)
            .map_or(0, |entry| entry.offer(frame, except))
    }

    /// A room's broadcast: to every subscriber but `except` now, or with the next window
    /// if the topic is paced (then to everyone). Counted in `realtime_deliveries_total`.
    pub(crate) fn deliver(
        &self,
        topic: &str,
        event: &'static str,
        frame: &Encoded,
        except: Option<SocketId>,
    ) {
        let delivered = {
            let topics = self.read();
            let Some(entry) = topics.get(topic) else {
                return;
            };
            if let Some(waiting) = &entry.paced {
                waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(frame.clone());
                return;
            }
            entry.offer(frame, except)
        };
        metrics::counter!("realtime_deliveries_total", "event" => event)
            .increment(delivered as u64);
    }

    /// A comment held back from a large room: to its author's sockets and the room's
    /// moderators only, now.
    pub(crate) fn deliver_held(&self, topic: &str, author: UserId, frame: &Encoded) {
        let topics = self.read();
        let Some(entry) = topics.get(topic) else {
            return;
        };
        let delivered = entry
            .held_for
            .of(author)
            .filter(|outbox| outbox.offer(frame))
            .count();
        metrics::counter!("realtime_deliveries_total", "event" => "held_comment")
            .increment(delivered as u64);
    }

    /// Paces `topic` (broadcasts wait for [`flush_window`](Self::flush_window)) or stops
    /// pacing it (what waits goes out now).
    pub(crate) fn pace(&self, topic: &str, paced: bool) {
        let waiting = {
            let mut topics = self.write();
            let Some(entry) = topics.get_mut(topic) else {
                return;
            };
            match (&entry.paced, paced) {
                (None, true) => {
                    entry.paced = Some(Mutex::default());
                    return;
                }
                (Some(_), false) => entry.paced.take(),
                _ => return,
            }
        };
        let waiting = waiting.map(|w| w.into_inner().unwrap_or_else(|p| p.into_inner()));
        for frame in waiting.unwrap_or_default() {
            self.broadcast(topic, &frame, None);
        }
    }

    /// A window of a paced topic: what waited, then `extra`, to each subscriber in one
    /// batch. Each runtime with subscribers gets the window once and offers it to its own
    /// sockets, which then wake without a syscall each (a wake-up across runtimes writes
    /// to the other's eventfd: one per socket and window was 8% of a node's CPU in a room
    /// of 15,000). Returns the sockets reached on this runtime.
    pub(crate) fn flush_window(self: &Arc<Self>, topic: &str, extra: Vec<Encoded>) -> usize {
        let (frames, homes) = {
            let topics = self.read();
            let Some(entry) = topics.get(topic) else {
                return 0;
            };
            let mut frames = match &entry.paced {
                Some(waiting) => {
                    std::mem::take(&mut *waiting.lock().unwrap_or_else(|p| p.into_inner()))
                }
                None => Vec::new(),
            };
            frames.extend(extra);
            if frames.is_empty() {
                return 0;
            }
            let homes: BTreeSet<Home> = entry.subscribers.iter().map(|s| s.home).collect();
            (Arc::new(frames), homes)
        };
        let mut reached = 0;
        for home in homes {
            match self.homes.elsewhere(home) {
                Some(runtime) => {
                    let (hub, topic, frames) =
                        (Arc::clone(self), topic.to_owned(), Arc::clone(&frames));
                    runtime.spawn(async move { hub.offer_window(&topic, &frames, home) });
                }
                None => reached += self.offer_window(topic, &frames, home),
            }
        }
        reached
    }

    /// A window's frames to the subscribers of `topic` at `home`; how many took them.
    fn offer_window(&self, topic: &str, frames: &[Encoded], home: Home) -> usize {
        let topics = self.read();
        let Some(entry) = topics.get(topic) else {
            return 0;
        };
        let reached = entry
            .subscribers
            .iter()
            .filter(|s| s.home == home)
            .filter(|s| s.outbox.offer_all(frames))
            .count();
        metrics::counter!("realtime_room_windows_total").increment(reached as u64);
        reached
    }

    /// A frame of each subscriber's own (`make` says which; `None`: none for it), now.
    pub(crate) fn send_each(&self, topic: &str, mut make: impl FnMut(&Viewer) -> Option<Encoded>) {
        let topics = self.read();
        let Some(entry) = topics.get(topic) else {
            return;
        };
        for s in &entry.subscribers {
            if let Some(frame) = make(&s.viewer) {
                s.outbox.offer(&frame);
            }
        }
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.read().get(topic).map_or(0, |t| t.subscribers.len())
    }
}

#[cfg(test)]
mod tests;
