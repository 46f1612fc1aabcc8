//! Who is the client? The TCP peer, unless the peer is a trusted proxy: then the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Headers from untrusted peers are
//! ignored, so a visitor cannot pretend to be someone else by sending them.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::ServerConfig;

pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, server: &ServerConfig) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !server.is_trusted_proxy(peer_ip) {
        return peer_ip;
    }
    // Each proxy appends the address it saw; walk from the nearest hop outwards.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !server.is_trusted_proxy(*ip))
        .unwrap_or(peer_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(trusted: &[&str]) -> ServerConfig {
        ServerConfig {
            trusted_proxies: trusted.iter().map(|s| s.parse().unwrap()).collect(),
            ..ServerConfig::default()
        }
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
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
}
