//! What MariaDB and Redis instances share: choosing and recording the port, spawning the server,
//! waiting until it answers, finding a still-running instance to reuse, and stopping it.
//! [`Kind`] says how each server differs; [`Instance`] owns one running server.

mod kind;
mod launch;
mod log_tail;
mod port;
mod process;
mod running;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::Error;
use crate::probe::port_is_free;
use launch::launch;
use port::{is_port_clash, new_port, read_port_file};
use process::terminate;
use running::find_running;

pub(crate) use kind::Kind;
pub(crate) use log_tail::did_not_start;
pub(crate) use process::running_as_root;

/// How long a server may take to answer after being spawned (or after a reused one is found).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one probe may take while waiting.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between probes and between checks for a process's exit.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How long to wait after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// How many log lines an error shows.
const LOG_TAIL_LINES: usize = 30;
/// How many other ports to try when an automatically chosen one turns out to be taken.
const PORT_RETRIES: usize = 3;

/// A server process owned by this value (spawned by it, or a still-running one it took over).
#[derive(Debug)]
pub(crate) struct Instance {
    kind: Kind,
    dir: PathBuf,
    program: PathBuf,
    port: u16,
    /// `Some` while running.
    pid: Option<u32>,
    /// `Some` when spawned by this process (rather than reused).
    child: Option<Child>,
    detached: bool,
}

impl Instance {
    pub(crate) fn start(kind: Kind, dir: &Path, port: Option<u16>) -> Result<Self, Error> {
        let program = kind.program()?;
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io(format!("cannot resolve {}", dir.display()), e))?;
        let recorded = read_port_file(&kind.port_file(&dir));

        if let Some(running) = find_running(kind, &dir, recorded, port)? {
            return Ok(Self::adopted(kind, dir, program, running));
        }

        // Keep the recorded port (and so the URL) when it is still free.
        let (mut port, may_change_port) = match (port, recorded) {
            (Some(port), _) => (port, false),
            (None, Some(recorded)) if port_is_free(recorded) => (recorded, true),
            (None, _) => (new_port()?, true),
        };
        if !may_change_port && !port_is_free(port) {
            return Err(Error::PortInUse { port });
        }
        kind.prepare(&dir)?;
        let mut retries = 0;
        let child = loop {
            match launch(kind, &program, &dir, port) {
                Ok(child) => break child,
                Err(e) if may_change_port && retries < PORT_RETRIES && is_port_clash(&e) => {
                    retries += 1;
                    port = new_port()?;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Self {
            kind,
            dir,
            program,
            port,
            pid: Some(child.id()),
            child: Some(child),
            detached: false,
        })
    }

    /// The instance already running for `dir`, if any; never starts one.
    pub(crate) fn running(kind: Kind, dir: &Path) -> Result<Option<Self>, Error> {
        let program = kind.program()?;
        let Ok(dir) = dir.canonicalize() else {
            return Ok(None);
        };
        let recorded = read_port_file(&kind.port_file(&dir));
        Ok(find_running(kind, &dir, recorded, None)?
            .map(|running| Self::adopted(kind, dir, program, running)))
    }

    /// An instance found already running (started earlier, perhaps by another process).
    fn adopted(kind: Kind, dir: PathBuf, program: PathBuf, running: running::Running) -> Self {
        Self {
            kind,
            dir,
            program,
            port: running.port,
            pid: Some(running.pid),
            child: None,
            detached: false,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub(crate) fn stop(&mut self) -> Result<(), Error> {
        let Some(pid) = self.pid else {
            return Ok(());
        };
        terminate(self.kind, pid, self.child.as_mut())?;
        self.pid = None;
        self.child = None;
        Ok(())
    }

    pub(crate) fn restart(&mut self) -> Result<(), Error> {
        self.stop()?;
        self.kind.prepare(&self.dir)?;
        let child = launch(self.kind, &self.program, &self.dir, self.port)?;
        self.pid = Some(child.id());
        self.child = Some(child);
        self.detached = false;
        Ok(())
    }

    pub(crate) fn detach(mut self) -> Option<u32> {
        self.detached = true;
        self.pid
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if !self.detached {
            // Nothing sensible to do about a failure here; stop() reports it when called directly.
            let _ = self.stop();
        }
    }
}
