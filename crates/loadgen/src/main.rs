//! `loadgen`: drives a running realtime-server and reports throughput and latency.
//! `cargo xtask bench` builds it in release mode, starts the server and runs it; see
//! docs/benchmarks.md for the figures and the exact commands.

mod rest;
mod stats;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            Scenario::Rest { seconds, clients } => {
                rest::run(&cli.base, Duration::from_secs(seconds), clients).await
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
