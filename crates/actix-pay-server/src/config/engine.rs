//! `[engine]`: how the message worker runs.

use super::error::ConfigError;
use super::raw::RawEngine;
use super::schema::Origins;

/// Largest `verification_concurrency` accepted: each verification in flight holds a claimed message and,
/// for PayPal, a connection; beyond this the database and PayPal, not the worker, are the limit.
pub const MAX_VERIFICATION_CONCURRENCY: u64 = 4096;

/// `[engine]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// `verification_concurrency`: how many gateway messages are verified at once (PayPal postbacks in
    /// flight), and how many claimed messages the worker holds in memory at most. Default
    /// [`payment_buttons::engine::DEFAULT_CONCURRENCY`] (256).
    pub verification_concurrency: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            verification_concurrency: payment_buttons::engine::DEFAULT_CONCURRENCY,
        }
    }
}

/// Checks `[engine]`: the concurrency is from 1 to [`MAX_VERIFICATION_CONCURRENCY`].
pub(crate) fn resolve(raw: RawEngine, origins: &Origins) -> Result<EngineConfig, ConfigError> {
    let verification_concurrency = match raw.verification_concurrency {
        None => EngineConfig::default().verification_concurrency,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_VERIFICATION_CONCURRENCY).contains(n))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                ConfigError::invalid(
                    origins.label("engine.verification_concurrency"),
                    format!("must be from 1 to {MAX_VERIFICATION_CONCURRENCY}, not {n}"),
                )
            })?,
    };
    Ok(EngineConfig {
        verification_concurrency,
    })
}
