//! `cargo xtask dev`: services, migrations and demo data, then the server in the
//! foreground. The port is checked before anything starts, and SIGINT, SIGTERM and SIGHUP
//! are passed on to the server (a second one kills it), so stopping xtask stops the server.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};

use rustix::process::{Pid, Signal, kill_process};
use tokio::signal::unix::{SignalKind, signal};

use crate::{cargo, services};

const DEFAULT_ADDR: &str = "127.0.0.1:4000";

pub fn run() -> Result<(), String> {
    let addr = listen_addr(std::env::var("RTS_HTTP_ADDR").ok().as_deref())?;
    check_port(addr)?;
    let mut env = services::ensure()?;
    if std::env::var_os("RTS_JWT_SECRET").is_none() {
        env.push(("RTS_JWT_SECRET".into(), services::dev_jwt_secret()?));
    }
    cargo::server(&env, &["migrate", "up"])?;
    cargo::server(&env, &["seed"])?;
    let binary = build_server()?;
    let mut server = Command::new(binary);
    server
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RTS_HTTP_ADDR", addr.to_string());
    println!(
        "==> realtime-server at http://{addr} (GET /healthz, /readyz, /metrics); Ctrl-C stops it"
    );
    let status = run_passing_signals(server)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("realtime-server stopped ({status})"))
    }
}

/// The address `serve` will listen on: `RTS_HTTP_ADDR`, or the default.
fn listen_addr(configured: Option<&str>) -> Result<SocketAddr, String> {
    let raw = configured.unwrap_or(DEFAULT_ADDR);
    raw.parse().map_err(|_| {
        format!(
            "RTS_HTTP_ADDR={raw:?} is not an IP address and port; \
             give one like 127.0.0.1:4000 (or 0.0.0.0:4000 for every interface)"
        )
    })
}

/// Fails, naming `RTS_HTTP_ADDR`, when nothing could listen on `addr`.
fn check_port(addr: SocketAddr) -> Result<(), String> {
    match TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut other = addr;
            other.set_port(addr.port().wrapping_add(1).max(1024));
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "is in use (another realtime-server, perhaps an earlier `cargo xtask dev`?)"
                    .to_owned()
            } else {
                format!("cannot be listened on: {e}")
            };
            Err(format!(
                "{addr} {why}.\n  Stop what listens there, or pick another address: \
                 RTS_HTTP_ADDR={other} cargo xtask dev"
            ))
        }
    }
}

/// Builds the server binary and returns its path (wherever the target directory is).
fn build_server() -> Result<String, String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "build",
            "--quiet",
            "--package",
            "server",
            "--bin",
            "realtime-server",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building realtime-server failed ({})",
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "realtime-server")
        .find_map(|m| m["executable"].as_str().map(str::to_owned))
        .ok_or_else(|| "cargo built no realtime-server executable".to_owned())
}

/// Runs `command` until it exits. SIGINT, SIGTERM and SIGHUP sent to xtask are passed on
/// (SIGHUP as SIGTERM: the server stops gracefully on both); a second one kills it.
fn run_passing_signals(command: Command) -> Result<ExitStatus, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async move {
        let listen =
            |kind: SignalKind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        // Before the child starts, so no signal meant for it can kill xtask alone.
        let mut interrupt = listen(SignalKind::interrupt())?;
        let mut terminate = listen(SignalKind::terminate())?;
        let mut hangup = listen(SignalKind::hangup())?;
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start realtime-server: {e}"))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        let mut passed_on = false;
        loop {
            let received = tokio::select! {
                status = child.wait() => {
                    return status.map_err(|e| format!("waiting for realtime-server: {e}"));
                }
                _ = interrupt.recv() => Signal::INT,
                _ = terminate.recv() => Signal::TERM,
                _ = hangup.recv() => Signal::TERM,
            };
            match pid {
                Some(pid) if !passed_on => {
                    passed_on = true;
                    // The server may have had a SIGINT of its own from the terminal; a
                    // second one changes nothing for it.
                    let _ = kill_process(pid, received);
                    println!(
                        "==> stopping realtime-server (finishing requests, closing sockets); \
                         again to kill it"
                    );
                }
                _ => {
                    let _ = child.start_kill();
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn the_address_is_rts_http_addr_or_the_default() {
        assert_eq!(
            listen_addr(None),
            Ok(SocketAddr::from(([127, 0, 0, 1], 4000)))
        );
        assert_eq!(
            listen_addr(Some("0.0.0.0:8080")),
            Ok(SocketAddr::from(([0, 0, 0, 0], 8080)))
        );
        for bad in ["4000", "localhost:4000", ""] {
            let message = listen_addr(Some(bad)).err().unwrap_or_default();
            assert!(
                message.contains("RTS_HTTP_ADDR") && message.contains("127.0.0.1:4000"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn a_taken_port_is_refused_naming_rts_http_addr() {
        let taken = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string());
        let Ok(taken) = taken else {
            panic!("a free port: {taken:?}");
        };
        let Ok(addr) = taken.local_addr() else {
            panic!("its address");
        };
        let message = check_port(addr).err().unwrap_or_default();
        assert!(message.contains("in use"), "{message}");
        assert!(message.contains("RTS_HTTP_ADDR=127.0.0.1:"), "{message}");
        drop(taken);
        assert_eq!(check_port(addr), Ok(()));
    }

    /// SIGTERM sent to xtask reaches the child, and xtask waits for it to finish.
    #[test]
    fn a_signal_to_xtask_is_passed_on_to_the_server() {
        let dir = std::env::temp_dir().join(format!("xtask-signals-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let ready = dir.join("ready");
        let got = dir.join("got");
        let _ = std::fs::remove_file(&ready);
        let _ = std::fs::remove_file(&got);
        let mut child = Command::new("sh");
        child
            .arg("-c")
            .arg(r#"trap 'echo TERM > "$GOT"; exit 0' TERM; echo > "$READY"; while :; do sleep 0.05; done"#)
            .env("READY", &ready)
            .env("GOT", &got);
        let signaller = std::thread::spawn(move || {
            let started = Instant::now();
            while !ready.exists() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(ready.exists(), "the child started");
            // xtask listens for signals from before the child starts.
            let _ = kill_process(rustix::process::getpid(), Signal::TERM);
        });
        let started = Instant::now();
        let status = run_passing_signals(child);
        assert!(signaller.join().is_ok());
        assert!(matches!(&status, Ok(s) if s.success()), "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let seen = std::fs::read_to_string(&got).unwrap_or_default();
        assert_eq!(seen.trim(), "TERM", "the child got SIGTERM");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
