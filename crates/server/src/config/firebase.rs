//! The Firebase mirror: the database to mirror into and how to sign in to it, and how hard
//! to try (defaults from `firebase_sync`'s request timeout and worker options).

use std::path::PathBuf;
use std::time::Duration;

use firebase_sync::{MirrorSettings, REQUEST_TIMEOUT, WorkerOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::checks::{Check, between, invalid};
use super::effective::shown;
use super::{ConfigError, env_name};

/// The mirror's settings as read; no database URL means no mirror.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Firebase {
    firebase_database_url: Option<String>,
    firebase_credentials: Option<PathBuf>,
    #[serde(serialize_with = "shown::secret")]
    firebase_secret: Option<SecretString>,
    firebase_max_attempts: u32,
    firebase_timeout_ms: u64,
    firebase_max_retry_secs: u64,
}

impl Default for Firebase {
    fn default() -> Self {
        let worker = WorkerOptions::default();
        Self {
            firebase_database_url: None,
            firebase_credentials: None,
            firebase_secret: None,
            firebase_max_attempts: worker.max_attempts,
            firebase_timeout_ms: super::millis(REQUEST_TIMEOUT),
            firebase_max_retry_secs: worker.max_backoff.as_secs(),
        }
    }
}

pub(super) const CHECKS: &[Check<Firebase>] = &[
    Check {
        variable: "RTS_FIREBASE_TIMEOUT_MS",
        rule: |s| between(s.firebase_timeout_ms, 100, 60_000),
    },
    Check {
        variable: "RTS_FIREBASE_MAX_RETRY_SECS",
        rule: |s| between(s.firebase_max_retry_secs, 1, 86_400),
    },
];

impl Firebase {
    /// `None`: no mirror (and no outbox rows).
    pub(super) fn mirror(&self) -> Result<Option<MirrorSettings>, ConfigError> {
        MirrorSettings::from_settings(
            self.firebase_database_url.as_deref(),
            self.firebase_credentials
                .as_deref()
                .filter(|p| !p.as_os_str().is_empty()),
            self.firebase_secret
                .as_ref()
                .filter(|s| !s.expose_secret().is_empty()),
            self.firebase_max_attempts,
        )
        .map_err(|(key, reason)| invalid(&env_name(key), reason))
    }

    /// How long one Firebase request may take.
    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.firebase_timeout_ms)
    }

    /// The longest wait between two tries of a change.
    pub(super) fn max_retry(&self) -> Duration {
        Duration::from_secs(self.firebase_max_retry_secs)
    }
}
