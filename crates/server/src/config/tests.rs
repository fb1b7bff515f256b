use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn error_of(vars: &[(&str, &str)]) -> String {
    match load(vars) {
        Ok(c) => panic!("expected an error for {vars:?}, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_need_no_settings() {
    let c = load(&[
        ("PATH", "/bin"),
        ("RTS_TEST_DATABASE_URL", "whatever"),
        ("RTS_TEST_REDIS_URL", "whatever"),
    ])
    .expect("defaults");
    assert_eq!(c.http_addr.to_string(), "127.0.0.1:4000");
    assert_eq!(c.database_url.database_name(), "realtime_server");
    assert!(c.redis_url.is_none());
    assert!(
        c.node_id.ends_with(&format!("-{}", std::process::id())),
        "{}",
        c.node_id
    );
    assert_eq!(c.log_format, LogFormat::Pretty);
}

#[test]
fn environment_overrides() {
    let c = load(&[
        ("RTS_HTTP_ADDR", "0.0.0.0:8080"),
        ("RTS_DATABASE_URL", "mysql://app:pw@db:3306/rts"),
        ("RTS_DATABASE_POOL_SIZE", "25"),
        ("RTS_LOG_FORMAT", "json"),
        ("RTS_REDIS_URL", "redis://cache:6379/0"),
        ("RTS_MIGRATE_ON_START", "true"),
    ])
    .expect("valid");
    assert_eq!(c.http_addr.port(), 8080);
    assert_eq!(c.database_pool_size, 25);
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(c.redis_url.is_some());
    assert!(c.migrate_on_start);
    assert!(
        !format!("{c:?}").contains(":pw@"),
        "secrets stay out of Debug: {c:?}"
    );
}

#[test]
fn empty_redis_url_means_single_node() {
    let c = load(&[("RTS_REDIS_URL", "")]).expect("valid");
    assert!(c.redis_url.is_none());
}

#[test]
fn file_layer_sits_between_defaults_and_environment() {
    let dir = std::env::temp_dir().join(format!("rts-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rts.toml");
    std::fs::write(
        &file,
        "http_addr = \"127.0.0.1:5000\"\ndatabase_pool_size = 3\n",
    )
    .expect("write");
    let path = file.to_string_lossy().to_string();
    let c = load(&[("RTS_CONFIG", &path), ("RTS_DATABASE_POOL_SIZE", "4")]).expect("valid");
    assert_eq!(c.http_addr.port(), 5000, "from the file");
    assert_eq!(c.database_pool_size, 4, "the environment wins");

    std::fs::write(&file, "htp_addr = \"127.0.0.1:5000\"\n").expect("write");
    let e = error_of(&[("RTS_CONFIG", &path)]);
    assert!(e.starts_with("unknown setting RTS_HTP_ADDR (in "), "{e}");
    assert!(e.ends_with("did you mean RTS_HTTP_ADDR?"), "{e}");
    std::fs::write(&file, "database_pool_size = \"many\"\n").expect("write");
    let e = error_of(&[("RTS_CONFIG", &path)]);
    assert!(
        e.starts_with("invalid setting RTS_DATABASE_POOL_SIZE"),
        "{e}"
    );
    assert!(e.contains(&path), "{e}");
    std::fs::remove_dir_all(&dir).ok();

    let e = error_of(&[("RTS_CONFIG", "/nonexistent/rts.toml")]);
    assert!(
        e.contains("/nonexistent/rts.toml") && e.contains("RTS_CONFIG"),
        "{e}"
    );
}

/// A variable, a bad value for it, and the variable the error must name.
const BAD_VALUES: &[(&str, &str, &str)] = &[
    ("RTS_DATABASE_URL", "postgres://db/rts", "RTS_DATABASE_URL"),
    ("RTS_DATABASE_URL", "not a url", "RTS_DATABASE_URL"),
    ("RTS_DATABASE_URL", "mysql://db:3306/", "RTS_DATABASE_URL"),
    (
        "RTS_DATABASE_URL",
        "mysql://db:3306/bad-name",
        "RTS_DATABASE_URL",
    ),
    ("RTS_DATABASE_POOL_SIZE", "many", "RTS_DATABASE_POOL_SIZE"),
    ("RTS_DATABASE_POOL_SIZE", "0", "RTS_DATABASE_POOL_SIZE"),
    ("RTS_DATABASE_POOL_SIZE", "-3", "RTS_DATABASE_POOL_SIZE"),
    ("RTS_DATABASE_TIMEOUT_MS", "5", "RTS_DATABASE_TIMEOUT_MS"),
    ("RTS_HTTP_ADDR", "localhost", "RTS_HTTP_ADDR"),
    ("RTS_HTTP_ADDR", "127.0.0.1:99999", "RTS_HTTP_ADDR"),
    ("RTS_HTTP_WORKERS", "1.5", "RTS_HTTP_WORKERS"),
    ("RTS_HTTP_WORKERS", "5000", "RTS_HTTP_WORKERS"),
    (
        "RTS_HTTP_SHUTDOWN_TIMEOUT_SECS",
        "forever",
        "RTS_HTTP_SHUTDOWN_TIMEOUT_SECS",
    ),
    ("RTS_HTTP_MAX_BODY_BYTES", "10", "RTS_HTTP_MAX_BODY_BYTES"),
    ("RTS_REDIS_URL", "http://cache:6379", "RTS_REDIS_URL"),
    ("RTS_REDIS_URL", "cache:6379", "RTS_REDIS_URL"),
    ("RTS_LOG_FORMAT", "xml", "RTS_LOG_FORMAT"),
    ("RTS_LOG_LEVEL", "info,[", "RTS_LOG_LEVEL"),
    ("RTS_MIGRATE_ON_START", "maybe", "RTS_MIGRATE_ON_START"),
    ("RTS_HTTP_ADR", "127.0.0.1:1", "RTS_HTTP_ADR"),
    ("RTS_JWT_SECRET", "short", "RTS_JWT_SECRET"),
    (
        "RTS_ACCESS_TOKEN_TTL_SECS",
        "1",
        "RTS_ACCESS_TOKEN_TTL_SECS",
    ),
    (
        "RTS_REFRESH_TOKEN_TTL_DAYS",
        "0",
        "RTS_REFRESH_TOKEN_TTL_DAYS",
    ),
    ("RTS_RATE_LOGINS_PER_IP", "-1", "RTS_RATE_LOGINS_PER_IP"),
    (
        "RTS_RATE_COMMENTS_PER_USER",
        "lots",
        "RTS_RATE_COMMENTS_PER_USER",
    ),
    ("RTS_WS_IDLE_TIMEOUT_SECS", "0", "RTS_WS_IDLE_TIMEOUT_SECS"),
    ("RTS_WS_MAX_FRAME_BYTES", "10", "RTS_WS_MAX_FRAME_BYTES"),
    ("RTS_WS_OUTBOX_FRAMES", "1", "RTS_WS_OUTBOX_FRAMES"),
    ("RTS_WS_MAX_CHANNELS", "0", "RTS_WS_MAX_CHANNELS"),
    ("RTS_WS_PUSHES_PER_SECOND", "-1", "RTS_WS_PUSHES_PER_SECOND"),
    (
        "RTS_WS_PUSHES_PER_SECOND",
        "fast",
        "RTS_WS_PUSHES_PER_SECOND",
    ),
    ("RTS_WS_PUSH_BURST", "0", "RTS_WS_PUSH_BURST"),
    ("RTS_WS_OUTBOX_BYTES", "1000", "RTS_WS_OUTBOX_BYTES"),
    ("RTS_NODE_ID", "web 1", "RTS_NODE_ID"),
    ("RTS_TRUSTED_PROXIES", "nginx", "RTS_TRUSTED_PROXIES"),
    (
        "RTS_TRUSTED_PROXY_HEADER",
        "x-real-ip",
        "RTS_TRUSTED_PROXY_HEADER",
    ),
    (
        "RTS_PUBLIC_ORIGINS",
        "live.example.com",
        "RTS_PUBLIC_ORIGINS",
    ),
    ("RTS_WS_JOINS_PER_SECOND", "0", "RTS_WS_JOINS_PER_SECOND"),
    ("RTS_WS_MAX_SOCKETS", "99999999", "RTS_WS_MAX_SOCKETS"),
    (
        "RTS_WS_MAX_SOCKETS_PER_USER",
        "0",
        "RTS_WS_MAX_SOCKETS_PER_USER",
    ),
    (
        "RTS_WS_MAX_SOCKETS_PER_ADDRESS",
        "0",
        "RTS_WS_MAX_SOCKETS_PER_ADDRESS",
    ),
    ("RTS_PRESENCE_WINDOW_MS", "99999", "RTS_PRESENCE_WINDOW_MS"),
    ("RTS_CORS_ALLOWED_ORIGINS", "*", "RTS_CORS_ALLOWED_ORIGINS"),
    ("RTS_WEB_DIR", "/nonexistent", "RTS_WEB_DIR"),
    ("RTS_WEB_CLIENT", "maybe", "RTS_WEB_CLIENT"),
    (
        "RTS_FIREBASE_DATABASE_URL",
        "http://x.firebaseio.com",
        "RTS_FIREBASE_DATABASE_URL",
    ),
    ("RTS_FIREBASE_SECRET", "s", "RTS_FIREBASE_DATABASE_URL"),
    ("RTS_FIREBASE_TIMEOUT_MS", "5", "RTS_FIREBASE_TIMEOUT_MS"),
];

#[test]
fn every_bad_value_names_its_setting_on_one_line() {
    for (name, value, named) in BAD_VALUES {
        let e = error_of(&[(name, value)]);
        assert!(e.contains(named), "{name}={value:?} gave {e:?}");
        assert!(
            !e.contains('\n'),
            "{name}={value:?} gave more than one line: {e:?}"
        );
    }
}

#[test]
fn the_jwt_secret_stays_out_of_errors_and_debug() {
    let e = error_of(&[("RTS_JWT_SECRET", "tiny-secret")]);
    assert!(!e.contains("tiny-secret"), "{e}");
    let c = load(&[("RTS_JWT_SECRET", "0123456789abcdef0123456789abcdef-long")]).expect("valid");
    assert!(!format!("{c:?}").contains("0123456789abcdef"), "{c:?}");
}

#[test]
fn a_bad_database_url_error_does_not_echo_the_password() {
    let e = error_of(&[("RTS_DATABASE_URL", "mysql://app:hunter2@db:3306/bad-name")]);
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_bad_listen_address_says_what_a_good_one_looks_like() {
    for bad in [
        "4000",
        "localhost",
        ":4000",
        "127.0.0.1:99999",
        "http://0.0.0.0:4000",
    ] {
        let message = error_of(&[("RTS_HTTP_ADDR", bad)]);
        assert!(message.contains("RTS_HTTP_ADDR"), "{bad}: {message}");
        assert!(
            message.contains("127.0.0.1:4000") && message.contains("0.0.0.0:4000"),
            "{bad}: an example of a valid address in {message}"
        );
    }
}

#[test]
fn a_misspelt_variable_gets_the_name_it_was_meant_to_be() {
    for (typo, meant) in [
        ("RTS_HTTP_ADRR", "RTS_HTTP_ADDR"),
        ("RTS_DATABSE_URL", "RTS_DATABASE_URL"),
        ("RTS_REDIS_ULR", "RTS_REDIS_URL"),
        ("RTS_WS_MAX_SOCKET_PER_USER", "RTS_WS_MAX_SOCKETS_PER_USER"),
    ] {
        let e = error_of(&[(typo, "x")]);
        assert_eq!(e, format!("unknown setting {typo}: did you mean {meant}?"));
    }
    let e = error_of(&[("RTS_SOMETHING_ELSE_ENTIRELY", "x")]);
    assert!(
        e.contains("no such setting") && e.contains("RTS_HTTP_ADDR"),
        "{e}"
    );
}

#[test]
fn the_example_config_file_in_deploy_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/realtime-server.toml");
    let path = path.to_string_lossy().to_string();
    let c = load(&[("RTS_CONFIG", &path)]).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(c.http_addr.port(), 4000);
    assert_eq!(c.node_id, "web-1");
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.database_pool_size, 20);
    // Secrets stay in the environment.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for secret in [
        "jwt_secret =",
        "database_url =",
        "redis_url =",
        "firebase_secret =",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} belongs in the environment"
        );
    }
}

#[test]
fn each_rate_limit_is_set_by_its_own_variable() {
    for (n, limit) in (1..).zip(domain::limits::Limit::ALL) {
        let variable = format!("RTS_RATE_{}", limit.name().to_uppercase());
        let c = load(&[(&variable, &n.to_string())]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rate_limits.of(limit), n, "{variable}");
    }
}

// README.md's settings table

/// The rows of README.md's settings table: each variable, and its default as written.
fn readme_settings() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("README.md: {e}"));
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration\n"))
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').skip(1).map(str::trim);
            let name = cells.next()?.strip_prefix("`RTS_")?.strip_suffix('`')?;
            Some((format!("RTS_{name}"), cells.next()?.to_owned()))
        })
        .collect()
}

fn settings_in_effect() -> Vec<Setting> {
    Config::in_effect(std::iter::empty()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn readme_lists_every_setting_and_no_other() {
    let listed: std::collections::BTreeSet<String> = readme_settings()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name != "RTS_CONFIG")
        .collect();
    let known: std::collections::BTreeSet<String> =
        settings_in_effect().into_iter().map(|s| s.name).collect();
    assert!(
        !listed.is_empty(),
        "README.md has a settings table under ## Configuration"
    );
    let missing: Vec<_> = known.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&known).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "settings missing from README.md's table: {missing:?}; \
         listed there but unknown to the configuration: {unknown:?}"
    );
}

#[test]
fn readme_gives_each_setting_the_default_it_has() {
    let settings = settings_in_effect();
    for (name, written) in readme_settings() {
        let Some(setting) = settings.iter().find(|s| s.name == name) else {
            continue; // RTS_CONFIG names the file, and is no setting of its own
        };
        let actual = setting.default.as_str();
        let same = match written.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
            Some(value) => {
                value == actual
                    || matches!((value.parse::<f64>(), actual.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
            }
            None if written.starts_with("unset") => actual == "(unset)",
            None if written == "empty" => actual == "(empty)",
            // Worked out at start, as "host name and pid".
            None => actual == "(unset)",
        };
        assert!(
            same,
            "README.md gives {name} the default {written}, the configuration {actual}"
        );
    }
}
