//! `[server]` and `[database]`: where the server listens, what it calls itself, its keys, its database.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use payment_buttons::forwarded::TrustedProxies;

use super::secret::Secret;

/// `[server]`, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `bind`: where to listen. Default `127.0.0.1:8080`; port 0 picks a free port.
    pub bind: BindAddress,
    /// `public_url` as configured; use [`Config::public_url`](crate::config::Config::public_url), which
    /// supplies the default once the server knows the address it bound.
    pub public_url: Option<Url>,
    /// `secret_key` as configured; use [`resolve_secret_key`](crate::config::resolve_secret_key) to get the
    /// key actually used.
    pub secret_key: Option<Secret>,
    /// `api_keys`: bearer keys accepted by `POST /api/buttons`. Empty = the API refuses every request.
    pub api_keys: Vec<Secret>,
    /// `button_token_ttl`: how long a signed button stays valid. Default 30 days.
    pub button_token_ttl: Duration,
    /// `demo`: whether the demo shop is served at `/`. Default: only when every gateway is a simulator.
    pub demo: bool,
    /// `trusted_proxies`: reverse proxies whose `X-Forwarded-For` is believed. Default: none.
    pub trusted_proxies: TrustedProxies,
    /// `abandon_after`: a payment still `created` this long after it was recorded becomes `abandoned`
    /// (never deleted; a late notification still applies). Default 7 days.
    pub abandon_after: Duration,
}

impl ServerConfig {
    /// Whether `candidate` is one of the configured API keys. Each comparison is constant-time.
    pub fn accepts_api_key(&self, candidate: &str) -> bool {
        // Compare with every key, without stopping at the first match, so timing says nothing about which.
        self.api_keys
            .iter()
            .fold(false, |found, key| key.matches(candidate.as_bytes()) | found)
    }
}

/// A `host:port` to listen on. The host is an IP address or a name resolved when binding.
///
/// ```
/// use actix_pay_server::config::BindAddress;
/// let bind = BindAddress::parse("[::1]:0").unwrap();
/// assert_eq!((bind.host(), bind.port()), ("::1", 0));
/// assert_eq!(bind.to_string(), "[::1]:0");
/// assert!(BindAddress::parse("abc").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    host: String,
    port: u16,
}

impl BindAddress {
    /// Parses `host:port` (IPv6 hosts in brackets). The error is the problem, without the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let problem = || format!("{text:?} is not an address (expected host:port)");
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(BindAddress {
                host: addr.ip().to_string(),
                port: addr.port(),
            });
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(problem)?;
        let port: u16 = port.parse().map_err(|_| problem())?;
        let name_like = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        if host.is_empty() || !host.chars().all(name_like) {
            return Err(problem());
        }
        Ok(BindAddress {
            host: host.to_owned(),
            port,
        })
    }

    /// The host part, without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port; 0 lets the system choose.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for BindAddress {
    fn default() -> Self {
        BindAddress {
            host: "127.0.0.1".to_owned(),
            port: 8080,
        }
    }
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `[database]`, resolved.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `url`: default `sqlite://data/librement.sqlite3`.
    pub url: DatabaseUrl,
}

pub use crate::store::DatabaseUrl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_accepts_ip_addresses_and_names() {
        assert_eq!(
            BindAddress::parse("0.0.0.0:80").map(|b| b.to_string()),
            Ok("0.0.0.0:80".to_owned())
        );
        assert_eq!(
            BindAddress::parse("localhost:8080").map(|b| b.to_string()),
            Ok("localhost:8080".to_owned())
        );
    }

    #[test]
    fn bind_refuses_what_is_not_host_and_port() {
        for bad in ["abc", ":8080", "host:", "host:99999", "a b:80", "http://x:80"] {
            assert!(BindAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn api_keys_are_matched_exactly() {
        let server = ServerConfig {
            bind: BindAddress::default(),
            public_url: None,
            secret_key: None,
            api_keys: vec![
                Secret::new("first-key-0123456789"),
                Secret::new("second-key-0123456789"),
            ],
            button_token_ttl: Duration::from_secs(1),
            demo: false,
            trusted_proxies: TrustedProxies::default(),
            abandon_after: Duration::from_secs(7 * 86_400),
        };
        assert!(server.accepts_api_key("second-key-0123456789"));
        assert!(!server.accepts_api_key("second-key-012345678"));
        assert!(!server.accepts_api_key(""));
    }
}
