//! Sign-in tokens: the key access tokens are signed with, and how long access and refresh
//! tokens last (defaults from `auth::SessionTimes`).

use std::time::Duration;

use auth::{MIN_SECRET_BYTES, SessionTimes};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::checks::{Check, between, require};
use super::effective::shown;

const DAY_SECS: u64 = 24 * 3600;

/// The token settings as read.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Tokens {
    #[serde(serialize_with = "shown::secret")]
    jwt_secret: Option<SecretString>,
    access_token_ttl_secs: u64,
    refresh_token_ttl_days: u64,
}

impl Default for Tokens {
    fn default() -> Self {
        let times = SessionTimes::default();
        Self {
            jwt_secret: None,
            access_token_ttl_secs: times.access_ttl.as_secs(),
            refresh_token_ttl_days: times.refresh_ttl.as_secs() / DAY_SECS,
        }
    }
}

pub(super) const CHECKS: &[Check<Tokens>] = &[
    Check {
        variable: "RTS_JWT_SECRET",
        rule: |s| match &s.jwt_secret {
            Some(secret) => require(
                secret.expose_secret().len() >= MIN_SECRET_BYTES,
                format!(
                    "must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"
                ),
            ),
            None => Ok(()),
        },
    },
    Check {
        variable: "RTS_ACCESS_TOKEN_TTL_SECS",
        rule: |s| between(s.access_token_ttl_secs, 30, DAY_SECS),
    },
    Check {
        variable: "RTS_REFRESH_TOKEN_TTL_DAYS",
        rule: |s| between(s.refresh_token_ttl_days, 1, 365),
    },
];

impl Tokens {
    /// `None` when unset or empty: `serve` refuses to start without one.
    pub(super) fn jwt_secret(&self) -> Option<SecretString> {
        self.jwt_secret
            .clone()
            .filter(|s| !s.expose_secret().is_empty())
    }

    pub(super) fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub(super) fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_days * DAY_SECS)
    }
}
