//! Integration tests of local-services against real `mariadbd` and `redis-server` processes. Each
//! test has a directory of its own under `CARGO_TARGET_TMPDIR` and a port of its own, so the tests
//! run in parallel and never touch the shared servers on 3306 and 6379.

// A test reports a failure by panicking.
#![allow(clippy::expect_used, clippy::panic)]

mod mariadb;
mod probes;
mod redis;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long a probe may take in the tests.
pub const PROBE: Duration = Duration::from_secs(2);

/// A test's directory, `<CARGO_TARGET_TMPDIR>/local-services/<name>-<pid>-<n>`; removed when the
/// test passes, kept for inspection when it fails.
#[derive(Debug)]
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale_dirs);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = root().join(format!("{name}-{}-{n}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("old test dir removed");
        }
        fs::create_dir_all(&dir).expect("test dir created");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("local-services")
}

/// Removes the directories of earlier test runs whose process is gone, first stopping the servers
/// they left running (a test process killed by a signal cannot stop its children): any process
/// whose working directory is inside such a directory is killed.
fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(root()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner: Option<u32> = name.rsplit('-').nth(1).and_then(|pid| pid.parse().ok());
        let Some(owner) = owner else { continue };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path().canonicalize().unwrap_or_else(|_| entry.path());
        let servers = processes_working_in(&dir);
        // SIGKILL: the data is thrown away, and a mariadbd that gets SIGTERM while it is still
        // starting up hangs for good.
        for pid in &servers {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &pid.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && servers
                .iter()
                .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Pids of the processes whose working directory is `dir` or inside it.
fn processes_working_in(dir: &Path) -> Vec<u32> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cwd = fs::read_link(entry.path().join("cwd")).ok()?;
            cwd.starts_with(dir).then_some(pid)
        })
        .collect()
}

/// Runs `program args...` and returns its output, panicking when it cannot be run at all.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

pub fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}
