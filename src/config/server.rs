//! `[server]`: where and how the HTTP server listens, and whom it believes about client addresses.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::client_ip::ForwardingHeader;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server binds to.
    #[serde(deserialize_with = "deserialize_listen")]
    pub listen: SocketAddr,
    /// External base URL; the OAuth redirect URI is `public_url + "/oauth/callback"`.
    pub public_url: Url,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer or reverse proxy).
    pub trusted_proxies: Vec<IpNet>,
    /// The header the trusted proxies write: `x-forwarded-for` or RFC 7239 `forwarded`.
    pub client_ip_header: ForwardingHeader,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take from its first byte to the end of the answer.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// A client must send a request's headers within this (also: the keep-alive idle limit).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

/// An IP address and a port; a host name (`localhost:8080`) gets an example of what works.
fn deserialize_listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an IP address and port: use e.g. \"0.0.0.0:8080\" (every interface) \
             or \"127.0.0.1:8080\" (this machine only); host names such as localhost are not accepted"
        ))
    })
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            public_url: Url::parse("http://localhost:8080").expect("a valid literal URL"),
            trusted_proxies: Vec::new(),
            client_ip_header: Default::default(),
            max_body_bytes: 16 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl ServerConfig {
    /// The client's address for a request from `peer`, believing the forwarding header only when
    /// `peer` is a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        crate::client_ip::client_ip(peer, headers, &self.trusted_proxies, self.client_ip_header)
    }

    /// `public_url` + `/oauth/callback`, keeping any path prefix of the public URL: the redirect
    /// URI to register at Constant Contact.
    pub fn redirect_uri(&self) -> Url {
        let base = self.public_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/oauth/callback"))
            .expect("a valid base URL plus a path is valid")
    }

    /// `path` (an absolute path such as `/admin/forms`) under the path prefix of `public_url`:
    /// `/admin/forms` for `https://example.org`, `/newsletter/admin/forms` for
    /// `https://example.org/newsletter/`. Every link and redirect a page shows goes through this,
    /// so ccbridge works behind a proxy that serves it under a prefix (and strips it).
    pub fn path(&self, path: &str) -> String {
        let prefix = self.public_url.path().trim_end_matches('/');
        format!("{prefix}{path}")
    }

    /// Returns the offending key (relative to the section) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !["http", "https"].contains(&self.public_url.scheme()) {
            return Err(("public_url", "must be an http or https URL".into()));
        }
        if self.max_body_bytes < 1024 {
            return Err(("max_body_bytes", "must be at least 1024".into()));
        }
        if self.request_timeout.is_zero() {
            return Err(("request_timeout", "must be more than zero".into()));
        }
        if self.header_read_timeout.is_zero() {
            return Err(("header_read_timeout", "must be more than zero".into()));
        }
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_host_name_as_listen_address_gets_an_example() {
        let err = Config::from_toml("[server]\nlisten = \"localhost:8080\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`server.listen`"), "{err}");
        assert!(err.contains("\"127.0.0.1:8080\""), "{err}");
        assert!(err.contains("localhost"), "{err}");
    }

    #[test]
    fn paths_keep_the_public_urls_prefix() {
        let at = |url: &str| {
            Config::from_toml(&format!("[server]\npublic_url = \"{url}\""))
                .unwrap()
                .server
                .path("/admin/forms")
        };
        assert_eq!(at("https://example.org"), "/admin/forms");
        assert_eq!(at("https://example.org/"), "/admin/forms");
        assert_eq!(
            at("https://example.org/newsletter/"),
            "/newsletter/admin/forms"
        );
        assert_eq!(at("https://example.org/a/b"), "/a/b/admin/forms");
    }
}
