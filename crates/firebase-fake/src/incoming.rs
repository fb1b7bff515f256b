//! A received request, parsed once: endpoint, effective method, node path, query, credential.

use hyper::HeaderMap;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, HOST};
use serde_json::Value;

use crate::journal::{Auth, Endpoint, Request};
use crate::path::{self, PathError};

/// A request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) endpoint: Endpoint,
    /// Upper-case; for a database POST with `X-HTTP-Method-Override`, the override.
    pub(crate) method: String,
    /// The raw path, without its leading slash.
    pub(crate) raw_path: String,
    /// The node path, or why it is not one.
    pub(crate) path: Result<Vec<String>, PathError>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) auth: Auth,
}

impl Incoming {
    /// Parses the parts of a hyper request; `secret` is the legacy database secret.
    pub(crate) fn new(parts: &hyper::http::request::Parts, body: Bytes, secret: &str) -> Self {
        let raw = parts.uri.path();
        let endpoint = if raw == "/token" {
            Endpoint::Token
        } else {
            Endpoint::Database
        };
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let mut method = parts.method.as_str().to_ascii_uppercase();
        if endpoint == Endpoint::Database
            && method == "POST"
            && let Some(over) = parts
                .headers
                .get("x-http-method-override")
                .and_then(|v| v.to_str().ok())
        {
            method = over.trim().to_ascii_uppercase();
        }
        let auth = classify_auth(&parts.headers, &query, secret);
        Self {
            endpoint,
            method,
            raw_path: raw.trim_start_matches('/').to_owned(),
            path: path::parse_request_path(raw),
            query,
            headers: parts.headers.clone(),
            body,
            auth,
        }
    }

    /// The first value of query parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Header `name` as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The host name's first label when the host is a name with a dot (`fake-db.localhost`),
    /// the host-based form of the namespace.
    pub(crate) fn host_namespace(&self) -> Option<&str> {
        let host = self.headers.get(HOST).and_then(|v| v.to_str().ok())?;
        let name = host.split(':').next()?;
        if name.starts_with('[') || name.parse::<std::net::IpAddr>().is_ok() || !name.contains('.')
        {
            return None;
        }
        name.split('.').next().filter(|label| !label.is_empty())
    }

    /// The node path for journal entries and fault matching.
    pub(crate) fn node_path(&self) -> Vec<String> {
        match (&self.endpoint, &self.path) {
            (Endpoint::Token, _) => vec!["token".to_owned()],
            (Endpoint::Database, Ok(segments)) => segments.clone(),
            (Endpoint::Database, Err(_)) => path::split(self.raw_path.trim_end_matches(".json")),
        }
    }

    /// A journal entry for this request (id and status filled in later).
    pub(crate) fn journal_entry(&self) -> Request {
        let path = match (&self.endpoint, &self.path) {
            (Endpoint::Token, _) => "token".to_owned(),
            (Endpoint::Database, Ok(segments)) => segments.join("/"),
            (Endpoint::Database, Err(_)) => self.raw_path.clone(),
        };
        let body = match self.endpoint {
            Endpoint::Database => serde_json::from_slice::<Value>(&self.body).ok(),
            Endpoint::Token if self.body.is_empty() => None,
            Endpoint::Token => Some(Value::Object(
                form_urlencoded::parse(&self.body)
                    .into_owned()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )),
        };
        Request {
            id: 0,
            endpoint: self.endpoint,
            method: self.method.clone(),
            path,
            query: self.query.clone(),
            headers: self
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            auth: self.auth.clone(),
            body,
            raw_body: String::from_utf8_lossy(&self.body).into_owned(),
            status: 0,
            at: std::time::SystemTime::now(),
        }
    }
}

/// The credential: the `Authorization` header first, then `?access_token=`, then `?auth=`.
fn classify_auth(headers: &HeaderMap, query: &[(String, String)], secret: &str) -> Auth {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(header) = headers.get(AUTHORIZATION) {
        let Ok(text) = header.to_str() else {
            return Auth::Invalid;
        };
        let mut words = text.split_whitespace();
        return match (words.next(), words.next(), words.next()) {
            (Some(scheme), Some("owner"), None) if scheme.eq_ignore_ascii_case("bearer") => {
                Auth::Owner
            }
            (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => {
                Auth::Bearer(token.to_owned())
            }
            _ => Auth::Invalid,
        };
    }
    if let Some(token) = param("access_token") {
        return Auth::AccessToken(token.to_owned());
    }
    match param("auth") {
        Some(given) if given == secret => Auth::Secret,
        Some(_) => Auth::Invalid,
        None => Auth::None,
    }
}
