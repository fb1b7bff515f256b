//! Whether Redis answers, as the broker last saw it: for readiness, metrics, the
//! `config` command, and whoever must act when the link comes back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Whether Redis answers, as the broker last saw it; for readiness and metrics.
#[derive(Debug, Default)]
pub struct BrokerStatus {
    connected: AtomicBool,
    /// Other nodes heard from lately.
    peers: AtomicUsize,
    /// Why the last connection attempt failed, and when that was logged.
    last_error: std::sync::Mutex<Option<(String, Instant)>>,
    /// Told at every connection, the first and each after an outage.
    pub(super) connections: tokio::sync::Notify,
}

/// A failed connection attempt is logged at once, then, while the same error repeats,
/// at most this often.
const LOG_REPEATED_ERROR: Duration = Duration::from_secs(30);

impl BrokerStatus {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Waits for the next connection to Redis (or returns at once if one was made since
    /// the last call): what other nodes announced meanwhile may have been lost.
    pub async fn connected_again(&self) {
        self.connections.notified().await;
    }

    /// Why Redis could not be reached, as it said last (a wrong password, something that
    /// is not Redis, a refused connection); `None` while connected.
    pub fn last_error(&self) -> Option<String> {
        if self.is_connected() {
            return None;
        }
        let last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().map(|(message, _)| message.clone())
    }

    /// Notes a failed attempt; logs it when it is new or not logged for a while.
    pub(super) fn failed(&self, error: &fred::error::Error) {
        let message = error.to_string();
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        let log = match &*last {
            Some((same, at)) if *same == message => at.elapsed() >= LOG_REPEATED_ERROR,
            _ => true,
        };
        if log {
            tracing::warn!(error = %message, "cannot use Redis; trying again");
            *last = Some((message, Instant::now()));
        } else if let Some((same, _)) = &mut *last {
            same.clone_from(&message);
        }
    }

    /// How many other nodes this one has heard from lately (within the node timeout).
    pub fn peers(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }

    pub(super) fn set_peers(&self, count: usize) {
        self.peers.store(count, Ordering::Relaxed);
    }

    pub(super) fn set(&self, connected: bool) {
        if self.connected.swap(connected, Ordering::Relaxed) != connected {
            metrics::gauge!("realtime_broker_connected").set(if connected { 1.0 } else { 0.0 });
            if connected {
                tracing::info!("Redis connected: broadcasts reach the other nodes");
            } else {
                tracing::warn!(
                    "Redis unreachable: serving this node's sockets only until it is back"
                );
            }
        }
    }
}
