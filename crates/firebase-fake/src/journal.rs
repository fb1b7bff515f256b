//! The request journal: every request the fake received, with what it answered.

use std::time::SystemTime;

use serde_json::Value;

/// Which endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The Realtime Database REST API (`/<path>.json`, and anything else that is not `/token`).
    Database,
    /// The OAuth2 token endpoint (`/token`).
    Token,
}

/// The credential a request presented (whether it was accepted shows in [`Request::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credential.
    None,
    /// `Authorization: Bearer <token>` (other than `owner`).
    Bearer(String),
    /// `?access_token=<token>` (only looked at without an `Authorization` header).
    AccessToken(String),
    /// `?auth=` with the fake's legacy database secret.
    Secret,
    /// `Authorization: Bearer owner`, the emulator's admin credential.
    Owner,
    /// Something unusable: `?auth=` with another value, or an `Authorization` header that is
    /// not `Bearer <token>`.
    Invalid,
}

/// One received request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Sequence number, from 1, in arrival order (not reset by [`reset`](crate::FakeFirebase::reset)).
    pub id: u64,
    /// Database or token endpoint.
    pub endpoint: Endpoint,
    /// The HTTP method; for a POST with `X-HTTP-Method-Override`, the overriding method.
    pub method: String,
    /// The decoded node path without `.json` and without a leading slash (`""` for the root,
    /// `"token"` for the token endpoint); for a path that could not be parsed, the raw path
    /// without its leading slash.
    pub path: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The request headers (names lower-case), in order; values that are not text are left out.
    pub headers: Vec<(String, String)>,
    /// The credential presented.
    pub auth: Auth,
    /// The body parsed as JSON (for the token endpoint: its form fields as a JSON object);
    /// `None` when empty or unparseable.
    pub body: Option<Value>,
    /// The body as text (lossy UTF-8).
    pub raw_body: String,
    /// The status the fake answered; 0 while unanswered, and for dropped or abandoned hung requests.
    pub status: u16,
    /// When the request arrived (its headers and body were read).
    pub at: SystemTime,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a database request with `method` at exactly `path`.
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.endpoint == Endpoint::Database
            && self.method.eq_ignore_ascii_case(method)
            && self.path == crate::path::split(path).join("/")
    }
}
