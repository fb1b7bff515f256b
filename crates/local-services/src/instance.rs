//! What MariaDB and Redis instances share: choosing and recording the port, spawning the server,
//! waiting until it answers, finding a still-running instance to reuse, and stopping it.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::probe::{free_port, local_addr, port_is_free};
use crate::{Error, mariadb, redis};

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

    fn program(self) -> Result<PathBuf, Error> {
        match self {
            Self::MariaDb => mariadb::program(),
            Self::Redis => redis::program(),
        }
    }

    fn port_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::PORT_FILE),
            Self::Redis => dir.join(redis::PORT_FILE),
        }
    }

    fn pid_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::PID_FILE),
            Self::Redis => dir.join(redis::PID_FILE),
        }
    }

    fn log_file(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::LOG_FILE),
            Self::Redis => dir.join(redis::LOG_FILE),
        }
    }

    /// The server's working directory once running (both chdir into their data directory).
    fn process_cwd(self, dir: &Path) -> PathBuf {
        match self {
            Self::MariaDb => dir.join(mariadb::DATA_DIR),
            Self::Redis => dir.to_path_buf(),
        }
    }

    /// One-time preparation of `dir` (MariaDB: initialise the data directory).
    fn prepare(self, dir: &Path) -> Result<(), Error> {
        match self {
            Self::MariaDb => mariadb::prepare(dir),
            Self::Redis => Ok(()),
        }
    }

    fn args(self, dir: &Path, port: u16) -> Vec<OsString> {
        match self {
            Self::MariaDb => mariadb::args(dir, port),
            Self::Redis => redis::args(dir, port),
        }
    }

    fn answers(self, port: u16) -> bool {
        let addr = local_addr(port);
        match self {
            Self::MariaDb => crate::mariadb_answers(&addr, PROBE_TIMEOUT),
            Self::Redis => crate::redis_answers(&addr, PROBE_TIMEOUT),
        }
    }

    /// How long a graceful shutdown (SIGTERM) may take before SIGKILL.
    fn stop_grace(self) -> Duration {
        match self {
            Self::MariaDb => Duration::from_secs(60),
            Self::Redis => Duration::from_secs(15),
        }
    }
}

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
            return Ok(Self {
                kind,
                dir,
                program,
                port: running.port,
                pid: Some(running.pid),
                child: None,
                detached: false,
            });
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
        Ok(
            find_running(kind, &dir, recorded, None)?.map(|running| Self {
                kind,
                dir,
                program,
                port: running.port,
                pid: Some(running.pid),
                child: None,
                detached: false,
            }),
        )
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

struct Running {
    pid: u32,
    port: u16,
}

/// A still-running instance of `kind` for `dir` (from an earlier, detached run): its pid file names a
/// live process working in the instance's data directory, and it answers on the recorded port. One
/// that does not answer within [`START_TIMEOUT`] is killed (SIGKILL) and `None` returned.
fn find_running(
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

/// Records `port` in `dir`, spawns the server on it and waits until it answers there.
fn launch(kind: Kind, program: &Path, dir: &Path, port: u16) -> Result<Child, Error> {
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

/// SIGTERM, wait for the exit; SIGKILL after the grace period.
fn terminate(kind: Kind, pid: u32, mut child: Option<&mut Child>) -> Result<(), Error> {
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

fn wait_exit(pid: u32, mut child: Option<&mut Child>, timeout: Duration) -> Result<bool, Error> {
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
fn signal(pid: u32, signal: &str) -> io::Result<bool> {
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
fn pid_alive(pid: u32) -> bool {
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
fn cwd_is(pid: u32, dir: &Path) -> Option<bool> {
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

fn new_port() -> Result<u16, Error> {
    free_port().map_err(|e| Error::io("cannot find a free port on 127.0.0.1", e))
}

fn read_port_file(path: &Path) -> Option<u16> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn is_port_clash(error: &Error) -> bool {
    match error {
        Error::PortInUse { .. } => true,
        Error::DidNotStart { log_tail, .. } => log_tail.contains("Address already in use"),
        _ => false,
    }
}

pub(crate) fn did_not_start(what: String, log: &Path, log_offset: u64) -> Error {
    Error::DidNotStart {
        what,
        log: log.to_path_buf(),
        log_tail: log_tail(log, log_offset),
    }
}

/// The last lines of `log` written after `offset` (or of the whole file when nothing was written
/// since).
fn log_tail(log: &Path, offset: u64) -> String {
    let read_from = |offset: u64| -> io::Result<String> {
        let mut file = fs::File::open(log)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let text = match read_from(offset) {
        Ok(text) if !text.trim().is_empty() => text,
        _ => match read_from(0) {
            Ok(text) => text,
            Err(e) => return format!("(cannot read the log: {e})"),
        },
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}
