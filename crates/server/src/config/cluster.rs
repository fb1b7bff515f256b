//! Several nodes: the Redis they share, and this node's name among them.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::checks::Check;
use super::effective::shown;

/// The cluster settings as read; both unset is a single node named after its host.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Cluster {
    #[serde(serialize_with = "shown::optional_url")]
    redis_url: Option<SecretString>,
    node_id: Option<String>,
}

pub(super) const CHECKS: &[Check<Cluster>] = &[
    Check {
        variable: "RTS_REDIS_URL",
        rule: |s| match &s.redis_url {
            Some(url) => redis_url(url.expose_secret()),
            None => Ok(()),
        },
    },
    Check {
        variable: "RTS_NODE_ID",
        rule: |s| match s.given_node_id() {
            Some(id) => node_id(id),
            None => Ok(()),
        },
    },
];

impl Cluster {
    /// `None`: a single node, fanout in process.
    pub(super) fn redis_url(&self) -> Option<SecretString> {
        self.redis_url
            .clone()
            .filter(|u| !u.expose_secret().is_empty())
    }

    /// The given name, else the host name and the process id.
    pub(super) fn node_id(&self) -> String {
        self.given_node_id()
            .map_or_else(default_node_id, str::to_owned)
    }

    fn given_node_id(&self) -> Option<&str> {
        self.node_id.as_deref().filter(|n| !n.is_empty())
    }
}

/// 1 to 64 of `A-Z a-z 0-9 . _ : -`: it appears in logs, metric labels and every Redis
/// message.
fn node_id(id: &str) -> Result<(), String> {
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

/// Empty (one node), or a `redis://`, `rediss://` or cluster URL with a host.
fn redis_url(raw: &str) -> Result<(), String> {
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
