//! What a command needs from the machine, checked in its first seconds, before anything
//! compiles: MariaDB, Redis, Node, nginx, Chromium, promtool, Python with venv, curl and jq. What is
//! missing is installed when xtask can (root or passwordless sudo, with apt-get); otherwise
//! the command stops at once with one message listing every missing piece and the one
//! command that installs them all.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::services;

/// One thing from outside the workspace that a command needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    MariaDb,
    Redis,
    Node,
    Nginx,
    Chromium,
    Promtool,
    PythonVenv,
    CurlJq,
}

use Piece::*;

/// Everything `cargo xtask test` (and `ci`) uses.
pub const FOR_TEST: &[Piece] = &[
    MariaDb, Redis, Node, Nginx, Chromium, Promtool, PythonVenv, CurlJq,
];

/// The oldest Node whose test runner the e2e suites use.
const NODE_MAJOR: u32 = 20;

impl Piece {
    /// What it is, and what needs it, for a person reading the list.
    fn purpose(self) -> &'static str {
        match self {
            MariaDb => "MariaDB (the database; a private one starts if the server is installed)",
            Redis => "Redis (fanout between nodes; a private one starts if it is installed)",
            Node => "Node.js 20 or newer with npm (the phoenix.js and browser tests)",
            Nginx => "nginx (the balancer in front of several nodes)",
            Chromium => "Chromium (the web client's tests, headless)",
            Promtool => "promtool (checks the /metrics page a scraper reads)",
            CurlJq => "curl and jq (docs/api.md's walkthrough, run as written)",
            PythonVenv => "Python 3 with venv (schemathesis, installed into target/tools)",
        }
    }

    /// The Debian/Ubuntu packages that bring it.
    fn debian_packages(self) -> &'static [&'static str] {
        match self {
            MariaDb => &["mariadb-server"],
            Redis => &["redis-server"],
            Node => &["nodejs", "npm"],
            Nginx => &["nginx-light"],
            // Without recommends (printing, notifications); the fonts are the one we want.
            Chromium => &["chromium", "fonts-liberation"],
            // promtool ships with the server; the node exporter it recommends is not needed.
            Promtool => &["prometheus"],
            CurlJq => &["curl", "jq"],
            PythonVenv => &["python3", "python3-venv"],
        }
    }

    /// The Homebrew formula that brings it, where there is one.
    fn brew_formula(self) -> Option<&'static str> {
        match self {
            MariaDb => Some("mariadb"),
            Redis => Some("redis"),
            Node => Some("node"),
            Nginx => Some("nginx"),
            Chromium => None,
            Promtool => Some("prometheus"),
            CurlJq => Some("jq"),
            PythonVenv => Some("python"),
        }
    }

    /// Whether this machine has it (or, for the databases, can start a private one).
    fn present(self) -> bool {
        match self {
            MariaDb => services::mariadb_available(),
            Redis => services::redis_available(),
            Node => node_major().is_some_and(|v| v >= NODE_MAJOR) && runs("npm", &["--version"]),
            Nginx => nginx().is_some(),
            Chromium => chromium().is_file(),
            Promtool => promtool().is_some(),
            CurlJq => runs("curl", &["--version"]) && runs("jq", &["--version"]),
            PythonVenv => runs("python3", &["-c", "import venv, ensurepip"]),
        }
    }
}

/// The installed nginx, if any.
pub fn nginx() -> Option<PathBuf> {
    local_services::find_program("nginx")
}

/// The installed promtool, if any.
pub fn promtool() -> Option<PathBuf> {
    local_services::find_program("promtool")
}

/// The Chromium the browser tests drive: `RTS_E2E_CHROMIUM`, else the Debian package's.
pub fn chromium() -> PathBuf {
    std::env::var_os("RTS_E2E_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The major version of `node` on PATH.
fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// How this machine can install packages without asking anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Installer {
    /// apt-get as root.
    AptRoot,
    /// apt-get through passwordless sudo.
    AptSudo,
    /// Nothing xtask may use by itself.
    None,
}

fn installer() -> Installer {
    let apt = Path::new("/usr/bin/apt-get").exists();
    if !apt {
        Installer::None
    } else if rustix::process::geteuid().is_root() {
        Installer::AptRoot
    } else if runs("sudo", &["-n", "true"]) {
        Installer::AptSudo
    } else {
        Installer::None
    }
}

/// Checks `pieces`; installs what is missing when it can, else fails with one message that
/// lists every missing piece and the command that installs them. `command` is what the user
/// ran, to run again.
pub fn ensure(pieces: &[Piece], command: &str) -> Result<(), String> {
    let missing: Vec<Piece> = pieces.iter().copied().filter(|p| !p.present()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let has_apt = Path::new("/usr/bin/apt-get").exists();
    match installer() {
        Installer::None => Err(missing_message(&missing, command, has_apt)),
        how => {
            install(&missing, how == Installer::AptSudo)?;
            let still: Vec<Piece> = missing.into_iter().filter(|p| !p.present()).collect();
            if still.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "installed the packages, but this is still missing:\n{}",
                    list(&still)
                ))
            }
        }
    }
}

fn list(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| format!("  - {}\n", p.purpose()))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

fn debian_packages(pieces: &[Piece]) -> Vec<&'static str> {
    let mut packages: Vec<&str> = pieces
        .iter()
        .flat_map(|p| p.debian_packages().iter().copied())
        .collect();
    packages.dedup();
    packages
}

/// The one command that installs `pieces` on Debian or Ubuntu.
fn apt_command(pieces: &[Piece]) -> String {
    format!(
        "sudo apt-get install -y --no-install-recommends {}",
        debian_packages(pieces).join(" ")
    )
}

/// What a person is told when xtask cannot install `missing` itself.
fn missing_message(missing: &[Piece], command: &str, has_apt: bool) -> String {
    let mut message = format!(
        "this machine lacks what `{command}` needs:\n{}\n",
        list(missing)
    );
    if has_apt {
        message.push_str(&format!(
            "Install them all with:\n  sudo apt-get update && {}\n",
            apt_command(missing)
        ));
    } else {
        let formulas: Vec<&str> = missing.iter().filter_map(|p| p.brew_formula()).collect();
        if !formulas.is_empty() {
            message.push_str(&format!(
                "On macOS install them with:\n  brew install {}\n\
                 (Debian/Ubuntu: {})\n",
                formulas.join(" "),
                apt_command(missing)
            ));
        } else {
            message.push_str(&format!("(Debian/Ubuntu: {})\n", apt_command(missing)));
        }
        if missing.contains(&Chromium) {
            message.push_str(
                "Chromium: or set RTS_E2E_CHROMIUM to an installed Chromium or Chrome.\n",
            );
        }
    }
    if missing.contains(&Node) {
        message.push_str(
            "Node.js: if your packages have one older than 20, use https://nodejs.org or nvm.\n",
        );
    }
    message.push_str(&format!("Then run `{command}` again."));
    message
}

/// `apt-get install` of what `missing` needs, as root or through sudo. Packaged services
/// are not started while it runs (policy-rc.d): xtask starts its own instances.
fn install(missing: &[Piece], sudo: bool) -> Result<(), String> {
    let packages = debian_packages(missing).join(" ");
    println!("==> installing what this machine lacks, with apt-get (a minute or two):");
    println!("{}", list(missing));
    println!("    packages: {packages}");
    let script = format!(
        "set -e\n\
         export DEBIAN_FRONTEND=noninteractive\n\
         policy=/usr/sbin/policy-rc.d\n\
         if [ ! -e $policy ]; then\n\
           printf '#!/bin/sh\\nexit 101\\n' > $policy && chmod 755 $policy\n\
           trap 'rm -f $policy' EXIT\n\
         fi\n\
         apt-get update -qq\n\
         apt-get install -y -qq --no-install-recommends {packages}\n"
    );
    let mut command = if sudo {
        let mut c = Command::new("sudo");
        c.args(["-n", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    // dpkg's hundreds of lines go to a log, shown only if something fails.
    let output = command
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    let log = crate::server::workspace().join("target/xtask-apt.log");
    let _ = std::fs::create_dir_all(log.parent().unwrap_or(&log));
    let _ = std::fs::write(&log, [&output.stdout[..], &output.stderr[..]].concat());
    if output.status.success() {
        println!(
            "==> installed {packages} (apt-get's output: {})",
            log.display()
        );
        Ok(())
    } else {
        Err(format!(
            "apt-get could not install them ({}):\n{}\nTry it yourself:\n  sudo apt-get update && {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end(),
            apt_command(missing)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_lists_every_missing_piece_and_one_command_installs_them_all() {
        let message = missing_message(&[Nginx, Chromium, Promtool], "cargo xtask test", true);
        assert!(message.contains("`cargo xtask test` needs"), "{message}");
        for piece in ["nginx", "Chromium", "promtool"] {
            assert!(message.contains(piece), "{piece}: {message}");
        }
        let commands: Vec<&str> = message
            .lines()
            .filter(|l| l.contains("apt-get install"))
            .collect();
        assert_eq!(commands.len(), 1, "{message}");
        assert!(
            commands[0].ends_with(
                "apt-get install -y --no-install-recommends nginx-light chromium fonts-liberation prometheus"
            ),
            "{message}"
        );
        assert!(message.ends_with("Then run `cargo xtask test` again."));
    }

    #[test]
    fn without_apt_the_message_names_homebrew_and_another_chromium() {
        let message = missing_message(&[Redis, Chromium, Promtool], "cargo xtask test", false);
        assert!(
            message.contains("brew install redis prometheus"),
            "{message}"
        );
        assert!(message.contains("RTS_E2E_CHROMIUM"), "{message}");
    }

    #[test]
    fn every_piece_says_what_needs_it_and_has_a_package() {
        for piece in FOR_TEST {
            assert!(piece.purpose().contains('('), "{piece:?}");
            assert!(!piece.debian_packages().is_empty(), "{piece:?}");
        }
    }
}
