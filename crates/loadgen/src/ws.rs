//! WebSocket scenarios: many phoenix-protocol sockets against one server.
//! - `hold`: N sockets join one room and stay, heartbeating; counts drops and server memory.
//! - `joins`: N sockets join one room at R per second; join latency and presence frames.
//! - `fanout`: N subscribers in one room, comments published at R per second; deliveries,
//!   loss, end-to-end latency, and the CPU of the server and of this generator.
//! - `hot` (or any run with reactions): N viewers of one room, with comments and reactions
//!   pushed into it; what it costs per viewer, and what each viewer saw (`hot.rs`).

mod frames;
mod hot;
mod hot_report;
mod report;
mod room;
mod server_usage;
mod shared;
mod signup;
mod socket;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::procfs;
use hot::{HotRoom, Window};
use room::{Role, Room};
use shared::Shared;
use socket::{Spec, socket};

pub struct Plan {
    /// The viewers (subscribers): the sockets that join first and only read.
    pub sockets: usize,
    /// Sockets opened per second (0 = as fast as possible).
    pub connect_rate: f64,
    pub hold: Duration,
    /// Pushing starts this long before the measured `hold`, so that it measures the steady
    /// state (the room's mode settled, the pushers' bursts spent).
    pub warmup: Duration,
    /// Comments per second in total, spread over `publishers` sockets (fanout only).
    pub publish_rate: f64,
    pub publishers: usize,
    /// Reactions per second in total, spread over `reactors` sockets of their own.
    pub reaction_rate: f64,
    pub reactors: usize,
    /// How often each socket heartbeats (`None`: never, to watch the idle timeout).
    pub heartbeat: Option<Duration>,
    pub server_pid: Option<u32>,
    /// Sign users up over REST for their tokens; otherwise use made-up ones.
    pub signup: bool,
    /// The users' tokens from this file, one per line (`realtime-server seed viewers`),
    /// instead of signing any up: one user per socket, however many.
    pub tokens: Option<PathBuf>,
    /// Report what every viewer received (`hot.rs`).
    pub hot: bool,
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

    /// Whether anything is pushed into the room during the hold.
    fn pushes(&self) -> bool {
        self.publish_rate > 0.0 || self.reaction_rate > 0.0
    }

    /// The reactions whose push times are kept: the run's, with room to spare.
    fn reactions_timed(&self) -> usize {
        let secs = (self.warmup + self.hold).as_secs_f64() + 10.0;
        (self.reaction_rate * secs).min(1e8) as usize + 1_000
    }
}

/// What the joining measured.
struct Joins {
    /// Sockets joined, counted once the joins are over.
    joined: u64,
    /// Sockets that could not connect or join, and sockets the server closed, before the
    /// joins were over.
    failed: u64,
    dropped: u64,
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
    /// What the viewers received in the measured window.
    window: Window,
}

pub async fn run(base: &str, scenario: &str, plan: Plan) -> Result<(), String> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let room = Room::prepare(base, scenario, &plan).await?;
    if let Some(path) = &plan.tokens {
        println!("users: {} distinct, from {}", room.users(), path.display());
    }
    let pids = plan.server_pids();
    let shared = Arc::new(Shared::new(HotRoom::new(plan.reactions_timed())));
    let rss_before = server_usage::settled_rss_kib(&pids).await;
    let (subscribers, joins) = join_subscribers(&plan, &room, &shared, &pids).await;
    report::joins(&plan, &shared, &joins, rss_before).await;
    let held = hold(&plan, &room, &shared, &pids, subscribers).await?;
    report::held(&plan, &shared, &held).await;
    report::cpu(&held, pids.len());
    report::memory_held(&plan, &held, rss_before, &joins);
    if plan.hot {
        hot_report::print(&plan, &shared, &held, &joins, rss_before).await;
    }
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
        let spec = Spec {
            url: room.url(Role::Viewer(i)),
            topic: room.topic.clone(),
            role: Role::Viewer(i),
            heartbeat: plan.heartbeat,
            push_every: None,
            tally: plan.hot,
        };
        tasks.push(tokio::spawn(socket(spec, shared.clone())));
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
        failed: shared.failed.load(Ordering::Relaxed),
        dropped: shared.dropped.load(Ordering::Relaxed),
        connect_elapsed,
        join_elapsed,
        rss_kib: server_usage::rss_kib(pids),
        presence_frames: shared.presence_frames.load(Ordering::Relaxed),
    };
    (tasks, joins)
}

/// Holds the sockets with the publishers and reactors pushing, first for the warm-up, then
/// for the plan's time, measuring the server's CPU and memory, this generator's CPU and
/// what the viewers received; then stops everyone.
async fn hold(
    plan: &Plan,
    room: &Room,
    shared: &Arc<Shared>,
    pids: &[u32],
    subscribers: Vec<JoinHandle<()>>,
) -> Result<Held, String> {
    // Pushers run on a thread of their own, so their send stamps and the replies they
    // time are not held up behind a thousand subscribers' reads in this process.
    let pusher_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("publishers")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the publishers' runtime: {e}"))?;
    let pushers = start_pushers(plan, room, shared, &pusher_runtime);
    tokio::time::sleep(plan.warmup).await;
    let cpu_server_start = server_usage::cpu_micros(pids);
    let cpu_self_start = procfs::cpu_time(std::process::id());
    let measure_start = Instant::now();
    let seen_start = shared.comments_seen.load(Ordering::Relaxed);
    let window_start = shared
        .hot
        .open_window(shared.published.load(Ordering::Relaxed));
    tokio::time::sleep(plan.hold).await;
    let window_end = shared
        .hot
        .close_window(shared.published.load(Ordering::Relaxed));
    let measured = measure_start.elapsed();
    let rss_kib = server_usage::rss_kib(pids);
    let cpu_server = server_usage::cpu_micros(pids)
        .zip(cpu_server_start)
        .map(|(b, a)| Duration::from_micros(b.saturating_sub(a)));
    let cpu_self = procfs::cpu_time(std::process::id())
        .zip(cpu_self_start)
        .map(|(b, a)| b.saturating_sub(a));
    // Stop pushing, let what is in flight arrive, then count and stop everyone.
    shared.stop_publishing.store(true, Ordering::Relaxed);
    if plan.pushes() {
        drain(shared).await;
    }
    let seen = shared.comments_seen.load(Ordering::Relaxed) - seen_start;
    let dropped = shared.dropped.load(Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);
    shared.stopping.notify_waiters();
    for t in subscribers.into_iter().chain(pushers) {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    pusher_runtime.shutdown_background();
    Ok(Held {
        measured,
        rss_kib,
        cpu_server,
        cpu_self,
        seen,
        dropped,
        window: Window::between(window_start, window_end),
    })
}

/// The publishers and reactors, on the first node, on `runtime`; none without their rate.
fn start_pushers(
    plan: &Plan,
    room: &Room,
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Runtime,
) -> Vec<JoinHandle<()>> {
    let mut pushers = Vec::new();
    let kinds = [
        (
            plan.publish_rate,
            plan.publishers,
            Role::Publisher as fn(usize) -> Role,
        ),
        (plan.reaction_rate, plan.reactors, Role::Reactor),
    ];
    for (rate, sockets, role) in kinds {
        if rate <= 0.0 || sockets == 0 {
            continue;
        }
        let every = Duration::from_secs_f64(sockets as f64 / rate);
        for i in 0..sockets {
            let spec = Spec {
                url: room.url(role(i)),
                topic: room.topic.clone(),
                role: role(i),
                heartbeat: plan.heartbeat,
                push_every: Some(every),
                tally: false,
            };
            pushers.push(runtime.spawn(socket(spec, shared.clone())));
        }
    }
    pushers
}

/// Waits after the last push until comments stop arriving: at least 3 s, then until none
/// arrived for a second, at most 60 s. An overloaded server may still be storing the last
/// seconds' comments, and one shown to some viewers but not yet to all would otherwise
/// count as lost.
async fn drain(shared: &Shared) {
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut last = shared.comments_seen.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = shared.comments_seen.load(Ordering::Relaxed);
        if now == last || started.elapsed() >= Duration::from_secs(60) {
            return;
        }
        last = now;
    }
}
