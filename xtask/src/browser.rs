//! The web client's tests in real Chromium (e2e/browser): the system's headless Chromium
//! driven by playwright-core (no browser download works offline), against the real server,
//! which the tests start and restart themselves. This prepares the packages, the binary
//! and a fresh database for them.

use std::path::PathBuf;

use crate::cargo;
use crate::node::{self, NodeCounts};
use crate::server::{self, workspace};

/// The Chromium to drive (checked with the other prerequisites before this runs).
fn chromium() -> Result<PathBuf, String> {
    let path = crate::prerequisites::chromium();
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no Chromium at {} (set RTS_E2E_CHROMIUM)",
            path.display()
        ))
    }
}

pub fn run(env: &cargo::Env) -> Result<NodeCounts, String> {
    let chromium = chromium()?;
    let dir = workspace().join("e2e/browser");
    node::prepare(&dir, "the browser tests")?;
    let (binary, database) = server::for_e2e(env, "rts_browser")?;
    println!("==> node --test (the web client in {})", chromium.display());
    node::test(
        &dir,
        &[
            ("RTS_E2E_SERVER_BIN", binary.to_string_lossy().into_owned()),
            ("RTS_E2E_DATABASE_URL", database),
            ("RTS_E2E_CHROMIUM", chromium.to_string_lossy().into_owned()),
        ],
        "browser tests",
    )
}
