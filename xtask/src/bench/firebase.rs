//! `cargo xtask bench firebase`: comment posting with the Firebase mirror off, on, and on
//! with the fake Realtime Database hanging, then the mirror's lag at a sustained rate.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{free_port, machine};
use crate::{cargo, server};

/// The fake Realtime Database as a process, killed on drop.
struct Fake {
    child: std::process::Child,
    key_file: PathBuf,
    url: String,
}

impl Fake {
    fn start(binary: &Path, hang: bool) -> Result<Self, String> {
        let port = free_port()?;
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

/// The posting runs, in the order of the first round: label, and the fake's `hang` (none:
/// the mirror is off).
const MODES: [(&str, Option<bool>); 3] = [
    ("mirror off", None),
    ("mirror on", Some(false)),
    ("mirror on, Firebase hanging", Some(true)),
];

/// What every run shares: the release builds, the server's settings, and the load.
struct Bench {
    dir: PathBuf,
    settings: Vec<(String, String)>,
    seconds: u64,
    clients: usize,
    /// The database's CPU counts only when it runs here (as `mariadbd` or `mysqld`).
    local_database: Option<u32>,
}

/// Posts with the mirror off, on, and on with the fake hanging, each on a fresh database
/// and server, `rounds` times in rotating order; then a run at `rate` posts per second that
/// waits for the mirror and reports its lag.
pub fn run(
    env: &cargo::Env,
    seconds: u64,
    clients: usize,
    rate: f64,
    rounds: u16,
) -> Result<(), String> {
    let dir = server::build(true, &["server", "loadgen", "firebase-fake"])?;
    let settings = server::settings(env, "rts_bench")?;
    println!("machine: {}", machine());
    println!(
        "scenario: firebase, {clients} clients, {seconds} s per run, {rounds} round(s), lag at {rate}/s (release build, rate limits off, the fake Realtime Database on loopback)"
    );
    let bench = Bench {
        dir,
        settings,
        seconds,
        clients,
        local_database: process_named(&["mariadbd", "mysqld"]),
    };
    // rates[mode][round]
    let mut rates = vec![Vec::new(); MODES.len()];
    for round in 0..usize::from(rounds) {
        for k in 0..MODES.len() {
            let m = (k + round) % MODES.len();
            let (label, fake) = MODES[m];
            let posted = bench
                .run(label, fake, 0.0)?
                .ok_or_else(|| format!("no posting rate in the output of {label:?}"))?;
            rates[m].push(posted);
        }
    }
    if rounds > 1 {
        summarize(&MODES.map(|(label, _)| label), &rates);
    }
    bench.run("mirror on, sustained", Some(false), rate)?;
    Ok(())
}

impl Bench {
    /// One `loadgen comments` run labelled `label` on a fresh database and server, with
    /// the fake (hanging if `fake` says so) or without; returns its posts per second.
    fn run(&self, label: &str, fake: Option<bool>, rate: f64) -> Result<Option<f64>, String> {
        let fake = fake
            .map(|hang| Fake::start(&self.dir.join("firebase-fake"), hang))
            .transpose()?;
        let mut run_settings = self.settings.clone();
        if let Some(fake) = &fake {
            run_settings.extend(fake.settings());
        }
        let binary = self.dir.join("realtime-server");
        let running = server::start_fresh(&binary, &run_settings, false)?;
        let mut cmd = Command::new(self.dir.join("loadgen"));
        cmd.args(["--base", &format!("http://{}", running.addr)])
            .args(["comments", "--label", label])
            .args(["--cpu", &format!("server={}", running.pid())]);
        if let Some(pid) = self.local_database {
            cmd.args(["--cpu", &format!("MariaDB={pid}")]);
        }
        if let Some(fake) = &fake {
            cmd.args(["--cpu", &format!("fake={}", fake.child.id())]);
        }
        cmd.args(["--seconds", &self.seconds.to_string()])
            .args(["--clients", &self.clients.to_string()])
            .args(["--rate", &rate.to_string()]);
        if rate > 0.0 {
            cmd.arg("--mirror-lag");
        }
        println!();
        let out = loadgen_output(&mut cmd)?;
        drop(running);
        Ok(posts_per_second(&out, label))
    }
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
