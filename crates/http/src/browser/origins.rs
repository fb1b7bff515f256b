//! Which web origins may use the API from a browser (CORS) and open sockets (the Origin
//! check Phoenix calls `check_origin`): the server's own, and those an operator lists in
//! `RTS_CORS_ALLOWED_ORIGINS`.
//!
//! "The server's own" is any origin whose host is the request's `Host` (ports aside, as
//! Phoenix compares them): behind a proxy that passes `Host` on, the public name the page
//! was loaded from. Requests without an `Origin` header (apps, scripts, phoenix.js on
//! Node) are not browsers' cross-origin requests and are let through.

use actix_web::http::header::HeaderMap;
use actix_web::http::header::{HOST, ORIGIN};

/// Origins allowed besides the server's own, as `scheme://host[:port]`, lower-case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// A comma-separated list of `http(s)://host[:port]`; empty means none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let lower = item.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("https://")
                .or_else(|| lower.strip_prefix("http://"))
                .ok_or_else(|| {
                    format!("{item:?} is not an origin: it must start with https:// or http://")
                })?;
            let host = rest.trim_end_matches('/');
            if host.is_empty() || host.contains(['/', '?', '#', '@', '*', ' ']) {
                return Err(format!(
                    "{item:?} is not an origin: only scheme://host[:port], no path or wildcard"
                ));
            }
            let scheme = if lower.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            origins.push(format!("{scheme}://{host}"));
        }
        Ok(Self(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request with these headers may go on: no `Origin`, the server's own, or
    /// a listed one.
    pub(crate) fn admit(&self, headers: &HeaderMap) -> bool {
        match headers.get(ORIGIN).map(|o| o.to_str()) {
            None => true,
            Some(Ok(origin)) => self.allows(origin, headers),
            Some(Err(_)) => false,
        }
    }

    /// Whether `origin` (an `Origin` header's value) is the server's own or listed.
    pub(crate) fn allows(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        if self.0.contains(&origin) {
            return true;
        }
        let host = headers.get(HOST).and_then(|h| h.to_str().ok());
        match (host_of_origin(&origin), host) {
            (Some(origin_host), Some(host)) => origin_host == host_only(&host.to_ascii_lowercase()),
            _ => false,
        }
    }
}

/// `host` of `scheme://host[:port]`; `None` for `null` and anything else.
fn host_of_origin(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    Some(host_only(rest))
}

/// `host[:port]` without the port (IPv6 literals keep their brackets).
fn host_only(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HOST,
            HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("x")),
        );
        if let Some(o) = origin {
            h.insert(
                ORIGIN,
                HeaderValue::from_str(o).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        h
    }

    #[test]
    fn the_own_origin_and_listed_ones_are_admitted() {
        let allowed = AllowedOrigins::parse("https://app.example.com, http://localhost:5173/")
            .unwrap_or_default();
        assert!(allowed.admit(&headers("api.example.com", None)));
        assert!(allowed.admit(&headers("127.0.0.1:4000", Some("http://127.0.0.1:4000"))));
        assert!(allowed.admit(&headers(
            "Chat.Example.com",
            Some("https://chat.example.com:8443")
        )));
        assert!(allowed.admit(&headers("[::1]:4000", Some("http://[::1]:4000"))));
        assert!(allowed.admit(&headers("api.example.com", Some("https://APP.example.com"))));
        assert!(allowed.admit(&headers("api.example.com", Some("http://localhost:5173"))));
        assert!(!allowed.admit(&headers("api.example.com", Some("https://evil.example"))));
        assert!(!allowed.admit(&headers("api.example.com", Some("http://app.example.com"))));
        assert!(!allowed.admit(&headers("api.example.com", Some("null"))));
        assert!(!allowed.admit(&headers(
            "127.0.0.1:4000",
            Some("http://127.0.0.1.evil:4000")
        )));
    }

    #[test]
    fn a_list_of_anything_but_origins_is_refused() {
        for bad in [
            "*",
            "example.com",
            "https://example.com/path",
            "ftp://x",
            "https://*.x.com",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(AllowedOrigins::parse(" ").map(|a| a.is_empty()), Ok(true));
    }
}
