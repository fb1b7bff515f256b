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

/// Tools for development and tests: never linked into the product (dev-dependencies
/// only), and built on none of it, so they test it from outside as any client would.
const DEV_TOOLS: [&str; 3] = ["firebase-fake", "loadgen", "local-services"];

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
    let missing: Vec<String> = source_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` line:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn dev_tools_stay_out_of_the_product_and_use_none_of_it() {
    let deps = normal_dependencies();
    let mut broken = Vec::new();
    for (krate, own) in &deps {
        for tool in own.iter().filter(|d| DEV_TOOLS.contains(&d.as_str())) {
            if is_product(krate) {
                broken.push(format!(
                    "{krate} depends on {tool}: a tool for tests, allowed only under [dev-dependencies]"
                ));
            }
        }
    }
    for tool in DEV_TOOLS {
        let own = deps.get(tool).cloned().unwrap_or_default();
        for dep in own.iter().filter(|d| is_product(d)) {
            broken.push(format!(
                "{tool} depends on {dep}: it must test the product from outside"
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "dev tools broken:\n  {}",
        broken.join("\n  ")
    );
}

/// Every `.rs` file under `src/` folders of the workspace (tests apart).
fn source_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
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
            if path.is_dir() && !["target", "node_modules", "tests"].contains(&name) {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.components().any(|c| c.as_os_str() == "src")
                && name != "tests.rs"
            {
                files.push(path);
            }
        }
    }
    files
}

/// The lines of `text` before its inline test module, if it has one.
fn product_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].starts_with("#[cfg(test)]") && w[1].starts_with("mod tests"))
        .unwrap_or(lines.len());
    lines[..end].to_vec()
}

/// `(name, first line, length)` of every function with a body in rustfmt-formatted
/// `lines` that is longer than `limit` lines, unless a comment above it starts with
/// "Long because".
fn long_functions(lines: &[&str], limit: usize) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let signature = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("async ")
            .trim_start_matches("unsafe ");
        let Some(rest) = signature.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let indent = &line[..line.len() - trimmed.len()];
        let Some(open) = lines[start..]
            .iter()
            .position(|l| l.trim_end().ends_with('{') || l.trim_end().ends_with(';'))
            .map(|i| start + i)
            .filter(|i| lines[*i].trim_end().ends_with('{'))
        else {
            continue;
        };
        let close = format!("{indent}}}");
        let Some(end) = lines[open..]
            .iter()
            .position(|l| l.trim_end() == close)
            .map(|i| open + i)
        else {
            continue;
        };
        let explained = lines[..start]
            .iter()
            .rev()
            .take_while(|l| {
                let t = l.trim_start();
                t.starts_with("//") || t.starts_with("#[")
            })
            .any(|l| l.contains("Long because"));
        let length = end - start + 1;
        if length > limit && !explained {
            found.push((name, start + 1, length));
        }
    }
    found
}

#[test]
fn no_source_file_is_over_400_lines_nor_a_function_over_80() {
    let root = workspace_root();
    let mut broken = Vec::new();
    for path in source_files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines = product_lines(&text);
        let shown = path.strip_prefix(&root).unwrap_or(&path).display();
        if lines.len() > 400 {
            broken.push(format!(
                "{shown}: {} lines (split it by concern)",
                lines.len()
            ));
        }
        for (name, line, length) in long_functions(&lines, 80) {
            broken.push(format!(
                "{shown}:{line}: fn {name} is {length} lines (split it, or say why above it: \"// Long because ...\")"
            ));
        }
    }
    broken.sort();
    assert!(broken.is_empty(), "too long:\n  {}", broken.join("\n  "));
}

#[test]
fn long_functions_are_found_by_their_closing_brace() {
    let code = "fn short() {\n    1\n}\n\nimpl X {\n    pub async fn long(\n        a: u8,\n    ) -> u8 {\n        a\n    }\n    fn decl();\n}\n";
    let lines: Vec<&str> = code.lines().collect();
    assert_eq!(long_functions(&lines, 4), vec![("long".to_owned(), 6, 5)]);
    let explained = code.replace(
        "    pub async fn long(",
        "    // Long because it must be.\n    pub async fn long(",
    );
    let lines: Vec<&str> = explained.lines().collect();
    assert_eq!(long_functions(&lines, 4), vec![], "explained");
}

/// The top-level modules of `crate_dir`'s `src/` that each one names (`crate::<module>`
/// outside comments), the crate root apart.
fn module_uses(crate_dir: &str) -> BTreeMap<String, Vec<String>> {
    let src = workspace_root().join(crate_dir).join("src");
    let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(&src) else {
                continue;
            };
            let first = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default()
                .trim_end_matches(".rs")
                .to_owned();
            if first == "lib" || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let named = uses.entry(first.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for part in line.split("crate::").skip(1) {
                    let module: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !module.is_empty() && module != first && !named.contains(&module) {
                        named.push(module);
                    }
                }
            }
        }
    }
    uses
}

/// A cycle in `uses`, if there is one, as the modules along it.
fn a_cycle(uses: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        uses: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.iter().any(|m| m == module) {
            return None;
        }
        path.push(module.to_owned());
        for next in uses.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, uses, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(module.to_owned());
        None
    }
    let mut done = Vec::new();
    uses.keys()
        .find_map(|m| visit(m, uses, &mut Vec::new(), &mut done))
}

#[test]
fn the_realtime_crate_has_no_import_cycle() {
    let uses = module_uses("crates/realtime");
    assert!(
        uses.contains_key("session") && uses.contains_key("room"),
        "{uses:?}"
    );
    assert_eq!(
        a_cycle(&uses),
        None,
        "modules of crates/realtime: {uses:#?}"
    );
    let mut cyclic = BTreeMap::new();
    cyclic.insert("a".to_owned(), vec!["b".to_owned()]);
    cyclic.insert("b".to_owned(), vec!["a".to_owned()]);
    assert!(a_cycle(&cyclic).is_some(), "the check finds a cycle");
}
