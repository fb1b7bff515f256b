//! Typed configuration, loaded once in layers: built-in defaults, then an optional TOML
//! file (`RTS_CONFIG`), then `RTS_*` environment variables. Keys are the same everywhere:
//! `http_addr` in the file is `RTS_HTTP_ADDR` in the environment. A malformed or unknown
//! setting stops startup with one line naming it; secrets never appear in logs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use persistence::DatabaseUrl;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Variables with our prefix that are not settings: `RTS_TEST_*` belong to the test suites.
fn is_setting(key: &str) -> bool {
    !key.starts_with("TEST_")
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for terminals.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every setting, as read from the layers (see docs/configuration in README.md). Written
/// out (for `realtime-server config`) with secrets hidden.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    #[serde(serialize_with = "shown::url")]
    database_url: SecretString,
    database_pool_size: usize,
    database_timeout_ms: u64,
    http_addr: SocketAddr,
    http_workers: usize,
    http_shutdown_timeout_secs: u64,
    http_max_body_bytes: usize,
    #[serde(serialize_with = "shown::optional_url")]
    redis_url: Option<SecretString>,
    node_id: Option<String>,
    trusted_proxies: String,
    trusted_proxy_header: String,
    web_client: bool,
    web_dir: Option<PathBuf>,
    cors_allowed_origins: String,
    public_origins: String,
    log_format: LogFormat,
    log_level: String,
    migrate_on_start: bool,
    #[serde(serialize_with = "shown::secret")]
    jwt_secret: Option<SecretString>,
    access_token_ttl_secs: u64,
    refresh_token_ttl_days: u64,
    rate_comments_per_user: u32,
    rate_comments_per_device: u32,
    rate_logins_per_ip: u32,
    rate_logins_per_account: u32,
    rate_registrations_per_ip: u32,
    ws_idle_timeout_secs: u64,
    ws_max_frame_bytes: usize,
    ws_outbox_frames: usize,
    ws_outbox_bytes: usize,
    ws_max_channels: usize,
    ws_pushes_per_second: f64,
    ws_push_burst: f64,
    ws_joins_per_second: f64,
    ws_max_sockets: usize,
    ws_max_sockets_per_user: usize,
    ws_max_sockets_per_address: usize,
    presence_window_ms: u64,
    firebase_database_url: Option<String>,
    firebase_credentials: Option<PathBuf>,
    #[serde(serialize_with = "shown::secret")]
    firebase_secret: Option<SecretString>,
    firebase_max_attempts: u32,
    firebase_timeout_ms: u64,
    firebase_max_retry_secs: u64,
}

impl Default for Raw {
    fn default() -> Self {
        Self {
            database_url: SecretString::from("mysql://root@127.0.0.1:3306/realtime_server"),
            database_pool_size: 10,
            database_timeout_ms: 3000,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4000)),
            http_workers: 0,
            http_shutdown_timeout_secs: 10,
            http_max_body_bytes: 64 * 1024,
            redis_url: None,
            node_id: None,
            trusted_proxies: String::new(),
            trusted_proxy_header: "x-forwarded-for".to_owned(),
            web_client: true,
            web_dir: None,
            cors_allowed_origins: String::new(),
            public_origins: String::new(),
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            migrate_on_start: false,
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            rate_comments_per_user: 30,
            rate_comments_per_device: 30,
            rate_logins_per_ip: 30,
            rate_logins_per_account: 10,
            rate_registrations_per_ip: 10,
            ws_idle_timeout_secs: 60,
            ws_max_frame_bytes: 16 * 1024,
            ws_outbox_frames: 1024,
            ws_outbox_bytes: 4 * 1024 * 1024,
            ws_max_channels: 20,
            ws_pushes_per_second: 5.0,
            ws_push_burst: 20.0,
            ws_joins_per_second: 2.0,
            ws_max_sockets: 0,
            ws_max_sockets_per_user: 64,
            ws_max_sockets_per_address: 10_000,
            presence_window_ms: 50,
            firebase_database_url: None,
            firebase_credentials: None,
            firebase_secret: None,
            firebase_max_attempts: 15,
            firebase_timeout_ms: 10_000,
            firebase_max_retry_secs: 300,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub database_pool_size: usize,
    pub database_timeout: Duration,
    pub http_addr: SocketAddr,
    pub http_workers: usize,
    pub http_shutdown_timeout: Duration,
    pub http_max_body_bytes: usize,
    /// `None`: a single node, fanout in process.
    pub redis_url: Option<SecretString>,
    /// This node's name in logs, metrics and the Redis envelope.
    pub node_id: String,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` headers name the client.
    pub trusted_proxies: http_api::TrustedProxies,
    /// The web client at `/`, and the origins browsers may use the API from.
    pub browser: http_api::BrowserOptions,
    pub log_format: LogFormat,
    pub log_level: String,
    pub migrate_on_start: bool,
    /// HS256 key for access tokens; `serve` refuses to start without one.
    pub jwt_secret: Option<SecretString>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Attempts per minute (0 = unlimited).
    pub rate_limits: domain::limits::Quotas,
    /// WebSocket limits and timings.
    pub realtime: realtime::RealtimeConfig,
    /// `None`: no Firebase mirror (and no outbox rows).
    pub firebase: Option<firebase_sync::MirrorSettings>,
    /// How long one Firebase request may take.
    pub firebase_timeout: Duration,
    /// The longest wait between two tries of a change.
    pub firebase_max_retry: Duration,
}

/// A setting that could not be used; `Display` is one line naming it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting {setting}: {reason}{source_note}")]
    Invalid {
        setting: String,
        reason: String,
        source_note: String,
    },
    #[error("unknown setting {setting}{source_note}: {hint}")]
    Unknown {
        setting: String,
        source_note: String,
        /// "did you mean RTS_...?", or every known name when none is close.
        hint: String,
    },
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: env_name(setting),
        reason: reason.into(),
        source_note: String::new(),
    }
}

fn env_name(key: &str) -> String {
    format!("RTS_{}", key.to_uppercase())
}

impl Config {
    /// Loads from the process environment (and the file it names in `RTS_CONFIG`).
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Loads from the given environment variables (tests pass their own); variables
    /// without the `RTS_` prefix are ignored.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        layers(vars)?.1.validate()
    }

    /// Every setting with its value in effect (secrets hidden), its default and where the
    /// value came from, for `realtime-server config`; fails as loading would.
    pub fn in_effect(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<Setting>, ConfigError> {
        let (figment, raw) = layers(vars)?;
        let settings = effective::describe(&figment, &raw)?;
        raw.validate()?;
        Ok(settings)
    }
}

/// The layers (defaults, the `RTS_CONFIG` file, the environment) and what they add up to.
fn layers(vars: impl IntoIterator<Item = (String, String)>) -> Result<(Figment, Raw), ConfigError> {
    let mut file = None;
    let mut settings = Vec::new();
    for (name, value) in vars {
        let Some(key) = name.strip_prefix("RTS_") else {
            continue;
        };
        if key == "CONFIG" {
            file = Some(PathBuf::from(value));
        } else if is_setting(key) {
            settings.push((key.to_lowercase(), value));
        }
    }
    let mut figment = Figment::new();
    if let Some(path) = &file {
        if !path.is_file() {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: "no such file (named by RTS_CONFIG)".into(),
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let from_env: Vec<String> = settings.iter().map(|(k, _)| k.clone()).collect();
    figment = figment.merge(EnvSettings(settings));
    let raw: Raw = figment
        .extract()
        .map_err(|e| from_figment(e, &from_env, file.as_deref()))?;
    Ok((figment, raw))
}

/// `RTS_*` variables as a figment layer; values are read like TOML scalars, so "10" is a
/// number and "true" a boolean.
struct EnvSettings(Vec<(String, String)>);

impl figment::Provider for EnvSettings {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, value) in &self.0 {
            let parsed = value
                .parse::<figment::value::Value>()
                .unwrap_or_else(|never| match never {});
            dict.insert(key.clone(), parsed);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn from_figment(
    err: figment::Error,
    from_env: &[String],
    file: Option<&std::path::Path>,
) -> ConfigError {
    use figment::error::Kind;
    let key = err.path.last().cloned().unwrap_or_default();
    let source_note = match file {
        _ if from_env.contains(&key) => String::new(),
        Some(path) => format!(" (in {})", path.display()),
        None => String::new(),
    };
    match &err.kind {
        Kind::UnknownField(field, _) => ConfigError::Unknown {
            setting: env_name(field),
            source_note: match file {
                _ if from_env.contains(field) => String::new(),
                Some(path) => format!(" (in {})", path.display()),
                None => String::new(),
            },
            hint: unknown_hint(field),
        },
        kind => ConfigError::Invalid {
            setting: if key.is_empty() {
                "RTS_CONFIG".into()
            } else {
                env_name(&key)
            },
            reason: format!("{kind}{}", example(&key)),
            source_note,
        },
    }
}

/// "did you mean RTS_HTTP_ADDR?" for a misspelt key, else the known names.
fn unknown_hint(key: &str) -> String {
    let closest = KNOWN
        .iter()
        .map(|known| (strsim::damerau_levenshtein(key, known), *known))
        .min();
    match closest {
        Some((distance, known)) if distance <= 3.max(key.len() / 5) => {
            format!("did you mean {}?", env_name(known))
        }
        _ => format!(
            "no such setting (`realtime-server config` lists them: {})",
            KNOWN
                .iter()
                .map(|k| env_name(k))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a valid value looks like, for settings whose type alone does not say.
fn example(key: &str) -> &'static str {
    match key {
        "http_addr" => " (give an IP address and a port, e.g. 127.0.0.1:4000 or 0.0.0.0:4000)",
        _ => "",
    }
}

/// Every setting's key, for the "unknown setting" message.
const KNOWN: [&str; 44] = [
    "database_url",
    "database_pool_size",
    "database_timeout_ms",
    "http_addr",
    "http_workers",
    "http_shutdown_timeout_secs",
    "http_max_body_bytes",
    "redis_url",
    "node_id",
    "trusted_proxies",
    "trusted_proxy_header",
    "web_client",
    "web_dir",
    "cors_allowed_origins",
    "public_origins",
    "log_format",
    "log_level",
    "migrate_on_start",
    "jwt_secret",
    "access_token_ttl_secs",
    "refresh_token_ttl_days",
    "rate_comments_per_user",
    "rate_comments_per_device",
    "rate_logins_per_ip",
    "rate_logins_per_account",
    "rate_registrations_per_ip",
    "ws_idle_timeout_secs",
    "ws_max_frame_bytes",
    "ws_outbox_frames",
    "ws_outbox_bytes",
    "ws_max_channels",
    "ws_pushes_per_second",
    "ws_push_burst",
    "ws_joins_per_second",
    "ws_max_sockets",
    "ws_max_sockets_per_user",
    "ws_max_sockets_per_address",
    "presence_window_ms",
    "firebase_database_url",
    "firebase_credentials",
    "firebase_secret",
    "firebase_max_attempts",
    "firebase_timeout_ms",
    "firebase_max_retry_secs",
];

impl Raw {
    fn validate(self) -> Result<Config, ConfigError> {
        let database_url = DatabaseUrl::parse(self.database_url.expose_secret())
            .map_err(|e| invalid("database_url", e.to_string()))?;
        if !(1..=1000).contains(&self.database_pool_size) {
            return Err(invalid("database_pool_size", "must be between 1 and 1000"));
        }
        if !(100..=60_000).contains(&self.database_timeout_ms) {
            return Err(invalid(
                "database_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if self.http_workers > 1024 {
            return Err(invalid(
                "http_workers",
                "must be at most 1024 (0 = one per core)",
            ));
        }
        if self.http_shutdown_timeout_secs > 3600 {
            return Err(invalid(
                "http_shutdown_timeout_secs",
                "must be at most 3600",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.http_max_body_bytes) {
            return Err(invalid(
                "http_max_body_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        let proxy_header = http_api::ForwardedHeader::parse(&self.trusted_proxy_header)
            .map_err(|r| invalid("trusted_proxy_header", r))?;
        let trusted_proxies = http_api::TrustedProxies::parse(&self.trusted_proxies, proxy_header)
            .map_err(|r| invalid("trusted_proxies", r))?;
        http_api::AllowedOrigins::parse("", &self.public_origins)
            .map_err(|r| invalid("public_origins", r))?;
        let allowed_origins =
            http_api::AllowedOrigins::parse(&self.cors_allowed_origins, &self.public_origins)
                .map_err(|r| invalid("cors_allowed_origins", r))?;
        let web_dir = self.web_dir.filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = &web_dir
            && !dir.join("index.html").is_file()
        {
            return Err(invalid(
                "web_dir",
                format!("{} has no index.html", dir.display()),
            ));
        }
        let node_id = match self.node_id.filter(|n| !n.is_empty()) {
            Some(id) => validate_node_id(&id)
                .map(|()| id)
                .map_err(|r| invalid("node_id", r))?,
            None => default_node_id(),
        };
        if let Some(redis) = &self.redis_url {
            validate_redis_url(redis.expose_secret()).map_err(|r| invalid("redis_url", r))?;
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose_secret().len() < auth::MIN_SECRET_BYTES
        {
            return Err(invalid(
                "jwt_secret",
                format!(
                    "must be at least {} bytes (e.g. `openssl rand -base64 48`)",
                    auth::MIN_SECRET_BYTES
                ),
            ));
        }
        if !(30..=24 * 3600).contains(&self.access_token_ttl_secs) {
            return Err(invalid(
                "access_token_ttl_secs",
                "must be between 30 and 86400",
            ));
        }
        if !(1..=365).contains(&self.refresh_token_ttl_days) {
            return Err(invalid(
                "refresh_token_ttl_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=3600).contains(&self.ws_idle_timeout_secs) {
            return Err(invalid(
                "ws_idle_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.ws_max_frame_bytes) {
            return Err(invalid(
                "ws_max_frame_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if !(16..=1_000_000).contains(&self.ws_outbox_frames) {
            return Err(invalid(
                "ws_outbox_frames",
                "must be between 16 and 1000000",
            ));
        }
        if !(1..=1000).contains(&self.ws_max_channels) {
            return Err(invalid("ws_max_channels", "must be between 1 and 1000"));
        }
        if !(self.ws_pushes_per_second > 0.0 && self.ws_pushes_per_second <= 10_000.0) {
            return Err(invalid(
                "ws_pushes_per_second",
                "must be above 0 and at most 10000",
            ));
        }
        if !(self.ws_push_burst >= 1.0 && self.ws_push_burst <= 100_000.0) {
            return Err(invalid("ws_push_burst", "must be between 1 and 100000"));
        }
        if !(64 * 1024..=1024 * 1024 * 1024).contains(&self.ws_outbox_bytes) {
            return Err(invalid(
                "ws_outbox_bytes",
                "must be between 65536 and 1073741824",
            ));
        }
        if !(self.ws_joins_per_second > 0.0 && self.ws_joins_per_second <= 10_000.0) {
            return Err(invalid(
                "ws_joins_per_second",
                "must be above 0 and at most 10000",
            ));
        }
        if self.ws_max_sockets > 10_000_000 {
            return Err(invalid(
                "ws_max_sockets",
                "must be 0 (from the open-files limit) or at most 10000000",
            ));
        }
        if !(1..=1_000_000).contains(&self.ws_max_sockets_per_user) {
            return Err(invalid(
                "ws_max_sockets_per_user",
                "must be between 1 and 1000000",
            ));
        }
        if !(1..=10_000_000).contains(&self.ws_max_sockets_per_address) {
            return Err(invalid(
                "ws_max_sockets_per_address",
                "must be between 1 and 10000000",
            ));
        }
        if self.presence_window_ms > 5000 {
            return Err(invalid("presence_window_ms", "must be at most 5000"));
        }
        let firebase = firebase_sync::MirrorSettings::from_settings(
            self.firebase_database_url.as_deref(),
            self.firebase_credentials
                .as_deref()
                .filter(|p| !p.as_os_str().is_empty()),
            self.firebase_secret
                .as_ref()
                .filter(|s| !s.expose_secret().is_empty()),
            self.firebase_max_attempts,
        )
        .map_err(|(setting, reason)| invalid(setting, reason))?;
        if !(100..=60_000).contains(&self.firebase_timeout_ms) {
            return Err(invalid(
                "firebase_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=86_400).contains(&self.firebase_max_retry_secs) {
            return Err(invalid(
                "firebase_max_retry_secs",
                "must be between 1 and 86400",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| invalid("log_level", format!("not a log filter: {e}")))?;
        Ok(Config {
            database_url,
            database_pool_size: self.database_pool_size,
            database_timeout: Duration::from_millis(self.database_timeout_ms),
            http_addr: self.http_addr,
            http_workers: self.http_workers,
            http_shutdown_timeout: Duration::from_secs(self.http_shutdown_timeout_secs),
            http_max_body_bytes: self.http_max_body_bytes,
            redis_url: self.redis_url.filter(|u| !u.expose_secret().is_empty()),
            node_id,
            trusted_proxies,
            browser: http_api::BrowserOptions {
                web_client: self.web_client,
                web_dir,
                allowed_origins,
            },
            log_format: self.log_format,
            log_level: self.log_level,
            migrate_on_start: self.migrate_on_start,
            jwt_secret: self.jwt_secret.filter(|s| !s.expose_secret().is_empty()),
            access_token_ttl: Duration::from_secs(self.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl_days * 24 * 3600),
            rate_limits: domain::limits::Quotas {
                comments_per_user: self.rate_comments_per_user,
                comments_per_device: self.rate_comments_per_device,
                logins_per_ip: self.rate_logins_per_ip,
                logins_per_account: self.rate_logins_per_account,
                registrations_per_ip: self.rate_registrations_per_ip,
            },
            realtime: realtime::RealtimeConfig {
                max_channels: self.ws_max_channels,
                outbox_capacity: self.ws_outbox_frames,
                outbox_bytes: self.ws_outbox_bytes,
                pushes_per_second: self.ws_pushes_per_second,
                push_burst: self.ws_push_burst,
                joins_per_second: self.ws_joins_per_second,
                // A reconnect rejoins every channel at once.
                join_burst: self.ws_max_channels.max(20) as f64,
                // 0 until startup reads the open-files limit (see `app::socket_budget`).
                max_sockets: self.ws_max_sockets,
                max_sockets_per_user: self.ws_max_sockets_per_user,
                max_sockets_per_address: self.ws_max_sockets_per_address,
                presence_window: Duration::from_millis(self.presence_window_ms),
                max_frame_bytes: self.ws_max_frame_bytes,
                idle_timeout: Duration::from_secs(self.ws_idle_timeout_secs),
                ..realtime::RealtimeConfig::default()
            },
            firebase,
            firebase_timeout: Duration::from_millis(self.firebase_timeout_ms),
            firebase_max_retry: Duration::from_secs(self.firebase_max_retry_secs),
        })
    }
}

/// 1 to 64 of `A-Z a-z 0-9 . _ : -`: it appears in logs, metric labels and every Redis
/// message.
fn validate_node_id(id: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if id.len() <= 64 && id.chars().all(fine) {
        Ok(())
    } else {
        Err("1 to 64 letters, digits, '.', '_', ':' or '-', e.g. web-1".into())
    }
}

/// The host name and the process id, e.g. `web-1-4242`.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                .take(48)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    format!("{host}-{}", std::process::id())
}

fn validate_redis_url(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Ok(());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(
        url.scheme(),
        "redis" | "rediss" | "redis-cluster" | "rediss-cluster"
    ) {
        return Err(format!(
            "scheme must be redis:// or rediss:// (redis-cluster:// or rediss-cluster:// for a cluster), not {}://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("a host is required".into());
    }
    Ok(())
}

mod effective;
pub use effective::Setting;
use effective::shown;

#[cfg(test)]
mod tests;
