//! What the fake answers, before it becomes a hyper response.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

/// A response: status, extra headers, and an optional JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The body text; `None` = no body and no content type.
    pub(crate) body: Option<String>,
}

impl Reply {
    /// `status` with `value` as its JSON body.
    pub(crate) fn json(status: u16, value: &Value, pretty: bool) -> Self {
        let text = if pretty {
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        } else {
            value.to_string()
        };
        Self::text(status, text)
    }

    /// `status` with a body sent verbatim as JSON (which it may not be).
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body.into()),
        }
    }

    /// `status` with no body.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// The database error envelope `{"error": message}`.
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::json(status, &json!({ "error": message }), false)
    }

    /// A fault's error: the status's reason phrase as the message; statuses that cannot have
    /// a body get none, and codes outside 200..=599 become 500.
    pub(crate) fn fault(code: u16) -> Self {
        let status = if (200..=599).contains(&code) {
            code
        } else {
            500
        };
        if matches!(status, 204 | 205 | 304) {
            return Self::empty(status);
        }
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        Self::error(status, &format!("{reason} (injected by firebase-fake)"))
    }

    /// Adds a header.
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds an `ETag` header.
    pub(crate) fn with_etag(self, etag: String) -> Self {
        self.with("etag", etag)
    }

    /// The hyper response.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder().status(status);
        if self.body.is_some() {
            builder = builder.header("content-type", "application/json; charset=utf-8");
        }
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder = builder.header("cache-control", "no-cache");
        let body = Full::new(Bytes::from(self.body.unwrap_or_default()));
        builder.body(body).unwrap_or_else(|_| {
            let mut fallback = Response::new(Full::new(Bytes::from_static(
                br#"{"error":"firebase-fake could not build its response"}"#,
            )));
            *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
    }
}
