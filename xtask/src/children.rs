//! The processes `cargo xtask dev` runs: started together, stopped together (signals to
//! xtask are passed on to each), and the output of each labelled line by line.

use std::process::{Command, ExitStatus, Stdio};

use rustix::process::{Pid, Signal, kill_process};
use tokio::signal::unix::{SignalKind, signal};

/// Runs `commands` until one exits, then stops the others. SIGINT, SIGTERM and SIGHUP
/// sent to xtask are passed on to every one (SIGHUP as SIGTERM: the server stops
/// gracefully on both; nginx takes SIGTERM as a fast stop); a second one kills them. The
/// output of a command with a label comes line by line, prefixed with the label.
pub(crate) fn run_passing_signals(
    commands: Vec<(Option<String>, Command)>,
) -> Result<ExitStatus, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async move {
        let listen =
            |kind: SignalKind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        // Before the children start, so no signal meant for them can kill xtask alone.
        let mut interrupt = listen(SignalKind::interrupt())?;
        let mut terminate = listen(SignalKind::terminate())?;
        let mut hangup = listen(SignalKind::hangup())?;
        let (mut children, relays) = spawn_all(commands)?;
        let pids: Vec<Pid> = children
            .iter()
            .filter_map(|c| c.id())
            .filter_map(|id| i32::try_from(id).ok())
            .filter_map(Pid::from_raw)
            .collect();
        let mut passed_on = false;
        let mut first_exit = None;
        loop {
            let exited =
                futures_util::future::select_all(children.iter_mut().map(|c| Box::pin(c.wait())));
            let received = tokio::select! {
                (status, _, _) = exited => {
                    let status = status.map_err(|e| format!("waiting for a process: {e}"))?;
                    first_exit.get_or_insert(status);
                    // One is gone: stop the others too, and wait for them.
                    Signal::TERM
                }
                _ = interrupt.recv() => Signal::INT,
                _ = terminate.recv() => Signal::TERM,
                _ = hangup.recv() => Signal::TERM,
            };
            if first_exit.is_some() || !passed_on {
                passed_on = true;
                for pid in &pids {
                    // A child may have had a SIGINT of its own from the terminal; a
                    // second one changes nothing for it.
                    let _ = kill_process(*pid, received);
                }
                if first_exit.is_none() {
                    println!("==> stopping (finishing requests, closing sockets); again to kill");
                }
            } else {
                for child in &mut children {
                    let _ = child.start_kill();
                }
            }
            if let Some(status) = first_exit {
                for child in &mut children {
                    let _ = child.wait().await;
                }
                // Their last lines, up to the end of what they wrote.
                for relay in relays {
                    let _ = relay.await;
                }
                return Ok(status);
            }
        }
    })
}

/// Starts `commands`; the output of each labelled one is relayed, its lines prefixed.
type Started = (Vec<tokio::process::Child>, Vec<tokio::task::JoinHandle<()>>);

fn spawn_all(commands: Vec<(Option<String>, Command)>) -> Result<Started, String> {
    let width = commands
        .iter()
        .filter_map(|(label, _)| label.as_ref().map(String::len))
        .max()
        .unwrap_or(0);
    let mut children = Vec::new();
    let mut relays = Vec::new();
    for (label, command) in commands {
        let mut command = tokio::process::Command::from(command);
        if label.is_some() {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a process: {e}"))?;
        if let Some(label) = label {
            let prefix = format!("{label:<width$} | ");
            if let Some(out) = child.stdout.take() {
                relays.push(tokio::spawn(relay(out, prefix.clone(), false)));
            }
            if let Some(err) = child.stderr.take() {
                relays.push(tokio::spawn(relay(err, prefix, true)));
            }
        }
        children.push(child);
    }
    Ok((children, relays))
}

/// Copies `from` to xtask's stdout (or stderr) a line at a time, each after `prefix`.
async fn relay(from: impl tokio::io::AsyncRead + Unpin, prefix: String, to_stderr: bool) {
    use std::io::Write;
    prefixed_lines(from, &prefix, |line| {
        // A closed terminal is no reason to stop the servers.
        let _ = if to_stderr {
            writeln!(std::io::stderr().lock(), "{line}")
        } else {
            writeln!(std::io::stdout().lock(), "{line}")
        };
    })
    .await;
}

/// Each line of `from` (lossy UTF-8, so a stray byte loses nothing else) after `prefix`.
async fn prefixed_lines(
    from: impl tokio::io::AsyncRead + Unpin,
    prefix: &str,
    mut emit: impl FnMut(&str),
) {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(from);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        let text = String::from_utf8_lossy(&line);
        emit(&format!("{prefix}{}", text.trim_end_matches(['\n', '\r'])));
        line.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_nodes_lines_come_with_its_name() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        let input: &[u8] = b"first\nsecond \xff\r\nno newline";
        runtime.block_on(prefixed_lines(input, "dev-1 | ", |l| {
            seen.push(l.to_owned())
        }));
        assert_eq!(
            seen,
            [
                "dev-1 | first",
                "dev-1 | second \u{fffd}",
                "dev-1 | no newline"
            ]
        );
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
        let status = run_passing_signals(vec![(None, child)]);
        assert!(signaller.join().is_ok());
        assert!(matches!(&status, Ok(s) if s.success()), "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let seen = std::fs::read_to_string(&got).unwrap_or_default();
        assert_eq!(seen.trim(), "TERM", "the child got SIGTERM");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
