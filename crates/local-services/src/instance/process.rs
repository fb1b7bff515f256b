//! Watching and signalling server processes: alive or not, where they work, stopping them.

use std::fs;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{KILL_TIMEOUT, Kind, POLL_INTERVAL};
use crate::Error;

/// SIGTERM, wait for the exit; SIGKILL after the grace period.
pub(super) fn terminate(kind: Kind, pid: u32, mut child: Option<&mut Child>) -> Result<(), Error> {
    if has_exited(pid, child.as_deref_mut())? {
        return Ok(());
    }
    // A failure means the process is already gone, which the wait below notices.
    let _ = signal(pid, "TERM");
    if wait_exit(pid, child.as_deref_mut(), kind.stop_grace())? {
        return Ok(());
    }
    match child.as_deref_mut() {
        Some(child) => {
            let _ = child.kill();
        }
        None => {
            let _ = signal(pid, "KILL");
        }
    }
    if wait_exit(pid, child, KILL_TIMEOUT)? {
        return Ok(());
    }
    Err(Error::DidNotStop {
        service: kind.name(),
        pid,
    })
}

pub(super) fn wait_exit(
    pid: u32,
    mut child: Option<&mut Child>,
    timeout: Duration,
) -> Result<bool, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if has_exited(pid, child.as_deref_mut())? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(POLL_INTERVAL);
    }
}

fn has_exited(pid: u32, child: Option<&mut Child>) -> Result<bool, Error> {
    match child {
        Some(child) => child
            .try_wait()
            .map(|status| status.is_some())
            .map_err(|e| Error::io(format!("cannot wait for pid {pid}"), e)),
        None => Ok(!pid_alive(pid)),
    }
}

/// Sends a signal (`"TERM"`, `"KILL"`, `"0"`) with the shell's `kill` (std cannot send SIGTERM).
pub(super) fn signal(pid: u32, signal: &str) -> io::Result<bool> {
    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s {signal} {pid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
}

/// True when `pid` is a live process (not a zombie).
pub(super) fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may contain anything.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) if Path::new("/proc/self/stat").exists() => false,
        // No procfs (macOS): signal 0 only checks that the process exists.
        Err(_) => signal(pid, "0").unwrap_or(false),
    }
}

/// Whether `pid` works in `dir`; `None` when that cannot be known (no procfs, no permission).
pub(super) fn cwd_is(pid: u32, dir: &Path) -> Option<bool> {
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    let dir = dir.canonicalize().ok()?;
    Some(cwd == dir)
}

/// True when this process runs as root (effective uid 0), which mariadbd only accepts with
/// `--user=root`.
pub(crate) fn running_as_root() -> bool {
    let from_proc = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            // Uid: real effective saved filesystem
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        });
    from_proc.unwrap_or_else(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
    })
}
