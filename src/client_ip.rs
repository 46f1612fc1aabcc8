//! Who is the client? The TCP peer, unless the peer is a trusted proxy: then the right-most hop of
//! the forwarding header that is not itself a trusted proxy. Headers from untrusted peers are
//! ignored, so a visitor cannot pretend to be someone else by sending them.
//!
//! The header is `X-Forwarded-For` or RFC 7239 `Forwarded` (`for=`), as `server.client_ip_header`
//! says: only the one the proxy writes can be believed, because a proxy passes the other through
//! as the client sent it. A hop that names no address (`for=unknown`, an obfuscated `for=_abc`,
//! garbage) ends the walk at the nearest trusted proxy: everything beyond it came from the client.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Which header a trusted proxy records the client's address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardingHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl ForwardingHeader {
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The client's address, given the peer, the request's headers, the proxies whose forwarding
/// header is believed (`server.trusted_proxies`) and the header they write.
pub fn client_ip(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
    header: ForwardingHeader,
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted_proxies.iter().any(|net| net.contains(&ip));
    let peer_ip = peer.ip().to_canonical();
    if !is_trusted(peer_ip) {
        return peer_ip;
    }
    let values = headers
        .get_all(header.name())
        .iter()
        .filter_map(|v| v.to_str().ok());
    // Each proxy appends the address it saw; walk from the nearest hop outwards.
    let hops: Vec<Option<IpAddr>> = match header {
        ForwardingHeader::XForwardedFor => values
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().parse::<IpAddr>().ok())
            .collect(),
        ForwardingHeader::Forwarded => values
            .flat_map(|v| v.split(','))
            .map(forwarded_for)
            .collect(),
    };
    let mut nearest_trusted = peer_ip;
    for hop in hops.into_iter().rev() {
        match hop.map(|ip| ip.to_canonical()) {
            Some(ip) if is_trusted(ip) => nearest_trusted = ip,
            Some(ip) => return ip,
            None => return nearest_trusted,
        }
    }
    nearest_trusted
}

/// The address in one `Forwarded` element's `for=` parameter (`for=192.0.2.60`,
/// `for="192.0.2.60:4711"`, `for="[2001:db8::17]:4711"`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim())
    })?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if let Some(rest) = value.strip_prefix('[') {
        let (v6, _port) = rest.split_once(']')?;
        return v6.parse().ok();
    }
    let host = match value.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => value,
    };
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proxies and the header they write.
    struct Server {
        trusted: Vec<IpNet>,
        header: ForwardingHeader,
    }

    fn server(trusted: &[&str]) -> Server {
        Server {
            trusted: trusted.iter().map(|s| s.parse().unwrap()).collect(),
            header: ForwardingHeader::XForwardedFor,
        }
    }

    fn client_ip(peer: SocketAddr, headers: &HeaderMap, server: &Server) -> IpAddr {
        super::client_ip(peer, headers, &server.trusted, server.header)
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("forwarded", value.parse().unwrap());
        headers
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof_its_address() {
        let ip = client_ip(
            "203.0.113.9:5000".parse().unwrap(),
            &xff("198.51.100.1"),
            &server(&[]),
        );
        assert_eq!(ip.to_string(), "203.0.113.9");
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let config = server(&["10.0.0.0/8"]);
        let headers = xff("198.51.100.1, 192.0.2.7, 10.1.1.1");
        let ip = client_ip("10.0.0.2:5000".parse().unwrap(), &headers, &config);
        assert_eq!(ip.to_string(), "192.0.2.7");
    }

    #[test]
    fn a_trusted_proxy_without_a_header_is_the_client() {
        let ip = client_ip(
            "10.0.0.2:5000".parse().unwrap(),
            &HeaderMap::new(),
            &server(&["10.0.0.0/8"]),
        );
        assert_eq!(ip.to_string(), "10.0.0.2");
    }

    #[test]
    fn an_unknown_hop_stops_the_walk_at_the_nearest_trusted_proxy() {
        let config = server(&["10.0.0.0/8"]);
        let headers = xff("198.51.100.1, unknown, 10.1.1.1");
        let ip = client_ip("10.0.0.2:5000".parse().unwrap(), &headers, &config);
        assert_eq!(ip.to_string(), "10.1.1.1");
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_configured() {
        let mut config = server(&["10.0.0.0/8"]);
        config.header = ForwardingHeader::Forwarded;
        let peer = "10.0.0.2:5000".parse().unwrap();
        let headers = forwarded(
            "for=198.51.100.1, for=\"[2001:db8:cafe::17]:4711\";proto=https, For=10.1.1.1;by=10.0.0.2",
        );
        assert_eq!(
            client_ip(peer, &headers, &config).to_string(),
            "2001:db8:cafe::17"
        );
        let with_port = forwarded("for=\"192.0.2.43:47011\"");
        assert_eq!(
            client_ip(peer, &with_port, &config).to_string(),
            "192.0.2.43"
        );
        let hidden = forwarded("for=192.0.2.43, for=_hidden");
        assert_eq!(client_ip(peer, &hidden, &config).to_string(), "10.0.0.2");
        // The other header is the client's to write, so it is ignored.
        assert_eq!(
            client_ip(peer, &xff("192.0.2.99"), &config).to_string(),
            "10.0.0.2"
        );
    }
}
