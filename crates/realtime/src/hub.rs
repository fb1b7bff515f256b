//! The topic hub of one node: which sockets listen to which topic, and fanout. A broadcast
//! is serialized once; the same shared bytes are queued to every subscriber. Each socket's
//! queue is bounded in frames and in bytes: a socket that cannot keep up is kicked instead
//! of growing memory.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;

use crate::frame::Encoded;

/// Identifies one socket on this node.
pub type SocketId = u64;

/// Why the server closes a socket; the transport turns it into a close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Its queue overflowed (1013, try again later).
    SlowConsumer,
    /// Its device was revoked or its user deactivated (1001; the reconnect is refused).
    Revoked,
    /// Its access token expired (4001; reconnect with a fresh token).
    TokenExpired,
    /// Nothing received for the idle timeout (1001).
    Idle,
    /// The node is shutting down (1012).
    Shutdown,
}

impl CloseReason {
    /// The WebSocket close code. Never 1000, which strands older phoenix.js clients.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::SlowConsumer => 1013,
            CloseReason::Revoked | CloseReason::Idle => 1001,
            CloseReason::TokenExpired => 4001,
            CloseReason::Shutdown => 1012,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::Revoked => "revoked",
            CloseReason::TokenExpired => "token expired",
            CloseReason::Idle => "idle timeout",
            CloseReason::Shutdown => "server shutting down",
        }
    }
}

/// The queue of frames waiting for one socket, shared by the hub (which offers frames)
/// and the socket's transport (which takes them). Cheap when idle: an empty queue holds no
/// allocation, and a delivery is one short lock and, if the queue was empty, one wake-up.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Notify,
    limits: QueueLimits,
}

/// How much one socket's queue may hold before the socket counts as too slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    pub frames: usize,
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    frames: VecDeque<Encoded>,
    /// The sum of the queued frames' lengths.
    bytes: usize,
    kicked: Option<CloseReason>,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half of a socket's outgoing queue, plus its kill switch.
#[derive(Clone, Debug)]
pub struct Outbox {
    queue: Arc<Queue>,
}

/// The socket's end: frames to write, and the reason it must close, if any.
#[derive(Debug)]
pub struct OutboxReceiver {
    queue: Arc<Queue>,
}

impl Outbox {
    /// A queue of at most `limits.frames` frames and `limits.bytes` bytes.
    pub fn new(limits: QueueLimits) -> (Self, OutboxReceiver) {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
            limits: QueueLimits {
                frames: limits.frames.max(1),
                bytes: limits.bytes.max(1),
            },
        });
        (
            Self {
                queue: Arc::clone(&queue),
            },
            OutboxReceiver { queue },
        )
    }

    /// Queues a frame; a full queue kicks the socket (it is too slow) and drops the frame.
    pub fn offer(&self, frame: &Encoded) -> bool {
        let mut state = self.queue.lock();
        if state.kicked.is_some() {
            return false;
        }
        let limits = self.queue.limits;
        if state.frames.len() >= limits.frames || state.bytes + frame.len() > limits.bytes {
            state.kicked = Some(CloseReason::SlowConsumer);
            drop(state);
            metrics::counter!("realtime_queue_drops_total").increment(1);
            metrics::counter!("realtime_slow_consumer_disconnects_total").increment(1);
            self.queue.ready.notify_one();
            return false;
        }
        state.frames.push_back(frame.clone());
        state.bytes += frame.len();
        let first = state.frames.len() == 1;
        drop(state);
        // A non-empty queue has already woken the transport, which has yet to take it.
        if first {
            self.queue.ready.notify_one();
        }
        true
    }

    /// Asks the socket to close; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let mut state = self.queue.lock();
        if state.kicked.is_none() {
            state.kicked = Some(reason);
            drop(state);
            self.queue.ready.notify_one();
        }
    }
}

impl OutboxReceiver {
    /// Waits until frames were queued or the socket was kicked since the last wait. It may
    /// also return early; callers look with [`take`](Self::take) and [`kicked`](Self::kicked).
    pub async fn ready(&self) {
        self.queue.ready.notified().await;
    }

    /// Everything queued so far, oldest first, leaving the queue empty.
    pub fn take(&self) -> VecDeque<Encoded> {
        let mut state = self.queue.lock();
        state.bytes = 0;
        std::mem::take(&mut state.frames)
    }

    /// Why the socket must close, once it must.
    pub fn kicked(&self) -> Option<CloseReason> {
        self.queue.lock().kicked
    }

    /// The oldest queued frame, if any (for tests and simple consumers).
    pub fn try_next(&self) -> Option<Encoded> {
        let mut state = self.queue.lock();
        let frame = state.frames.pop_front()?;
        state.bytes -= frame.len();
        Some(frame)
    }

    /// Waits for the next frame; `None` once the socket is kicked and nothing is left.
    pub async fn next(&self) -> Option<Encoded> {
        loop {
            if let Some(frame) = self.try_next() {
                return Some(frame);
            }
            if self.kicked().is_some() {
                return None;
            }
            self.ready().await;
        }
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
    topics: RwLock<HashMap<String, Vec<(SocketId, Outbox)>>>,
    next_id: AtomicU64,
    /// Told about topics coming and going (a broker that subscribes per topic).
    watcher: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<TopicChange>>,
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
        let topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.watcher.set(tx).ok()?;
        Some((topics.keys().cloned().collect(), rx))
    }

    fn tell(&self, change: TopicChange) {
        if let Some(watcher) = self.watcher.get() {
            let _ = watcher.send(change);
        }
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn subscribe(&self, topic: &str, socket: SocketId, outbox: Outbox) {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let new = !topics.contains_key(topic);
        let subscribers = topics.entry(topic.to_owned()).or_default();
        subscribers.retain(|(id, _)| *id != socket);
        subscribers.push((socket, outbox));
        if new {
            self.tell(TopicChange::Added(topic.to_owned()));
        }
    }

    pub fn unsubscribe(&self, topic: &str, socket: SocketId) {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.retain(|(id, _)| *id != socket);
            if subscribers.is_empty() {
                topics.remove(topic);
                self.tell(TopicChange::Removed(topic.to_owned()));
            }
        }
    }

    /// Queues `frame` to every subscriber of `topic` but `except`; returns how many got it.
    pub fn broadcast(&self, topic: &str, frame: &Encoded, except: Option<SocketId>) -> usize {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let Some(subscribers) = topics.get(topic) else {
            return 0;
        };
        subscribers
            .iter()
            .filter(|(id, _)| Some(*id) != except)
            .filter(|(_, outbox)| outbox.offer(frame))
            .count()
    }

    /// [`broadcast`](Self::broadcast), counted in `realtime_deliveries_total` by event.
    pub(crate) fn deliver(
        &self,
        topic: &str,
        event: &'static str,
        frame: &Encoded,
        except: Option<SocketId>,
    ) {
        let delivered = self.broadcast(topic, frame, except);
        metrics::counter!("realtime_deliveries_total", "event" => event)
            .increment(delivered as u64);
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics.get(topic).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    #[tokio::test]
    async fn one_serialization_reaches_every_subscriber_but_the_excluded() {
        let hub = Hub::new();
        let (a, ra) = Outbox::new(frames(8));
        let (b, rb) = Outbox::new(frames(8));
        hub.subscribe("video:1", 1, a);
        hub.subscribe("video:1", 2, b);
        let f = frame::broadcast("video:1", "reaction", &serde_json::json!({}));
        assert_eq!(hub.broadcast("video:1", &f, Some(1)), 1);
        assert_eq!(hub.broadcast("video:1", &f, None), 2);
        assert_eq!(ra.next().await.as_deref(), Some(&*f));
        let got = rb.next().await.expect("frame");
        assert_eq!(
            got.as_bytes().as_ptr(),
            f.as_bytes().as_ptr(),
            "the same bytes, not a copy"
        );
        hub.unsubscribe("video:1", 1);
        assert_eq!(hub.subscriber_count("video:1"), 1);
    }

    fn frames(frames: usize) -> QueueLimits {
        QueueLimits {
            frames,
            bytes: usize::MAX,
        }
    }

    #[test]
    fn a_queue_over_its_bytes_kicks_the_socket_whatever_its_frame_count() {
        let f = frame::broadcast("t", "e", &serde_json::json!({ "pad": "x".repeat(20) }));
        let (outbox, receiver) = Outbox::new(QueueLimits {
            frames: 1000,
            bytes: 2 * f.len() + 10,
        });
        assert!(outbox.offer(&f));
        assert!(outbox.offer(&f));
        assert_eq!(receiver.kicked(), None);
        assert!(!outbox.offer(&f), "a third frame is over the bytes");
        assert_eq!(receiver.kicked(), Some(CloseReason::SlowConsumer));
    }

    #[test]
    fn taking_frames_frees_their_bytes() {
        let f = frame::broadcast("t", "e", &serde_json::json!({ "pad": "x".repeat(20) }));
        let (outbox, receiver) = Outbox::new(QueueLimits {
            frames: 1000,
            bytes: 2 * f.len() + 10,
        });
        for _ in 0..10 {
            assert!(outbox.offer(&f));
            assert!(outbox.offer(&f));
            assert_eq!(receiver.try_next().as_deref(), Some(&*f));
            assert_eq!(receiver.take().len(), 1);
        }
        assert_eq!(receiver.kicked(), None);
    }

    #[tokio::test]
    async fn a_watcher_hears_of_first_and_last_subscribers_only() {
        let hub = Hub::new();
        let (a, _ra) = Outbox::new(frames(8));
        hub.subscribe("video:1", 1, a.clone());
        let (existing, mut changes) = hub.watch_topics().expect("the first watcher");
        assert_eq!(existing, vec!["video:1".to_owned()]);
        assert!(hub.watch_topics().is_none(), "one watcher per hub");
        hub.subscribe("video:1", 2, a.clone());
        hub.subscribe("video:2", 1, a);
        hub.unsubscribe("video:1", 1);
        hub.unsubscribe("video:1", 2);
        assert_eq!(
            changes.recv().await,
            Some(TopicChange::Added("video:2".into()))
        );
        assert_eq!(
            changes.recv().await,
            Some(TopicChange::Removed("video:1".into()))
        );
        assert!(changes.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_full_queue_kicks_the_slow_socket() {
        let hub = Hub::new();
        let (slow, receiver) = Outbox::new(frames(2));
        hub.subscribe("t", 1, slow);
        let f = frame::broadcast("t", "e", &serde_json::json!({}));
        assert_eq!(hub.broadcast("t", &f, None), 1);
        assert_eq!(hub.broadcast("t", &f, None), 1);
        assert_eq!(
            hub.broadcast("t", &f, None),
            0,
            "the third frame does not fit"
        );
        assert_eq!(receiver.kicked(), Some(CloseReason::SlowConsumer));
    }
}
