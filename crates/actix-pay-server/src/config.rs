//! The server's configuration: a TOML file, overridden key by key by `PAY_<SECTION>_<KEY>` variables.
//!
//! [`Config::load`] reads the file (optional: with none, every default applies and every gateway is a
//! simulator), lays the environment over it, refuses any key or variable that matches no setting, checks
//! every value and applies the mode rules. The result is typed: addresses, URLs, durations and modes are
//! parsed, secrets are [`Secret`]s that print as `***`. Every error is a one-line [`ConfigError`] naming the
//! key at fault. `docs/configuration.md` documents each setting and the mode rules.
//!
//! ```
//! use actix_pay_server::config::{Config, ModeKind};
//! let env = vec![("PAY_SERVER_BIND".to_owned(), "127.0.0.1:0".to_owned())];
//! let config = Config::load(None, env).unwrap();
//! assert!(config.is_simulator());
//! assert_eq!(config.server.bind.port(), 0);
//! let bound = "127.0.0.1:41234".parse().unwrap();
//! assert_eq!(config.public_url(bound).as_str(), "http://127.0.0.1:41234/");
//! ```

mod duration;
mod engine;
mod error;
mod gateways;
mod limits;
mod mail;
mod observability;
mod raw;
mod resolve;
mod schema;
mod secret;
mod secret_key;
mod server;
mod webhooks;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;

use url::Url;

pub use duration::parse_duration;
pub use engine::{EngineConfig, MAX_APPLY_CONCURRENCY, MAX_VERIFICATION_CONCURRENCY};
pub use error::ConfigError;
pub use gateways::{
    CmcicConfig, CmcicCredentials, CmcicMode, CmcicProtocol, Gateway, LibrementConfig, LibrementMode, ModeKind,
    PaypalConfig, PaypalMode, PaypalNvpCredentials, PaypalRestCredentials, SIMULATOR_CMCIC_PAYMENT_PATH,
    SIMULATOR_PAYPAL_API_PATH, SIMULATOR_PAYPAL_NVP_PATH, SIMULATOR_PAYPAL_POSTBACK_PATH, SIMULATOR_PAYPAL_WEBSCR_PATH,
};
pub use limits::{LimitsConfig, MAX_NOTIFY_BODY_BYTES, MIN_NOTIFY_BODY_BYTES};
pub use mail::{MailConfig, MailTls};
pub use observability::{LogConfig, LogFormat, MetricsConfig};
pub use secret::{Secret, SecretKey};
pub use secret_key::{SECRET_KEY_FILE, resolve_secret_key};
pub use server::{BindAddress, DatabaseConfig, DatabaseUrl, ServerConfig};
pub use webhooks::{WebhookConfig, WebhookEvent};

/// The whole configuration, checked. Gateways that are not enabled are `None`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[paypal]`: `Some` when PayPal is enabled.
    pub paypal: Option<PaypalConfig>,
    /// `[cmcic]`: `Some` when CM-CIC is enabled.
    pub cmcic: Option<CmcicConfig>,
    /// `[librement]`.
    pub librement: LibrementConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[engine]`.
    pub engine: EngineConfig,
    /// `[mail]`: `None` in simulator mode without it (mail goes to `/simulator/mail`), or when Librement is
    /// not enabled.
    pub mail: Option<MailConfig>,
    /// `[[webhooks]]`, in file order.
    pub webhooks: Vec<WebhookConfig>,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[log]`.
    pub log: LogConfig,
}

impl Config {
    /// Loads `file` (when given) and the `PAY_*` variables of `env`, which win over the file.
    ///
    /// `env` is usually [`process_env`]`()?`; tests pass their own pairs. Variables without the `PAY_`
    /// prefix are ignored.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        match file {
            None => Config::from_toml("", "<none>", env),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                    path: path.to_owned(),
                    action: "cannot read",
                    source,
                })?;
                Config::from_toml(&text, &path.display().to_string(), env)
            }
        }
    }

    /// Like [`Config::load`] with the file's contents in `text`; `file_name` names it in syntax errors.
    pub fn from_toml(
        text: &str,
        file_name: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            ConfigError::syntax(file_name, text, offset, e.message())
        })?;
        schema::check_file(&table)?;
        let origins = schema::apply_env(&mut table, env)?;
        let raw: raw::RawFile = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::invalid("configuration", e.message().replace('\n', " ")))?;
        resolve::resolve(raw, &origins)
    }

    /// The enabled gateways and their modes, CM-CIC first.
    pub fn enabled_gateways(&self) -> Vec<(Gateway, ModeKind)> {
        let cmcic = self.cmcic.as_ref().map(|c| (Gateway::Cmcic, ModeKind::from(c.mode)));
        let paypal = self.paypal.as_ref().map(|p| (Gateway::Paypal, ModeKind::from(p.mode)));
        cmcic.into_iter().chain(paypal).collect()
    }

    /// Whether every enabled gateway is a simulator (the start-up rules make it all or nothing).
    pub fn is_simulator(&self) -> bool {
        self.enabled_gateways()
            .iter()
            .all(|(_, kind)| *kind == ModeKind::Simulator)
    }

    /// Whether any enabled gateway talks to a real gateway (test/sandbox or live/production).
    pub fn any_real_mode(&self) -> bool {
        self.enabled_gateways().iter().any(|(_, kind)| kind.is_real())
    }

    /// The base of our URLs: `server.public_url`, else `http://` + the address the server actually bound
    /// (which tells the port chosen for `:0`). Behind a proxy or on `0.0.0.0`, set `public_url`.
    pub fn public_url(&self, bound: SocketAddr) -> Url {
        if let Some(url) = &self.server.public_url {
            return url.clone();
        }
        let mut url = Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("a literal URL"));
        // Cannot fail: an http URL always has a host and accepts an IP address and a port.
        let _ = url.set_ip_host(bound.ip());
        let _ = url.set_port(Some(bound.port()));
        url
    }
}

/// Every setting that a `PAY_*` variable can set, as `(dotted key, variable)`: `("database.url",
/// "PAY_DATABASE_URL")`. `[[webhooks]]` keys are not listed: they come from the file only.
///
/// ```
/// let all: Vec<(String, String)> = actix_pay_server::config::settings().collect();
/// assert!(all.contains(&("server.api_keys".to_owned(), "PAY_SERVER_API_KEYS".to_owned())));
/// ```
pub fn settings() -> impl Iterator<Item = (String, String)> {
    schema::SETTINGS
        .iter()
        .filter(|s| !schema::REMOVED.contains(&s.path().as_str()))
        .map(|s| (s.path(), s.env_name()))
}

/// The process environment as `(name, value)` pairs, for [`Config::load`].
///
/// A `PAY_*` variable whose name or value is not UTF-8 is refused (naming it, not quoting it); other
/// variables that are not UTF-8 are skipped, since they are none of our business.
pub fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    collect_env(std::env::vars_os())
}

fn collect_env(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for (name, value) in vars {
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => pairs.push((name, value)),
            (Ok(name), Err(_)) if name.starts_with("PAY_") => {
                return Err(ConfigError::invalid(name, "is not valid UTF-8"));
            }
            (Err(name), _) if name.to_string_lossy().starts_with("PAY_") => {
                return Err(ConfigError::invalid(
                    name.to_string_lossy(),
                    "variable name is not valid UTF-8",
                ));
            }
            _ => {}
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_a_field_of_the_file_shape() {
        let mut text = String::new();
        for &section in schema::SECTIONS {
            text.push_str(&format!("[{section}]\n"));
            for setting in schema::SETTINGS.iter().filter(|s| s.section == section) {
                let value = match setting.kind {
                    schema::Kind::Text => "\"x\"",
                    schema::Kind::List => "[\"x\"]",
                    schema::Kind::Bool => "true",
                    schema::Kind::Integer => "5000",
                };
                text.push_str(&format!("{} = {value}\n", setting.key));
            }
        }
        text.push_str("[[webhooks]]\n");
        for (key, _) in schema::WEBHOOK_KEYS {
            text.push_str(&format!(
                "{key} = {}\n",
                if key.ends_with('s') { "[\"x\"]" } else { "\"x\"" }
            ));
        }
        let table: toml::Table = toml::from_str(&text).expect("generated TOML is valid");
        schema::check_file(&table).expect("the schema accepts its own settings");
        let raw: Result<raw::RawFile, _> = toml::Value::Table(table).try_into();
        assert!(raw.is_ok(), "a setting of the schema is not a field of RawFile");
    }

    #[cfg(unix)]
    #[test]
    fn a_pay_variable_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let vars = vec![
            (OsString::from("HOME"), OsString::from("/root")),
            (OsString::from("OTHER"), OsString::from_vec(vec![0xff])),
            (OsString::from("PAY_CMCIC_KEY"), OsString::from_vec(vec![0xff, 0xfe])),
        ];
        let err = collect_env(vars).expect_err("refused");
        assert_eq!(err.to_string(), "PAY_CMCIC_KEY: is not valid UTF-8");
    }
}
