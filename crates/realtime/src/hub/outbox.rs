//! One socket's queue of outgoing frames, bounded in frames and in bytes: a socket that
//! cannot keep up is kicked instead of growing memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::frame::Encoded;

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
        self.offer_all(std::slice::from_ref(frame))
    }

    /// Queues `frames` together, with one wake-up of the transport, which then writes them
    /// in one go; if they do not all fit, the socket is kicked and none is queued.
    pub fn offer_all(&self, frames: &[Encoded]) -> bool {
        let mut state = self.queue.lock();
        if state.kicked.is_some() {
            return false;
        }
        let limits = self.queue.limits;
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        if state.frames.len() + frames.len() > limits.frames || state.bytes + bytes > limits.bytes {
            state.kicked = Some(CloseReason::SlowConsumer);
            drop(state);
            metrics::counter!("realtime_queue_drops_total").increment(frames.len() as u64);
            metrics::counter!("realtime_slow_consumer_disconnects_total").increment(1);
            self.queue.ready.notify_one();
            return false;
        }
        let was_empty = state.frames.is_empty();
        state.frames.extend(frames.iter().cloned());
        state.bytes += bytes;
        drop(state);
        // A non-empty queue has already woken the transport, which has yet to take it.
        if was_empty && !frames.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

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

    #[test]
    fn a_batch_is_queued_whole_or_not_at_all() {
        let f = frame::broadcast("t", "e", &serde_json::json!({}));
        let (outbox, receiver) = Outbox::new(QueueLimits {
            frames: 3,
            bytes: usize::MAX,
        });
        assert!(outbox.offer_all(&[f.clone(), f.clone()]));
        assert_eq!(receiver.take().len(), 2);
        assert!(!outbox.offer_all(&[f.clone(), f.clone(), f.clone(), f]));
        assert_eq!(
            receiver.take().len(),
            0,
            "nothing of a batch that does not fit"
        );
        assert_eq!(receiver.kicked(), Some(CloseReason::SlowConsumer));
    }
}
