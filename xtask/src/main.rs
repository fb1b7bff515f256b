//! `cargo xtask`: the developer's entry point. Brings up MariaDB and Redis (or says how),
//! runs migrations and seeds through the real `realtime-server` binary, runs the server for
//! development, and runs every test and check the way CI does.

mod bench;
mod browser;
mod cargo;
mod children;
mod dev;
mod node;
mod phoenix_js;
mod prerequisites;
mod schemathesis;
mod server;
mod services;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use prerequisites::Piece::{Chromium, CurlJq, MariaDb, Nginx, Node, Promtool, PythonVenv, Redis};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Development tasks for realtime-server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that MariaDB and Redis answer; start private ones under target/ if not.
    Services {
        /// Stop the private instances this command started earlier.
        #[arg(long)]
        stop: bool,
    },
    /// Change the database schema (creates the database if needed).
    Migrate {
        #[arg(value_enum, default_value_t = Direction::Up)]
        direction: Direction,
        /// With down or redo: every migration, not just the newest.
        #[arg(long)]
        all: bool,
        /// With fresh: yes, delete every row.
        #[arg(long)]
        yes: bool,
    },
    /// Add demo users, videos and comments (idempotent).
    Seed,
    /// `realtime-server firebase ...` (status, reconcile, retry-dead) with the services'
    /// settings; set RTS_FIREBASE_DATABASE_URL and RTS_FIREBASE_CREDENTIALS first.
    Firebase {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// services + migrate + seed, then run the server (checks its port first; Ctrl-C,
    /// SIGTERM and SIGHUP stop it gracefully). With `--nodes 2` or more: that many nodes
    /// sharing Redis, behind nginx (deploy/nginx/) on the usual address.
    Dev {
        /// How many nodes to run (2 or more: behind nginx).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        nodes: u16,
        /// Mirror into a local fake of the Firebase Realtime Database (docs/firebase.md).
        #[arg(long)]
        firebase_fake: bool,
    },
    /// services + every crate's tests + schemathesis against a running server.
    Test,
    /// services + the phoenix.js protocol tests (part of `test`).
    PhoenixJs,
    /// services + the web client's tests in headless Chromium (part of `test`).
    Browser,
    /// services + schemathesis against a running server (part of `test`).
    Schemathesis,
    /// Benchmarks against a release build (figures go to docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        scenario: bench::Scenario,
    },
    /// What CI runs: fmt check, clippy with warnings denied, then `test`.
    Ci,
}

#[derive(Clone, Copy, ValueEnum)]
enum Direction {
    Up,
    Down,
    Redo,
    Status,
    /// Drop the database, create it and apply every migration (needs --yes).
    Fresh,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Redo => "redo",
            Direction::Status => "status",
            Direction::Fresh => "fresh",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Services { stop: true } => services::stop_private(),
        Command::Services { stop: false } => services::ensure().map(|_| ()),
        Command::Migrate {
            direction,
            all,
            yes,
        } => migrate(direction, all, yes),
        Command::Seed => services::ensure_database().and_then(|env| cargo::server(&env, &["seed"])),
        Command::Firebase { args } => services::ensure_database().and_then(|env| {
            let mut full = vec!["firebase"];
            full.extend(args.iter().map(String::as_str));
            cargo::server(&env, &full)
        }),
        Command::Dev {
            nodes,
            firebase_fake,
        } => {
            // One node needs no Redis, unless this shell points it at one.
            let needs: &[_] = if nodes > 1 {
                &[MariaDb, Redis, Nginx]
            } else if services::redis_configured() {
                &[MariaDb, Redis]
            } else {
                &[MariaDb]
            };
            prerequisites::ensure(needs, "cargo xtask dev")
                .and_then(|()| dev::run(nodes, firebase_fake))
        }
        Command::Test => {
            prerequisites::ensure(prerequisites::FOR_TEST, "cargo xtask test").and_then(|()| test())
        }
        Command::PhoenixJs => prerequisites::ensure(
            &[MariaDb, Redis, Node, Nginx, CurlJq],
            "cargo xtask phoenix-js",
        )
        .and_then(|()| services::ensure())
        .and_then(|env| phoenix_js::run(&env).map(|_| ())),
        Command::Browser => {
            prerequisites::ensure(&[MariaDb, Redis, Node, Chromium], "cargo xtask browser")
                .and_then(|()| services::ensure())
                .and_then(|env| browser::run(&env).map(|_| ()))
        }
        Command::Schemathesis => prerequisites::ensure(
            &[MariaDb, Redis, PythonVenv, Promtool],
            "cargo xtask schemathesis",
        )
        .and_then(|()| services::ensure())
        .and_then(|env| schemathesis::run(&env)),
        Command::Bench { scenario } => {
            services::ensure().and_then(|env| bench::run(&env, scenario))
        }
        Command::Ci => {
            prerequisites::ensure(prerequisites::FOR_TEST, "cargo xtask ci").and_then(|()| ci())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn migrate(direction: Direction, all: bool, yes: bool) -> Result<(), String> {
    let env = services::ensure_database()?;
    let mut args = vec!["migrate", direction.as_str()];
    if all {
        args.push("--all");
    }
    if yes {
        args.push("--yes");
    }
    cargo::server(&env, &args)
}

fn test() -> Result<(), String> {
    let env = services::ensure()?;
    println!("==> cargo test --workspace");
    let counts = cargo::test(&env, &["--workspace", "--locked"])?;
    let node = phoenix_js::run(&env)? + browser::run(&env)?;
    schemathesis::run(&env)?;
    // One closing line for people and CI alike (schemathesis printed its own summary above).
    println!(
        "tests: {} passed, {} failed, {} skipped (cargo {}, phoenix.js and browser {})",
        counts.passed + node.passed,
        counts.failed + node.failed,
        counts.ignored,
        counts.passed,
        node.passed
    );
    Ok(())
}

fn ci() -> Result<(), String> {
    println!("==> cargo fmt --all --check");
    cargo::run(&[], &["fmt", "--all", "--check"])?;
    println!("==> cargo clippy --workspace --all-targets -- -D warnings");
    cargo::run(
        &[],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    test()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    /// Every `cargo xtask ...` command line of the docs: in sh blocks (continuations
    /// joined, comments dropped) and in inline code spans that are whole commands.
    fn documented_commands(markdown: &str) -> Vec<String> {
        let mut commands = Vec::new();
        let mut in_sh = false;
        for line in markdown.replace("\\\n", " ").lines() {
            let trimmed = line.trim();
            if trimmed == "```sh" {
                in_sh = true;
            } else if trimmed.starts_with("```") {
                in_sh = false;
            } else if in_sh && trimmed.starts_with("cargo xtask") {
                commands.push(trimmed.split('#').next().unwrap_or_default().to_owned());
            }
            let spans = line.split('`').skip(1).step_by(2);
            commands.extend(
                spans
                    .filter(|s| s.starts_with("cargo xtask ") && !s.contains('/'))
                    .map(str::to_owned),
            );
        }
        commands
    }

    #[test]
    fn every_documented_xtask_command_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut checked = 0;
        for doc in [
            "README.md",
            "docs/ARCHITECTURE.md",
            "docs/api.md",
            "docs/realtime.md",
            "docs/web-client.md",
            "docs/firebase.md",
            "docs/benchmarks.md",
            "CONTRIBUTING.md",
        ] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap_or_default();
            assert!(!text.is_empty(), "{doc} is read");
            for command in documented_commands(&text) {
                let args = command.split_whitespace().skip(2);
                let parsed = Cli::try_parse_from(std::iter::once("cargo xtask").chain(args));
                // A command group named in prose (`cargo xtask bench`) is fine too.
                let group = parsed.as_ref().err().is_some_and(|e| {
                    e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                });
                assert!(
                    parsed.is_ok() || group,
                    "{doc}: `{command}`: {}",
                    parsed.err().map(|e| e.to_string()).unwrap_or_default()
                );
                checked += 1;
            }
        }
        assert!(
            checked >= 10,
            "the docs' xtask commands were found: {checked}"
        );
    }
}
