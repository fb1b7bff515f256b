//! `cargo xtask bench`: release builds of the server and the load generator, a fresh
//! database, and the scenario's report (a markdown table for docs/benchmarks.md).

mod firebase;
mod floor;
mod viewers;

use std::path::PathBuf;
use std::process::Command;

use clap::Subcommand;

use crate::cargo;
use crate::server;

#[derive(Subcommand)]
pub enum Scenario {
    /// Logins, comment writes and reads per second; /healthz latency during a login burst.
    Rest {
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// Comment posts per second with the Firebase mirror off, on, and on with Firebase (the
    /// fake) hanging; then the mirror's lag at a sustained rate.
    Firebase {
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Posts per second in the lag run.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Rounds of the three posting runs (off, on, hanging), each round in another
        /// order; with more than one, a summary of the medians follows. On a shared VM a
        /// single run moves by 10 to 20%, more than the difference being measured.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=50))]
        rounds: u16,
    },
    /// WebSocket rooms; arguments go to `loadgen ws` (see `loadgen ws --help`), e.g.
    /// `cargo xtask bench ws --name fanout --sockets 1000 --publish-rate 50 --seconds 30`.
    /// Above 200 sockets every socket is a user of its own, made straight in the bench
    /// database by `realtime-server seed viewers` (REST sign-up gives 200 users at most).
    Ws {
        /// A server setting for this run, `RTS_NAME=value` (repeatable; before the loadgen
        /// arguments), e.g. `--server-setting RTS_WS_IDLE_TIMEOUT_SECS=600`.
        #[arg(long = "server-setting", value_name = "RTS_NAME=VALUE", value_parser = server_setting)]
        server_settings: Vec<(String, String)>,
        /// Run the scenario against the reference floor instead, the minimal Node `ws`
        /// server speaking Phoenix V2 (e.g. `../shared/bench/node-ws-floor/server.js`, run
        /// with `--presence`; `npm ci` in its folder first), to state figures as ratios.
        #[arg(long, value_name = "SERVER_JS")]
        floor: Option<std::path::PathBuf>,
        /// Run the floor without presence (its presence is naive, one diff per join to
        /// every member: a join storm of 10,000 would send 50 million frames).
        #[arg(long, requires = "floor")]
        floor_no_presence: bool,
        /// Run this many nodes sharing the database and Redis (2 or more): subscribers are
        /// spread over them, publishers stay on the first; CPU and memory are summed. Each
        /// node gets its share of the cores (`RTS_HTTP_WORKERS` = cores / nodes) unless a
        /// `--server-setting` says otherwise.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
        nodes: u16,
        /// A user of its own for every socket (viewers, publishers, reactors), made by
        /// `realtime-server seed viewers`, however few sockets there are (above 200 they
        /// always are).
        #[arg(long)]
        distinct_users: bool,
        /// Make the first K viewers moderators (they also receive the comments a large room
        /// holds back); implies `--distinct-users`.
        #[arg(long, default_value_t = 0, value_name = "K")]
        moderators: u32,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn server_setting(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if name.starts_with("RTS_") && !value.is_empty() => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected RTS_NAME=value, got {raw:?}")),
    }
}

/// This machine's cores and CPU model, for the report.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

pub fn run(env: &cargo::Env, scenario: Scenario) -> Result<(), String> {
    match scenario {
        Scenario::Ws {
            floor: Some(floor),
            floor_no_presence,
            args,
            ..
        } => floor::run(&floor, !floor_no_presence, &args),
        Scenario::Firebase {
            seconds,
            clients,
            rate,
            rounds,
        } => firebase::run(env, seconds, clients, rate, rounds),
        Scenario::Rest { seconds, clients } => rest(env, seconds, clients),
        Scenario::Ws {
            server_settings,
            nodes,
            distinct_users,
            moderators,
            args,
            floor: None,
            ..
        } => {
            let users = Users {
                distinct: distinct_users,
                moderators,
            };
            ws(env, &server_settings, nodes, users, &args)
        }
    }
}

/// `loadgen rest` against one node.
fn rest(env: &cargo::Env, seconds: u64, clients: usize) -> Result<(), String> {
    let deployment = Deployment::start(env, 1, Vec::new())?;
    println!("machine: {}", machine());
    println!(
        "scenario: rest, {clients} clients, {seconds} s per phase (release build, rate limits off)"
    );
    let mut cmd = deployment.loadgen();
    cmd.args([
        "rest",
        "--seconds",
        &seconds.to_string(),
        "--clients",
        &clients.to_string(),
    ]);
    run_loadgen(&mut cmd)
}

/// Who the sockets of a `bench ws` run are, besides what loadgen's arguments say.
struct Users {
    /// A user per socket, however few sockets.
    distinct: bool,
    /// The first this many viewers are moderators.
    moderators: u32,
}

/// `loadgen ws` with `args` against `nodes` nodes, each started with `server_settings`;
/// with users of their own made first when `users` or the number of sockets asks for it.
fn ws(
    env: &cargo::Env,
    server_settings: &[(String, String)],
    nodes: u16,
    users: Users,
    args: &[String],
) -> Result<(), String> {
    let mut settings = Vec::new();
    if nodes > 1 {
        // Nodes sharing this machine each get their share of its cores, as an
        // operator running several on one host would size them: left at one
        // worker per core each, two nodes run twice as many threads as there are
        // cores, and every broadcast wakes all of them (docs/benchmarks.md).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = (cores / usize::from(nodes)).max(1);
        settings.push(("RTS_HTTP_WORKERS".to_owned(), workers.to_string()));
    }
    settings.extend(server_settings.iter().cloned());
    let deployment = Deployment::start(env, nodes, settings)?;
    println!("machine: {}", machine());
    println!(
        "scenario: ws {} (release build{})",
        args.join(" "),
        if nodes > 1 {
            format!(", {nodes} nodes sharing Redis")
        } else {
            String::new()
        }
    );
    let mut cmd = deployment.loadgen();
    cmd.arg("ws")
        .args(args)
        .args(["--server-pid", &deployment.first.pid().to_string()]);
    if viewers::wanted(args, users.distinct, users.moderators) {
        let binary = deployment.dir.join("realtime-server");
        let count = viewers::users_needed(args);
        let tokens = viewers::seed(&binary, &deployment.settings, count, users.moderators)?;
        cmd.arg("--tokens").arg(tokens);
    }
    for node in &deployment.others {
        cmd.args(["--node", &format!("http://{}={}", node.addr, node.pid())]);
    }
    run_loadgen(&mut cmd)
}

/// The servers under test, release builds on a fresh database: the first node, and the
/// others sharing its database and Redis. They stop on drop, the others first.
struct Deployment {
    /// Where the release binaries are.
    dir: PathBuf,
    /// The first node's settings (its database and JWT key are every node's).
    settings: Vec<(String, String)>,
    others: Vec<server::Server>,
    first: server::Server,
}

impl Deployment {
    /// Builds the server and the load generator and starts `nodes` nodes with the bench's
    /// settings, then `settings`.
    fn start(
        env: &cargo::Env,
        nodes: u16,
        settings: Vec<(String, String)>,
    ) -> Result<Self, String> {
        let dir = server::build(true, &["server", "loadgen"])?;
        let settings = node_settings(env, nodes, settings)?;
        let binary = dir.join("realtime-server");
        let first_settings = with_node(&settings, 1, None)?;
        let first = server::start_fresh(&binary, &first_settings, false)?;
        let mut others = Vec::new();
        for n in 2..=nodes {
            let port = free_port()?;
            others.push(server::start(
                &binary,
                &with_node(&settings, n, Some(port))?,
            )?);
        }
        Ok(Self {
            dir,
            settings: first_settings,
            others,
            first,
        })
    }

    /// The load generator, pointed at the first node.
    fn loadgen(&self) -> Command {
        let mut cmd = Command::new(self.dir.join("loadgen"));
        cmd.args(["--base", &format!("http://{}", self.first.addr)]);
        cmd
    }
}

/// Every node's settings: the environment's, the bench's, then `extra`; with more than one
/// node, the Redis they share.
fn node_settings(
    env: &cargo::Env,
    nodes: u16,
    extra: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let mut settings = server::settings(env, "rts_bench")?;
    // Benchmarks measure the server, not its abuse limits. mimalloc returns freed memory to
    // the OS only after a delay and only when the allocator is next used, so an idle server
    // keeps showing memory it no longer uses (argon2's 19 MiB per sign-up, say): with no
    // delay, RSS is what the server really holds.
    // Every generated socket comes from 127.0.0.1: the per-address limit is lifted too.
    for (k, v) in [
        ("RTS_WS_PUSHES_PER_SECOND", "10000"),
        ("RTS_WS_PUSH_BURST", "10000"),
        ("RTS_WS_MAX_SOCKETS_PER_ADDRESS", "10000000"),
        ("MIMALLOC_PURGE_DELAY", "0"),
    ] {
        settings.push((k.to_owned(), v.to_owned()));
    }
    settings.extend(extra);
    if nodes > 1 {
        let redis = env
            .iter()
            .find(|(k, _)| k == "RTS_TEST_REDIS_URL")
            .map(|(_, v)| v.clone())
            .ok_or("no Redis URL from the services check")?;
        settings.push(("RTS_REDIS_URL".to_owned(), redis));
    }
    Ok(settings)
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port())
}

/// Runs the load generator to its end.
fn run_loadgen(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run loadgen: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("loadgen failed ({status})"))
    }
}

/// `settings` for node `n`: its name, and its own port when it is not the first.
fn with_node(
    settings: &[(String, String)],
    n: u16,
    port: Option<u16>,
) -> Result<Vec<(String, String)>, String> {
    let mut settings = settings.to_vec();
    settings.push(("RTS_NODE_ID".to_owned(), format!("bench-{n}")));
    if let Some(port) = port {
        let addr = settings
            .iter_mut()
            .find(|(k, _)| k == "RTS_HTTP_ADDR")
            .ok_or("no RTS_HTTP_ADDR")?;
        addr.1 = format!("127.0.0.1:{port}");
    }
    Ok(settings)
}
