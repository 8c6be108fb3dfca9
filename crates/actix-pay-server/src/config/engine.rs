//! `[engine]`: how the message worker runs.

use super::error::ConfigError;
use super::raw::RawEngine;
use super::schema::Origins;

/// Largest `verification_concurrency` accepted: each verification in flight holds a claimed message and,
/// for PayPal, a connection; beyond this the database and PayPal, not the worker, are the limit.
pub const MAX_VERIFICATION_CONCURRENCY: u64 = 4096;

/// Largest `apply_concurrency` accepted: each application holds a database connection (the pool has 8).
pub const MAX_APPLY_CONCURRENCY: u64 = 8;

/// `[engine]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// `verification_concurrency`: how many gateway messages are verified at once (PayPal postbacks in
    /// flight), and how many claimed messages the worker holds in memory at most. Default
    /// [`payment_buttons::engine::DEFAULT_CONCURRENCY`] (512).
    pub verification_concurrency: usize,
    /// `apply_concurrency`: how many verified messages of different payments are checked and applied at
    /// once (one payment's messages always one after the other). `None` (the default) lets the server
    /// choose by database: 1 on SQLite, 4 on PostgreSQL.
    pub apply_concurrency: Option<usize>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            verification_concurrency: payment_buttons::engine::DEFAULT_CONCURRENCY,
            apply_concurrency: None,
        }
    }
}

/// Checks `[engine]`: the verification concurrency is from 1 to [`MAX_VERIFICATION_CONCURRENCY`], the
/// application concurrency from 1 to [`MAX_APPLY_CONCURRENCY`].
pub(crate) fn resolve(raw: RawEngine, origins: &Origins) -> Result<EngineConfig, ConfigError> {
    let count = |key: &str, value: i64, max: u64| {
        u64::try_from(value)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                ConfigError::invalid(
                    origins.label(&format!("engine.{key}")),
                    format!("must be from 1 to {max}, not {value}"),
                )
            })
    };
    let verification_concurrency = match raw.verification_concurrency {
        None => EngineConfig::default().verification_concurrency,
        Some(n) => count("verification_concurrency", n, MAX_VERIFICATION_CONCURRENCY)?,
    };
    let apply_concurrency = raw
        .apply_concurrency
        .map(|n| count("apply_concurrency", n, MAX_APPLY_CONCURRENCY))
        .transpose()?;
    Ok(EngineConfig {
        verification_concurrency,
        apply_concurrency,
    })
}
