//! Which address a request comes from, for rate limits, socket limits and the audit log.
//! The peer address, unless the peer is a proxy the operator trusts
//! (`RTS_TRUSTED_PROXIES`): then the nearest address, in the one header those proxies
//! write (`RTS_TRUSTED_PROXY_HEADER`: `X-Forwarded-For`, or RFC 7239's `Forwarded: for=`),
//! that is not itself a trusted proxy. Anyone can write either header, so only the one the
//! proxies write is read (a client's own `X-Forwarded-For` passed on untouched by a proxy
//! that writes `Forwarded` would otherwise be believed), only from trusted peers, and from
//! the right: each proxy appends the address it saw, and only what trusted proxies
//! appended is believed.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The header trusted proxies write the client's address in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, HAProxy, most balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=...` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// `x-forwarded-for` or `forwarded`, in any case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(format!("{raw:?} is neither x-forwarded-for nor forwarded")),
        }
    }
}

/// The proxies whose forwarded headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// None: the peer address is always the client's.
    pub fn none() -> Self {
        Self::default()
    }

    /// A comma-separated list of addresses and networks, e.g. `127.0.0.1, 10.0.0.0/8, ::1`,
    /// whose `header` is believed.
    pub fn parse(list: &str, header: ForwardedHeader) -> Result<Self, String> {
        let nets = list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{item:?} is not an address or a network; give e.g. 127.0.0.1, 10.0.0.0/8 or ::1"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets, header })
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// The client's address, given the peer's and the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers, self.header);
        // From the nearest hop outwards: the first address no trusted proxy stands for.
        let mut client = peer;
        for addr in forwarded.into_iter().rev() {
            match addr {
                Some(addr) => {
                    client = addr;
                    if !self.trusts(addr) {
                        break;
                    }
                }
                // Garbage where an address should be: believe nothing further out.
                None => break,
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses in `header` (every occurrence, in order): `X-Forwarded-For`'s entries or
/// the `for=` parameters of `Forwarded` (RFC 7239); `None` for an entry that is no address.
fn forwarded_for(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    if header == ForwardedHeader::XForwardedFor {
        return headers
            .get_all("x-forwarded-for")
            .flat_map(|v| v.to_str().map(|s| s.split(',')).into_iter().flatten())
            .map(|item| parse_addr(item.trim()))
            .collect();
    }
    headers
        .get_all("forwarded")
        .flat_map(|v| v.to_str().map(|s| s.split(',')).into_iter().flatten())
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_addr(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:5678`.
fn parse_addr(raw: &str) -> Option<IpAddr> {
    if let Ok(addr) = raw.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    if let Ok(sock) = raw.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    raw.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(canonical)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let proxies = TrustedProxies::parse("10.0.0.0/8", ForwardedHeader::XForwardedFor).unwrap();
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(proxies.client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::none().client(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let proxies =
            TrustedProxies::parse("127.0.0.1, 10.0.0.0/8", ForwardedHeader::XForwardedFor).unwrap();
        // The client forged the first entry; the edge proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        // Several headers count as one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_is_read_when_the_proxies_write_it() {
        let proxies = TrustedProxies::parse("::1", ForwardedHeader::Forwarded).unwrap();
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\"",
        )]);
        assert_eq!(proxies.client(ip("::1"), &h), ip("2001:db8::17"));
    }

    #[test]
    fn only_the_header_the_proxies_write_is_believed() {
        // The proxy writes Forwarded and passes the client's own X-Forwarded-For on.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.7"),
        ]);
        let forwarded = TrustedProxies::parse("127.0.0.1", ForwardedHeader::Forwarded).unwrap();
        assert_eq!(forwarded.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        // And the other way round.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        let xff = TrustedProxies::parse("127.0.0.1", ForwardedHeader::XForwardedFor).unwrap();
        assert_eq!(xff.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(
            xff.client(ip("127.0.0.1"), &h),
            ip("127.0.0.1"),
            "not written: the peer"
        );
        assert_eq!(
            ForwardedHeader::parse("Forwarded"),
            Ok(ForwardedHeader::Forwarded)
        );
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
    }

    #[test]
    fn garbage_stops_the_walk_and_mapped_addresses_are_ipv4() {
        let proxies = TrustedProxies::parse("127.0.0.1", ForwardedHeader::XForwardedFor).unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, not-an-ip")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            proxies.client(ip("::ffff:127.0.0.1"), &h),
            ip("198.51.100.7")
        );
        let h = headers(&[]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn settings_are_addresses_or_networks() {
        assert_eq!(
            TrustedProxies::parse("", ForwardedHeader::XForwardedFor).unwrap(),
            TrustedProxies::none()
        );
        assert!(
            TrustedProxies::parse("127.0.0.1, ::1, 10.0.0.0/8", ForwardedHeader::XForwardedFor)
                .is_ok()
        );
        let err = TrustedProxies::parse("10.0.0.0/33", ForwardedHeader::XForwardedFor).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse("nginx", ForwardedHeader::XForwardedFor).is_err());
    }
}
