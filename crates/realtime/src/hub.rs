//! The topic hub of one node: which sockets listen to which topic, and fanout. A broadcast
//! is serialized once; the same shared bytes are queued to every subscriber. Each socket's
//! queue is bounded: a socket that cannot keep up is kicked instead of growing memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, watch};

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
            CloseReason::Shutdown => 1012,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::Revoked => "revoked",
            CloseReason::Idle => "idle timeout",
            CloseReason::Shutdown => "server shutting down",
        }
    }
}

/// The sending half of a socket's outgoing queue, plus its kill switch.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Encoded>,
    kick: Arc<watch::Sender<Option<CloseReason>>>,
}

/// The socket's end: frames to write, and the reason it must close, if any.
#[derive(Debug)]
pub struct OutboxReceiver {
    pub frames: mpsc::Receiver<Encoded>,
    pub kicked: watch::Receiver<Option<CloseReason>>,
}

impl Outbox {
    /// A queue of at most `capacity` frames.
    pub fn new(capacity: usize) -> (Self, OutboxReceiver) {
        let (tx, frames) = mpsc::channel(capacity.max(1));
        let (kick, kicked) = watch::channel(None);
        (
            Self {
                tx,
                kick: Arc::new(kick),
            },
            OutboxReceiver { frames, kicked },
        )
    }

    /// Queues a frame; a full queue kicks the socket (it is too slow) and drops the frame.
    pub fn offer(&self, frame: &Encoded) -> bool {
        match self.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("realtime_queue_drops_total").increment(1);
                if self.kick.borrow().is_none() {
                    metrics::counter!("realtime_slow_consumer_disconnects_total").increment(1);
                    self.close(CloseReason::SlowConsumer);
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks the socket to close.
    pub fn close(&self, reason: CloseReason) {
        self.kick.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }
}

/// Topic subscriptions of this node.
#[derive(Debug, Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, Vec<(SocketId, Outbox)>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn subscribe(&self, topic: &str, socket: SocketId, outbox: Outbox) {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let subscribers = topics.entry(topic.to_owned()).or_default();
        subscribers.retain(|(id, _)| *id != socket);
        subscribers.push((socket, outbox));
    }

    pub fn unsubscribe(&self, topic: &str, socket: SocketId) {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.retain(|(id, _)| *id != socket);
            if subscribers.is_empty() {
                topics.remove(topic);
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
        let (a, mut ra) = Outbox::new(8);
        let (b, mut rb) = Outbox::new(8);
        hub.subscribe("video:1", 1, a);
        hub.subscribe("video:1", 2, b);
        let f = frame::broadcast("video:1", "reaction", &serde_json::json!({}));
        assert_eq!(hub.broadcast("video:1", &f, Some(1)), 1);
        assert_eq!(hub.broadcast("video:1", &f, None), 2);
        assert_eq!(ra.frames.recv().await.as_deref(), Some(&*f));
        let got = rb.frames.recv().await.expect("frame");
        assert_eq!(
            got.as_bytes().as_ptr(),
            f.as_bytes().as_ptr(),
            "the same bytes, not a copy"
        );
        hub.unsubscribe("video:1", 1);
        assert_eq!(hub.subscriber_count("video:1"), 1);
    }

    #[tokio::test]
    async fn a_full_queue_kicks_the_slow_socket() {
        let hub = Hub::new();
        let (slow, receiver) = Outbox::new(2);
        hub.subscribe("t", 1, slow);
        let f = frame::broadcast("t", "e", &serde_json::json!({}));
        assert_eq!(hub.broadcast("t", &f, None), 1);
        assert_eq!(hub.broadcast("t", &f, None), 1);
        assert_eq!(
            hub.broadcast("t", &f, None),
            0,
            "the third frame does not fit"
        );
        assert_eq!(*receiver.kicked.borrow(), Some(CloseReason::SlowConsumer));
    }
}
