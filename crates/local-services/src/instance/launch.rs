//! Spawning a server on a recorded port and waiting until it answers there.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Instant;

use super::log_tail::did_not_start;
use super::{Kind, POLL_INTERVAL, START_TIMEOUT};
use crate::Error;
use crate::probe::port_is_free;

/// Records `port` in `dir`, spawns the server on it and waits until it answers there.
pub(super) fn launch(kind: Kind, program: &Path, dir: &Path, port: u16) -> Result<Child, Error> {
    if !port_is_free(port) {
        return Err(Error::PortInUse { port });
    }
    // Before spawning: whenever a server may be running for `dir`, its port is on record.
    let port_file = kind.port_file(dir);
    fs::write(&port_file, format!("{port}\n"))
        .map_err(|e| Error::io(format!("cannot write {}", port_file.display()), e))?;
    let log = kind.log_file(dir);
    let log_offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let stdout = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| Error::io(format!("cannot open {}", log.display()), e))?;
    let stderr = stdout
        .try_clone()
        .map_err(|e| Error::io(format!("cannot open {}", log.display()), e))?;
    let mut child = Command::new(program)
        .args(kind.args(dir, port))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Out of the terminal's process group: a Ctrl-C must not stop a detached instance.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io(format!("cannot run {}", program.display()), e))?;

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let exited = child
            .try_wait()
            .map_err(|e| Error::io(format!("cannot wait for {}", program.display()), e))?;
        if let Some(status) = exited {
            return Err(did_not_start(
                format!(
                    "{} ({}) exited with {status} before answering on 127.0.0.1:{port}",
                    kind.name(),
                    program.display()
                ),
                &log,
                log_offset,
            ));
        }
        if kind.answers(port) {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(did_not_start(
                format!(
                    "{} ({}) did not answer on 127.0.0.1:{port} within {} s",
                    kind.name(),
                    program.display(),
                    START_TIMEOUT.as_secs()
                ),
                &log,
                log_offset,
            ));
        }
        thread::sleep(POLL_INTERVAL);
    }
}
