//! Property-based API testing with schemathesis (from PyPI): a real server on a free port
//! with a freshly migrated and seeded database, the demo admin signed in, and every operation in
//! /api/openapi.json fuzzed. Any 5xx, an undocumented status, or a response that does not
//! match its schema fails the run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

use crate::cargo;

/// Pinned so every run (and CI) fuzzes the same way.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
const EXAMPLES_PER_OPERATION: &str = "50";

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A virtualenv under target/tools with the pinned schemathesis; returns its executable.
fn install() -> Result<PathBuf, String> {
    let venv = workspace().join("target/tools/schemathesis");
    let exe = venv.join("bin/schemathesis");
    let stamp = venv.join("installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == SCHEMATHESIS) && exe.exists() {
        return Ok(exe);
    }
    println!("==> installing {SCHEMATHESIS} into {}", venv.display());
    run_quiet(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (install Python 3.9+ with venv, e.g. `sudo apt-get install -y python3-venv`)",
    )?;
    run_quiet(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SCHEMATHESIS,
        ]),
        "pip install schemathesis",
    )?;
    std::fs::write(&stamp, SCHEMATHESIS).map_err(|e| e.to_string())?;
    Ok(exe)
}

/// Kills the server when the run ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange over a plain socket; returns (status, body).
fn http(
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

pub fn run(env: &cargo::Env) -> Result<(), String> {
    let exe = install()?;
    let database = env
        .iter()
        .find(|(k, _)| k == "RTS_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .ok_or("no RTS_DATABASE_URL")?;
    let mut url = Url::parse(&database).map_err(|e| e.to_string())?;
    url.set_path("/rts_schemathesis");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let settings = vec![
        ("RTS_DATABASE_URL".to_owned(), url.to_string()),
        ("RTS_HTTP_ADDR".to_owned(), addr.to_string()),
        (
            "RTS_JWT_SECRET".to_owned(),
            "schemathesis-only-secret-0123456789abcdef".to_owned(),
        ),
        ("RTS_LOG_LEVEL".to_owned(), "warn".to_owned()),
        ("RTS_RATE_COMMENTS_PER_USER".to_owned(), "0".to_owned()),
        ("RTS_RATE_COMMENTS_PER_DEVICE".to_owned(), "0".to_owned()),
        ("RTS_RATE_LOGINS_PER_IP".to_owned(), "0".to_owned()),
        ("RTS_RATE_LOGINS_PER_ACCOUNT".to_owned(), "0".to_owned()),
    ];
    println!("==> schemathesis: fresh database {url}");
    cargo::server(&settings, &["migrate", "down", "--all"])?;
    cargo::server(&settings, &["migrate", "up"])?;
    // The demo admin signs in, so admin-only operations are fuzzed past the 403.
    cargo::server(&settings, &["seed"])?;
    cargo::run(
        &[],
        &[
            "build",
            "--quiet",
            "--package",
            "server",
            "--bin",
            "realtime-server",
        ],
    )?;
    let binary = workspace().join("target/debug/realtime-server");
    let _server = Server(
        Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?,
    );
    let started = Instant::now();
    while !http(addr, "GET", "/healthz", None).is_ok_and(|r| r.0 == 200) {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("the server did not answer on {addr} within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http(
        addr,
        "POST",
        "/api/auth/login",
        Some(r#"{"email":"alice@example.com","password":"demo-password","device_id":"schemathesis"}"#),
    )
    .map_err(|e| format!("cannot sign in the demo admin: {e}"))?;
    let session: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let token = session["access_token"]
        .as_str()
        .ok_or_else(|| format!("signing in the demo admin answered {status}: {body}"))?;
    println!("==> schemathesis run http://{addr}/api/openapi.json ({CHECKS})");
    let status = Command::new(&exe)
        // Its example database and reports stay out of the work tree.
        .current_dir(workspace().join("target/tools"))
        .args(["run", &format!("http://{addr}/api/openapi.json")])
        .args(["--checks", CHECKS, "--max-examples", EXAMPLES_PER_OPERATION])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Logging out would sign the fuzzing user out for every later request.
        .args(["--exclude-path", "/api/auth/logout"])
        .status()
        .map_err(|e| format!("cannot run schemathesis: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "schemathesis found problems ({status}); see its report above"
        ))
    }
}
