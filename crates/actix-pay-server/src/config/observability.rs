//! `[metrics]` (who may read `/metrics`) and `[log]` (the format of the log lines).

use ipnet::IpNet;

use super::error::ConfigError;
use super::raw::{RawLog, RawMetrics};
use super::schema::Origins;
use super::secret::Secret;

/// The shortest accepted `metrics.token`.
const MIN_TOKEN_CHARS: usize = 16;

/// `[metrics]`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// `enabled`: serve `/metrics`. Default true.
    pub enabled: bool,
    /// `allow`: the addresses or networks that may read it without a token. Default loopback.
    pub allow: Vec<IpNet>,
    /// `token`: a bearer token that lets any address read it. Default none.
    pub token: Option<Secret>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            allow: vec!["127.0.0.0/8".parse().expect("valid"), "::1/128".parse().expect("valid")],
            token: None,
        }
    }
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    /// `format`.
    pub format: LogFormat,
}

pub(crate) fn resolve_metrics(raw: RawMetrics, origins: &Origins) -> Result<MetricsConfig, ConfigError> {
    let default = MetricsConfig::default();
    let allow = match raw.allow {
        None => default.allow,
        Some(list) => list
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::invalid(
                            origins.label("metrics.allow"),
                            format!("{entry:?} is not an address or a network (127.0.0.1, 10.0.0.0/8)"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let token = match raw.token {
        None => None,
        Some(t) if t.chars().count() >= MIN_TOKEN_CHARS => Some(Secret::new(t)),
        Some(_) => {
            return Err(ConfigError::invalid(
                origins.label("metrics.token"),
                format!("too short: at least {MIN_TOKEN_CHARS} characters"),
            ));
        }
    };
    Ok(MetricsConfig {
        enabled: raw.enabled.unwrap_or(default.enabled),
        allow,
        token,
    })
}

pub(crate) fn resolve_log(raw: RawLog, origins: &Origins) -> Result<LogConfig, ConfigError> {
    let format = match raw.format.as_deref().map(str::trim) {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::invalid(
                origins.label("log.format"),
                format!("{other:?} is not a format (expected text or json)"),
            ));
        }
    };
    Ok(LogConfig { format })
}
