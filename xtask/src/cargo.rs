//! Running cargo and the server binary as child processes, with the service URLs in their
//! environment.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Environment variables to pass on: name, value.
pub type Env = [(String, String)];

fn cargo_command() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

/// `cargo <args>` with `env` added; an error names the command if it fails.
pub fn run(env: &Env, args: &[&str]) -> Result<(), String> {
    let status = cargo_command()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// The target directory cargo builds into.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::server::workspace().join("target"))
}

/// Says so before a build that starts from nothing (`profile`: "debug" or "release"), so a
/// first run's minutes of compiling are expected rather than mistaken for a hang.
pub fn note_first_build(profile: &str) {
    let built = std::fs::read_dir(target_dir().join(profile).join("deps"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    // A built workspace leaves well over a thousand files there; a fresh one none.
    if built < 200 {
        println!(
            "==> the first {profile} build compiles about 450 crates: a few minutes (later runs take seconds)"
        );
    }
}

/// `realtime-server <args>`, built from this workspace.
pub fn server(env: &Env, args: &[&str]) -> Result<(), String> {
    note_first_build("debug");
    let mut full = vec![
        "run",
        "--package",
        "server",
        "--bin",
        "realtime-server",
        "--",
    ];
    full.extend_from_slice(args);
    run(env, &full)
}

/// Totals of `test result:` lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

/// `cargo test <args>`, its output passed through, with the results counted.
pub fn test(env: &Env, args: &[&str]) -> Result<TestCounts, String> {
    note_first_build("debug");
    let mut child = cargo_command()
        .arg("test")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut counts = TestCounts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                let number_before = |word: &str| -> u64 {
                    summary
                        .split(';')
                        .find_map(|part| {
                            part.trim()
                                .trim_start_matches("ok. ")
                                .trim_start_matches("FAILED. ")
                                .strip_suffix(word)
                        })
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0)
                };
                counts.passed += number_before("passed");
                counts.failed += number_before("failed");
                counts.ignored += number_before("ignored");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok(counts)
    } else {
        Err(format!(
            "`cargo test {}` failed ({status}): {} passed, {} failed",
            args.join(" "),
            counts.passed,
            counts.failed
        ))
    }
}
