//! The Realtime Database REST API, as far as the mirror uses it: one multi-path PATCH at
//! the root for writes (atomic, idempotent: every path is set to an absolute value), and
//! plain or shallow GETs for reconciliation. Every request has a timeout; a 401 renews the
//! access token once and tries once more.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::auth::{Authorizer, RequestAuth};
use crate::settings::{DatabaseUrl, MirrorSettings};

/// How long one request may take by default, connecting included. The outbox lease is
/// longer, so a request that gave up cannot land after another worker took its changes
/// over.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a failed request means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer in time: the write may or may not have happened.
    Timeout,
    /// No connection, or it broke before an answer.
    Network,
    /// 5xx: Firebase could not serve it (a 503 was not attempted).
    Unavailable,
    /// 429: too many requests.
    RateLimited,
    /// 401 or 403 after a fresh token: the credentials or rules refuse us.
    Unauthorized,
    /// 404: no such database (a setting is wrong).
    NotFound,
    /// Another 4xx: this request will never succeed as it is.
    Rejected,
    /// The token endpoint refused or failed.
    Token,
    /// An answer that is not what the API documents.
    BadResponse,
}

impl FailureKind {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Rejected => "rejected",
            Self::Token => "token",
            Self::BadResponse => "bad_response",
        }
    }
}

/// A request that did not succeed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{} ({message})", kind.as_str())]
pub struct RtdbError {
    pub kind: FailureKind,
    /// From a `Retry-After` header.
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl RtdbError {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            retry_after: None,
            message: message.into(),
        }
    }

    /// Sending the same request again cannot succeed.
    pub fn is_permanent(&self) -> bool {
        self.kind == FailureKind::Rejected
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            FailureKind::Timeout
        } else if e.is_decode() {
            FailureKind::BadResponse
        } else {
            FailureKind::Network
        };
        // Without the URL: it may carry a legacy secret.
        Self::new(kind, e.without_url().to_string())
    }

    /// From a response that is not a success.
    pub(crate) async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let kind = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FailureKind::Unauthorized,
            StatusCode::NOT_FOUND => FailureKind::NotFound,
            StatusCode::TOO_MANY_REQUESTS => FailureKind::RateLimited,
            s if s.is_server_error() => FailureKind::Unavailable,
            _ => FailureKind::Rejected,
        };
        let text = response.text().await.unwrap_or_default();
        // Firebase says `{"error": "..."}`; anything else is shown as it came, cut short.
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Self {
            kind,
            retry_after,
            message: format!("{} {message}", status.as_u16()),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Google's front end).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// What the mirror needs of a Realtime Database.
#[async_trait]
pub trait RealtimeDatabase: Send + Sync {
    /// Sets every path (relative to the root, `a/b/c`) to its value, `null` deleting, in
    /// one atomic multi-path update. No path may be another's ancestor.
    async fn update(&self, updates: &Map<String, Value>) -> Result<(), RtdbError>;
    /// The value at `path` (`null` if nothing is there).
    async fn read(&self, path: &str) -> Result<Value, RtdbError>;
    /// The names of the children of `path` (a shallow read).
    async fn children(&self, path: &str) -> Result<Vec<String>, RtdbError>;
}

/// The REST client.
#[derive(Debug)]
pub struct RestClient {
    http: reqwest::Client,
    database: DatabaseUrl,
    auth: Authorizer,
}

/// Installs ring as rustls's crypto provider once per process (reqwest is built without
/// one, so that aws-lc-sys is never compiled).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("realtime-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl RestClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(settings: &MirrorSettings, timeout: Duration) -> Result<Self, String> {
        let http = http_client(timeout)?;
        Ok(Self {
            auth: Authorizer::new(settings.credentials.clone(), http.clone()),
            http,
            database: settings.database.clone(),
        })
    }

    /// How many access tokens were fetched so far (metrics and tests).
    pub fn tokens_fetched(&self) -> u64 {
        self.auth.fetched()
    }

    /// Sends the request `build` makes, with credentials; on a 401 renews the token once
    /// and sends again.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RtdbError> {
        let mut renewed = false;
        loop {
            let auth = self.auth.current().await?;
            let request = match &auth {
                RequestAuth::Bearer(token) => build(&self.http).bearer_auth(token),
                RequestAuth::Secret(secret) => build(&self.http).query(&[("auth", secret)]),
                RequestAuth::None => build(&self.http),
            };
            let response = request.send().await.map_err(RtdbError::from_reqwest)?;
            if response.status() == StatusCode::UNAUTHORIZED && !renewed && auth.renewable() {
                self.auth.renew(&auth).await;
                renewed = true;
                continue;
            }
            if response.status().is_success() {
                return Ok(response);
            }
            return Err(RtdbError::from_response(response).await);
        }
    }
}

#[async_trait]
impl RealtimeDatabase for RestClient {
    async fn update(&self, updates: &Map<String, Value>) -> Result<(), RtdbError> {
        let mut url = self.database.node("");
        url.query_pairs_mut().append_pair("print", "silent");
        self.send(|http| http.patch(url.clone()).json(updates))
            .await
            .map(drop)
    }

    async fn read(&self, path: &str) -> Result<Value, RtdbError> {
        let url = self.database.node(path);
        let response = self.send(|http| http.get(url.clone())).await?;
        response.json().await.map_err(RtdbError::from_reqwest)
    }

    async fn children(&self, path: &str) -> Result<Vec<String>, RtdbError> {
        let mut url = self.database.node(path);
        url.query_pairs_mut().append_pair("shallow", "true");
        let response = self.send(|http| http.get(url.clone())).await?;
        let value: Value = response.json().await.map_err(RtdbError::from_reqwest)?;
        Ok(match value {
            Value::Object(map) => map.into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        })
    }
}
