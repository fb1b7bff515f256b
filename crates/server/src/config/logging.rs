//! Logging: the format of log lines and which of them are written.

use serde::{Deserialize, Serialize};

use super::checks::Check;

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

/// The logging settings as read.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Logging {
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info,persistence=debug`.
    pub log_level: String,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            log_format: LogFormat::default(),
            log_level: "info".to_owned(),
        }
    }
}

pub(super) const CHECKS: &[Check<Logging>] = &[Check {
    variable: "RTS_LOG_LEVEL",
    rule: |s| {
        tracing_subscriber::EnvFilter::try_new(&s.log_level)
            .map(drop)
            .map_err(|e| format!("not a log filter: {e}"))
    },
}];
