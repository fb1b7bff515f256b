//! The error of starting and stopping the local services.

use std::io;
use std::path::PathBuf;

/// Why a local service could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binary is missing; `hint` is the Debian/Ubuntu command that installs it.
    #[error(
        "{program} was not found on PATH nor in {searched}; install it with `{hint}` \
         (macOS: `{brew_hint}`)"
    )]
    NotInstalled {
        program: &'static str,
        searched: String,
        hint: &'static str,
        brew_hint: &'static str,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The service (or `mariadb-install-db`) failed or did not answer in time; `log_tail` holds the
    /// last lines of `log`.
    #[error("{what}; last lines of {}:\n{log_tail}", log.display())]
    DidNotStart {
        what: String,
        log: PathBuf,
        log_tail: String,
    },
    /// The requested (or, on restart, the previous) port is taken by another process.
    #[error("port {port} on 127.0.0.1 is already in use by another process")]
    PortInUse { port: u16 },
    /// An instance for this directory is already running, on another port than the requested one.
    #[error(
        "{service} for {} is already running (pid {pid}) on port {port}, not on the requested \
         port {requested}; stop it first",
        dir.display()
    )]
    RunningOnOtherPort {
        service: &'static str,
        dir: PathBuf,
        pid: u32,
        port: u16,
        requested: u16,
    },
    /// The process did not exit, even after SIGKILL.
    #[error("{service} (pid {pid}) did not exit after SIGTERM and SIGKILL")]
    DidNotStop { service: &'static str, pid: u32 },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
