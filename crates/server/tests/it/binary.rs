//! The `realtime-server` binary as a process: what it writes when its output is not a
//! terminal, and when its port is taken.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::TEST_JWT_SECRET;

/// Starts `realtime-server serve` with stdout on a pipe and returns its lines up to
/// "listening" (at most 30 s), then kills it.
fn first_lines(extra: &[(&str, &str)]) -> Vec<String> {
    lines_until(extra, "listening")
}

/// Starts `realtime-server serve` (its database unreachable) with stdout on a pipe and
/// returns its lines up to one containing `until` (at most 30 s), then kills it.
fn lines_until(extra: &[(&str, &str)], until: &str) -> Vec<String> {
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
                let done = line.contains(until);
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
        lines.iter().any(|l| l.contains(until)),
        "a line with {until:?}: {lines:#?}"
    );
    lines
}

#[test]
fn an_unreachable_database_is_warned_of_at_start() {
    let lines = lines_until(&[], "the database does not answer");
    let warning = lines.last().map(String::as_str).unwrap_or_default();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("RTS_DATABASE_URL"), "{warning}");
    assert!(warning.contains("127.0.0.1:1"), "{warning}");
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

/// `realtime-server config` with `vars`: its output.
fn config_output(vars: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-server"))
        .arg("config")
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of `setting` in a config output, split into its columns' words.
fn row<'a>(output: &'a str, setting: &str) -> Vec<&'a str> {
    output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(setting))
        .unwrap_or_else(|| panic!("{setting} is listed:\n{output}"))
        .split_whitespace()
        .collect()
}

#[test]
fn config_lists_every_setting_with_its_value_default_and_source_and_hides_secrets() {
    let dir = std::env::temp_dir().join(format!("rts-config-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let file = dir.join("rts.toml");
    std::fs::write(&file, "http_workers = 3\nws_max_channels = 7\n").expect("written");
    let output = config_output(&[
        ("RTS_CONFIG", file.to_str().expect("a path")),
        ("RTS_WS_MAX_CHANNELS", "9"),
        (
            "RTS_DATABASE_URL",
            "mysql://app:hunter2@127.0.0.1:1/nothing",
        ),
        ("RTS_JWT_SECRET", TEST_JWT_SECRET),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.contains("hunter2"), "{output}");
    assert!(!output.contains(TEST_JWT_SECRET), "{output}");
    assert_eq!(
        row(&output, "RTS_HTTP_WORKERS")[1..],
        ["3", "0", "file", file.to_str().expect("a path")]
    );
    assert_eq!(
        row(&output, "RTS_WS_MAX_CHANNELS")[1..],
        ["9", "20", "environment"]
    );
    assert_eq!(
        row(&output, "RTS_HTTP_ADDR")[1..],
        ["127.0.0.1:4000", "127.0.0.1:4000", "default"]
    );
    assert_eq!(
        row(&output, "RTS_DATABASE_URL")[1],
        "mysql://app:***@127.0.0.1:1/nothing"
    );
    assert_eq!(
        row(&output, "RTS_JWT_SECRET")[1..4],
        ["(hidden,", "40", "bytes)"]
    );
    // Every setting README.md lists is there, once.
    let settings = output.lines().filter(|l| l.starts_with("RTS_")).count();
    assert!(settings >= 44, "{settings} settings:\n{output}");
    assert!(
        output.contains("MariaDB at mysql://app:****@127.0.0.1:1/nothing: does not answer"),
        "{output}"
    );
    assert!(output.contains("Redis: not configured"), "{output}");
}

#[test]
fn config_says_why_redis_cannot_be_used() {
    let dir = std::env::temp_dir().join(format!(
        "rts-config-redis-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let mut redis = local_services::Redis::start(&dir, None).expect("redis-server starts");
    let port = redis.port();
    let set = Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "config",
            "set",
            "requirepass",
            "s3cret",
        ])
        .output()
        .expect("redis-cli runs");
    assert!(set.status.success());
    let wrong = format!("redis://:nope@127.0.0.1:{port}");
    let output = config_output(&[
        ("RTS_DATABASE_URL", "mysql://root@127.0.0.1:1/nothing"),
        ("RTS_REDIS_URL", &wrong),
    ]);
    let right = format!("redis://:s3cret@127.0.0.1:{port}");
    let fine = config_output(&[
        ("RTS_DATABASE_URL", "mysql://root@127.0.0.1:1/nothing"),
        ("RTS_REDIS_URL", &right),
    ]);
    let _ = redis.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let line = output
        .lines()
        .find(|l| l.starts_with("Redis:"))
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        line.starts_with("redis: cannot be used")
            && (line.contains("wrongpass") || line.contains("invalid")),
        "{output}"
    );
    assert!(fine.contains("Redis: answers"), "{fine}");
    assert!(
        !output.contains("nope") && !fine.contains("s3cret"),
        "passwords hidden"
    );
}
