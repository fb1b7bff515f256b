//! Running a Node test package of e2e/ (npm ci, then `npm test` with node's test runner)
//! and reading its counts; shared by the phoenix.js and browser steps.

use std::path::Path;
use std::process::{Command, Stdio};

/// Counts from node's test runner (`# pass N`, `# fail N`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeCounts {
    pub passed: u64,
    pub failed: u64,
}

impl std::ops::Add for NodeCounts {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
        }
    }
}

/// Fails with `hint` unless `program --version` runs.
pub fn require(program: &str, what: &str, hint: &str) -> Result<(), String> {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(())
    } else {
        Err(format!("{program} is needed for {what}: {hint}"))
    }
}

/// Node 20+ with npm, then `npm ci` in `dir`.
pub fn prepare(dir: &Path, what: &str) -> Result<(), String> {
    let hint = "install Node.js 20 or newer with npm (e.g. `sudo apt-get install -y nodejs npm`)";
    require("node", what, hint)?;
    require("npm", what, hint)?;
    println!("==> npm ci in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("npm ci failed ({status})"))
    }
}

/// `npm test` in `dir` with `env`; its output is shown, its counts returned.
pub fn test(dir: &Path, env: &[(&str, String)], what: &str) -> Result<NodeCounts, String> {
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run npm test: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    let count = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let counts = NodeCounts {
        passed: count("# pass "),
        failed: count("# fail "),
    };
    if output.status.success() && counts.failed == 0 {
        Ok(counts)
    } else {
        Err(format!(
            "the {what} failed: {} passed, {} failed",
            counts.passed, counts.failed
        ))
    }
}
