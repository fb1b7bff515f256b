//! A realtime-server process for xtask's end-to-end runs (schemathesis, benchmarks): a
//! fresh database, a free port, started from a built binary and killed when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

use crate::cargo;

pub fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// A server started elsewhere, answering `GET /healthz` at `addr` once it is up.
    pub fn adopt(child: Child, addr: SocketAddr) -> Self {
        Self { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to 30 s for `GET /healthz` to answer 200.
    pub fn wait_healthy(&self) -> Result<(), String> {
        let started = Instant::now();
        while !http(self.addr, "GET", "/healthz", None).is_ok_and(|r| r.0 == 200) {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("nothing answered on {} within 30 s", self.addr));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings for a server on a free port using database `database` on the server named by
/// `RTS_DATABASE_URL` in `env`, with rate limits off (load, not abuse, is being tested).
pub fn settings(env: &cargo::Env, database: &str) -> Result<Vec<(String, String)>, String> {
    let configured = env
        .iter()
        .find(|(k, _)| k == "RTS_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .ok_or("no RTS_DATABASE_URL")?;
    let mut url = Url::parse(&configured).map_err(|e| e.to_string())?;
    url.set_path(&format!("/{database}"));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    Ok([
        ("RTS_DATABASE_URL", url.as_str()),
        ("RTS_HTTP_ADDR", &format!("127.0.0.1:{port}")),
        ("RTS_JWT_SECRET", "xtask-only-secret-0123456789abcdef0123"),
        ("RTS_LOG_LEVEL", "warn"),
        ("RTS_RATE_COMMENTS_PER_USER", "0"),
        ("RTS_RATE_COMMENTS_PER_DEVICE", "0"),
        ("RTS_RATE_LOGINS_PER_IP", "0"),
        ("RTS_RATE_LOGINS_PER_ACCOUNT", "0"),
        ("RTS_RATE_REGISTRATIONS_PER_IP", "0"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec())
}

/// Empties the database (dropped, created, every migration applied) with `binary`.
pub fn migrate_fresh(binary: &Path, settings: &[(String, String)]) -> Result<(), String> {
    // Dropped and made again: down migrations that would lose data refuse to run.
    run_binary(binary, settings, &["migrate", "fresh", "--yes"])
}

fn run_binary(binary: &Path, settings: &[(String, String)], args: &[&str]) -> Result<(), String> {
    let status = Command::new(binary)
        .args(args)
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`realtime-server {}` failed ({status})",
            args.join(" ")
        ))
    }
}

/// Empties the database (dropped, created, every migration applied) with `binary`. then starts it.
pub fn start_fresh(
    binary: &Path,
    settings: &[(String, String)],
    seed: bool,
) -> Result<Server, String> {
    migrate_fresh(binary, settings)?;
    if seed {
        run_binary(binary, settings, &["seed"])?;
    }
    start(binary, settings)
}

/// The debug server binary and the URL of database `database`, emptied and migrated: what
/// the Node end-to-end suites start their own servers with.
pub fn for_e2e(env: &cargo::Env, database: &str) -> Result<(PathBuf, String), String> {
    let binary = build(false, &["server"])?.join("realtime-server");
    let settings = settings(env, database)?;
    migrate_fresh(&binary, &settings)?;
    let url = settings
        .iter()
        .find(|(k, _)| k == "RTS_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok((binary, url))
}

/// Starts `binary` with `settings` on a database that is ready (another node's, say).
pub fn start(binary: &Path, settings: &[(String, String)]) -> Result<Server, String> {
    let addr: SocketAddr = settings
        .iter()
        .find(|(k, _)| k == "RTS_HTTP_ADDR")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or("no RTS_HTTP_ADDR")?;
    let child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let server = Server { child, addr };
    server.wait_healthy()?;
    Ok(server)
}

/// One HTTP/1.1 exchange over a plain socket; returns (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Ok((status, body))
}

/// Builds `packages` (`--release` if asked) and returns the target directory used.
pub fn build(release: bool, packages: &[&str]) -> Result<PathBuf, String> {
    cargo::note_first_build(if release { "release" } else { "debug" });
    let mut args = vec!["build"];
    if release {
        args.push("--release");
    }
    for p in packages {
        args.extend(["--package", p]);
    }
    cargo::run(&[], &args)?;
    Ok(workspace()
        .join("target")
        .join(if release { "release" } else { "debug" }))
}
