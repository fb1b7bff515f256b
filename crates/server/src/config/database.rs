//! MariaDB: which server and database, the connection pool, and whether `serve` migrates
//! first. The pool's defaults are `persistence::PoolOptions`'s.

use std::time::Duration;

use persistence::{DatabaseUrl, PoolOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::checks::{Check, between, invalid};
use super::effective::shown;

/// The database settings as read.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Database {
    #[serde(serialize_with = "shown::url")]
    database_url: SecretString,
    pub database_pool_size: usize,
    database_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl Default for Database {
    fn default() -> Self {
        let pool = PoolOptions::default();
        Self {
            database_url: SecretString::from("mysql://root@127.0.0.1:3306/realtime_server"),
            database_pool_size: pool.max_size,
            database_timeout_ms: super::millis(pool.timeout),
            migrate_on_start: false,
        }
    }
}

pub(super) const CHECKS: &[Check<Database>] = &[
    Check {
        variable: "RTS_DATABASE_POOL_SIZE",
        rule: |s| between(s.database_pool_size, 1, 1000),
    },
    Check {
        variable: "RTS_DATABASE_TIMEOUT_MS",
        rule: |s| between(s.database_timeout_ms, 100, 60_000),
    },
];

impl Database {
    pub(super) fn url(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(self.database_url.expose_secret())
            .map_err(|e| invalid("RTS_DATABASE_URL", e.to_string()))
    }

    /// How long a request waits for a connection before it is answered 503.
    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.database_timeout_ms)
    }
}
