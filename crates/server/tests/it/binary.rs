//! The `realtime-server` binary as a process: what it writes when its output is not a
//! terminal, and when its port is taken.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::TEST_JWT_SECRET;

/// Starts `realtime-server serve` with stdout on a pipe and returns its lines up to
/// "listening" (at most 30 s), then kills it.
fn first_lines(extra: &[(&str, &str)]) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_realtime-server"))
        .arg("serve")
        .env_clear()
        // Nothing listens on port 1: the server starts anyway and reports not ready.
        .env("RTS_DATABASE_URL", "mysql://root@127.0.0.1:1/nothing")
        .env("RTS_HTTP_ADDR", "127.0.0.1:0")
        .env("RTS_JWT_SECRET", TEST_JWT_SECRET)
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut lines = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let done = line.contains("listening");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.contains("listening")),
        "the server started: {lines:#?}"
    );
    lines
}

#[test]
fn log_lines_have_no_colour_codes_when_not_on_a_terminal() {
    for format in ["pretty", "json"] {
        for line in first_lines(&[("RTS_LOG_FORMAT", format)]) {
            assert!(
                !line.contains('\u{1b}'),
                "{format}: an escape code in {line:?}"
            );
        }
    }
}

#[test]
fn a_taken_port_is_reported_naming_rts_http_addr() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().expect("its address").to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_realtime-server"))
        .arg("serve")
        .env_clear()
        .env("RTS_DATABASE_URL", "mysql://root@127.0.0.1:1/nothing")
        .env("RTS_HTTP_ADDR", &addr)
        .env("RTS_JWT_SECRET", TEST_JWT_SECRET)
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("RTS_HTTP_ADDR"), "{stderr}");
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `realtime-server <args>` to its end with only `env` set (and a JWT secret).
pub async fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_realtime-server"))
        .args(args)
        .env_clear()
        .env("RTS_JWT_SECRET", TEST_JWT_SECRET)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("the binary runs");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
