//! WebSocket scenarios: many phoenix-protocol sockets against one server.
//! - `hold`: N sockets join one room and stay, heartbeating; counts drops and server memory.
//! - `joins`: N sockets join one room at R per second; join latency and presence frames.
//! - `fanout`: N subscribers in one room, comments published at R per second; deliveries,
//!   loss, end-to-end latency, and the CPU of the server and of this generator.

mod report;
mod server_usage;
mod shared;
mod signup;
mod socket;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::procfs;
use shared::Shared;
use socket::socket;

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

impl Plan {
    /// The processes whose CPU and memory are reported: the server and its other nodes.
    fn server_pids(&self) -> Vec<u32> {
        self.server_pid
            .into_iter()
            .chain(self.other_nodes.iter().filter_map(|(_, pid)| *pid))
            .collect()
    }
}

/// Where the sockets go: one room, on every node, with the users' tokens.
struct Room {
    topic: String,
    /// The WebSocket base URL of every node; the first is where publishers go.
    nodes: Vec<String>,
    tokens: Vec<String>,
}

impl Room {
    /// Signs the users up (unless the plan says not to) and names the room.
    async fn prepare(base: &str, scenario: &str, plan: &Plan) -> Result<Self, String> {
        let n = plan.sockets.clamp(1, 200);
        let tokens = if plan.signup {
            signup::users(base, n).await?
        } else {
            (0..n).map(|i| format!("bench-{i}")).collect()
        };
        let nodes = std::iter::once(base)
            .chain(plan.other_nodes.iter().map(|(b, _)| b.as_str()))
            .map(|b| b.replace("http://", "ws://"))
            .collect();
        let topic = format!("video:bench-{scenario}-{}", std::process::id());
        Ok(Self {
            topic,
            nodes,
            tokens,
        })
    }

    /// The URL of socket `i` on `node`.
    fn url(&self, node: &str, i: usize) -> String {
        format!(
            "{node}/socket/websocket?vsn=2.0.0&token={}",
            self.tokens[i % self.tokens.len()]
        )
    }
}

/// What the joining measured.
struct Joins {
    /// Sockets joined, counted once the joins are over.
    joined: u64,
    connect_elapsed: Duration,
    join_elapsed: Duration,
    presence_frames: u64,
    rss_kib: Option<u64>,
}

impl Joins {
    /// What the server's memory is divided by to give its memory per socket.
    fn per_socket(&self) -> f64 {
        self.joined.max(1) as f64
    }
}

/// What the hold measured.
struct Held {
    measured: Duration,
    rss_kib: Option<u64>,
    cpu_server: Option<Duration>,
    cpu_self: Option<Duration>,
    /// Comments delivered to subscribers.
    seen: u64,
    dropped: u64,
}

pub async fn run(base: &str, scenario: &str, plan: Plan) -> Result<(), String> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let room = Room::prepare(base, scenario, &plan).await?;
    let pids = plan.server_pids();
    let shared = Arc::new(Shared::default());
    let rss_before = server_usage::settled_rss_kib(&pids).await;
    let (subscribers, joins) = join_subscribers(&plan, &room, &shared, &pids).await;
    report::joins(&plan, &shared, &joins, rss_before).await;
    let held = hold(&plan, &room, &shared, &pids, subscribers).await?;
    report::held(&plan, &shared, &held).await;
    report::cpu(&held, pids.len());
    report::memory_held(&plan, &held, rss_before, &joins);
    Ok(())
}

/// Opens the subscribers, spread over the nodes at the plan's rate, and waits until every
/// one has joined or failed (two minutes at most).
async fn join_subscribers(
    plan: &Plan,
    room: &Room,
    shared: &Arc<Shared>,
    pids: &[u32],
) -> (Vec<JoinHandle<()>>, Joins) {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.sockets);
    for i in 0..plan.sockets {
        if plan.connect_rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / plan.connect_rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let url = room.url(&room.nodes[i % room.nodes.len()], i);
        tasks.push(tokio::spawn(socket(
            url,
            room.topic.clone(),
            shared.clone(),
            plan.heartbeat,
            None,
        )));
    }
    let connect_elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (shared.joined.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed))
        < plan.sockets as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let join_elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let joins = Joins {
        joined: shared.joined.load(Ordering::Relaxed),
        connect_elapsed,
        join_elapsed,
        rss_kib: server_usage::rss_kib(pids),
        presence_frames: shared.presence_frames.load(Ordering::Relaxed),
    };
    (tasks, joins)
}

/// Holds the sockets for the plan's time with the publishers pushing (fanout), measuring
/// the server's CPU and memory and this generator's CPU; then stops everyone.
async fn hold(
    plan: &Plan,
    room: &Room,
    shared: &Arc<Shared>,
    pids: &[u32],
    subscribers: Vec<JoinHandle<()>>,
) -> Result<Held, String> {
    let cpu_server_start = server_usage::cpu_micros(pids);
    let cpu_self_start = procfs::cpu_time(std::process::id());
    let measure_start = Instant::now();
    let seen_start = shared.comments_seen.load(Ordering::Relaxed);
    // Publishers run on a thread of their own, so their send stamps and the replies they
    // time are not held up behind a thousand subscribers' reads in this process.
    let publisher_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("publishers")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the publishers' runtime: {e}"))?;
    let publishers = start_publishers(plan, room, shared, &publisher_runtime);
    tokio::time::sleep(plan.hold).await;
    let measured = measure_start.elapsed();
    let rss_kib = server_usage::rss_kib(pids);
    let cpu_server = server_usage::cpu_micros(pids)
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
    for t in subscribers.into_iter().chain(publishers) {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    publisher_runtime.shutdown_background();
    Ok(Held {
        measured,
        rss_kib,
        cpu_server,
        cpu_self,
        seen,
        dropped,
    })
}

/// The fanout's publishers, on the first node, on `runtime`; none without a publish rate.
fn start_publishers(
    plan: &Plan,
    room: &Room,
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Runtime,
) -> Vec<JoinHandle<()>> {
    let mut publishers = Vec::new();
    if plan.publish_rate > 0.0 {
        let every = Duration::from_secs_f64(plan.publishers as f64 / plan.publish_rate);
        for i in 0..plan.publishers {
            publishers.push(runtime.spawn(socket(
                room.url(&room.nodes[0], i),
                room.topic.clone(),
                shared.clone(),
                plan.heartbeat,
                Some(every),
            )));
        }
    }
    publishers
}
