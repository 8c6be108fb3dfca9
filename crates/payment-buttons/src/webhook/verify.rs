//! The receiver's side: is this request from the sender, and recent?

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use subtle::{Choice, ConstantTimeEq};

use super::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, VERSION_V1, WebhookSecret, signature_v1};

/// How far the signing time may be from the receiver's clock, in either direction, by default: 5 minutes.
/// Longer lets a captured request be replayed for longer; shorter refuses senders whose clocks drift.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a webhook request was refused. The messages name headers, never their values or any secret, so
/// they are safe to log and to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A required header is absent (or not valid text).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The `webhook-id` header is empty.
    #[error("empty header {HEADER_ID}")]
    EmptyId,
    /// The `webhook-timestamp` header is not a whole number of seconds.
    #[error("header {HEADER_TIMESTAMP} is not a Unix time in seconds")]
    BadTimestamp,
    /// The request was signed longer ago than the tolerance allows (a replay, or a very late delivery).
    #[error("header {HEADER_TIMESTAMP} is too old")]
    TooOld,
    /// The request claims to be signed later than the tolerance allows.
    #[error("header {HEADER_TIMESTAMP} is too far in the future")]
    TooNew,
    /// No `v1` signature of the header matches any of the secrets.
    #[error("no valid signature in header {HEADER_SIGNATURE}")]
    NoMatchingSignature,
    /// The receiver was given no secret to check with (a configuration mistake).
    #[error("no webhook secret configured to check the signature with")]
    NoSecret,
}

/// The three header values of a received request, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedHeaders<'a> {
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp`.
    pub timestamp: &'a str,
    /// `webhook-signature`.
    pub signature: &'a str,
}

impl<'a> ReceivedHeaders<'a> {
    /// Reads the headers through `header`, which returns the value of a header by its lower-case name
    /// (HTTP header names are case-insensitive: look them up as such, as `http::HeaderMap` does).
    pub fn from_lookup(header: impl Fn(&str) -> Option<&'a str>) -> Result<Self, WebhookError> {
        let get = |name: &'static str| header(name).ok_or(WebhookError::MissingHeader(name));
        Ok(ReceivedHeaders {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }
}

/// Checks a request in one call: reads the headers through `header` (see
/// [`ReceivedHeaders::from_lookup`]), then [`verify`]s `body` (the raw bytes received, before any
/// parsing) against the system clock with [`DEFAULT_TOLERANCE`].
///
/// ```
/// use std::collections::HashMap;
/// use payment_buttons::webhook::{WebhookError, WebhookSecret, sign, verify_request};
///
/// let secrets = [WebhookSecret::generate()];
/// let body = br#"{"id":"evt_1"}"#;
/// let signed = sign(&secrets, "evt_1", chrono::Utc::now().timestamp(), body).unwrap();
/// let request_headers: HashMap<&str, &str> = signed.pairs().into_iter().collect();
///
/// let header = |name: &str| request_headers.get(name).copied();
/// assert_eq!(verify_request(&secrets, header, body), Ok(()));
/// assert_eq!(verify_request(&secrets, |_| None, body), Err(WebhookError::MissingHeader("webhook-id")));
/// ```
pub fn verify_request<'a>(
    secrets: &[WebhookSecret],
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let headers = ReceivedHeaders::from_lookup(header)?;
    verify(secrets, &headers, body, Utc::now(), DEFAULT_TOLERANCE)
}

/// Checks that `headers` sign `body` with one of `secrets`, at a time within `tolerance` of `now` (in both
/// directions).
///
/// Accepted when any `v1,` signature of the header matches any of the secrets (a rotation on either side);
/// signatures of other versions are ignored, as Standard Webhooks asks. Every comparison is constant-time
/// and every candidate is compared, so the time taken does not tell which one came close.
///
/// ```
/// use std::time::Duration;
/// use chrono::DateTime;
/// use payment_buttons::webhook::{ReceivedHeaders, WebhookError, WebhookSecret, verify};
///
/// let secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse::<WebhookSecret>().unwrap()];
/// let headers = ReceivedHeaders {
///     id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     timestamp: "1614265330",
///     signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
/// };
/// let body = br#"{"test": 2432232314}"#;
/// let signed_at = DateTime::from_timestamp(1614265330, 0).unwrap();
/// let tolerance = Duration::from_secs(300);
/// assert_eq!(verify(&secrets, &headers, body, signed_at, tolerance), Ok(()));
///
/// let an_hour_later = DateTime::from_timestamp(1614265330 + 3600, 0).unwrap();
/// assert_eq!(verify(&secrets, &headers, body, an_hour_later, tolerance), Err(WebhookError::TooOld));
/// ```
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &ReceivedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    if secrets.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    if headers.id.is_empty() {
        return Err(WebhookError::EmptyId);
    }
    let timestamp = parse_timestamp(headers.timestamp)?;
    check_freshness(timestamp, now, tolerance)?;

    let candidates: Vec<[u8; 32]> = headers.signature.split(' ').filter_map(v1_signature).collect();
    if candidates.is_empty() {
        return Err(WebhookError::NoMatchingSignature);
    }
    let mut matched = Choice::from(0);
    for secret in secrets {
        // Signed in the form the sender writes (`i64` as decimal), whatever padding the header carried.
        let expected = signature_v1(secret, headers.id, timestamp, body);
        for candidate in &candidates {
            matched |= expected.ct_eq(candidate);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(WebhookError::NoMatchingSignature)
    }
}

/// Digits only, with an optional leading `-`: what a sender writing an integer produces.
fn parse_timestamp(text: &str) -> Result<i64, WebhookError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::BadTimestamp);
    }
    text.parse().map_err(|_| WebhookError::BadTimestamp)
}

fn check_freshness(timestamp: i64, now: DateTime<Utc>, tolerance: Duration) -> Result<(), WebhookError> {
    // i128 so that no timestamp, however absurd, overflows the subtraction.
    let age = i128::from(now.timestamp()) - i128::from(timestamp);
    let tolerance = i128::from(tolerance.as_secs());
    if age > tolerance {
        Err(WebhookError::TooOld)
    } else if -age > tolerance {
        Err(WebhookError::TooNew)
    } else {
        Ok(())
    }
}

/// The 32 bytes of one `v1,<base64>` entry; `None` for another version or an entry that cannot be one.
fn v1_signature(entry: &str) -> Option<[u8; 32]> {
    let (version, encoded) = entry.split_once(',')?;
    if version != VERSION_V1 {
        return None;
    }
    let bytes = STANDARD.decode(encoded).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn the_tolerance_window_includes_its_edges_in_both_directions() {
        let tolerance = Duration::from_secs(300);
        assert_eq!(check_freshness(1_000, at(1_300), tolerance), Ok(()));
        assert_eq!(check_freshness(1_000, at(700), tolerance), Ok(()));
        assert_eq!(check_freshness(1_000, at(1_301), tolerance), Err(WebhookError::TooOld));
        assert_eq!(check_freshness(1_000, at(699), tolerance), Err(WebhookError::TooNew));
    }

    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        assert_eq!(
            check_freshness(i64::MIN, at(0), DEFAULT_TOLERANCE),
            Err(WebhookError::TooOld)
        );
        assert_eq!(
            check_freshness(i64::MAX, at(0), DEFAULT_TOLERANCE),
            Err(WebhookError::TooNew)
        );
        let huge = Duration::from_secs(u64::MAX);
        assert_eq!(check_freshness(i64::MIN, at(0), huge), Ok(()));
    }

    #[test]
    fn only_plain_integers_are_timestamps() {
        assert_eq!(parse_timestamp("1614265330"), Ok(1614265330));
        assert_eq!(parse_timestamp("-5"), Ok(-5));
        for text in [
            "",
            "-",
            "+1614265330",
            " 1614265330",
            "1614265330.5",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(parse_timestamp(text), Err(WebhookError::BadTimestamp), "{text:?}");
        }
    }

    #[test]
    fn only_well_formed_v1_entries_are_candidates() {
        let valid = format!("v1,{}", STANDARD.encode([9u8; 32]));
        assert_eq!(v1_signature(&valid), Some([9u8; 32]));
        let short = format!("v1,{}", STANDARD.encode([9u8; 31]));
        let other_version = format!("v1a,{}", STANDARD.encode([9u8; 32]));
        for entry in ["", "v1", "v1,", "v1,***", &short, &other_version] {
            assert_eq!(v1_signature(entry), None, "{entry:?}");
        }
    }
}
