//! A private Redis: `redis-server` on 127.0.0.1 only, without persistence.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::find::{self, REDIS_BREW_HINT, REDIS_INSTALL_HINT};
use crate::instance::{Instance, Kind};

pub(crate) const PORT_FILE: &str = "redis.port";
pub(crate) const PID_FILE: &str = "redis.pid";
pub(crate) const LOG_FILE: &str = "redis.log";

/// A private Redis server listening on 127.0.0.1 only, without password or persistence (no RDB
/// snapshots, no AOF), with its log, pid file and port under one directory.
///
/// Dropping it stops the server, unless it was [detached](Self::detach).
#[derive(Debug)]
pub struct Redis {
    inner: Instance,
}

impl Redis {
    /// Starts `redis-server` on `port` with `dir` as its working directory and waits (up to 30 s)
    /// until it answers `PING`; on failure the error holds the tail of `dir/redis.log`.
    ///
    /// Ports and reuse of a still-running instance work as for [`MariaDb::start`](crate::MariaDb::start).
    pub fn start(dir: &Path, port: Option<u16>) -> Result<Self, Error> {
        Instance::start(Kind::Redis, dir, port).map(|inner| Self { inner })
    }

    /// The instance an earlier [`start`](Self::start) left running for `dir`, if any; unlike
    /// `start` it never starts one (for stopping a detached instance).
    pub fn running(dir: &Path) -> Result<Option<Self>, Error> {
        Ok(Instance::running(Kind::Redis, dir)?.map(|inner| Self { inner }))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    /// Stops the server (SIGTERM, then waits for its exit; SIGKILL after 15 s). Does nothing when
    /// already stopped.
    pub fn stop(&mut self) -> Result<(), Error> {
        self.inner.stop()
    }

    /// Starts the server again on the same directory and port (stopping it first if it runs).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.inner.restart()
    }

    /// Leaves the server running after this value is gone; returns its pid (`None` when stopped).
    /// A later [`start`](Self::start) on the same directory reuses it.
    pub fn detach(self) -> Option<u32> {
        self.inner.detach()
    }
}

pub(crate) fn program() -> Result<PathBuf, Error> {
    find::require(
        find::find_redis_server(),
        "redis-server",
        REDIS_INSTALL_HINT,
        REDIS_BREW_HINT,
    )
}

pub(crate) fn args(dir: &Path, port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut option = |name: &str, value: OsString| {
        args.push(format!("--{name}").into());
        args.push(value);
    };
    option("port", port.to_string().into());
    option("bind", "127.0.0.1".into());
    option("save", "".into());
    option("appendonly", "no".into());
    option("daemonize", "no".into());
    option("dir", dir.into());
    option("logfile", dir.join(LOG_FILE).into());
    option("pidfile", dir.join(PID_FILE).into());
    args
}
