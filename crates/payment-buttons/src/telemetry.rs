//! What the engine tells operators: metrics (with the `metrics` feature, through the [`metrics`] facade,
//! for whatever exporter the application installs) and log lines (always, through `tracing`).
//!
//! Metric names are `{prefix}_{name}`, the prefix set with [`crate::engine::Engine::with_metrics_prefix`]
//! (default `payment_buttons`). Labels carry the gateway's name as the message's route gave it: the core
//! names no gateway.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `gateway_messages_total` | counter | `gateway`, `verification` (`verified`, `invalid`, `bad_mac`, `error`, `retry`) |
//! | `verification_seconds` | histogram | `gateway` |
//! | `payments_total` | counter | `gateway`, `state` (the state a notification, a refund or a cancellation moved a payment to) |

#[cfg(feature = "metrics")]
use std::time::Duration;

/// Where the engine's metrics go: a name prefix.
#[derive(Debug, Clone)]
pub(crate) struct Telemetry {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    prefix: &'static str,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            prefix: "payment_buttons",
        }
    }
}

impl Telemetry {
    pub(crate) fn with_prefix(prefix: &'static str) -> Self {
        Telemetry { prefix }
    }

    /// A message of `gateway` ended its verification with `verification`.
    pub(crate) fn message_verified(&self, gateway: &str, verification: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::counter!(
            format!("{}_gateway_messages_total", self.prefix),
            "gateway" => gateway.to_owned(),
            "verification" => verification
        )
        .increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (gateway, verification);
    }

    /// How long `gateway`'s verification took.
    #[cfg(feature = "metrics")]
    pub(crate) fn verification_took(&self, gateway: &str, took: Duration) {
        metrics::histogram!(format!("{}_verification_seconds", self.prefix), "gateway" => gateway.to_owned())
            .record(took.as_secs_f64());
    }

    /// A notification moved a payment of `gateway` to `state`.
    pub(crate) fn payment_moved(&self, gateway: &str, state: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::counter!(
            format!("{}_payments_total", self.prefix),
            "gateway" => gateway.to_owned(),
            "state" => state
        )
        .increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (gateway, state);
    }
}
