//! Which web origins may use the API from a browser (CORS) and open sockets (the Origin
//! check Phoenix calls `check_origin`): the server's own, and those an operator lists in
//! `RTS_CORS_ALLOWED_ORIGINS`.
//!
//! "The server's own" is `RTS_PUBLIC_ORIGINS` when set: the origins the web client is
//! served from. Unset, it is any origin whose host is the request's `Host` (ports aside,
//! as Phoenix compares them): behind a proxy that passes `Host` on, the public name the
//! page was loaded from. That is convenient but trusts `Host`, which a DNS-rebinding page
//! controls, so a deployment should set it. Requests without an `Origin` header (apps,
//! scripts, phoenix.js on Node) are not browsers' cross-origin requests and are let
//! through. An `Origin` is read strictly (`scheme://host[:port]` and nothing else), so a
//! user-info part or a list of origins never passes for the host it starts with.

use actix_web::http::header::HeaderMap;
use actix_web::http::header::{HOST, ORIGIN};

/// Origins allowed, as `scheme://host[:port]`, lower-case: those listed besides the
/// server's own, and the server's own when they are configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins {
    listed: Vec<String>,
    /// `None`: the server's own origin is whatever `Host` names.
    public: Option<Vec<String>>,
}

/// A comma-separated list of `http(s)://host[:port]`, each normalised.
fn parse_list(raw: &str) -> Result<Vec<String>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let lower = item.to_ascii_lowercase();
            let origin = lower.strip_suffix('/').unwrap_or(&lower);
            if origin.contains('*') {
                return Err(format!(
                    "{item:?} is not an origin: only scheme://host[:port], no path or wildcard"
                ));
            }
            let Some((scheme, host, port)) = split_origin(origin) else {
                return Err(format!(
                    "{item:?} is not an origin: it must be http(s)://host[:port], no path or wildcard"
                ));
            };
            Ok(match port {
                Some(port) => format!("{scheme}://{host}:{port}"),
                None => format!("{scheme}://{host}"),
            })
        })
        .collect()
}

/// `(scheme, host, port)` of a well-formed `http(s)://host[:port]`; `None` for anything
/// else: user info, a path, a query, several origins, spaces, an empty or odd host.
fn split_origin(origin: &str) -> Option<(&str, &str, Option<&str>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (&rest[..addr.len() + 2], port)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = |h: &str| {
        h.starts_with('[')
            || (!h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
    };
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit());
    (host_ok(host) && port.is_none_or(port_ok)).then_some((scheme, host, port))
}

impl AllowedOrigins {
    /// `listed`: `RTS_CORS_ALLOWED_ORIGINS`; `public`: `RTS_PUBLIC_ORIGINS`, the server's
    /// own (empty: any that `Host` names). Each a comma-separated list of
    /// `http(s)://host[:port]`.
    pub fn parse(listed: &str, public: &str) -> Result<Self, String> {
        let listed = parse_list(listed)?;
        let public = parse_list(public)?;
        Ok(Self {
            listed,
            public: (!public.is_empty()).then_some(public),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
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
        let Some((_, origin_host, _)) = split_origin(&origin) else {
            return false;
        };
        if self.listed.contains(&origin) {
            return true;
        }
        if let Some(public) = &self.public {
            return public.contains(&origin);
        }
        let host = headers.get(HOST).and_then(|h| h.to_str().ok());
        host.is_some_and(|host| origin_host == host_only(&host.to_ascii_lowercase()))
    }
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
        let allowed = AllowedOrigins::parse("https://app.example.com, http://localhost:5173/", "")
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
            assert!(
                AllowedOrigins::parse(bad, "").is_err(),
                "{bad} was accepted"
            );
            assert!(
                AllowedOrigins::parse("", bad).is_err(),
                "{bad} was accepted"
            );
        }
        assert_eq!(
            AllowedOrigins::parse(" ", "").map(|a| a.is_empty()),
            Ok(true)
        );
    }

    #[test]
    fn an_origin_is_read_strictly() {
        let allowed = AllowedOrigins::parse("https://app.example.com", "").unwrap_or_default();
        for forged in [
            "http://127.0.0.1:80@evil.com",
            "http://127.0.0.1:4000, http://evil.com",
            "http://127.0.0.1:4000/path",
            "http://127.0.0.1:4000?x",
            "http://127.0.0.1:x",
            "https://app.example.com, https://evil.com",
            "https://app.example.com@evil.com",
        ] {
            assert!(
                !allowed.admit(&headers("127.0.0.1:4000", Some(forged))),
                "{forged} was admitted"
            );
        }
    }

    #[test]
    fn configured_public_origins_replace_the_host_header() {
        let allowed = AllowedOrigins::parse("http://localhost:5173", "https://live.example.com")
            .unwrap_or_default();
        assert!(allowed.admit(&headers(
            "live.example.com",
            Some("https://live.example.com")
        )));
        assert!(allowed.admit(&headers("live.example.com", Some("http://localhost:5173"))));
        // A DNS-rebinding page: its Origin and Host agree, but it is not the public origin.
        assert!(!allowed.admit(&headers(
            "evil.example:4000",
            Some("http://evil.example:4000")
        )));
        assert!(!allowed.admit(&headers(
            "live.example.com",
            Some("http://live.example.com")
        )));
    }
}
