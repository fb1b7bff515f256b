//! Finding a still-running instance (from an earlier, detached run) to reuse.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Instant;

use super::log_tail::did_not_start;
use super::process::{cwd_is, pid_alive, signal, wait_exit};
use super::{KILL_TIMEOUT, Kind, POLL_INTERVAL, START_TIMEOUT};
use crate::Error;

pub(super) struct Running {
    pub(super) pid: u32,
    pub(super) port: u16,
}

/// A still-running instance of `kind` for `dir` (from an earlier, detached run): its pid file names a
/// live process working in the instance's data directory, and it answers on the recorded port. One
/// that does not answer within [`START_TIMEOUT`] is killed (SIGKILL) and `None` returned.
pub(super) fn find_running(
    kind: Kind,
    dir: &Path,
    recorded: Option<u16>,
    requested: Option<u16>,
) -> Result<Option<Running>, Error> {
    let Some(pid) = read_pid_file(&kind.pid_file(dir)) else {
        return Ok(None);
    };
    let is_ours = || pid_alive(pid) && cwd_is(pid, &kind.process_cwd(dir)) != Some(false);
    if !is_ours() {
        return Ok(None);
    }
    let log = kind.log_file(dir);
    let Some(port) = recorded else {
        return Err(did_not_start(
            format!(
                "a {} (pid {pid}) is already running for {}, but its port file {} is missing; \
                 stop it first",
                kind.name(),
                dir.display(),
                kind.port_file(dir).display()
            ),
            &log,
            0,
        ));
    };
    if let Some(requested) = requested.filter(|&requested| requested != port) {
        return Err(Error::RunningOnOtherPort {
            service: kind.name(),
            dir: dir.to_path_buf(),
            pid,
            port,
            requested,
        });
    }
    // It may still be starting up (e.g. `start` called twice in quick succession).
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if !is_ours() {
            return Ok(None);
        }
        if kind.answers(port) {
            return Ok(Some(Running { pid, port }));
        }
        if Instant::now() >= deadline {
            // It is ours but useless: e.g. a mariadbd that got SIGTERM while starting up hangs for
            // good. Kill it and start afresh.
            let _ = signal(pid, "KILL");
            if wait_exit(pid, None, KILL_TIMEOUT)? {
                return Ok(None);
            }
            return Err(Error::DidNotStop {
                service: kind.name(),
                pid,
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
}

fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}
