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
    /// WebSocket sockets in one room: hold them, measure joins, or fan comments out.
    Ws {
        /// hold | joins | fanout (only a label for the report and the topic).
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
        /// Comments per second in total (0 = none).
        #[arg(long, default_value_t = 0.0)]
        publish_rate: f64,
        #[arg(long, default_value_t = 5)]
        publishers: usize,
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
    },
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
            Scenario::Ws {
                name,
                sockets,
                connect_rate,
                seconds,
                publish_rate,
                publishers,
                heartbeat_secs,
                server_pid,
                no_signup,
                nodes,
            } => {
                let plan = ws::Plan {
                    sockets,
                    connect_rate,
                    hold: Duration::from_secs(seconds),
                    publish_rate,
                    publishers,
                    heartbeat: (heartbeat_secs > 0).then(|| Duration::from_secs(heartbeat_secs)),
                    server_pid,
                    signup: !no_signup,
                    other_nodes: nodes
                        .iter()
                        .map(|n| match n.split_once('=') {
                            Some((url, pid)) => (url.to_owned(), pid.parse().ok()),
                            None => (n.clone(), None),
                        })
                        .collect(),
                };
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
