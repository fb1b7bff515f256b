//! Typed configuration, loaded once in layers: built-in defaults, then an optional TOML
//! file (`RTS_CONFIG`), then `RTS_*` environment variables. Keys are the same everywhere:
//! `http_addr` in the file is `RTS_HTTP_ADDR` in the environment. A malformed or unknown
//! setting stops startup with one line naming it; secrets never appear in logs.
//!
//! Each concern is a module with its settings as read (a field per key), their defaults
//! (taken from the type that uses them, e.g. `persistence::PoolOptions` or
//! `realtime::RealtimeConfig`), a table of the checks they must pass, and what they become
//! in [`Config`]. Adding a setting is adding it there and to README.md's settings table,
//! which a test compares with these.

mod checks;
mod cluster;
mod database;
mod effective;
mod firebase;
mod http;
mod layers;
mod logging;
mod rates;
mod sockets;
mod tokens;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use figment::Figment;
use persistence::DatabaseUrl;
use secrecy::SecretString;
use serde::Serialize;

pub use effective::Setting;
pub use logging::LogFormat;

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
        layers::read(vars)?.1.validate()
    }

    /// Every setting with its value in effect (secrets hidden), its default and where the
    /// value came from, for `realtime-server config`; fails as loading would.
    pub fn in_effect(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<Setting>, ConfigError> {
        let (figment, settings) = layers::read(vars)?;
        let described = effective::describe(&figment, &settings)?;
        settings.validate()?;
        Ok(described)
    }
}

/// Every setting as read from the layers, by concern. Written out flat, secrets hidden,
/// for `realtime-server config`; its default holds every setting's default.
#[derive(Debug, Default, Serialize)]
struct Settings {
    #[serde(flatten)]
    database: database::Database,
    #[serde(flatten)]
    http: http::Http,
    #[serde(flatten)]
    cluster: cluster::Cluster,
    #[serde(flatten)]
    logging: logging::Logging,
    #[serde(flatten)]
    tokens: tokens::Tokens,
    #[serde(flatten)]
    rates: rates::Rates,
    #[serde(flatten)]
    sockets: sockets::Sockets,
    #[serde(flatten)]
    firebase: firebase::Firebase,
}

impl Settings {
    /// Each concern's settings from the layers; what no layer sets keeps its default.
    fn extract(figment: &Figment) -> Result<Self, Box<figment::Error>> {
        Ok(Self {
            database: figment.extract()?,
            http: figment.extract()?,
            cluster: figment.extract()?,
            logging: figment.extract()?,
            tokens: figment.extract()?,
            rates: figment.extract()?,
            sockets: figment.extract()?,
            firebase: figment.extract()?,
        })
    }

    /// Every concern's checks, then the typed configuration.
    fn validate(self) -> Result<Config, ConfigError> {
        let Self {
            database,
            http,
            cluster,
            logging,
            tokens,
            rates,
            sockets,
            firebase,
        } = self;
        checks::run(&database, database::CHECKS)?;
        checks::run(&http, http::CHECKS)?;
        checks::run(&cluster, cluster::CHECKS)?;
        checks::run(&logging, logging::CHECKS)?;
        checks::run(&tokens, tokens::CHECKS)?;
        checks::run(&sockets, sockets::CHECKS)?;
        checks::run(&firebase, firebase::CHECKS)?;
        Ok(Config {
            database_url: database.url()?,
            database_pool_size: database.database_pool_size,
            database_timeout: database.timeout(),
            migrate_on_start: database.migrate_on_start,
            http_addr: http.http_addr,
            http_workers: http.http_workers,
            http_shutdown_timeout: http.shutdown_timeout(),
            http_max_body_bytes: http.http_max_body_bytes,
            trusted_proxies: http.trusted_proxies()?,
            browser: http.browser()?,
            redis_url: cluster.redis_url(),
            node_id: cluster.node_id(),
            log_format: logging.log_format,
            log_level: logging.log_level,
            jwt_secret: tokens.jwt_secret(),
            access_token_ttl: tokens.access_ttl(),
            refresh_token_ttl: tokens.refresh_ttl(),
            rate_limits: rates.quotas(),
            realtime: sockets.realtime(),
            firebase: firebase.mirror()?,
            firebase_timeout: firebase.timeout(),
            firebase_max_retry: firebase.max_retry(),
        })
    }
}

/// The variable of a key: `http_addr` is `RTS_HTTP_ADDR`.
fn env_name(key: &str) -> String {
    format!("RTS_{}", key.to_uppercase())
}

/// Whole milliseconds, as `*_ms` settings are written.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
