//! A private MariaDB: `mariadb-install-db` on first use, then `mariadbd` on 127.0.0.1 only.

use std::collections::hash_map::DefaultHasher;
use std::env;
use std::ffi::OsString;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;
use crate::find::{self, MARIADB_BREW_HINT, MARIADB_INSTALL_HINT};
use crate::instance::{Instance, Kind, did_not_start, running_as_root};

pub(crate) const PORT_FILE: &str = "mariadb.port";
pub(crate) const PID_FILE: &str = "mysqld.pid";
pub(crate) const LOG_FILE: &str = "mariadb.log";
pub(crate) const DATA_DIR: &str = "data";
const INSTALL_DIR: &str = "data.init";
const INSTALL_LOG_FILE: &str = "mariadb-install.log";
/// The server's own tmpdir: at startup mariadbd deletes every `#sql*` file in its tmpdir, which in
/// a shared /tmp would pull temporary tables from under other servers (and parallel tests).
const TMP_DIR: &str = "tmp";
const SOCKET_FILE: &str = "mysqld.sock";
/// Unix socket paths are limited to 107 bytes; longer ones go to the temp dir.
const MAX_SOCKET_PATH: usize = 100;

/// Settings given to both `mariadb-install-db` and `mariadbd` (the InnoDB log size must match).
const SERVER_SETTINGS: &[&str] = &[
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--skip-name-resolve",
];

/// A private MariaDB server (`mariadbd`) listening on 127.0.0.1 only, with its data, logs, pid
/// file and port under one directory. `root` logs in over TCP with an empty password.
///
/// Dropping it stops the server, unless it was [detached](Self::detach).
#[derive(Debug)]
pub struct MariaDb {
    inner: Instance,
}

impl MariaDb {
    /// Initialises `dir` on first use (`mariadb-install-db` into `dir/data`), starts `mariadbd` on
    /// `port` and waits (up to 30 s) until it answers; on failure the error holds the tail of its
    /// log (`dir/mariadb.log`).
    ///
    /// With `port` `None` the port recorded in `dir` by an earlier run is used again when it is
    /// free (so the URL stays the same), else a free port. When an instance started earlier for
    /// `dir` is still running (e.g. detached), it is reused instead of starting another one.
    pub fn start(dir: &Path, port: Option<u16>) -> Result<Self, Error> {
        Instance::start(Kind::MariaDb, dir, port).map(|inner| Self { inner })
    }

    /// The instance an earlier [`start`](Self::start) left running for `dir`, if any; unlike
    /// `start` it never starts one (for stopping a detached instance).
    pub fn running(dir: &Path) -> Result<Option<Self>, Error> {
        Ok(Instance::running(Kind::MariaDb, dir)?.map(|inner| Self { inner }))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    /// `mysql://root@127.0.0.1:PORT/<database>` (the database itself is not created).
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port())
    }

    /// Stops the server (SIGTERM, then waits for its exit; SIGKILL after 60 s). Does nothing when
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
        find::find_mariadbd(),
        "mariadbd (MariaDB server)",
        MARIADB_INSTALL_HINT,
        MARIADB_BREW_HINT,
    )
}

pub(crate) fn args(dir: &Path, port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--no-defaults".into()];
    if running_as_root() {
        args.push("--user=root".into());
    }
    args.extend([
        path_arg("--datadir=", &dir.join(DATA_DIR)),
        "--skip-networking=0".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--port={port}").into(),
        path_arg("--socket=", &socket_path(dir)),
        path_arg("--pid-file=", &dir.join(PID_FILE)),
        path_arg("--log-error=", &dir.join(LOG_FILE)),
        path_arg("--tmpdir=", &dir.join(TMP_DIR)),
        "--skip-log-bin".into(),
        "--innodb-flush-log-at-trx-commit=2".into(),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_unicode_ci".into(),
    ]);
    args.extend(SERVER_SETTINGS.iter().map(OsString::from));
    args
}

/// Creates the tmpdir and runs `mariadb-install-db` unless `dir/data` is initialised already (has
/// `mysql/`). It installs into `dir/data.init` and renames that on success, so an interrupted run
/// leaves no half-initialised datadir.
pub(crate) fn prepare(dir: &Path) -> Result<(), Error> {
    let tmp = dir.join(TMP_DIR);
    fs::create_dir_all(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    let data = dir.join(DATA_DIR);
    if data.join("mysql").is_dir() {
        return Ok(());
    }
    let install_db = find::require(
        find::find_mariadb_install_db(),
        "mariadb-install-db (MariaDB server)",
        MARIADB_INSTALL_HINT,
        MARIADB_BREW_HINT,
    )?;
    let staging = dir.join(INSTALL_DIR);
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| Error::io(format!("cannot remove {}", staging.display()), e))?;
    }
    let log = dir.join(INSTALL_LOG_FILE);
    let stdout =
        File::create(&log).map_err(|e| Error::io(format!("cannot create {}", log.display()), e))?;
    let stderr = stdout
        .try_clone()
        .map_err(|e| Error::io(format!("cannot create {}", log.display()), e))?;

    let mut command = Command::new(&install_db);
    command.arg("--no-defaults");
    if running_as_root() {
        command.arg("--user=root");
    }
    let status = command
        .arg(path_arg("--datadir=", &staging))
        // root@localhost and root@127.0.0.1 with an empty password (no unix_socket auth).
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(path_arg("--tmpdir=", &tmp))
        .args(SERVER_SETTINGS)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(|e| Error::io(format!("cannot run {}", install_db.display()), e))?;
    if !status.success() || !staging.join("mysql").is_dir() {
        return Err(did_not_start(
            format!(
                "{} failed ({status}) to initialise {}",
                install_db.display(),
                staging.display()
            ),
            &log,
            0,
        ));
    }
    fs::rename(&staging, &data).map_err(|e| {
        Error::io(
            format!("cannot rename {} to {}", staging.display(), data.display()),
            e,
        )
    })
}

/// `dir/mysqld.sock`, or a per-directory name in the temp dir when that path would be too long.
fn socket_path(dir: &Path) -> PathBuf {
    let socket = dir.join(SOCKET_FILE);
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        return socket;
    }
    let mut hasher = DefaultHasher::new();
    dir.hash(&mut hasher);
    env::temp_dir().join(format!(
        "local-services-mariadb-{:016x}.sock",
        hasher.finish()
    ))
}

fn path_arg(option: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(option);
    arg.push(path.as_os_str());
    arg
}
