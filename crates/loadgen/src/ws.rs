//! WebSocket scenarios: many phoenix-protocol sockets against one server.
//! - `hold`: N sockets join one room and stay, heartbeating; counts drops and server memory.
//! - `joins`: N sockets join one room at R per second; join latency and presence frames.
//! - `fanout`: N subscribers in one room, comments published at R per second; deliveries,
//!   loss, end-to-end latency, and the CPU of the server and of this generator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::procfs;
use crate::stats::Samples;

/// Counters shared by every socket task.
#[derive(Default)]
struct Shared {
    joined: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    comments_seen: AtomicU64,
    /// Comments the server acknowledged (reply ok to a publisher's push).
    published: AtomicU64,
    /// Publishers stop pushing when this is set; everyone stops reading at `stop`.
    stop_publishing: AtomicBool,
    presence_frames: AtomicU64,
    frames: AtomicU64,
    stop: AtomicBool,
    join_latency: Mutex<Samples>,
    delivery_latency: Mutex<Samples>,
    /// From a publisher's push to the server's ok (the comment is stored by then).
    publish_latency: Mutex<Samples>,
    /// Why sockets failed to open or join, by message.
    failures: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Connects that failed and were tried again, by message.
    retries: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// tungstenite zeroes its whole read buffer before every read (128 KiB by default), which
/// cost a third of the generator's CPU in the fanout scenario; frames here are small.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

/// phoenix.js's reconnect backoff for the first attempts (its default `reconnectAfterMs`).
const RECONNECT_AFTER: [Duration; 9] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(150),
    Duration::from_millis(200),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];

impl Shared {
    fn retry(&self, why: String) {
        let mut retries = self.retries.lock().unwrap_or_else(|p| p.into_inner());
        *retries.entry(why).or_default() += 1;
    }

    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        *failures.entry(why).or_default() += 1;
    }
}

/// The server's RSS once it stops shrinking: signing users up runs argon2 (19 MiB per
/// hash), and the allocator hands that memory back over the following seconds. Measuring
/// sockets against a baseline taken before that would undercount them.
async fn settled_rss(pid: u32) -> Option<u64> {
    let mut last = procfs::rss_kib(pid)?;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = procfs::rss_kib(pid)?;
        if now.abs_diff(last) <= last / 200 {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// Whether the start of a frame (where its refs, topic and event are) contains `needle`:
/// a presence_state can be megabytes, and the generator should not scan it all.
fn head_has(text: &str, needle: &str) -> bool {
    let head = &text.as_bytes()[..text.len().min(200)];
    head.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The `sent=<micros>` stamp a publisher put in a comment's content.
fn sent_stamp(text: &str) -> Option<u64> {
    text.split("sent=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Signs up `n` users over REST; returns their access tokens.
pub async fn users(base: &str, n: usize) -> Result<Vec<String>, String> {
    let client = reqwest::Client::new();
    let run = std::process::id();
    let mut tokens = Vec::with_capacity(n);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url) = (client.clone(), format!("{base}/api/auth/register"));
        tasks.push(tokio::spawn(async move {
            let body = json!({
                "email": format!("ws{run}x{i}@example.com"),
                "username": format!("ws{run}x{i}"),
                "password": "bench-password",
                "device_id": "loadgen",
            });
            let res = client
                .post(url)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let v: Value = res.json().await.map_err(|e| e.to_string())?;
            v["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("no token: {v}"))
        }));
    }
    for t in tasks {
        tokens.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok(tokens)
}

/// The next tick of `interval`; never, without one.
async fn tick(interval: Option<&mut tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One socket: connect, join `topic`, then read until told to stop, heartbeating every
/// `heartbeat_every` (phoenix.js: 30 s). `publish` pushes a timestamped comment every interval.
async fn socket(
    url: String,
    topic: String,
    shared: Arc<Shared>,
    heartbeat_every: Option<Duration>,
    publish: Option<Duration>,
) {
    // Like phoenix.js: a refused or failed connect is retried after a backoff.
    let mut attempt = 0;
    let mut ws = loop {
        match tokio_tungstenite::connect_async_with_config(&url, Some(socket_config()), true).await
        {
            Ok((ws, _)) => break ws,
            Err(e) if attempt < RECONNECT_AFTER.len() => {
                shared.retry(format!("connect: {e}"));
                tokio::time::sleep(RECONNECT_AFTER[attempt]).await;
                attempt += 1;
            }
            Err(e) => {
                shared.fail(format!("connect: {e}"));
                return;
            }
        }
    };
    let join_sent = Instant::now();
    let join = json!(["1", "1", topic, "phx_join", {}]).to_string();
    if let Err(e) = ws.send(Message::text(join)).await {
        shared.fail(format!("join: {e}"));
        return;
    }
    let mut joined = false;
    let mut heartbeat = heartbeat_every
        .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    let mut publisher =
        publish.map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    let mut check_stop = tokio::time::interval(Duration::from_millis(200));
    let mut n = 0u64;
    let mut latencies = Samples::default();
    // Not split into halves: every poll of a split stream takes a lock. The select only
    // decides what happened; sending happens after it, when the stream is free again.
    enum Event {
        Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
        Heartbeat,
        Publish,
        CheckStop,
    }
    loop {
        let event = tokio::select! {
            msg = ws.next() => Event::Frame(msg),
            () = tick(heartbeat.as_mut()) => Event::Heartbeat,
            () = tick(publisher.as_mut()), if !shared.stop_publishing.load(Ordering::Relaxed) => Event::Publish,
            _ = check_stop.tick() => Event::CheckStop,
        };
        let outgoing = match event {
            Event::Frame(Some(Ok(Message::Text(text)))) => {
                shared.frames.fetch_add(1, Ordering::Relaxed);
                if !joined && text.starts_with("[\"1\",\"1\"") && head_has(&text, "\"phx_reply\"") {
                    joined = true;
                    shared.joined.fetch_add(1, Ordering::Relaxed);
                    shared.join_latency.lock().await.record(join_sent.elapsed());
                } else if head_has(&text, "\"presence_diff\"")
                    || head_has(&text, "\"presence_state\"")
                {
                    shared.presence_frames.fetch_add(1, Ordering::Relaxed);
                } else if text.starts_with("[null,null") && head_has(&text, "\"new_comment\"") {
                    shared.comments_seen.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = sent_stamp(&text) {
                        latencies.record(Duration::from_micros(now_micros().saturating_sub(sent)));
                    }
                } else if text.starts_with("[\"1\",\"p")
                    && head_has(&text, "\"phx_reply\"")
                    && text.contains("\"status\":\"ok\"")
                {
                    shared.published.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = sent_stamp(&text) {
                        shared
                            .publish_latency
                            .lock()
                            .await
                            .record(Duration::from_micros(now_micros().saturating_sub(sent)));
                    }
                }
                continue;
            }
            Event::Frame(Some(Ok(_))) => continue,
            Event::Frame(_) => {
                if !shared.stop.load(Ordering::Relaxed) {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                shared.delivery_latency.lock().await.merge(latencies);
                return;
            }
            Event::Heartbeat => {
                n += 1;
                json!([null, format!("hb{n}"), "phoenix", "heartbeat", {}])
            }
            Event::Publish => {
                n += 1;
                json!(["1", format!("p{n}"), topic, "new_comment", {"content": format!("bench sent={}", now_micros())}])
            }
            Event::CheckStop => {
                if shared.stop.load(Ordering::Relaxed) {
                    let _ = ws.send(Message::Close(None)).await;
                    shared.delivery_latency.lock().await.merge(latencies);
                    return;
                }
                continue;
            }
        };
        if ws.send(Message::text(outgoing.to_string())).await.is_err() {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            shared.delivery_latency.lock().await.merge(latencies);
            return;
        }
    }
}

pub struct Plan {
    pub sockets: usize,
    /// Sockets opened per second (0 = as fast as possible).
    pub connect_rate: f64,
    pub hold: Duration,
    /// Comments per second in total, spread over `publishers` sockets (fanout only).
    pub publish_rate: f64,
    pub publishers: usize,
    /// How often each socket heartbeats (`None`: never, to watch the idle timeout).
    pub heartbeat: Option<Duration>,
    pub server_pid: Option<u32>,
    /// Sign users up over REST for their tokens; otherwise use made-up ones.
    pub signup: bool,
    /// More nodes of the same deployment: subscribers are spread over the first node and
    /// these (publishers stay on the first), and their CPU and memory are added in.
    pub other_nodes: Vec<(String, Option<u32>)>,
}

/// The processes whose CPU and memory are reported: the server and its other nodes.
fn server_pids(plan: &Plan) -> Vec<u32> {
    plan.server_pid
        .into_iter()
        .chain(plan.other_nodes.iter().filter_map(|(_, pid)| *pid))
        .collect()
}

/// The sum over `pids` of `read`, if every one answers.
fn summed(pids: &[u32], read: impl Fn(u32) -> Option<u64>) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| read(*pid)).sum()
}

fn cpu_micros(pid: u32) -> Option<u64> {
    procfs::cpu_time(pid).map(|d| d.as_micros() as u64)
}

pub async fn run(base: &str, scenario: &str, plan: Plan) -> Result<(), String> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let n = plan.sockets.clamp(1, 200);
    let users = if plan.signup {
        users(base, n).await?
    } else {
        (0..n).map(|i| format!("bench-{i}")).collect()
    };
    let ws_base = base.replace("http://", "ws://");
    let ws_bases: Vec<String> = std::iter::once(ws_base.clone())
        .chain(
            plan.other_nodes
                .iter()
                .map(|(b, _)| b.replace("http://", "ws://")),
        )
        .collect();
    let pids = server_pids(&plan);
    let topic = format!("video:bench-{scenario}-{}", std::process::id());
    let shared = Arc::new(Shared::default());
    let mut rss_before = None;
    for pid in &pids {
        let settled = settled_rss(*pid).await;
        rss_before = settled.map(|kib| kib + rss_before.unwrap_or(0));
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.sockets);
    for i in 0..plan.sockets {
        if plan.connect_rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / plan.connect_rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let url = format!(
            "{}/socket/websocket?vsn=2.0.0&token={}",
            ws_bases[i % ws_bases.len()],
            users[i % users.len()]
        );
        tasks.push(tokio::spawn(socket(
            url,
            topic.clone(),
            shared.clone(),
            plan.heartbeat,
            None,
        )));
    }
    let connect_elapsed = started.elapsed();
    // Wait until everyone has joined (or failed).
    let deadline = Instant::now() + Duration::from_secs(120);
    while (shared.joined.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed))
        < plan.sockets as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let join_elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_joined = summed(&pids, procfs::rss_kib);
    let presence_after_joins = shared.presence_frames.load(Ordering::Relaxed);
    println!(
        "sockets: {} requested, {} joined, {} failed; opened in {:.1} s, all joined after {:.1} s ({:.0} joins/s)",
        plan.sockets,
        shared.joined.load(Ordering::Relaxed),
        shared.failed.load(Ordering::Relaxed),
        connect_elapsed.as_secs_f64(),
        join_elapsed.as_secs_f64(),
        shared.joined.load(Ordering::Relaxed) as f64 / join_elapsed.as_secs_f64()
    );
    let failures = std::mem::take(&mut *shared.failures.lock().unwrap_or_else(|p| p.into_inner()));
    for (why, n) in failures {
        println!("  {n} failed: {why}");
    }
    let retries = std::mem::take(&mut *shared.retries.lock().unwrap_or_else(|p| p.into_inner()));
    for (why, n) in retries {
        println!("  {n} connect attempts refused and retried (as phoenix.js does): {why}");
    }
    let (p50, p99, max) = shared.join_latency.lock().await.percentiles_ms();
    println!("join latency: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    println!(
        "presence frames received by all sockets during the joins: {presence_after_joins} (naive one-diff-per-join would be about {})",
        plan.sockets * (plan.sockets + 1) / 2
    );
    let joined = shared.joined.load(Ordering::Relaxed).max(1) as f64;
    if let (Some(before), Some(after)) = (rss_before, rss_joined) {
        let per = (after.saturating_sub(before) as f64 * 1024.0) / joined;
        println!(
            "server RSS: {before} KiB before, {after} KiB with the sockets joined: {per:.0} bytes per joined socket"
        );
    }

    // Publishers for the fanout scenario.
    let cpu_server_start = summed(&pids, cpu_micros);
    let cpu_self_start = procfs::cpu_time(std::process::id());
    let measure_start = Instant::now();
    let seen_start = shared.comments_seen.load(Ordering::Relaxed);
    let mut publishers = Vec::new();
    // Publishers run on a thread of their own, so their send stamps and the replies they
    // time are not held up behind a thousand subscribers' reads in this process.
    let publisher_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("publishers")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the publishers' runtime: {e}"))?;
    if plan.publish_rate > 0.0 {
        let every = Duration::from_secs_f64(plan.publishers as f64 / plan.publish_rate);
        for i in 0..plan.publishers {
            let url = format!(
                "{ws_base}/socket/websocket?vsn=2.0.0&token={}",
                users[i % users.len()]
            );
            publishers.push(publisher_runtime.spawn(socket(
                url,
                topic.clone(),
                shared.clone(),
                plan.heartbeat,
                Some(every),
            )));
        }
    }
    tokio::time::sleep(plan.hold).await;
    let measured = measure_start.elapsed();
    let rss_held = summed(&pids, procfs::rss_kib);
    let cpu_server = summed(&pids, cpu_micros)
        .zip(cpu_server_start)
        .map(|(b, a)| Duration::from_micros(b.saturating_sub(a)));
    let cpu_self = procfs::cpu_time(std::process::id())
        .zip(cpu_self_start)
        .map(|(b, a)| b.saturating_sub(a));
    // Stop publishing, let what is in flight arrive, then count and stop everyone.
    shared.stop_publishing.store(true, Ordering::Relaxed);
    if plan.publish_rate > 0.0 {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let seen = shared.comments_seen.load(Ordering::Relaxed) - seen_start;
    let dropped = shared.dropped.load(Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks.into_iter().chain(publishers) {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    publisher_runtime.shutdown_background();
    println!(
        "held {:.0} s: {dropped} sockets dropped by the server",
        measured.as_secs_f64()
    );
    if plan.publish_rate > 0.0 {
        let subscribers = (plan.sockets + plan.publishers) as u64;
        let published = shared.published.load(Ordering::Relaxed);
        let expected = published * subscribers;
        println!(
            "fanout: {published} comments stored ({:.0}/s asked) to {subscribers} subscribers: \
             {seen} deliveries ({:.0}/s); expected {expected}: {} lost",
            plan.publish_rate,
            seen as f64 / measured.as_secs_f64(),
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
    if let Some(cpu) = cpu_server {
        let per_delivery = if seen > 0 {
            cpu.as_secs_f64() * 1e6 / seen as f64
        } else {
            0.0
        };
        println!(
            "server CPU{}: {:.2} cores ({per_delivery:.1} us per delivery)",
            if pids.len() > 1 {
                format!(" (sum of {} nodes)", pids.len())
            } else {
                String::new()
            },
            cpu.as_secs_f64() / measured.as_secs_f64()
        );
    }
    if let Some(cpu) = cpu_self {
        println!(
            "generator CPU: {:.2} cores",
            cpu.as_secs_f64() / measured.as_secs_f64()
        );
    }
    if let (Some(before), Some(held)) = (rss_before, rss_held) {
        let per = (held.saturating_sub(before) as f64 * 1024.0) / joined;
        println!(
            "server RSS after the hold: {held} KiB: {per:.0} bytes per joined socket (idle{})",
            if plan.heartbeat.is_some() {
                ", heartbeating"
            } else {
                ", silent"
            }
        );
    }
    Ok(())
}
