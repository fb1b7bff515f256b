//! The protocol tests that use the official `phoenix` npm client, unmodified, on Node with
//! the `ws` package (e2e/phoenix-js). The tests start the real server themselves (one per
//! file, restarted by the reconnect test); this prepares the packages, the binary and a
//! fresh database for them.

use std::process::{Command, Stdio};

use crate::cargo;
use crate::server::{self, workspace};

/// Counts from node's test runner (`# pass N`, `# fail N`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeCounts {
    pub passed: u64,
    pub failed: u64,
}

fn require(program: &str, hint: &str) -> Result<(), String> {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(())
    } else {
        Err(format!(
            "{program} is needed for the phoenix.js tests: {hint}"
        ))
    }
}

pub fn run(env: &cargo::Env) -> Result<NodeCounts, String> {
    let hint = "install Node.js 20 or newer with npm (e.g. `sudo apt-get install -y nodejs npm`)";
    require("node", hint)?;
    require("npm", hint)?;
    let dir = workspace().join("e2e/phoenix-js");
    println!("==> npm ci in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed ({status})"));
    }
    // The rolling-restart test puts two nodes behind nginx.
    let nginx = crate::dev::find_nginx()?;
    let redis = env
        .iter()
        .find(|(k, _)| k == "RTS_TEST_REDIS_URL")
        .map(|(_, v)| v.clone())
        .ok_or("no Redis URL from the services check")?;
    let binary = server::build(false, &["server"])?.join("realtime-server");
    let settings = server::settings(env, "rts_phoenix_js")?;
    server::migrate_fresh(&binary, &settings)?;
    let database = settings
        .iter()
        .find(|(k, _)| k == "RTS_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    println!(
        "==> node --test (phoenix {} against the real server)",
        phoenix_version(&dir)
    );
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("RTS_E2E_SERVER_BIN", &binary)
        .env("RTS_E2E_DATABASE_URL", database)
        .env("RTS_E2E_REDIS_URL", redis)
        .env("RTS_E2E_NGINX", nginx)
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
            "the phoenix.js tests failed: {} passed, {} failed",
            counts.passed, counts.failed
        ))
    }
}

fn phoenix_version(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("node_modules/phoenix/package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
