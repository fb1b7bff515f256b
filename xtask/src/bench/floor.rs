//! `cargo xtask bench ws --floor`: the same `loadgen ws` scenario against the reference
//! floor, a minimal Node `ws` server speaking Phoenix V2, to state figures as ratios.

use std::path::Path;
use std::process::Command;

use super::{free_port, machine, run_loadgen};
use crate::server;

/// The same `loadgen ws` scenario against the reference floor (`node SERVER_JS`, with
/// `--presence` if asked, on a free port), with made-up tokens since the floor has no
/// REST API.
pub fn run(floor: &Path, presence: bool, args: &[String]) -> Result<(), String> {
    let dir = server::build(true, &["loadgen"])?;
    let port = free_port()?;
    let child = Command::new("node")
        .arg(floor)
        .args(["--port", &port.to_string()])
        .args(presence.then_some("--presence"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run node {}: {e} (Node 20+ is needed)",
                floor.display()
            )
        })?;
    let floor_server = server::Server::adopt(child, ([127, 0, 0, 1], port).into());
    floor_server.wait_healthy()?;
    println!("machine: {}", machine());
    println!(
        "scenario: ws {} against the floor {}",
        args.join(" "),
        floor.display()
    );
    let mut cmd = Command::new(dir.join("loadgen"));
    cmd.args(["--base", &format!("http://127.0.0.1:{port}")])
        .arg("ws")
        .args(args)
        .args([
            "--server-pid",
            &floor_server.pid().to_string(),
            "--no-signup",
        ]);
    run_loadgen(&mut cmd)
}
