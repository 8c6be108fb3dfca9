//! Per-source-address request limits: `/pay` (each call records a payment), Librement sign-in and sign-up
//! and the operator console's sign-in (each runs an argon2 hash). Beyond its quota an address gets 429 with `Retry-After`; other addresses
//! are not affected. `/notify/*` has no such limit: PayPal and the bank send from a few addresses, at
//! whatever rate their traffic needs.
//!
//! The limiter is [`governor`]'s keyed GCRA: quotas refill continuously (60 a minute = one more each
//! second, up to a burst of 60), the state per address is one atomic word, and [`RateLimits::retain_recent`]
//! (run every minute by [`RateLimits::spawn_cleanup`]) forgets every address whose quota is full again, so
//! memory follows the number of addresses seen in the last period, not since start-up. The limits live in
//! each server process; the per-account password throttle, in the database, is the layer that holds
//! across instances.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// One limited route.
struct Rule {
    /// `None`: every method.
    method: Option<Method>,
    path: &'static str,
    /// `path` is a prefix (`/return/`): every route under it shares the bucket.
    prefix: bool,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// The limits of `[limits]`, shared by every worker thread of the server.
pub struct RateLimits {
    rules: Vec<Rule>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&str> = self.rules.iter().map(|r| r.path).collect();
        write!(f, "RateLimits({paths:?})")
    }
}

impl RateLimits {
    /// The limits of `config`; a limit of 0 is no limit.
    pub fn new(config: &LimitsConfig) -> Self {
        let rules = [
            (
                None,
                "/pay",
                NonZeroU32::new(config.pay_per_minute).map(Quota::per_minute),
            ),
            // The buyer's return from a gateway with a server-side step makes a call to the gateway's API
            // (PayPal Checkout's capture): the same quota as /pay, a bucket of its own.
            (
                None,
                "/return/",
                NonZeroU32::new(config.pay_per_minute).map(Quota::per_minute),
            ),
            (
                Some(Method::POST),
                "/librement/sign-in",
                NonZeroU32::new(config.sign_in_per_minute).map(Quota::per_minute),
            ),
            // The console's sign-in runs the same argon2 hash as Librement's: its own bucket, same quota,
            // so that guessing an operator's password is as slow as guessing a user's.
            (
                Some(Method::POST),
                "/admin/sign-in",
                NonZeroU32::new(config.sign_in_per_minute).map(Quota::per_minute),
            ),
            (
                Some(Method::POST),
                "/librement/sign-up",
                NonZeroU32::new(config.sign_up_per_hour).map(Quota::per_hour),
            ),
        ]
        .into_iter()
        .filter_map(|(method, path, quota)| {
            quota.map(|quota| Rule {
                method,
                path,
                prefix: path.ends_with('/'),
                limiter: RateLimiter::keyed(quota),
            })
        })
        .collect();
        RateLimits { rules }
    }

    /// Counts a request of `method` to `path` from `client`: `Err(wait)` when that address is over the
    /// route's quota and may try again after `wait`. Routes without a limit always pass.
    pub fn check(&self, method: &Method, path: &str, client: IpAddr) -> Result<(), Duration> {
        let Some(rule) = self.rules.iter().find(|r| {
            let matches = if r.prefix {
                path.starts_with(r.path)
            } else {
                r.path == path
            };
            matches && r.method.as_ref().is_none_or(|m| m == method)
        }) else {
            return Ok(());
        };
        rule.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(rule.limiter.clock().now()))
    }

    /// Forgets every address whose quotas are full again (it would be limited exactly as a new one).
    pub fn retain_recent(&self) {
        for rule in &self.rules {
            rule.limiter.retain_recent();
            rule.limiter.shrink_to_fit();
        }
    }

    /// How many addresses the limiters remember, over all routes.
    pub fn remembered(&self) -> usize {
        self.rules.iter().map(|r| r.limiter.len()).sum()
    }

    /// Runs [`RateLimits::retain_recent`] every `period` on the current tokio runtime.
    pub fn spawn_cleanup(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let limits = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                limits.retain_recent();
            }
        })
    }
}

/// The middleware (`actix_web::middleware::from_fn(rate_limits::limit)`), reading the [`RateLimits`] the
/// app registered as `web::Data`. The client address is [`payment_buttons::actix::client_ip`]'s (the TCP
/// peer, or what `server.trusted_proxies` say); the path is the one the router matches (percent-decoded,
/// after `NormalizePath`), so that `/p%61y` counts as `/pay`.
pub async fn limit(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let wait = match (
        request.app_data::<web::Data<RateLimits>>(),
        payment_buttons::actix::client_ip(request.request()),
    ) {
        (Some(limits), Some(client)) => limits
            .check(request.method(), request.match_info().as_str(), client)
            .err(),
        _ => None,
    };
    match wait {
        Some(wait) => Ok(request.into_response(too_many(wait)).map_into_right_body()),
        None => next.call(request).await.map(ServiceResponse::map_into_left_body),
    }
}

/// 429 with `Retry-After` in whole seconds (rounded up, at least 1).
fn too_many(wait: Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .content_type(header::ContentType::plaintext())
        .body(format!(
            "too many requests from your address; try again in {seconds} seconds\n"
        ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn addresses_back_to_a_full_quota_are_forgotten() {
        // 600 a minute: a used request comes back after 100 ms.
        let limits = RateLimits::new(&LimitsConfig {
            pay_per_minute: 600,
            ..LimitsConfig::default()
        });
        for i in 0..1000u32 {
            let client = IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(limits.check(&Method::POST, "/pay", client), Ok(()));
        }
        assert_eq!(limits.remembered(), 1000);
        std::thread::sleep(Duration::from_millis(250));
        limits.retain_recent();
        assert_eq!(limits.remembered(), 0, "memory follows recent addresses only");
    }

    #[test]
    fn only_the_limited_routes_count() {
        let limits = RateLimits::new(&LimitsConfig {
            sign_in_per_minute: 1,
            ..LimitsConfig::default()
        });
        let client = IpAddr::from(Ipv4Addr::LOCALHOST);
        for _ in 0..5 {
            assert_eq!(limits.check(&Method::GET, "/librement/sign-in", client), Ok(()));
            assert_eq!(limits.check(&Method::POST, "/notify/paypal", client), Ok(()));
        }
        assert_eq!(limits.check(&Method::POST, "/librement/sign-in", client), Ok(()));
        assert!(limits.check(&Method::POST, "/librement/sign-in", client).is_err());
    }

    #[test]
    fn returns_from_a_gateway_share_a_bucket_of_their_own_with_the_pay_quota() {
        let limits = RateLimits::new(&LimitsConfig {
            pay_per_minute: 2,
            ..LimitsConfig::default()
        });
        let client = IpAddr::from(Ipv4Addr::LOCALHOST);
        assert_eq!(
            limits.check(&Method::GET, "/return/paypal/AAAAAAAAAAAA", client),
            Ok(())
        );
        assert_eq!(
            limits.check(&Method::GET, "/return/paypal/BBBBBBBBBBBB", client),
            Ok(())
        );
        assert!(
            limits
                .check(&Method::GET, "/return/paypal/CCCCCCCCCCCC", client)
                .is_err()
        );
        assert_eq!(limits.check(&Method::POST, "/pay", client), Ok(()), "not /pay's bucket");
        assert_eq!(
            limits.check(&Method::GET, "/returns", client),
            Ok(()),
            "a prefix ends with /"
        );
    }
}
