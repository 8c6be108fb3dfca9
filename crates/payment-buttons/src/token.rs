//! Signed button tokens: a button configuration that nobody can change between the shop's page and `/pay`.
//!
//! A token is `v1.<payload>.<signature>`: the payload is base64url JSON holding the configuration and an
//! expiry, the signature HMAC-SHA256 over `v1.<payload>` with a key derived from the service secret.
//!
//! ```
//! use std::time::Duration;
//! use payment_buttons::button::ButtonConfig;
//! use payment_buttons::token::{ButtonSigner, TokenError};
//!
//! let signer = ButtonSigner::new(b"a long random service secret....");
//! let config = ButtonConfig::from_json(r#"{"order_reference": "A1",
//!   "options": [{"description": "Book", "amount": "9.90", "currency": "EUR"}],
//!   "payment_options": {"paypal": {}},
//!   "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#).unwrap();
//! let now = chrono::Utc::now();
//! let token = signer.sign(&config, Duration::from_secs(3600), now).unwrap();
//! assert_eq!(signer.verify(&token, now).unwrap(), config);
//!
//! let other = ButtonSigner::new(b"another secret..................");
//! assert_eq!(other.verify(&token, now), Err(TokenError::BadSignature));
//! ```

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::button::{ButtonConfig, ButtonError};

const PREFIX: &str = "v1.";
/// Tokens larger than this are refused by `/pay` before any work (a button is a few kilobytes at most), so
/// [`ButtonSigner::sign`] refuses to sign a configuration whose token would be larger.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Why a token was refused. Display texts are safe to show to the buyer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token at all, or cut short.
    #[error("the button token is malformed or truncated")]
    Malformed,
    /// Signed with another key, or changed after signing.
    #[error("the button token's signature does not match: it was changed or signed by another service")]
    BadSignature,
    /// Past its lifetime.
    #[error("the button has expired; reload the shop's page")]
    Expired,
    /// Signed by us, but the configuration inside is not valid (an older version of this library, say).
    #[error("the button configuration is not valid: {0}")]
    InvalidButton(ButtonError),
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    exp: i64,
    button: serde_json::Value,
}

/// Signs and verifies button tokens with a key derived from the service secret.
#[derive(Clone)]
pub struct ButtonSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for ButtonSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ButtonSigner(***)")
    }
}

type HmacSha256 = hmac::Hmac<Sha256>;

impl ButtonSigner {
    /// A signer for `secret` (at least 32 random bytes recommended). The token key is derived from it so
    /// that the same secret can sign other things (sessions, CSRF) without the uses ever colliding.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"payment-buttons/button-token/v1");
        let key = mac.finalize().into_bytes();
        let mut out = [0u8; 32];
        out.copy_from_slice(&key);
        ButtonSigner { key: out }
    }

    fn mac(&self, signed_part: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(signed_part.as_bytes());
        mac
    }

    /// Signs `config`, valid for `ttl` from `now`. Refused when the token would be longer than
    /// [`MAX_TOKEN_LEN`]: `/pay` would refuse it, so the button could never be paid.
    pub fn sign(&self, config: &ButtonConfig, ttl: Duration, now: DateTime<Utc>) -> Result<String, ButtonError> {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(3650));
        let payload = Payload {
            exp: (now + ttl).timestamp(),
            button: config.to_json_value(),
        };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let signed_part = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
        let signature = self.mac(&signed_part).finalize().into_bytes();
        let token = format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(signature));
        if token.len() > MAX_TOKEN_LEN {
            return Err(ButtonError::new(
                "",
                format!(
                    "the signed button would be {} bytes, more than the {MAX_TOKEN_LEN} bytes (64 KiB) a button \
                     token may have: shorten its descriptions, custom fields or options",
                    token.len()
                ),
            ));
        }
        Ok(token)
    }

    /// Verifies a token and returns the configuration it carries.
    ///
    /// The signature is checked (in constant time) before the payload is parsed, so nothing an attacker
    /// sends is interpreted unless we signed it.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<ButtonConfig, TokenError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_LEN || !token.starts_with(PREFIX) {
            return Err(TokenError::Malformed);
        }
        let (signed_part, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        if signed_part.len() <= PREFIX.len() {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        self.mac(signed_part)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(&signed_part[PREFIX.len()..])
            .map_err(|_| TokenError::Malformed)?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if payload.exp < now.timestamp() {
            return Err(TokenError::Expired);
        }
        let json = serde_json::to_string(&payload.button).map_err(|_| TokenError::Malformed)?;
        ButtonConfig::from_json(&json).map_err(TokenError::InvalidButton)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ButtonConfig {
        ButtonConfig::from_json(
            r#"{"order_reference": "ORDER-1", "email": "b@example.org",
            "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR", "custom": {"sku": "m1"}}],
            "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
            "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
        )
        .unwrap()
    }

    fn signer() -> ButtonSigner {
        ButtonSigner::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_signed_button_comes_back_identical() {
        let now = Utc::now();
        let config = config();
        let token = signer().sign(&config, Duration::from_secs(60), now).unwrap();
        assert_eq!(signer().verify(&token, now).unwrap(), config);
    }

    #[test]
    fn a_changed_amount_is_refused() {
        let now = Utc::now();
        let token = signer().sign(&config(), Duration::from_secs(60), now).unwrap();
        let (head, sig) = token.rsplit_once('.').unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&head[3..]).unwrap()).unwrap();
        let forged = json.replace("12.50", "0.01");
        assert_ne!(json, forged);
        let forged_token = format!("v1.{}.{sig}", URL_SAFE_NO_PAD.encode(forged));
        assert_eq!(signer().verify(&forged_token, now), Err(TokenError::BadSignature));
    }

    #[test]
    fn truncated_and_garbage_tokens_are_malformed_or_bad() {
        let now = Utc::now();
        let token = signer().sign(&config(), Duration::from_secs(60), now).unwrap();
        for cut in [1, 5, 43] {
            let refused = signer().verify(&token[..token.len() - cut], now);
            assert!(
                matches!(refused, Err(TokenError::Malformed | TokenError::BadSignature)),
                "{cut}: {refused:?}"
            );
        }
        assert_eq!(signer().verify(&token[..20], now), Err(TokenError::Malformed));
        assert_eq!(signer().verify("", now), Err(TokenError::Malformed));
        assert_eq!(signer().verify("v1.", now), Err(TokenError::Malformed));
        assert_eq!(signer().verify("v1.abc.!!!", now), Err(TokenError::Malformed));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let then = Utc::now() - chrono::Duration::hours(2);
        let token = signer().sign(&config(), Duration::from_secs(3600), then).unwrap();
        assert_eq!(signer().verify(&token, Utc::now()), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_from_another_key_is_refused() {
        let now = Utc::now();
        let token = ButtonSigner::new(b"someone else's secret key.......")
            .sign(&config(), Duration::from_secs(60), now)
            .unwrap();
        assert_eq!(signer().verify(&token, now), Err(TokenError::BadSignature));
    }
}
