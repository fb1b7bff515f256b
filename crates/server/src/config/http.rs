//! HTTP: where to listen, the workers, shutdown and body limits (defaults from
//! `http_api::HttpOptions`), the reverse proxies to believe, and what browsers get: the web
//! client (defaults from `http_api::BrowserOptions`) and the origins allowed to use the API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http_api::{AllowedOrigins, BrowserOptions, ForwardedHeader, HttpOptions, TrustedProxies};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::checks::{Check, at_most, between, invalid, require};

/// The HTTP settings as read.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Http {
    pub http_addr: SocketAddr,
    pub http_workers: usize,
    http_shutdown_timeout_secs: u64,
    pub http_max_body_bytes: usize,
    trusted_proxies: String,
    trusted_proxy_header: String,
    web_client: bool,
    web_dir: Option<PathBuf>,
    cors_allowed_origins: String,
    public_origins: String,
}

impl Default for Http {
    fn default() -> Self {
        let http = HttpOptions::default();
        let browser = BrowserOptions::default();
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4000)),
            http_workers: http.workers,
            http_shutdown_timeout_secs: http.shutdown_timeout.as_secs(),
            http_max_body_bytes: http.max_body_bytes,
            trusted_proxies: String::new(),
            trusted_proxy_header: "x-forwarded-for".to_owned(),
            web_client: browser.web_client,
            web_dir: browser.web_dir,
            cors_allowed_origins: String::new(),
            public_origins: String::new(),
        }
    }
}

pub(super) const CHECKS: &[Check<Http>] = &[
    Check {
        variable: "RTS_HTTP_WORKERS",
        rule: |s| {
            require(
                s.http_workers <= 1024,
                "must be at most 1024 (0 = one per core)",
            )
        },
    },
    Check {
        variable: "RTS_HTTP_SHUTDOWN_TIMEOUT_SECS",
        rule: |s| at_most(s.http_shutdown_timeout_secs, 3600),
    },
    Check {
        variable: "RTS_HTTP_MAX_BODY_BYTES",
        rule: |s| between(s.http_max_body_bytes, 1024, 64 * 1024 * 1024),
    },
    Check {
        variable: "RTS_PUBLIC_ORIGINS",
        rule: |s| AllowedOrigins::parse("", &s.public_origins).map(drop),
    },
    Check {
        variable: "RTS_WEB_DIR",
        rule: |s| match s.web_dir() {
            Some(dir) if !dir.join("index.html").is_file() => {
                Err(format!("{} has no index.html", dir.display()))
            }
            _ => Ok(()),
        },
    },
];

impl Http {
    pub(super) fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.http_shutdown_timeout_secs)
    }

    /// The proxies whose header (`RTS_TRUSTED_PROXY_HEADER`) names the client.
    pub(super) fn trusted_proxies(&self) -> Result<TrustedProxies, ConfigError> {
        let header = ForwardedHeader::parse(&self.trusted_proxy_header)
            .map_err(|r| invalid("RTS_TRUSTED_PROXY_HEADER", r))?;
        TrustedProxies::parse(&self.trusted_proxies, header)
            .map_err(|r| invalid("RTS_TRUSTED_PROXIES", r))
    }

    pub(super) fn browser(&self) -> Result<BrowserOptions, ConfigError> {
        let allowed_origins =
            AllowedOrigins::parse(&self.cors_allowed_origins, &self.public_origins)
                .map_err(|r| invalid("RTS_CORS_ALLOWED_ORIGINS", r))?;
        Ok(BrowserOptions {
            web_client: self.web_client,
            web_dir: self.web_dir().cloned(),
            allowed_origins,
        })
    }

    /// `None` when unset or empty.
    fn web_dir(&self) -> Option<&PathBuf> {
        self.web_dir.as_ref().filter(|d| !d.as_os_str().is_empty())
    }
}
