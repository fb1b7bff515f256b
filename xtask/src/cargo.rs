//! Running cargo and the server binary as child processes, with the service URLs in their
//! environment.

use std::process::Command;

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

/// `realtime-server <args>`, built from this workspace.
pub fn server(env: &Env, args: &[&str]) -> Result<(), String> {
    let mut full = vec![
        "run",
        "--quiet",
        "--package",
        "server",
        "--bin",
        "realtime-server",
        "--",
    ];
    full.extend_from_slice(args);
    run(env, &full)
}
