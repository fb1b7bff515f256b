//! `cargo xtask dev`: services, migrations and demo data, then the server in the
//! foreground. The port is checked before anything starts, and SIGINT, SIGTERM and SIGHUP
//! are passed on to the server (a second one kills it), so stopping xtask stops the server.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};

use crate::children::run_passing_signals;
use crate::{cargo, services};

const DEFAULT_ADDR: &str = "127.0.0.1:4000";

/// `nodes` servers (behind nginx when more than one); with `firebase_fake`, mirroring into
/// a local fake of the Firebase Realtime Database.
pub fn run(nodes: u16, firebase_fake: bool) -> Result<(), String> {
    let addr = listen_addr(std::env::var("RTS_HTTP_ADDR").ok().as_deref())?;
    check_port(addr)?;
    // Before anything starts: without nginx there is nothing to balance with.
    let nginx = if nodes > 1 { Some(find_nginx()?) } else { None };
    // One node runs without Redis, unless this shell points it at one.
    let mut env = if nodes > 1 || services::redis_configured() {
        services::ensure()?
    } else {
        services::ensure_database()?
    };
    if std::env::var_os("RTS_JWT_SECRET").is_none() {
        env.push(("RTS_JWT_SECRET".into(), services::dev_jwt_secret()?));
    }
    cargo::server(&env, &["migrate", "up"])?;
    cargo::server(&env, &["seed"])?;
    let binary = build_binary("server", "realtime-server")?;
    // Stopped after the servers, so their last presence writes reach it.
    let _fake = if firebase_fake {
        let fake = FirebaseFake::start(&mut env)?;
        // The demo comments were stored before the mirror was on.
        cargo::server(&env, &["firebase", "reconcile"])?;
        Some(fake)
    } else {
        None
    };
    let Some(nginx) = nginx else {
        let mut server = Command::new(binary);
        server
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RTS_HTTP_ADDR", addr.to_string());
        println!(
            "==> realtime-server at http://{addr} (GET /healthz, /readyz, /metrics); Ctrl-C stops it"
        );
        return finished(run_passing_signals(vec![(None, server)])?);
    };
    run_nodes(nodes, addr, &binary, &env, &nginx)
}

/// `nodes` servers behind nginx on `addr`, each line of theirs labelled.
fn run_nodes(
    nodes: u16,
    addr: SocketAddr,
    binary: &str,
    env: &[(String, String)],
    nginx: &str,
) -> Result<(), String> {
    let redis = env
        .iter()
        .find(|(k, _)| k == "RTS_TEST_REDIS_URL")
        .map(|(_, v)| v.clone())
        .ok_or("no Redis URL from the services check")?;
    let mut children = Vec::new();
    let mut upstream = String::from("upstream realtime_nodes {\n");
    let workers = workers_per_node(nodes);
    for n in 1..=nodes {
        let node_addr = free_local_addr()?;
        upstream.push_str(&format!(
            "    server {node_addr} max_fails=1 fail_timeout=5s;\n"
        ));
        let mut server = Command::new(binary);
        server
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RTS_HTTP_ADDR", node_addr.to_string())
            .env("RTS_REDIS_URL", &redis)
            .env("RTS_NODE_ID", format!("dev-{n}"))
            .env("RTS_TRUSTED_PROXIES", "127.0.0.1, ::1");
        if let Some(workers) = &workers {
            server.env("RTS_HTTP_WORKERS", workers);
        }
        println!("==> node dev-{n} at http://{node_addr}");
        children.push((Some(format!("dev-{n}")), server));
    }
    if let Some(workers) = &workers {
        println!(
            "==> {workers} HTTP worker(s) per node: the machine's cores shared by {nodes} nodes (RTS_HTTP_WORKERS overrides)"
        );
    }
    upstream.push_str("    keepalive 16;\n}\n");
    let conf = nginx_config(addr, &upstream)?;
    let mut proxy = Command::new(nginx);
    proxy
        .args(["-c", &conf.to_string_lossy(), "-p"])
        .arg(conf.parent().unwrap_or(&conf));
    children.push((Some("nginx".to_owned()), proxy));
    println!(
        "==> {nodes} nodes behind nginx at http://{addr} (GET /healthz, /readyz); Ctrl-C stops them all"
    );
    finished(run_passing_signals(children)?)
}

/// `RTS_HTTP_WORKERS` for each of `nodes` nodes on this machine: its share of the cores,
/// at least one; `None` when this shell sets it (then every node takes that).
fn workers_per_node(nodes: u16) -> Option<String> {
    if std::env::var_os("RTS_HTTP_WORKERS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(share_of_cores(cores, nodes).to_string())
}

fn share_of_cores(cores: usize, nodes: u16) -> usize {
    (cores / usize::from(nodes.max(1))).max(1)
}

fn finished(status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("stopped ({status})"))
    }
}

/// The installed nginx (checked with the other prerequisites before this runs).
pub(crate) fn find_nginx() -> Result<String, String> {
    crate::prerequisites::nginx()
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| "nginx is not installed: sudo apt-get install -y nginx-light".to_owned())
}

/// A free port on 127.0.0.1 for a node.
fn free_local_addr() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))
}

/// Writes `target/dev-nginx/nginx.conf`: deploy/nginx/realtime-server.conf listening on
/// `addr`, over `upstream`, in the foreground, with its files under that folder.
fn nginx_config(addr: SocketAddr, upstream: &str) -> Result<std::path::PathBuf, String> {
    let root = crate::server::workspace();
    let dir = root.join("target").join("dev-nginx");
    std::fs::create_dir_all(dir.join("temp"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let shared = root
        .join("deploy")
        .join("nginx")
        .join("realtime-server.conf");
    let site = std::fs::read_to_string(&shared)
        .map_err(|e| format!("cannot read {}: {e}", shared.display()))?
        .replace("listen 4000;", &format!("listen {addr};"));
    let temp = dir.join("temp");
    let temp = temp.display();
    let conf = format!(
        "# Written by `cargo xtask dev --nodes`; see deploy/nginx/realtime-server.conf.\n\
         daemon off;\npid {dir}/nginx.pid;\nerror_log stderr warn;\nworker_processes 1;\n\
         events {{}}\nhttp {{\n    access_log off;\n\
         client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n\
         fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n\
         scgi_temp_path {temp}/scgi;\n{upstream}{site}}}\n",
        dir = dir.display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
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

/// The fake Realtime Database in a process group of its own (a Ctrl-C in the terminal
/// reaches the servers, not it); stopped when dropped.
struct FirebaseFake {
    child: std::process::Child,
    key_file: std::path::PathBuf,
}

impl FirebaseFake {
    /// Starts it and points the servers at it through `env`.
    fn start(env: &mut Vec<(String, String)>) -> Result<Self, String> {
        use std::os::unix::process::CommandExt;
        let binary = build_binary("firebase-fake", "firebase-fake")?;
        let port = free_local_addr()?.port();
        let key_file =
            std::env::temp_dir().join(format!("rts-dev-firebase-key-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&key_file);
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--service-account"])
            .arg(&key_file)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the Firebase fake: {e}"))?;
        let fake = Self { child, key_file };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !fake.key_file.exists() {
            if std::time::Instant::now() > deadline {
                return Err("the Firebase fake did not start within 15 s".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let database = format!("http://127.0.0.1:{port}/?ns=fake-db");
        println!(
            "==> Firebase fake at {database}; the mirror: curl 'http://127.0.0.1:{port}/videos.json?ns=fake-db&print=pretty&auth=fake-db-legacy-secret-0123456789abcdef'"
        );
        println!(
            "    for `cargo xtask firebase status` (or reconcile) against it, in another terminal:\n{}",
            export_lines(&database, &fake.key_file)
        );
        env.push(("RTS_FIREBASE_DATABASE_URL".into(), database));
        env.push((
            "RTS_FIREBASE_CREDENTIALS".into(),
            fake.key_file.to_string_lossy().into_owned(),
        ));
        Ok(fake)
    }
}

/// The shell lines that point `cargo xtask firebase ...` at the fake.
fn export_lines(database: &str, key_file: &std::path::Path) -> String {
    format!(
        "      export RTS_FIREBASE_DATABASE_URL='{database}'\n      export RTS_FIREBASE_CREDENTIALS='{}'",
        key_file.display()
    )
}

impl Drop for FirebaseFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.key_file);
    }
}

/// Builds `bin` of `package` and returns its path (wherever the target directory is).
fn build_binary(package: &str, bin: &str) -> Result<String, String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "build",
            "--package",
            package,
            "--bin",
            bin,
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {bin} failed ({})", output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("cargo built no {bin} executable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_balancer_is_the_shared_nginx_configuration_on_the_chosen_address() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 4321));
        let path = nginx_config(addr, "upstream realtime_nodes { server 127.0.0.1:1; }\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let conf = std::fs::read_to_string(path).unwrap_or_default();
        assert!(conf.contains("daemon off;"), "{conf}");
        assert!(conf.contains("listen 127.0.0.1:4321;"), "{conf}");
        assert!(!conf.contains("listen 4000;"), "{conf}");
        assert!(conf.contains("upstream realtime_nodes { server 127.0.0.1:1; }"));
        assert!(
            conf.contains("proxy_set_header Upgrade $http_upgrade;"),
            "{conf}"
        );
    }

    #[test]
    fn each_node_gets_its_share_of_the_cores() {
        assert_eq!(share_of_cores(8, 2), 4);
        assert_eq!(share_of_cores(2, 3), 1);
        assert_eq!(share_of_cores(1, 1), 1);
        assert_eq!(share_of_cores(16, 0), 16);
    }

    #[test]
    fn the_fake_comes_with_the_lines_that_point_firebase_commands_at_it() {
        let lines = export_lines(
            "http://127.0.0.1:9000/?ns=fake-db",
            std::path::Path::new("/tmp/key.json"),
        );
        assert_eq!(
            lines,
            "      export RTS_FIREBASE_DATABASE_URL='http://127.0.0.1:9000/?ns=fake-db'\n      export RTS_FIREBASE_CREDENTIALS='/tmp/key.json'"
        );
    }

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
        // Freed, it is usable again (unless another process took it at once: other tests
        // start servers on free ports, so a few tries).
        let freed = (0..5).any(|_| {
            let Ok(addr) = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) else {
                return false;
            };
            check_port(addr).is_ok()
        });
        assert!(freed || check_port(addr).is_ok());
    }
}
