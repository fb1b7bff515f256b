//! Property-based API testing with schemathesis (from PyPI): a real server on a free port
//! with a freshly migrated and seeded database, the demo admin signed in, and every operation in
//! /api/openapi.json fuzzed. Any 5xx, an undocumented status, or a response that does not
//! match its schema fails the run.

use std::path::PathBuf;
use std::process::Command;

use crate::server::{self, http, workspace};
use crate::{cargo, prerequisites};

/// Pinned so every run (and CI) fuzzes the same way.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
const EXAMPLES_PER_OPERATION: &str = "50";

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

pub fn run(env: &cargo::Env) -> Result<(), String> {
    let exe = install()?;
    let settings = server::settings(env, "rts_schemathesis")?;
    let binary = server::build(false, &["server"])?.join("realtime-server");
    println!("==> schemathesis: a fresh, seeded database rts_schemathesis");
    // The demo admin signs in, so admin-only operations are fuzzed past the 403.
    let server = server::start_fresh(&binary, &settings, true)?;
    let addr = server.addr;
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
    if !status.success() {
        return Err(format!(
            "schemathesis found problems ({status}); see its report above"
        ));
    }
    // After the fuzzing, so every route and status has left its series behind.
    check_metrics(addr)
}

/// `promtool check metrics` on the server's /metrics page: what a Prometheus scraper reads
/// parses, and its names and types follow Prometheus's conventions.
fn check_metrics(addr: std::net::SocketAddr) -> Result<(), String> {
    use std::io::Write;
    let promtool = prerequisites::promtool().ok_or("promtool is not installed")?;
    let (status, page) =
        http(addr, "GET", "/metrics", None).map_err(|e| format!("GET /metrics: {e}"))?;
    if status != 200 {
        return Err(format!("GET /metrics answered {status}: {page}"));
    }
    println!(
        "==> promtool check metrics on /metrics ({} lines)",
        page.lines().count()
    );
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(page.as_bytes())
            .map_err(|e| format!("cannot feed promtool: {e}"))?;
    }
    let status = child.wait().map_err(|e| format!("promtool: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "promtool found problems in /metrics ({status}); see above"
        ))
    }
}
