//! The shared secret of one webhook endpoint, written `whsec_<base64>`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use subtle::ConstantTimeEq;

/// Why a webhook secret was refused. Never contains the secret or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a webhook secret must start with \"whsec_\"")]
    MissingPrefix,
    /// The text after `whsec_` is not standard base64 (with `+`, `/` and `=` padding).
    #[error("the text after \"whsec_\" in a webhook secret is not valid base64")]
    NotBase64,
    /// The decoded key is shorter than 24 bytes or longer than 64 bytes.
    #[error("a webhook secret must decode to 24 to 64 bytes, this one decodes to {0}")]
    WrongLength(usize),
}

/// The HMAC key of a webhook endpoint.
///
/// Written `whsec_` followed by the standard base64 of the key; the key is the decoded bytes, not the text
/// (signing with the text itself is a common mistake that no Standard Webhooks receiver accepts). Keys of
/// 24 to 64 bytes are accepted, the range Standard Webhooks recommends. `Debug` never shows the key, and
/// there is no `Display`, so that it cannot end up in a log by accident.
///
/// ```
/// use payment_buttons::webhook::WebhookSecret;
/// let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
/// assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
/// assert!("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse::<WebhookSecret>().is_err()); // no prefix
/// ```
#[derive(Clone, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// The prefix of the written form.
    pub const PREFIX: &'static str = "whsec_";
    /// Shortest accepted key, in bytes.
    pub const MIN_KEY_LEN: usize = 24;
    /// Longest accepted key, in bytes.
    pub const MAX_KEY_LEN: usize = 64;
    /// Length of the keys [`WebhookSecret::generate`] makes, in bytes.
    pub const GENERATED_KEY_LEN: usize = 32;

    /// Reads `whsec_<base64>`; white space around it is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(Self::PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        Self::from_bytes(key)
    }

    /// A secret from the raw key bytes.
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if (Self::MIN_KEY_LEN..=Self::MAX_KEY_LEN).contains(&key.len()) {
            Ok(WebhookSecret { key })
        } else {
            Err(SecretError::WrongLength(key.len()))
        }
    }

    /// A new random secret of [`Self::GENERATED_KEY_LEN`] bytes, from the operating system's CSPRNG.
    ///
    /// ```
    /// use payment_buttons::webhook::WebhookSecret;
    /// let secret = WebhookSecret::generate();
    /// let written = secret.expose_whsec();
    /// assert!(written.starts_with("whsec_"));
    /// assert_eq!(WebhookSecret::parse(&written).unwrap(), secret);
    /// ```
    pub fn generate() -> Self {
        // ThreadRng is a CSPRNG seeded from the operating system.
        let key: [u8; Self::GENERATED_KEY_LEN] = rand::rng().random();
        WebhookSecret { key: key.to_vec() }
    }

    /// The written form `whsec_<base64>`, to put in a configuration file or show once to an operator.
    /// Named so that every use stands out in review: this is the secret itself.
    pub fn expose_whsec(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.key))
    }

    /// The HMAC key, for this module's computations only.
    pub(super) fn key(&self) -> &[u8] {
        &self.key
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WebhookSecret::parse(s)
    }
}

impl PartialEq for WebhookSecret {
    /// Constant time in the contents, like every comparison of key material in this crate.
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl<'de> serde::Deserialize<'de> for WebhookSecret {
    /// Reads the written form, so that a configuration can hold `secrets = ["whsec_..."]`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WebhookSecret::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn the_key_is_the_base64_decoding_of_the_text_after_the_prefix() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let expected = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(secret.key(), expected.as_slice());
        assert_eq!(secret.key().len(), 24);
    }

    #[test]
    fn surrounding_white_space_is_ignored() {
        let padded = format!("  {VECTOR_SECRET}\n");
        assert_eq!(
            WebhookSecret::parse(&padded).unwrap(),
            WebhookSecret::parse(VECTOR_SECRET).unwrap()
        );
    }

    #[test]
    fn a_secret_without_its_prefix_is_refused() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
    }

    #[test]
    fn text_that_is_not_base64_is_refused() {
        assert_eq!(
            WebhookSecret::parse("whsec_not base64 at all!!"),
            Err(SecretError::NotBase64)
        );
        // URL-safe base64 is another alphabet: refused rather than silently decoded to another key.
        assert_eq!(
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_"),
            Err(SecretError::NotBase64)
        );
    }

    #[test]
    fn keys_outside_24_to_64_bytes_are_refused() {
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(WebhookSecret::parse(&short), Err(SecretError::WrongLength(23)));
        assert_eq!(WebhookSecret::parse(&long), Err(SecretError::WrongLength(65)));
        assert_eq!(WebhookSecret::parse("whsec_"), Err(SecretError::WrongLength(0)));
        assert!(WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());
    }

    #[test]
    fn no_error_message_contains_the_secret() {
        let candidates = [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!",
            "whsec_MfKQ9r8GKYqr",
        ];
        for text in candidates {
            let error = WebhookSecret::parse(text).unwrap_err();
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(!shown.contains("MfKQ9r8GKYqr"), "{shown}");
            }
        }
    }

    #[test]
    fn a_deserialization_error_does_not_contain_the_secret() {
        let error = serde_json::from_str::<WebhookSecret>("\"whsec_MfKQ9r8GKYqr\"").unwrap_err();
        assert!(!error.to_string().contains("MfKQ9r8GKYqr"), "{error}");
        let parsed: Vec<WebhookSecret> = serde_json::from_str(&format!("[\"{VECTOR_SECRET}\"]")).unwrap();
        assert_eq!(parsed, vec![WebhookSecret::parse(VECTOR_SECRET).unwrap()]);
    }

    #[test]
    fn debug_hides_the_key() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
        assert_eq!(format!("{:?}", [secret]), "[WebhookSecret(***)]");
    }

    #[test]
    fn generated_secrets_are_distinct_and_round_trip() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.key().len(), WebhookSecret::GENERATED_KEY_LEN);
        assert_eq!(WebhookSecret::parse(&a.expose_whsec()).unwrap(), a);
    }
}
