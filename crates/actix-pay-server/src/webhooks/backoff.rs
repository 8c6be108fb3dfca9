//! When to retry a failed delivery.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter: `base`, `2 base`, `4 base`... capped at `max`, each delay multiplied by
/// a random factor in [0.8, 1.2) so that retries after an outage do not all arrive at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 2 s, 4 s, 8 s... up to an hour.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay after `failures` failed attempts (1 = the first failure).
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_pay_server::webhooks::Backoff;
    /// let b = Backoff::default();
    /// assert!(b.delay(1) >= Duration::from_millis(1600) && b.delay(1) < Duration::from_millis(2400));
    /// assert!(b.delay(40) <= Duration::from_secs(4320));
    /// ```
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let nominal = self.base.saturating_mul(1u32 << exponent).min(self.max);
        nominal.mul_f64(rand::rng().random_range(0.8..1.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_and_stop_growing_at_the_cap() {
        let b = Backoff::default();
        for (failures, nominal) in [(1, 2.0), (2, 4.0), (3, 8.0), (12, 3600.0), (100, 3600.0)] {
            let d = b.delay(failures).as_secs_f64();
            assert!(d >= nominal * 0.8 && d < nominal * 1.2, "{failures}: {d}");
        }
    }
}
