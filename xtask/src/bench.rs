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
    if let Scenario::Ws {
        floor: Some(floor),
        floor_no_presence,
        args,
        ..
    } = &scenario
    {
        return run_floor(floor, !floor_no_presence, args);
    }
    if let Scenario::Firebase {
        seconds,
        clients,
        rate,
        rounds,
    } = scenario
    {
        return run_firebase(env, seconds, clients, rate, rounds);
    }
    let dir = server::build(true, &["server", "loadgen"])?;
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
    let nodes = match &scenario {
        Scenario::Ws {
            server_settings,
            nodes,
            ..
        } => {
            if *nodes > 1 {
                // Nodes sharing this machine each get their share of its cores, as an
                // operator running several on one host would size them: left at one
                // worker per core each, two nodes run twice as many threads as there are
                // cores, and every broadcast wakes all of them (docs/benchmarks.md).
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let workers = (cores / usize::from(*nodes)).max(1);
                settings.push(("RTS_HTTP_WORKERS".to_owned(), workers.to_string()));
            }
            settings.extend(server_settings.iter().cloned());
            *nodes
        }
        Scenario::Rest { .. } | Scenario::Firebase { .. } => 1,
    };
    if nodes > 1 {
        let redis = env
            .iter()
            .find(|(k, _)| k == "RTS_TEST_REDIS_URL")
            .map(|(_, v)| v.clone())
            .ok_or("no Redis URL from the services check")?;
        settings.push(("RTS_REDIS_URL".to_owned(), redis));
    }
    let binary = dir.join("realtime-server");
    let running = server::start_fresh(&binary, &with_node(&settings, 1, None)?, false)?;
    let mut others = Vec::new();
    for n in 2..=nodes {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        others.push(server::start(
            &binary,
            &with_node(&settings, n, Some(port))?,
        )?);
    }
    let base = format!("http://{}", running.addr);
    println!("machine: {}", machine());
    let mut cmd = Command::new(dir.join("loadgen"));
    cmd.args(["--base", &base]);
    match scenario {
        Scenario::Rest { seconds, clients } => {
            println!(
                "scenario: rest, {clients} clients, {seconds} s per phase (release build, rate limits off)"
            );
            cmd.args([
                "rest",
                "--seconds",
                &seconds.to_string(),
                "--clients",
                &clients.to_string(),
            ]);
        }
        Scenario::Firebase { .. } => return Err("handled above".into()),
        Scenario::Ws { args, .. } => {
            println!(
                "scenario: ws {} (release build{})",
                args.join(" "),
                if nodes > 1 {
                    format!(", {nodes} nodes sharing Redis")
                } else {
                    String::new()
                }
            );
            cmd.arg("ws")
                .args(&args)
                .args(["--server-pid", &running.pid().to_string()]);
            for node in &others {
                cmd.args(["--node", &format!("http://{}={}", node.addr, node.pid())]);
            }
        }
    }
    run_loadgen(&mut cmd)
}

/// The fake Realtime Database as a process, killed on drop.
struct Fake {
    child: std::process::Child,
    key_file: std::path::PathBuf,
    url: String,
}

impl Fake {
    fn start(binary: &std::path::Path, hang: bool) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let key_file = std::env::temp_dir().join(format!("rts-bench-key-{port}.json"));
        let _ = std::fs::remove_file(&key_file);
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--service-account"])
            .arg(&key_file)
            .args(hang.then_some("--hang"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the Firebase fake: {e}"))?;
        let fake = Self {
            child,
            key_file,
            url: format!("http://127.0.0.1:{port}/?ns=fake-db"),
        };
        let started = std::time::Instant::now();
        while !fake.key_file.exists() {
            if started.elapsed() > std::time::Duration::from_secs(15) {
                return Err("the Firebase fake did not start within 15 s".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(fake)
    }

    fn settings(&self) -> [(String, String); 2] {
        [
            ("RTS_FIREBASE_DATABASE_URL".into(), self.url.clone()),
            (
                "RTS_FIREBASE_CREDENTIALS".into(),
                self.key_file.to_string_lossy().into_owned(),
            ),
        ]
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.key_file);
    }
}

/// Posts with the mirror off, on, and on with the fake hanging, each on a fresh database
/// and server, `rounds` times in rotating order; then a run at `rate` posts per second that
/// waits for the mirror and reports its lag.
fn run_firebase(
    env: &cargo::Env,
    seconds: u64,
    clients: usize,
    rate: f64,
    rounds: u16,
) -> Result<(), String> {
    let dir = server::build(true, &["server", "loadgen", "firebase-fake"])?;
    let binary = dir.join("realtime-server");
    let fake_binary = dir.join("firebase-fake");
    let settings = server::settings(env, "rts_bench")?;
    println!("machine: {}", machine());
    println!(
        "scenario: firebase, {clients} clients, {seconds} s per run, {rounds} round(s), lag at {rate}/s (release build, rate limits off, the fake Realtime Database on loopback)"
    );
    // The database's CPU counts only when it runs here (as `mariadbd` or `mysqld`).
    let local_database = process_named(&["mariadbd", "mysqld"]);
    let modes: [(&str, Option<bool>); 3] = [
        ("mirror off", None),
        ("mirror on", Some(false)),
        ("mirror on, Firebase hanging", Some(true)),
    ];
    let run = |label: &str, fake: Option<bool>, rate: f64| -> Result<Option<f64>, String> {
        let fake = fake
            .map(|hang| Fake::start(&fake_binary, hang))
            .transpose()?;
        let mut run_settings = settings.clone();
        if let Some(fake) = &fake {
            run_settings.extend(fake.settings());
        }
        let running = server::start_fresh(&binary, &run_settings, false)?;
        let mut cmd = Command::new(dir.join("loadgen"));
        cmd.args(["--base", &format!("http://{}", running.addr)])
            .args(["comments", "--label", label])
            .args(["--cpu", &format!("server={}", running.pid())]);
        if let Some(pid) = local_database {
            cmd.args(["--cpu", &format!("MariaDB={pid}")]);
        }
        if let Some(fake) = &fake {
            cmd.args(["--cpu", &format!("fake={}", fake.child.id())]);
        }
        cmd.args(["--seconds", &seconds.to_string()])
            .args(["--clients", &clients.to_string()])
            .args(["--rate", &rate.to_string()]);
        if rate > 0.0 {
            cmd.arg("--mirror-lag");
        }
        println!();
        let out = loadgen_output(&mut cmd)?;
        drop(running);
        Ok(posts_per_second(&out, label))
    };
    // rates[mode][round]
    let mut rates = vec![Vec::new(); modes.len()];
    for round in 0..usize::from(rounds) {
        for k in 0..modes.len() {
            let m = (k + round) % modes.len();
            let (label, fake) = modes[m];
            let posted = run(label, fake, 0.0)?
                .ok_or_else(|| format!("no posting rate in the output of {label:?}"))?;
            rates[m].push(posted);
        }
    }
    if rounds > 1 {
        summarize(&modes.map(|(label, _)| label), &rates);
    }
    run("mirror on, sustained", Some(false), rate)?;
    Ok(())
}

/// The id of a running process whose name is one of `names`.
fn process_named(names: &[&str]) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            names.contains(&comm.trim()).then_some(pid)
        })
}

/// Medians of each mode's rate and of each round's ratio to the first mode.
fn summarize(labels: &[&str], rates: &[Vec<f64>]) {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    println!();
    println!(
        "| mode | rounds | median posts/s | median ratio to {} | ratio range |",
        labels[0]
    );
    println!("|---|---|---|---|---|");
    for (label, mine) in labels.iter().zip(rates) {
        let ratios: Vec<f64> = mine
            .iter()
            .zip(&rates[0])
            .map(|(r, base)| r / base)
            .collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "| {label} | {} | {:.0} | {:.2}x | {lo:.2}x to {hi:.2}x |",
            mine.len(),
            median(mine.clone()),
            median(ratios),
        );
    }
}

/// Runs the load generator to its end, echoing and returning what it printed.
fn loadgen_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run loadgen: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{text}");
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("loadgen failed ({})", out.status))
    }
}

/// The rate column of the `| label | posts | rate/s | ...` row loadgen prints.
fn posts_per_second(out: &str, label: &str) -> Option<f64> {
    out.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells.get(1) == Some(&label))
            .then(|| cells.get(3)?.strip_suffix("/s")?.parse().ok())
            .flatten()
    })
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

/// The same `loadgen ws` scenario against the reference floor (`node SERVER_JS`, with
/// `--presence` if asked, on a free port), with made-up tokens since the floor has no
/// REST API.
fn run_floor(floor: &std::path::Path, presence: bool, args: &[String]) -> Result<(), String> {
    let dir = server::build(true, &["loadgen"])?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let child = Command::new("node")
        .arg(floor)
        .args(["--port", &port.to_string()])
        .args(presence.then_some("--presence"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run node {}: {e} (Node 20+ is needed)",
                floor.display()
            )
        })?;
    let floor_server = server::Server::adopt(child, ([127, 0, 0, 1], port).into());
    floor_server.wait_healthy()?;
    println!("machine: {}", machine());
    println!(
        "scenario: ws {} against the floor {}",
        args.join(" "),
        floor.display()
    );
    let mut cmd = Command::new(dir.join("loadgen"));
    cmd.args(["--base", &format!("http://127.0.0.1:{port}")])
        .arg("ws")
        .args(args)
        .args([
            "--server-pid",
            &floor_server.pid().to_string(),
            "--no-signup",
        ]);
    run_loadgen(&mut cmd)
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
