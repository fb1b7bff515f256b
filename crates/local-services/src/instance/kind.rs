//! What differs between MariaDB and Redis: their program, files, arguments, probe and
//! shutdown grace.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::PROBE_TIMEOUT;
use crate::probe::local_addr;
use crate::{Error, mariadb, redis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    MariaDb,
    Redis,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::MariaDb => "MariaDB",
            Self::Redis => "Redis",
        }
    }

    pub(super) fn program(self) -> Result<PathBuf, Error> {
        match self {
            Self::MariaDb => mariadb::program(),
            Self::Redis => redis::program(),
        }
    }

    pub(super) fn port_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::PORT_FILE),
            Self::Redis => dir.join(redis::PORT_FILE),
        }
    }

    pub(super) fn pid_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::PID_FILE),
            Self::Redis => dir.join(redis::PID_FILE),
        }
    }

    pub(super) fn log_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::LOG_FILE),
            Self::Redis => dir.join(redis::LOG_FILE),
        }
    }

    /// The server's working directory once running (both chdir into their data directory).
    pub(super) fn process_cwd(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::DATA_DIR),
            Self::Redis => dir.to_path_buf(),
        }
    }

    /// One-time preparation of `dir` (MariaDB: initialise the data directory).
    pub(super) fn prepare(self, dir: &Path) -> Result<(), Error> {
        match self {
            Self::MariaDb => mariadb::prepare(dir),
            Self::Redis => Ok(()),
        }
    }

    pub(super) fn args(self, dir: &Path, port: u16) -> Vec<OsString> {
        match self {
            Self::MariaDb => mariadb::args(dir, port),
            Self::Redis => redis::args(dir, port),
        }
    }

    pub(super) fn answers(self, port: u16) -> bool {
        let addr = local_addr(port);
        match self {
            Self::MariaDb => crate::mariadb_answers(&addr, PROBE_TIMEOUT),
            Self::Redis => crate::redis_answers(&addr, PROBE_TIMEOUT),
        }
    }

    /// How long a graceful shutdown (SIGTERM) may take before SIGKILL.
    pub(super) fn stop_grace(self) -> Duration {
        match self {
            Self::MariaDb => Duration::from_secs(60),
            Self::Redis => Duration::from_secs(15),
        }
    }
}
