//! The layering rules of docs/ARCHITECTURE.md, checked against `cargo metadata`: each crate
//! may depend only on the workspace crates below it, and each infrastructure library has
//! one owning crate. Breaking a rule fails here with the rule's own words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// package name -> its direct normal (non-dev, non-build) dependencies.
fn normal_dependencies() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages").iter();
    packages
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            (name, deps)
        })
        .collect()
}

/// The product crates and which workspace crates each may use (docs/ARCHITECTURE.md).
const LAYERS: [(&str, &[&str]); 7] = [
    ("domain", &[]),
    ("persistence", &["domain"]),
    ("auth", &["domain"]),
    ("firebase-sync", &["domain"]),
    ("realtime", &["domain"]),
    ("http-api", &["domain", "auth", "realtime"]),
    (
        "server",
        &[
            "domain",
            "persistence",
            "auth",
            "firebase-sync",
            "realtime",
            "http-api",
        ],
    ),
];

/// Infrastructure libraries and the crates allowed to depend on each.
const OWNERS: [(&str, &[&str]); 17] = [
    ("diesel", &["persistence"]),
    ("diesel-async", &["persistence"]),
    ("diesel_migrations", &["persistence"]),
    ("deadpool", &["persistence"]),
    ("argon2", &["auth"]),
    ("jsonwebtoken", &["auth", "firebase-sync"]),
    ("reqwest", &["firebase-sync"]),
    ("fred", &["realtime"]),
    ("actix-web", &["http-api"]),
    ("actix-http", &["http-api"]),
    ("actix-server", &["http-api"]),
    ("actix-cors", &["http-api"]),
    ("rust-embed", &["http-api"]),
    ("tracing-subscriber", &["server"]),
    ("figment", &["server"]),
    ("metrics-exporter-prometheus", &["server"]),
    ("clap", &["server"]),
];

/// Crates that do I/O or run it, which the domain must not touch.
const IO_CRATES: [&str; 6] = [
    "tokio",
    "mio",
    "hyper",
    "async-std",
    "socket2",
    "mysql_async",
];

fn is_product(name: &str) -> bool {
    LAYERS.iter().any(|(n, _)| *n == name)
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let deps = normal_dependencies();
    let mut broken = Vec::new();
    for (krate, allowed) in LAYERS {
        let Some(own) = deps.get(krate) else {
            broken.push(format!("crate {krate} is missing from the workspace"));
            continue;
        };
        for dep in own
            .iter()
            .filter(|d| is_product(d) || *d == "local-services")
        {
            if !allowed.contains(&dep.as_str()) {
                broken.push(format!(
                    "{krate} must not depend on {dep} (allowed: {allowed:?})"
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layering broken:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn each_infrastructure_library_has_one_owner() {
    let deps = normal_dependencies();
    let mut broken = Vec::new();
    for (krate, own) in deps.iter().filter(|(k, _)| is_product(k)) {
        for (library, owners) in OWNERS {
            if own.iter().any(|d| d == library) && !owners.contains(&krate.as_str()) {
                broken.push(format!(
                    "only {} knows {library}, but {krate} depends on it",
                    owners.join(" and ")
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "ownership broken:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn domain_does_no_io() {
    let deps = normal_dependencies();
    let domain = deps.get("domain").cloned().unwrap_or_default();
    let io: Vec<&String> = domain
        .iter()
        .filter(|d| IO_CRATES.contains(&d.as_str()) || OWNERS.iter().any(|(lib, _)| lib == d))
        .collect();
    assert!(io.is_empty(), "domain does no I/O, but depends on {io:?}");
}

#[test]
fn the_architecture_doc_states_an_invariant_for_every_crate() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md exists");
    let section = doc
        .split("## Invariants")
        .nth(1)
        .expect("docs/ARCHITECTURE.md has an '## Invariants' section");
    for (krate, _) in LAYERS {
        let row = format!("| {krate} |");
        assert!(
            section.contains(&row),
            "no invariant row for {krate} in docs/ARCHITECTURE.md"
        );
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut missing = Vec::new();
    let mut stack = vec![
        workspace_root().join("crates"),
        workspace_root().join("xtask/src"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() && name != "target" && name != "node_modules" {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.components().any(|c| c.as_os_str() == "src")
                && name != "tests.rs"
            {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` line:\n  {}",
        missing.join("\n  ")
    );
}
