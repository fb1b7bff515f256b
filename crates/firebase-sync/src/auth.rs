//! Credentials on each request. A service account trades a signed RS256 assertion for an
//! OAuth2 access token at its key file's `token_uri`; the token is cached, renewed a few
//! minutes before it expires, and renewed at once after a 401. One renewal at a time: the
//! requests that need a token meanwhile wait for it rather than each asking.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::{FailureKind, RtdbError};
use crate::settings::{Credentials, SCOPES, ServiceAccount};

/// A token is renewed this long before its stated expiry (Google's libraries: 3-4 min).
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// An assertion is valid for this long (Google's maximum is one hour).
const ASSERTION_LIFETIME: i64 = 3600;
/// `iat` is backdated this much, for clocks a little ahead of Google's.
const CLOCK_SKEW: i64 = 30;

/// What one request carries.
#[derive(Clone, Debug)]
pub(crate) enum RequestAuth {
    Bearer(String),
    Secret(String),
    None,
}

impl RequestAuth {
    /// Whether a 401 may be cured by a new token.
    pub(crate) fn renewable(&self) -> bool {
        matches!(self, Self::Bearer(_))
    }
}

#[derive(Clone)]
struct AccessToken {
    token: SecretString,
    renew_at: Instant,
}

/// Hands out credentials for requests.
pub(crate) struct Authorizer {
    credentials: Credentials,
    http: reqwest::Client,
    cached: Mutex<Option<AccessToken>>,
    fetched: AtomicU64,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl Authorizer {
    pub(crate) fn new(credentials: Credentials, http: reqwest::Client) -> Self {
        Self {
            credentials,
            http,
            cached: Mutex::new(None),
            fetched: AtomicU64::new(0),
        }
    }

    pub(crate) fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// The credentials for the next request.
    pub(crate) async fn current(&self) -> Result<RequestAuth, RtdbError> {
        let account = match &self.credentials {
            Credentials::ServiceAccount(account) => account,
            Credentials::Secret(secret) => {
                return Ok(RequestAuth::Secret(secret.expose_secret().to_owned()));
            }
            Credentials::None => return Ok(RequestAuth::None),
        };
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(RequestAuth::Bearer(token.token.expose_secret().to_owned()));
        }
        let token = self.fetch(account).await?;
        let bearer = RequestAuth::Bearer(token.token.expose_secret().to_owned());
        *cached = Some(token);
        Ok(bearer)
    }

    /// Forgets the token a request was refused with, unless another request renewed it
    /// already; the next [`current`](Self::current) fetches a new one.
    pub(crate) async fn renew(&self, refused: &RequestAuth) {
        let RequestAuth::Bearer(refused) = refused else {
            return;
        };
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.token.expose_secret() == refused)
        {
            *cached = None;
        }
    }

    async fn fetch(&self, account: &ServiceAccount) -> Result<AccessToken, RtdbError> {
        let now = chrono::Utc::now().timestamp() - CLOCK_SKEW;
        let claims = Assertion {
            iss: &account.client_email,
            scope: SCOPES,
            aud: account.token_uri.as_str(),
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = account.private_key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &account.key)
            .map_err(|e| RtdbError::new(FailureKind::Token, format!("cannot sign: {e}")))?;
        // The assertion is base64url and dots: nothing to escape.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let response = self
            .http
            .post(account.token_uri.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(RtdbError::from_reqwest)?;
        if !response.status().is_success() {
            let mut error = RtdbError::from_response(response).await;
            // A refused assertion is a credentials problem; an overloaded endpoint is not.
            if matches!(
                error.kind,
                FailureKind::Rejected | FailureKind::Unauthorized | FailureKind::NotFound
            ) {
                error.kind = FailureKind::Token;
            }
            error.message = format!("token endpoint: {}", error.message);
            return Err(error);
        }
        let answer: TokenResponse = response.json().await.map_err(|e| {
            RtdbError::new(
                FailureKind::Token,
                format!("token endpoint answered no token: {}", e.without_url()),
            )
        })?;
        self.fetched.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("firebase_access_tokens_fetched_total").increment(1);
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        Ok(AccessToken {
            token: SecretString::from(answer.access_token),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        })
    }
}
