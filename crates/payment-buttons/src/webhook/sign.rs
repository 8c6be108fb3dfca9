//! The sender's side: the three headers of one delivery attempt.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, VERSION_V1, WebhookSecret, signature_v1};

/// Longest `webhook-id` [`sign`] accepts.
const MAX_ID_LEN: usize = 255;

/// Why a delivery could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The endpoint has no secret: an unsigned request would be refused by every receiver.
    #[error("a webhook needs at least one secret to be signed")]
    NoSecret,
    /// The id is empty, longer than 255 bytes, or holds a character other than printable ASCII or a `.`.
    ///
    /// A `.` would make `"<id>.<timestamp>.<body>"` ambiguous: the signature of id `a.1`, timestamp `2`
    /// and body `x` would also be valid for id `a`, timestamp `1` and body `2.x`.
    #[error("a webhook id must be 1 to 255 printable ASCII characters without '.'")]
    InvalidId,
}

/// The headers of one signed delivery attempt, ready to be set on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`: the event id.
    pub id: String,
    /// `webhook-timestamp`: Unix seconds, as decimal text.
    pub timestamp: String,
    /// `webhook-signature`: one `v1,<base64>` per secret, separated by spaces, the current secret first.
    pub signature: String,
}

impl SignedHeaders {
    /// The `(name, value)` pairs, to set on an HTTP request with any client.
    ///
    /// ```
    /// use payment_buttons::webhook::{WebhookSecret, sign};
    /// let secret = WebhookSecret::generate();
    /// let signed = sign(&[secret], "evt_1", 1_700_000_000, b"{}").unwrap();
    /// let names: Vec<&str> = signed.pairs().iter().map(|(name, _)| *name).collect();
    /// assert_eq!(names, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    /// ```
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, &self.id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }
}

/// Signs one delivery attempt of `body` (the exact bytes that will be posted) for event `id` at
/// `timestamp` (Unix seconds, normally the time of the attempt, so that every retry is signed afresh).
///
/// Every secret is listed, in the order given: during a rotation the first is the current one and the
/// others are still accepted by receivers that have not switched yet.
///
/// ```
/// use payment_buttons::webhook::{WebhookSecret, sign};
/// let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
/// let signed = sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).unwrap();
/// assert_eq!(signed.signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// assert_eq!(signed.timestamp, "1614265330");
/// ```
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> Result<SignedHeaders, SignError> {
    if secrets.is_empty() {
        return Err(SignError::NoSecret);
    }
    if !is_valid_id(id) {
        return Err(SignError::InvalidId);
    }
    let signature = secrets
        .iter()
        .map(|secret| {
            format!(
                "{VERSION_V1},{}",
                STANDARD.encode(signature_v1(secret, id, timestamp, body))
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Ok(SignedHeaders {
        id: id.to_owned(),
        timestamp: timestamp.to_string(),
        signature,
    })
}

/// Printable ASCII keeps the id a valid header value; no `.` keeps the signed string unambiguous.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> WebhookSecret {
        WebhookSecret::from_bytes(vec![byte; 32]).unwrap()
    }

    #[test]
    fn one_signature_per_secret_in_the_order_given() {
        let (current, previous) = (secret(1), secret(2));
        let both = sign(&[current.clone(), previous.clone()], "evt_1", 1_700_000_000, b"{}").unwrap();
        let alone = |s: &WebhookSecret| sign(std::slice::from_ref(s), "evt_1", 1_700_000_000, b"{}").unwrap();
        assert_eq!(
            both.signature,
            format!("{} {}", alone(&current).signature, alone(&previous).signature)
        );
    }

    #[test]
    fn signing_without_a_secret_is_refused() {
        assert_eq!(sign(&[], "evt_1", 1_700_000_000, b"{}"), Err(SignError::NoSecret));
    }

    #[test]
    fn ids_that_would_make_the_signed_string_ambiguous_or_break_the_header_are_refused() {
        for id in ["", "evt.1", "evt 1", "evt\n1", "évt_1", &"a".repeat(256)] {
            assert_eq!(
                sign(&[secret(1)], id, 1_700_000_000, b"{}"),
                Err(SignError::InvalidId),
                "{id:?}"
            );
        }
        assert!(sign(&[secret(1)], &"a".repeat(255), 1_700_000_000, b"{}").is_ok());
    }

    #[test]
    fn the_timestamp_is_part_of_what_is_signed() {
        let a = sign(&[secret(1)], "evt_1", 1_700_000_000, b"{}").unwrap();
        let b = sign(&[secret(1)], "evt_1", 1_700_000_001, b"{}").unwrap();
        assert_ne!(a.signature, b.signature);
    }
}
