//! `loadgen`: drives a running realtime-server and reports throughput and latency.
//! `cargo xtask bench` builds it in release mode, starts the server and runs it; see
//! docs/benchmarks.md for the figures and the exact commands.

mod comments;
mod procfs;
mod rest;
mod stats;
mod ws;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for realtime-server")]
struct Cli {
    /// Base URL of the server, e.g. http://127.0.0.1:4000
    #[arg(long)]
    base: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Comment posts per second and their latency; with `--mirror-lag`, then how long the
    /// Firebase mirror took to send them (from the server's /metrics).
    Comments {
        /// The label of the run in the report (e.g. "mirror off").
        #[arg(long, default_value = "comments")]
        label: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Posts per second in all (0: as fast as the server answers).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        #[arg(long)]
        mirror_lag: bool,
        /// Report the CPU time per post of this process, `NAME=PID` (repeatable), e.g.
        /// `--cpu server=1234`; the load generator's own is always reported with them.
        #[arg(long = "cpu", value_name = "NAME=PID", value_parser = named_pid)]
        cpu: Vec<(String, u32)>,
    },
    /// Logins, comment writes and comment reads per second, and /healthz latency during a
    /// login burst.
    Rest {
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// WebSocket sockets in one room: hold them, measure joins, fan comments out, or watch
    /// a hot room (`--name hot`: comments and reactions, what each viewer received).
    Ws(WsArgs),
}

/// `loadgen ws`'s arguments.
#[derive(clap::Args)]
struct WsArgs {
    /// hold | joins | fanout | hot (a label for the report and the topic; `hot` also
    /// reports what every viewer received, as any run with `--reaction-rate` does).
    #[arg(long, default_value = "hold")]
    name: String,
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    /// Sockets opened per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    connect_rate: f64,
    /// Seconds to hold the sockets (and publish, for fanout) after they joined.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of pushing before the measured seconds (the steady state is measured).
    #[arg(long, default_value_t = 0)]
    warmup_secs: u64,
    /// Comments per second in total (0 = none).
    #[arg(long, default_value_t = 0.0)]
    publish_rate: f64,
    #[arg(long, default_value_t = 5)]
    publishers: usize,
    /// Reactions per second in total (0 = none), pushed by `--reactors` sockets of
    /// their own, cycling through three emoji.
    #[arg(long, default_value_t = 0.0)]
    reaction_rate: f64,
    /// Sockets pushing the reactions (default: 4/s each, under the server's default
    /// limit of 5 pushes/s per socket).
    #[arg(long)]
    reactors: Option<usize>,
    /// Access tokens, one per line (`realtime-server seed viewers` writes them): socket
    /// i uses token i mod their number (viewers first, then publishers, then
    /// reactors), and any number of sockets have users of their own. Without it, up to
    /// 200 users are signed up over REST and shared.
    #[arg(long, value_name = "FILE")]
    tokens: Option<std::path::PathBuf>,
    /// Seconds between a socket's heartbeats, as phoenix.js (0 = none).
    #[arg(long, default_value_t = 30)]
    heartbeat_secs: u64,
    /// The server's process id, to report its memory and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Sign nobody up: connect with made-up tokens (for the reference floor, which
    /// takes any token and has no REST API).
    #[arg(long)]
    no_signup: bool,
    /// Another node of the same deployment, `URL` or `URL=PID` (repeatable):
    /// subscribers are spread over every node, publishers stay on `--base`.
    #[arg(long = "node", value_name = "URL[=PID]")]
    nodes: Vec<String>,
}

impl WsArgs {
    /// The scenario's name and its plan; rates must be numbers, zero or more.
    fn plan(self) -> Result<(String, ws::Plan), String> {
        for (flag, rate) in [
            ("--connect-rate", self.connect_rate),
            ("--publish-rate", self.publish_rate),
            ("--reaction-rate", self.reaction_rate),
        ] {
            if !(rate >= 0.0 && rate.is_finite()) {
                return Err(format!("{flag} must be a number, 0 or more (got {rate})"));
            }
        }
        let plan = ws::Plan {
            sockets: self.sockets,
            connect_rate: self.connect_rate,
            hold: Duration::from_secs(self.seconds),
            warmup: Duration::from_secs(self.warmup_secs),
            publish_rate: self.publish_rate,
            publishers: self.publishers,
            reaction_rate: self.reaction_rate,
            reactors: self
                .reactors
                .unwrap_or((self.reaction_rate / 4.0).ceil() as usize),
            heartbeat: (self.heartbeat_secs > 0).then(|| Duration::from_secs(self.heartbeat_secs)),
            server_pid: self.server_pid,
            signup: !self.no_signup,
            tokens: self.tokens,
            hot: self.name == "hot" || self.reaction_rate > 0.0,
            other_nodes: self
                .nodes
                .iter()
                .map(|n| match n.split_once('=') {
                    Some((url, pid)) => (url.to_owned(), pid.parse().ok()),
                    None => (n.clone(), None),
                })
                .collect(),
        };
        Ok((self.name, plan))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The workspace's reqwest has rustls without a crypto provider (the Firebase mirror
    // brings ring): one must be installed before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.scenario {
            Scenario::Comments {
                label,
                seconds,
                clients,
                rate,
                mirror_lag,
                cpu,
            } => {
                let plan = comments::Plan {
                    label,
                    clients,
                    duration: Duration::from_secs(seconds),
                    rate,
                    mirror_lag,
                    watch: cpu,
                };
                comments::run(&cli.base, plan).await
            }
            Scenario::Rest { seconds, clients } => {
                rest::run(&cli.base, Duration::from_secs(seconds), clients).await
            }
            Scenario::Ws(args) => {
                let (name, plan) = args.plan()?;
                ws::run(&cli.base, &name, plan).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `NAME=PID`.
fn named_pid(raw: &str) -> Result<(String, u32), String> {
    let (name, pid) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not NAME=PID"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("{pid:?} is not a process id"))?;
    Ok((name.to_owned(), pid))
}
