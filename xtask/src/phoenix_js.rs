//! The protocol tests that use the official `phoenix` npm client, unmodified, on Node with
//! the `ws` package (e2e/phoenix-js). The tests start the real server themselves (one per
//! file, restarted by the reconnect test); this prepares the packages, the binary and a
//! fresh database for them.

use crate::cargo;
use crate::node::{self, NodeCounts};
use crate::server::{self, workspace};

pub fn run(env: &cargo::Env) -> Result<NodeCounts, String> {
    let dir = workspace().join("e2e/phoenix-js");
    node::prepare(&dir, "the phoenix.js tests")?;
    // The rolling-restart test puts two nodes behind nginx.
    let nginx = crate::dev::find_nginx()?;
    let redis = env
        .iter()
        .find(|(k, _)| k == "RTS_TEST_REDIS_URL")
        .map(|(_, v)| v.clone())
        .ok_or("no Redis URL from the services check")?;
    let (binary, database) = server::for_e2e(env, "rts_phoenix_js")?;
    println!(
        "==> node --test (phoenix {} against the real server)",
        phoenix_version(&dir)
    );
    node::test(
        &dir,
        &[
            ("RTS_E2E_SERVER_BIN", binary.to_string_lossy().into_owned()),
            ("RTS_E2E_DATABASE_URL", database),
            ("RTS_E2E_REDIS_URL", redis),
            ("RTS_E2E_NGINX", nginx),
        ],
        "phoenix.js tests",
    )
}

fn phoenix_version(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("node_modules/phoenix/package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
