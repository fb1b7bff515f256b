//! What every socket task of a run reports into, and the flags that stop them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::hot::HotRoom;
use crate::stats::Samples;

/// Counters shared by every socket task.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) joined: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) comments_seen: AtomicU64,
    /// Comments the server acknowledged (reply ok to a publisher's push).
    pub(super) published: AtomicU64,
    /// Publishers stop pushing when this is set; everyone stops reading at `stop`.
    pub(super) stop_publishing: AtomicBool,
    pub(super) presence_frames: AtomicU64,
    pub(super) frames: AtomicU64,
    pub(super) stop: AtomicBool,
    /// Told when `stop` is set: a timer per socket to look at it would cost the generator
    /// tens of thousands of wake-ups a second.
    pub(super) stopping: tokio::sync::Notify,
    pub(super) join_latency: Mutex<Samples>,
    pub(super) delivery_latency: Mutex<Samples>,
    /// From a publisher's push to the server's ok (the comment is stored by then).
    pub(super) publish_latency: Mutex<Samples>,
    /// Why sockets failed to open or join, by message.
    failures: std::sync::Mutex<BTreeMap<String, u64>>,
    /// Connects that failed and were tried again, by message.
    retries: std::sync::Mutex<BTreeMap<String, u64>>,
    /// What the viewers of a hot room saw, and the comments' and reactions' numbers.
    pub(super) hot: HotRoom,
}

impl Shared {
    pub(super) fn new(hot: HotRoom) -> Self {
        Self {
            hot,
            ..Self::default()
        }
    }

    pub(super) fn retry(&self, why: String) {
        let mut retries = self.retries.lock().unwrap_or_else(|p| p.into_inner());
        *retries.entry(why).or_default() += 1;
    }

    pub(super) fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        *failures.entry(why).or_default() += 1;
    }

    /// The failures so far, by message; they are counted afresh from here.
    pub(super) fn take_failures(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The retried connects so far, by message; they are counted afresh from here.
    pub(super) fn take_retries(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.retries.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
