//! `[server]` and `[database]`: where the server listens, what it calls itself, its keys, its database.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

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
    /// `admin_password`: `None` disables `/admin`.
    pub admin_password: Option<Secret>,
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

/// Which database, and where. A PostgreSQL URL may hold a password: `Debug` and [`DatabaseUrl::redacted`]
/// hide it.
///
/// ```
/// use actix_pay_server::config::DatabaseUrl;
/// let url = DatabaseUrl::parse("postgres://shop:s3cret@db.example/pay").unwrap();
/// assert_eq!(url.redacted(), "postgres://shop:***@db.example/pay");
/// let url = DatabaseUrl::parse("sqlite://data/librement.sqlite3").unwrap();
/// assert_eq!(url.sqlite_path().unwrap().to_str(), Some("data/librement.sqlite3"));
/// ```
#[derive(Clone)]
pub enum DatabaseUrl {
    /// `sqlite://<path>`: a relative path is relative to the working directory; `sqlite:///abs/path` is absolute.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, as given (libpq syntax).
    Postgres(Secret),
}

impl DatabaseUrl {
    /// Parses a database URL. The error never quotes the URL, which may hold a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, such as sqlite://data/librement.sqlite3".to_owned());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Url::parse(text).map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
            return Ok(DatabaseUrl::Postgres(Secret::new(text)));
        }
        let scheme = text.split_once("://").map_or("", |(scheme, _)| scheme);
        let scheme = if scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') {
            scheme
        } else {
            ""
        };
        Err(format!(
            "unsupported database {scheme:?} (expected sqlite://<path> or postgres://...)"
        ))
    }

    /// The SQLite file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(secret) => redact_postgres(secret.expose()),
        }
    }
}

fn redact_postgres(text: &str) -> String {
    let Ok(mut url) = Url::parse(text) else {
        return "postgres://***".to_owned();
    };
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return "postgres://***".to_owned();
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl Default for DatabaseUrl {
    fn default() -> Self {
        DatabaseUrl::Sqlite(PathBuf::from("data/librement.sqlite3"))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

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
    fn a_postgres_password_in_the_query_is_redacted() {
        let url = DatabaseUrl::parse("postgres://db.example/pay?user=shop&password=s3cret").expect("valid");
        assert!(!url.redacted().contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn an_unsupported_database_is_named_without_quoting_the_url() {
        let err = DatabaseUrl::parse("mysql://root:s3cret@db/pay").expect_err("refused");
        assert_eq!(
            err,
            "unsupported database \"mysql\" (expected sqlite://<path> or postgres://...)"
        );
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
            admin_password: None,
        };
        assert!(server.accepts_api_key("second-key-0123456789"));
        assert!(!server.accepts_api_key("second-key-012345678"));
        assert!(!server.accepts_api_key(""));
    }
}
