//! `cargo xtask bench ws` with a user per socket: the users and their tokens are made by the
//! server binary itself (`realtime-server seed viewers`) in the bench database, signed with
//! the key the nodes were started with, and `loadgen ws` reads them with `--tokens`. Signing
//! up over REST (loadgen's way without a token file) gives 200 users at most.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Sockets up to this many share the users loadgen signs up over REST.
pub const SIGNUP_MAX: u64 = 200;

/// loadgen's defaults for the arguments that decide how many users a run has.
const DEFAULT_SOCKETS: u64 = 1000;
const DEFAULT_PUBLISHERS: u64 = 5;
/// Reactions per second one reactor pushes when `--reactors` is not given.
const REACTIONS_PER_REACTOR: f64 = 4.0;

/// The value of `flag` among loadgen's `args` (`--flag N` or `--flag=N`), if it is a number.
fn number(args: &[String], flag: &str) -> Option<f64> {
    let prefix = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        let value = if arg == flag {
            args.get(i + 1)?.as_str()
        } else {
            arg.strip_prefix(&prefix)?
        };
        value.parse().ok()
    })
}

/// How many users the run's sockets are: its viewers, publishers and reactors, as loadgen
/// will count them from `args`.
pub fn users_needed(args: &[String]) -> u64 {
    let count = |flag, default: u64| number(args, flag).map_or(default, |n| n.max(0.0) as u64);
    let sockets = count("--sockets", DEFAULT_SOCKETS);
    let publishers = if number(args, "--publish-rate").is_some_and(|r| r > 0.0) {
        count("--publishers", DEFAULT_PUBLISHERS)
    } else {
        0
    };
    let rate = number(args, "--reaction-rate").unwrap_or(0.0).max(0.0);
    let reactors = count("--reactors", (rate / REACTIONS_PER_REACTOR).ceil() as u64);
    sockets + publishers + reactors
}

/// Whether the run gets seeded users: asked for (`distinct`, or moderators wanted), or more
/// sockets than sign-up gives; never when `args` bring a token file of their own.
pub fn wanted(args: &[String], distinct: bool, moderators: u32) -> bool {
    let own_tokens = args
        .iter()
        .any(|a| a == "--tokens" || a.starts_with("--tokens="));
    let sockets = number(args, "--sockets").map_or(DEFAULT_SOCKETS, |n| n.max(0.0) as u64);
    !own_tokens && (distinct || moderators > 0 || sockets > SIGNUP_MAX)
}

/// Makes `count` users (the first `moderators` of them moderators) with `binary` and the
/// first node's `settings`, their tokens in `target/bench/ws-tokens.txt`; returns that path.
pub fn seed(
    binary: &Path,
    settings: &[(String, String)],
    count: u64,
    moderators: u32,
) -> Result<PathBuf, String> {
    let dir = crate::server::workspace().join("target").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tokens = dir.join("ws-tokens.txt");
    println!("users: {count} of their own, made by `realtime-server seed viewers`");
    let status = Command::new(binary)
        .args(["seed", "viewers", "--count", &count.to_string()])
        .args(["--moderators", &moderators.to_string()])
        .arg("--tokens")
        .arg(&tokens)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if status.success() {
        Ok(tokens)
    } else {
        Err(format!("`realtime-server seed viewers` failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn users_are_counted_as_loadgen_will_count_sockets() {
        assert_eq!(users_needed(&args("--name hold")), 1000);
        assert_eq!(users_needed(&args("--sockets 300 --publishers 9")), 300);
        assert_eq!(
            users_needed(&args(
                "--sockets=15000 --publish-rate 50 --reaction-rate 100"
            )),
            15000 + 5 + 25
        );
        assert_eq!(
            users_needed(&args(
                "--sockets 10 --publish-rate=5 --publishers 2 --reaction-rate 9 --reactors 3"
            )),
            15
        );
    }

    #[test]
    fn users_are_seeded_above_two_hundred_sockets_or_when_asked() {
        assert!(!wanted(&args("--sockets 200"), false, 0));
        assert!(wanted(&args("--sockets 201"), false, 0));
        assert!(
            wanted(&args("--name hold"), false, 0),
            "loadgen's default is 1000"
        );
        assert!(wanted(&args("--sockets 20"), true, 0));
        assert!(wanted(&args("--sockets 20"), false, 2));
        assert!(!wanted(&args("--sockets 5000 --tokens my.txt"), true, 0));
        assert!(!wanted(&args("--tokens=my.txt"), false, 0));
    }
}
