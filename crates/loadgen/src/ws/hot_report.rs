//! The hot-room report: what the room cost the server per viewer, and what the viewers saw,
//! over the measured (steady-state) window; then the same as one markdown table row.

use std::sync::atomic::Ordering;

use super::frames::RoomStats;
use super::hot::shown_and_lost;
use super::shared::Shared;
use super::{Held, Joins, Plan};

/// The window's figures, per viewer-second where that is how they compare.
struct Figures {
    viewers: u64,
    secs: f64,
    cpu_us_per_viewer_second: Option<f64>,
    frames: f64,
    bytes: f64,
    posted: f64,
    shown: f64,
    lost: u64,
    shown_comments: u64,
    latency: (f64, f64, f64),
    reaction_lag: (f64, f64, f64),
    rss_per_viewer: Option<f64>,
    join_p99: f64,
    mode: String,
}

pub(super) async fn print(
    plan: &Plan,
    shared: &Shared,
    held: &Held,
    joins: &Joins,
    rss_before: Option<u64>,
) {
    let hot = &shared.hot;
    let window = &held.window;
    let receipts = std::mem::take(&mut *hot.receipts.lock().unwrap_or_else(|p| p.into_inner()));
    let (shown_comments, lost, viewers) =
        shown_and_lost(&receipts, window.comments.0, window.comments.1);
    let secs = held.measured.as_secs_f64();
    let per_viewer_second = |n: u64| n as f64 / (viewers.max(1) as f64 * secs);
    let room_stats = std::mem::take(&mut *hot.room_stats.lock().unwrap_or_else(|p| p.into_inner()));
    let figures = Figures {
        viewers,
        secs,
        cpu_us_per_viewer_second: held
            .cpu_server
            .map(|cpu| per_viewer_second(cpu.as_micros() as u64)),
        frames: per_viewer_second(window.received[0]),
        bytes: per_viewer_second(window.received[1]),
        posted: window.posted as f64 / secs,
        shown: shown_comments as f64 / secs,
        lost,
        shown_comments,
        latency: hot.latency.percentiles_ms(),
        reaction_lag: hot.reaction_lag.percentiles_ms(),
        rss_per_viewer: rss_before
            .zip(held.rss_kib)
            .map(|(b, a)| a.saturating_sub(b) as f64 * 1024.0 / joins.per_socket()),
        join_p99: shared.join_latency.lock().await.percentiles_ms().1,
        mode: room_stats.last().map_or("?".into(), |s| s.mode.clone()),
    };
    println!(
        "hot room: {viewers} viewers measured over {secs:.0} s after a {:.0} s warm-up",
        plan.warmup.as_secs_f64()
    );
    join_storm(plan, joins, shared).await;
    server_figures(&room_stats);
    comments(shared, held, &figures);
    reactions(plan, shared, held, &figures);
    costs(held, &figures);
    table(&figures);
}

/// The join storm: how fast the viewers came, and how many did not make it.
async fn join_storm(plan: &Plan, joins: &Joins, shared: &Shared) {
    let (p50, p99, max) = shared.join_latency.lock().await.percentiles_ms();
    println!(
        "  join storm: {} sockets at {}: join p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; {} failed, {} dropped while joining",
        plan.sockets,
        if plan.connect_rate > 0.0 {
            format!("{:.0}/s", plan.connect_rate)
        } else {
            "once".to_owned()
        },
        joins.failed,
        joins.dropped
    );
}

/// What the room said of itself (viewer 0's `room_stats` during the window).
fn server_figures(samples: &[RoomStats]) {
    let Some(last) = samples.last() else {
        println!("  room_stats: none received during the window");
        return;
    };
    let n = samples.len() as f64;
    let mean = |f: fn(&RoomStats) -> f64| samples.iter().map(f).sum::<f64>() / n;
    println!(
        "  room_stats ({} during the window): {} viewers, {} connections, mode {}; the server says {:.1} comments/s posted, {:.1} shown (means)",
        samples.len(),
        last.viewers,
        last.connections,
        last.mode,
        mean(|s| s.posted_per_second),
        mean(|s| s.shown_per_second)
    );
}

/// Comments posted and shown, their post-to-screen latency, and what the viewers missed.
fn comments(shared: &Shared, held: &Held, f: &Figures) {
    let window = &held.window;
    let pushed = window.comments.1 - window.comments.0;
    println!(
        "  comments: {pushed} pushed in the window, {:.1}/s posted (acknowledged), {:.1}/s shown (received by some viewer); {} held-back deliveries (moderators)",
        f.posted, f.shown, window.received[3]
    );
    let (p50, p99, max) = f.latency;
    println!(
        "  post-to-screen latency of shown comments ({} receipts): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        shared.hot.latency.count()
    );
    let expected = f.shown_comments * f.viewers;
    println!(
        "  loss: {} of {expected} shown-comment deliveries ({:.3}%; a viewer missing a comment some other viewer got)",
        f.lost,
        100.0 * f.lost as f64 / expected.max(1) as f64
    );
}

/// Reactions pushed, refused and counted, and how late the counts were.
fn reactions(plan: &Plan, shared: &Shared, held: &Held, f: &Figures) {
    if plan.reaction_rate <= 0.0 {
        return;
    }
    let hot = &shared.hot;
    let window = &held.window;
    let pushed = hot.next_reaction.load(Ordering::Relaxed);
    let counted = hot.reactions_counted.load(Ordering::Relaxed);
    println!(
        "  reactions: {:.1}/s pushed by {} reactors ({:.1}/s each; the server's default limit is 5/s), {} refused; the viewers' counts cover {:.1}% of the {pushed} pushed",
        (window.reactions.1 - window.reactions.0) as f64 / f.secs,
        plan.reactors,
        plan.reaction_rate / plan.reactors.max(1) as f64,
        hot.reactions_refused.load(Ordering::Relaxed),
        100.0 * counted as f64 / (pushed * f.viewers).max(1) as f64
    );
    let (p50, p99, max) = f.reaction_lag;
    println!(
        "  reaction-count lag (push to a viewer's counts covering it; {} frames): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        hot.reaction_lag.count()
    );
}

/// What each viewer cost the server and received, per second.
fn costs(held: &Held, f: &Figures) {
    let r = &held.window.received;
    let per = |n: u64| n as f64 / (f.viewers.max(1) as f64 * f.secs);
    println!(
        "  per viewer-second: {:.2} frames ({:.2} comments, {:.2} reactions, {:.2} room_stats, {:.2} presence), {:.0} bytes",
        f.frames,
        per(r[2]),
        per(r[4]),
        per(r[5]),
        per(r[6]),
        f.bytes
    );
    if let Some(cpu) = f.cpu_us_per_viewer_second {
        println!("  server CPU: {cpu:.2} us per viewer-second");
    }
    if let Some(rss) = f.rss_per_viewer {
        println!("  server RSS: {rss:.0} bytes per viewer");
    }
}

/// The figures as a row of docs/benchmarks.md's hot-room table.
fn table(f: &Figures) {
    println!(
        "| viewers | mode | CPU us/viewer-s | frames/viewer-s | bytes/viewer-s | posted/s | shown/s | p50 ms | p99 ms | lost | reaction lag p99 ms | RSS/viewer | join p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {} | {:.1} |",
        f.viewers,
        f.mode,
        f.cpu_us_per_viewer_second
            .map_or("?".into(), |c| format!("{c:.2}")),
        f.frames,
        f.bytes,
        f.posted,
        f.shown,
        f.latency.0,
        f.latency.1,
        f.lost,
        f.reaction_lag.1,
        f.rss_per_viewer
            .map_or("?".into(), |r| format!("{:.1} KB", r / 1000.0)),
        f.join_p99
    );
}
