//! The outbox worker: takes the oldest pending changes in batches while it holds the
//! sender lease, writes each batch with one multi-path PATCH, and reports back: sent, retry
//! later (exponential backoff with jitter, at least what `Retry-After` asked), or dead
//! after too many attempts. A batch Firebase refuses outright (400) is split, so one bad
//! change does not hold up the others. Every node runs one; the queue lets one send at a
//! time, so no change is sent by two at once and none overtakes an older one.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::mirror::{Claim, Claimed, MirrorQueue};
use serde_json::Map;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::breaker::{Breaker, Permit};
use crate::client::{RealtimeDatabase, RtdbError};
use crate::layout;

/// How the worker paces itself. The defaults suit production; tests shorten them.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Changes per PATCH at most.
    pub batch: u32,
    /// How long the sender lease lasts, taken for a batch and renewed before each change
    /// of a batch sent change by change. Longer than one send can take (see
    /// [`crate::client::REQUEST_TIMEOUT`]), so a worker is never overtaken mid-send.
    pub lease: Duration,
    /// How often an idle worker looks for new changes: the mirror's added latency.
    pub poll: Duration,
    /// Tries before a change becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry's delay; each further one doubles, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Failures in a row that open the circuit, and for how long it opens at first and
    /// at most.
    pub breaker_threshold: u32,
    pub breaker_open: Duration,
    pub breaker_max_open: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch: 500,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(100),
            max_attempts: 15,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            breaker_threshold: 5,
            breaker_open: Duration::from_secs(5),
            breaker_max_open: Duration::from_secs(120),
        }
    }
}

/// Sends the outbox to Firebase.
pub struct OutboxWorker {
    queue: Arc<dyn MirrorQueue>,
    database: Arc<dyn RealtimeDatabase>,
    options: WorkerOptions,
    breaker: Breaker,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("options", &self.options)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// What the worker does after a step.
enum Next {
    /// More may be due: go on at once.
    Continue,
    Sleep(Duration),
}

/// A random factor in [0.5, 1.0): "equal jitter", so retries of many rows spread out but
/// none waits less than half its backoff.
fn jitter() -> f64 {
    let r = getrandom::u32().unwrap_or(u32::MAX / 2);
    0.5 + f64::from(r) / f64::from(u32::MAX) / 2.0
}

impl OutboxWorker {
    pub fn new(
        queue: Arc<dyn MirrorQueue>,
        database: Arc<dyn RealtimeDatabase>,
        options: WorkerOptions,
    ) -> Self {
        let breaker = Breaker::new(
            options.breaker_threshold,
            options.breaker_open,
            options.breaker_max_open,
        );
        Self {
            queue,
            database,
            options,
            breaker,
        }
    }

    /// Runs until `stop` turns true; the batch in flight is finished first.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut last_status = Instant::now() - Duration::from_secs(60);
        loop {
            if *stop.borrow() {
                break;
            }
            if last_status.elapsed() >= Duration::from_secs(5) {
                last_status = Instant::now();
                self.report_status().await;
            }
            match self.step().await {
                Next::Continue => {}
                Next::Sleep(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    /// Leases one batch and sends it.
    async fn step(&mut self) -> Next {
        let limit = match self.breaker.permit(Instant::now()) {
            Permit::Send => self.options.batch,
            Permit::Probe => 1,
            // Woken now and then while open, to keep the outbox gauges fresh.
            Permit::Wait(d) => return Next::Sleep(d.min(Duration::from_secs(5))),
        };
        metrics::gauge!("firebase_breaker_state").set(self.breaker.gauge());
        let claim = match self.queue.claim(limit, self.options.lease).await {
            Ok(claim) => claim,
            Err(e) => {
                tracing::warn!(error = %e, "firebase mirror: cannot read the outbox");
                return Next::Sleep(Duration::from_secs(1));
            }
        };
        if claim.entries.is_empty() {
            return Next::Sleep(self.options.poll);
        }
        let full = claim.more && limit > 1;
        self.send(&claim, &claim.entries).await;
        // After a retry the lease is already given back, with the queue waiting; this
        // then does nothing.
        if let Err(e) = self.queue.release(claim.lease).await {
            tracing::warn!(error = %e, "firebase mirror: cannot release the sender lease; it will run out instead");
        }
        if full {
            Next::Continue
        } else {
            Next::Sleep(self.options.poll)
        }
    }

    /// Sends `entries` (all leased under `claim`) as one PATCH and reports the outcome;
    /// false if the lease is no longer held afterwards (a retry gave it back).
    async fn send(&mut self, claim: &Claim, entries: &[Claimed]) -> bool {
        let updates: Map<String, serde_json::Value> = entries
            .iter()
            .map(|e| layout::update_of(&e.change))
            .collect();
        let started = Instant::now();
        let outcome = self.database.update(&updates).await;
        metrics::histogram!("firebase_patch_seconds").record(started.elapsed().as_secs_f64());
        let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
        match outcome {
            Ok(()) => {
                if self.breaker.success() {
                    tracing::info!("firebase mirror: writes go through again; circuit closed");
                }
                metrics::gauge!("firebase_breaker_state").set(self.breaker.gauge());
                let now = Utc::now();
                for entry in entries {
                    let lag = (now - entry.enqueued_at).to_std().unwrap_or_default();
                    metrics::histogram!("firebase_sync_lag_seconds").record(lag.as_secs_f64());
                }
                metrics::counter!("firebase_changes_sent_total").increment(ids.len() as u64);
                if let Err(e) = self.queue.sent(claim.lease, &ids).await {
                    // They will be sent again when the lease runs out: harmless, since
                    // every write sets absolute values.
                    tracing::warn!(error = %e, count = ids.len(), "firebase mirror: sent, but cannot mark the outbox");
                }
                true
            }
            Err(e) if e.is_permanent() && entries.len() > 1 => {
                tracing::warn!(error = %e, count = entries.len(), "firebase mirror: batch refused; sending its changes one by one");
                metrics::counter!("firebase_failures_total", "kind" => e.kind.as_str())
                    .increment(1);
                // One by one takes longer than a lease: renew it before each, and stop
                // once it is lost or given back, so no change goes out without it.
                for entry in entries {
                    let held = self.queue.renew(claim.lease, self.options.lease).await;
                    if !matches!(held, Ok(true)) {
                        return false;
                    }
                    if !Box::pin(self.send(claim, std::slice::from_ref(entry))).await {
                        return false;
                    }
                }
                true
            }
            Err(e) if e.is_permanent() => {
                metrics::counter!("firebase_failures_total", "kind" => e.kind.as_str())
                    .increment(1);
                self.bury(claim, &ids, &e).await;
                true
            }
            Err(e) => {
                metrics::counter!("firebase_failures_total", "kind" => e.kind.as_str())
                    .increment(1);
                if let Some(open) = self.breaker.failure(Instant::now()) {
                    tracing::warn!(error = %e, open_secs = open.as_secs(), "firebase mirror: circuit open; sending paused");
                } else {
                    tracing::debug!(error = %e, "firebase mirror: write failed; will retry");
                }
                metrics::gauge!("firebase_breaker_state").set(self.breaker.gauge());
                self.retry(claim, entries, &e).await;
                false
            }
        }
    }

    async fn retry(&self, claim: &Claim, entries: &[Claimed], error: &RtdbError) {
        let (spent, again): (Vec<&Claimed>, Vec<&Claimed>) = entries
            .iter()
            .partition(|e| e.attempts >= self.options.max_attempts);
        if !spent.is_empty() {
            let ids: Vec<u64> = spent.iter().map(|e| e.id).collect();
            self.bury(claim, &ids, error).await;
        }
        // One delay for the batch, from its most-tried change: they failed together.
        let Some(attempts) = again.iter().map(|e| e.attempts).max() else {
            return;
        };
        let exponent = attempts.saturating_sub(1).min(20);
        let backoff = self
            .options
            .backoff
            .saturating_mul(1 << exponent)
            .min(self.options.max_backoff)
            .mul_f64(jitter());
        let wait = backoff.max(error.retry_after.unwrap_or_default());
        let ids: Vec<u64> = again.iter().map(|e| e.id).collect();
        if let Err(e) = self
            .queue
            .retry(claim.lease, &ids, wait, &error.to_string())
            .await
        {
            tracing::warn!(error = %e, "firebase mirror: cannot reschedule; the lease will run out instead");
        }
    }

    async fn bury(&self, claim: &Claim, ids: &[u64], error: &RtdbError) {
        tracing::error!(ids = ?ids, error = %error, "firebase mirror: giving up on changes (dead letters); see `realtime-server firebase status`");
        metrics::counter!("firebase_dead_letters_total").increment(ids.len() as u64);
        if let Err(e) = self.queue.bury(claim.lease, ids, &error.to_string()).await {
            tracing::warn!(error = %e, "firebase mirror: cannot mark dead letters");
        }
    }

    async fn report_status(&self) {
        match self.queue.status().await {
            Ok(status) => {
                metrics::gauge!("firebase_outbox_pending").set(status.pending as f64);
                metrics::gauge!("firebase_outbox_dead").set(status.dead as f64);
                let age = status
                    .oldest_pending
                    .and_then(|at| (Utc::now() - at).to_std().ok())
                    .unwrap_or_default();
                metrics::gauge!("firebase_outbox_oldest_pending_seconds").set(age.as_secs_f64());
            }
            Err(e) => tracing::debug!(error = %e, "firebase mirror: no outbox status"),
        }
    }
}
