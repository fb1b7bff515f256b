//! `cargo xtask bench`: release builds of the server and the load generator, a fresh
//! database, and the scenario's report (a markdown table for docs/benchmarks.md).

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
    /// WebSocket rooms; arguments go to `loadgen ws` (see `loadgen ws --help`), e.g.
    /// `cargo xtask bench ws --name fanout --sockets 1000 --publish-rate 50 --seconds 30`.
    Ws {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// No server: the kernel's cost of one frame written to a loopback socket, the floor
    /// under the server's cost per delivery; arguments go to `loadgen floor`, e.g.
    /// `cargo xtask bench floor --sockets 1000 --rate 50 --seconds 20`.
    Floor {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

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
    let dir = server::build(true, &["server", "loadgen"])?;
    let mut cmd = Command::new(dir.join("loadgen"));
    let (report, args) = match scenario {
        Scenario::Floor { args } => {
            println!("machine: {}", machine());
            println!(
                "scenario: floor {} (release build, no server)",
                args.join(" ")
            );
            return loadgen(cmd.arg("floor").args(args));
        }
        Scenario::Rest { seconds, clients } => (
            format!(
                "rest, {clients} clients, {seconds} s per phase (release build, rate limits off)"
            ),
            vec![
                "rest".to_owned(),
                "--seconds".to_owned(),
                seconds.to_string(),
                "--clients".to_owned(),
                clients.to_string(),
            ],
        ),
        Scenario::Ws { args } => (
            format!("ws {} (release build)", args.join(" ")),
            [vec!["ws".to_owned()], args].concat(),
        ),
    };
    let mut settings = server::settings(env, "rts_bench")?;
    // Benchmarks measure the server, not its abuse limits. mimalloc returns freed memory to
    // the OS only after a delay and only when the allocator is next used, so an idle server
    // keeps showing memory it no longer uses (argon2's 19 MiB per sign-up, say): with no
    // delay, RSS is what the server really holds.
    for (k, v) in [
        ("RTS_WS_PUSHES_PER_SECOND", "10000"),
        ("RTS_WS_PUSH_BURST", "10000"),
        ("MIMALLOC_PURGE_DELAY", "0"),
    ] {
        settings.push((k.to_owned(), v.to_owned()));
    }
    let running = server::start_fresh(&dir.join("realtime-server"), &settings, false)?;
    println!("machine: {}", machine());
    println!("scenario: {report}");
    cmd.args(["--base", &format!("http://{}", running.addr)])
        .args(&args);
    if args.first().map(String::as_str) == Some("ws") {
        cmd.args(["--server-pid", &running.pid().to_string()]);
    }
    loadgen(&mut cmd)
}

fn loadgen(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run loadgen: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("loadgen failed ({status})"))
    }
}
