//! MariaDB and Redis for development and tests: use the ones at the configured URLs when
//! they answer, otherwise start private instances under `target/services/` from the
//! installed server binaries, otherwise say exactly how to install them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_services::{MariaDb, Redis};
use url::Url;

const DEFAULT_DATABASE_URL: &str = "mysql://root@127.0.0.1:3306/realtime_server";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

fn private_dir(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = workspace.parent().unwrap_or(workspace);
    workspace.join("target/services").join(name)
}

/// `host:port` of a URL, with the scheme's default port.
fn address(raw: &str, default_port: u16) -> Result<(Url, String), String> {
    let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(default_port);
    Ok((url, format!("{host}:{port}")))
}

/// Makes sure both services answer; returns the environment that points the server and
/// the tests at them (RTS_DATABASE_URL, RTS_TEST_DATABASE_URL, RTS_TEST_REDIS_URL).
pub fn ensure() -> Result<Vec<(String, String)>, String> {
    let mut env = ensure_database()?;
    env.push(("RTS_TEST_REDIS_URL".into(), redis()?));
    Ok(env)
}

/// Makes sure MariaDB answers (what one node, migrations and the seed need); returns
/// RTS_DATABASE_URL and RTS_TEST_DATABASE_URL.
pub fn ensure_database() -> Result<Vec<(String, String)>, String> {
    let database_url = database()?;
    let mut test_db = Url::parse(&database_url).map_err(|e| e.to_string())?;
    test_db.set_path("/rts_test");
    Ok(vec![
        ("RTS_DATABASE_URL".into(), database_url),
        ("RTS_TEST_DATABASE_URL".into(), test_db.to_string()),
    ])
}

/// Whether this shell asks the server to use Redis (RTS_REDIS_URL set and not empty).
pub fn redis_configured() -> bool {
    std::env::var("RTS_REDIS_URL").is_ok_and(|u| !u.is_empty())
}

fn configured_database_url() -> String {
    std::env::var("RTS_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

fn configured_redis_url() -> String {
    std::env::var("RTS_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned())
}

/// MariaDB answers at the configured URL, or a private one can be started.
pub fn mariadb_available() -> bool {
    local_services::find_mariadbd().is_some()
        || address(&configured_database_url(), 3306)
            .is_ok_and(|(_, addr)| local_services::mariadb_answers(&addr, PROBE_TIMEOUT))
}

/// Redis answers at the configured URL, or a private one can be started.
pub fn redis_available() -> bool {
    local_services::find_redis_server().is_some()
        || address(&configured_redis_url(), 6379)
            .is_ok_and(|(_, addr)| local_services::redis_answers(&addr, PROBE_TIMEOUT))
}

fn database() -> Result<String, String> {
    let configured = configured_database_url();
    let (url, addr) = address(&configured, 3306)?;
    if local_services::mariadb_answers(&addr, PROBE_TIMEOUT) {
        println!("==> MariaDB answers at {addr}");
        return Ok(configured);
    }
    if local_services::find_mariadbd().is_none() {
        return Err(format!(
            "MariaDB does not answer at {addr} and is not installed here.\n  \
             Install it:  {}   (macOS: brew install mariadb)\n  \
             or point RTS_DATABASE_URL at a running MariaDB/MySQL server.",
            local_services::MARIADB_INSTALL_HINT
        ));
    }
    let dir = private_dir("mariadb");
    println!(
        "==> MariaDB does not answer at {addr}; using a private one in {}",
        dir.display()
    );
    let db = MariaDb::start(&dir, None).map_err(|e| format!("cannot start MariaDB: {e}"))?;
    let name = url.path().trim_start_matches('/');
    let private_url = db.url(if name.is_empty() {
        "realtime_server"
    } else {
        name
    });
    println!("==> private MariaDB at {private_url} (stop it with `cargo xtask services --stop`)");
    println!("    to use it outside xtask: export RTS_DATABASE_URL={private_url}");
    db.detach();
    Ok(private_url)
}

fn redis() -> Result<String, String> {
    let configured = configured_redis_url();
    let (_, addr) = address(&configured, 6379)?;
    if local_services::redis_answers(&addr, PROBE_TIMEOUT) {
        println!("==> Redis answers at {addr}");
        return Ok(configured);
    }
    if local_services::find_redis_server().is_none() {
        return Err(format!(
            "Redis does not answer at {addr} and is not installed here.\n  \
             Install it:  {}   (macOS: brew install redis)\n  \
             or point RTS_REDIS_URL at a running Redis server.",
            local_services::REDIS_INSTALL_HINT
        ));
    }
    let dir = private_dir("redis");
    println!(
        "==> Redis does not answer at {addr}; using a private one in {}",
        dir.display()
    );
    let redis = Redis::start(&dir, None).map_err(|e| format!("cannot start Redis: {e}"))?;
    let url = redis.url();
    println!("==> private Redis at {url} (stop it with `cargo xtask services --stop`)");
    redis.detach();
    Ok(url)
}

/// Stops the private instances started by an earlier `ensure`, if any are running.
pub fn stop_private() -> Result<(), String> {
    let stopped = |name: &str, outcome: Result<bool, local_services::Error>| {
        match outcome {
            Ok(true) => println!("==> stopped the private {name}"),
            Ok(false) => println!("==> no private {name} is running"),
            Err(e) => return Err(format!("cannot stop the private {name}: {e}")),
        }
        Ok(())
    };
    stopped(
        "MariaDB",
        MariaDb::running(&private_dir("mariadb")).and_then(|found| match found {
            Some(mut db) => db.stop().map(|()| true),
            None => Ok(false),
        }),
    )?;
    stopped(
        "Redis",
        Redis::running(&private_dir("redis")).and_then(|found| match found {
            Some(mut redis) => redis.stop().map(|()| true),
            None => Ok(false),
        }),
    )
}

/// A development JWT secret, made once and kept in `target/services/dev-jwt-secret` so
/// tokens survive server restarts. Never use it in production.
pub fn dev_jwt_secret() -> Result<String, String> {
    let path = private_dir("dev-jwt-secret");
    if let Ok(secret) = std::fs::read_to_string(&path)
        && secret.trim().len() >= 32
    {
        return Ok(secret.trim().to_owned());
    }
    let mut bytes = [0u8; 48];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom for a development JWT secret: {e}"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("==> made a development JWT secret in {}", path.display());
    Ok(secret)
}
