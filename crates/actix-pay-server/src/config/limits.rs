//! `[limits]`: how much one source address may ask of the server, and how large a gateway message may be.

use super::error::ConfigError;
use super::raw::RawLimits;
use super::schema::Origins;

/// Smallest `notify_body_bytes` accepted: gateway messages are a few kilobytes, a lower limit would refuse
/// genuine ones.
pub const MIN_NOTIFY_BODY_BYTES: u64 = 4096;
/// Largest `notify_body_bytes` accepted: each notification is held in memory while it is read.
pub const MAX_NOTIFY_BODY_BYTES: u64 = 1024 * 1024;

/// `[limits]`, resolved. A per-address limit of 0 turns that limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `pay_per_minute`: `/pay` requests per source address and minute. Default 60.
    pub pay_per_minute: u32,
    /// `sign_in_per_minute`: Librement sign-in posts, and the console's, per source address and minute (one
    /// quota each). Default 20.
    pub sign_in_per_minute: u32,
    /// `sign_up_per_hour`: Librement sign-up posts per source address and hour. Default 20.
    pub sign_up_per_hour: u32,
    /// `notify_body_bytes`: a larger notification is logged truncated to this size, flagged `oversize`,
    /// answered 413 and never verified. Default 65536.
    pub notify_body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            pay_per_minute: 60,
            sign_in_per_minute: 20,
            sign_up_per_hour: 20,
            notify_body_bytes: 65_536,
        }
    }
}

/// Checks `[limits]`: counts are 0 or more, the body limit between [`MIN_NOTIFY_BODY_BYTES`] and
/// [`MAX_NOTIFY_BODY_BYTES`].
pub(crate) fn resolve(raw: RawLimits, origins: &Origins) -> Result<LimitsConfig, ConfigError> {
    let default = LimitsConfig::default();
    let count = |key: &str, value: Option<i64>, default: u32| -> Result<u32, ConfigError> {
        match value {
            None => Ok(default),
            Some(n) => u32::try_from(n).map_err(|_| {
                ConfigError::invalid(
                    origins.label(&format!("limits.{key}")),
                    format!("must be a whole number from 0 (no limit) to {}, not {n}", u32::MAX),
                )
            }),
        }
    };
    let notify_body_bytes = match raw.notify_body_bytes {
        None => default.notify_body_bytes,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (MIN_NOTIFY_BODY_BYTES..=MAX_NOTIFY_BODY_BYTES).contains(n))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                ConfigError::invalid(
                    origins.label("limits.notify_body_bytes"),
                    format!("must be from {MIN_NOTIFY_BODY_BYTES} to {MAX_NOTIFY_BODY_BYTES} bytes, not {n}"),
                )
            })?,
    };
    Ok(LimitsConfig {
        pay_per_minute: count("pay_per_minute", raw.pay_per_minute, default.pay_per_minute)?,
        sign_in_per_minute: count("sign_in_per_minute", raw.sign_in_per_minute, default.sign_in_per_minute)?,
        sign_up_per_hour: count("sign_up_per_hour", raw.sign_up_per_hour, default.sign_up_per_hour)?,
        notify_body_bytes,
    })
}
