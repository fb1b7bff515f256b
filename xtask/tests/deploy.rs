//! The deployment example keeps up with the configuration: every setting README.md marks
//! as required is named in deploy/realtime-server.service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `RTS_*` names of README's configuration rows whose default says "required".
fn required_settings(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let default = cells.next()?;
            (name.starts_with("RTS_") && default.contains("required")).then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn the_systemd_unit_names_every_required_setting() {
    let required = required_settings(&read("README.md"));
    assert!(
        required.contains(&"RTS_JWT_SECRET".to_owned()),
        "README marks RTS_JWT_SECRET as required: {required:?}"
    );
    let unit = read("deploy/realtime-server.service");
    for name in required {
        assert!(
            unit.contains(&format!("{name}=")),
            "deploy/realtime-server.service should show how to set {name}"
        );
    }
}
