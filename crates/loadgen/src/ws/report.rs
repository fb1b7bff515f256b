//! The lines a WebSocket run prints: how the joins went, then what the hold measured.

use std::sync::atomic::Ordering;

use super::shared::Shared;
use super::{Held, Joins, Plan};

/// How many joined and how fast, why others failed, join latency, presence frames, and
/// the server's memory per joined socket.
pub(super) async fn joins(plan: &Plan, shared: &Shared, joins: &Joins, rss_before: Option<u64>) {
    println!(
        "sockets: {} requested, {} joined, {} failed, {} dropped by the server while joining; opened in {:.1} s, all joined after {:.1} s ({:.0} joins/s)",
        plan.sockets,
        joins.joined,
        joins.failed,
        joins.dropped,
        joins.connect_elapsed.as_secs_f64(),
        joins.join_elapsed.as_secs_f64(),
        joins.joined as f64 / joins.join_elapsed.as_secs_f64()
    );
    for (why, n) in shared.take_failures() {
        println!("  {n} failed: {why}");
    }
    for (why, n) in shared.take_retries() {
        println!("  {n} connect attempts refused and retried (as phoenix.js does): {why}");
    }
    let (p50, p99, max) = shared.join_latency.lock().await.percentiles_ms();
    println!("join latency: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    println!(
        "presence frames received by all sockets during the joins: {} (naive one-diff-per-join would be about {})",
        joins.presence_frames,
        plan.sockets * (plan.sockets + 1) / 2
    );
    if let (Some(before), Some(after)) = (rss_before, joins.rss_kib) {
        let per = (after.saturating_sub(before) as f64 * 1024.0) / joins.per_socket();
        println!(
            "server RSS: {before} KiB before, {after} KiB with the sockets joined: {per:.0} bytes per joined socket"
        );
    }
}

/// Sockets dropped during the hold and, for fanout, deliveries, loss and latencies.
pub(super) async fn held(plan: &Plan, shared: &Shared, held: &Held) {
    println!(
        "held {:.0} s: {} sockets dropped by the server",
        held.measured.as_secs_f64(),
        held.dropped
    );
    // A hot room holds comments back by design: its own report says what was shown.
    if plan.publish_rate > 0.0 && !plan.hot {
        fanout(plan, shared, held).await;
    }
}

async fn fanout(plan: &Plan, shared: &Shared, held: &Held) {
    let seen = held.seen;
    let subscribers = (plan.sockets + plan.publishers) as u64;
    let published = shared.published.load(Ordering::Relaxed);
    let expected = published * subscribers;
    println!(
        "fanout: {published} comments stored ({:.0}/s asked) to {subscribers} subscribers: \
         {seen} deliveries ({:.0}/s); expected {expected}: {} lost",
        plan.publish_rate,
        seen as f64 / held.measured.as_secs_f64(),
        expected.saturating_sub(seen)
    );
    let (p50, p99, max) = shared.delivery_latency.lock().await.percentiles_ms();
    println!(
        "end-to-end latency (push sent to broadcast received): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    let (p50, p99, max) = shared.publish_latency.lock().await.percentiles_ms();
    println!(
        "of which storing (push sent to the publisher's ok): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
}

/// The CPU of the server's `nodes` (per delivery too) and of this generator, in cores.
pub(super) fn cpu(held: &Held, nodes: usize) {
    let measured = held.measured.as_secs_f64();
    if let Some(cpu) = held.cpu_server {
        let per_delivery = if held.seen > 0 {
            cpu.as_secs_f64() * 1e6 / held.seen as f64
        } else {
            0.0
        };
        println!(
            "server CPU{}: {:.2} cores ({per_delivery:.1} us per delivery)",
            if nodes > 1 {
                format!(" (sum of {nodes} nodes)")
            } else {
                String::new()
            },
            cpu.as_secs_f64() / measured
        );
    }
    if let Some(cpu) = held.cpu_self {
        println!("generator CPU: {:.2} cores", cpu.as_secs_f64() / measured);
    }
}

/// The server's memory per joined socket after the hold (the publishers, which joined
/// later, are not counted).
pub(super) fn memory_held(plan: &Plan, held: &Held, rss_before: Option<u64>, joins: &Joins) {
    if let (Some(before), Some(after)) = (rss_before, held.rss_kib) {
        let per = (after.saturating_sub(before) as f64 * 1024.0) / joins.per_socket();
        println!(
            "server RSS after the hold: {after} KiB: {per:.0} bytes per joined socket (idle{})",
            if plan.heartbeat.is_some() {
                ", heartbeating"
            } else {
                ", silent"
            }
        );
    }
}
