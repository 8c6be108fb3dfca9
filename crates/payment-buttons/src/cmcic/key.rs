//! The merchant key: the 40 characters the bank gives, turned into the 20 bytes the HMAC uses.
//!
//! The bank's keys are hexadecimal except, sometimes, for the last two characters, which follow two
//! historical rules (see [`UsableKey::from_merchant_key`]). Getting them wrong yields a MAC the bank refuses
//! for a handful of merchants only, which is why they are spelled out and tested against every rule.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;

use super::config::refused;
use crate::gateway::GatewayError;

/// Length of the key as the bank gives it.
pub(crate) const MERCHANT_KEY_LEN: usize = 40;

/// The 20-byte HMAC-SHA1 key derived from the merchant key. Its `Debug` never shows it.
///
/// ```
/// use payment_buttons::cmcic::UsableKey;
/// let key = UsableKey::from_merchant_key("0123456789ABCDEF0123456789ABCDEF012345AM").unwrap();
/// assert_eq!(format!("{key:?}"), "UsableKey(***)");
/// assert!(UsableKey::from_merchant_key("12345678901234567890123456789012345678PM").is_err());
/// ```
#[derive(Clone)]
pub struct UsableKey([u8; 20]);

impl UsableKey {
    /// Applies the bank's rules to the 40 characters it gave (surrounding white space is ignored):
    ///
    /// 1. keep the first 38 characters; call the last two `c1` and `c2`;
    /// 2. when `c1` is in the ASCII range 71..=96 (`G`..`` ` ``) it stands for the character 23 code points
    ///    lower (`G`..`P` → `0`..`9`, `X`..`]` → `A`..`F`) and `c2` is kept;
    /// 3. otherwise a `c2` of `M` stands for `0`;
    /// 4. the 40 characters are then hex-decoded.
    ///
    /// A refused key is a [`GatewayError::Configuration`] about `cmcic.key` that never shows the key.
    pub fn from_merchant_key(key: &str) -> Result<Self, GatewayError> {
        let key = key.trim().as_bytes();
        if key.len() != MERCHANT_KEY_LEN {
            // Counting characters rather than bytes keeps the message meaningful for non-ASCII input.
            let chars = String::from_utf8_lossy(key).chars().count();
            return Err(refused(
                "key",
                &format!("the CM-CIC key must have 40 characters, this one has {chars}"),
            ));
        }
        let mut text = [0u8; MERCHANT_KEY_LEN];
        text.copy_from_slice(key);
        let (c1, c2) = (text[38], text[39]);
        if (71..=96).contains(&c1) {
            text[38] = c1 - 23;
        } else if c2 == b'M' {
            text[39] = b'0';
        }
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| {
            refused(
                "key",
                "the CM-CIC key is not hexadecimal (after the bank's rules for its last two characters)",
            )
        })?;
        Ok(UsableKey(bytes))
    }

    /// A key from its 20 bytes (tests, or keys stored already derived).
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        UsableKey(bytes)
    }

    /// The bytes, for the HMAC computations of this module only.
    pub(crate) fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl FromStr for UsableKey {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UsableKey::from_merchant_key(s)
    }
}

impl PartialEq for UsableKey {
    /// Constant time, so that comparing keys leaks nothing about them.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for UsableKey {}

impl fmt::Debug for UsableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UsableKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(key: &str) -> String {
        hex::encode(UsableKey::from_merchant_key(key).expect("valid key").0)
    }

    #[test]
    fn a_plain_hex_key_is_decoded_as_is_in_either_case() {
        assert_eq!(
            derived("1036DEFD9175F29EE9337A1F284BDF781D5A4048"),
            "1036defd9175f29ee9337a1f284bdf781d5a4048"
        );
        assert_eq!(
            derived("bebd2381223a4bdd2c767b3f87e0b15c434c227b"),
            "bebd2381223a4bdd2c767b3f87e0b15c434c227b"
        );
    }

    #[test]
    fn a_letter_from_g_to_backquote_in_position_39_stands_for_the_character_23_lower() {
        assert!(derived("12345678901234567890123456789012345678P0").ends_with("90"));
        assert!(derived("0123456789ABCDEF0123456789ABCDEF012345X7").ends_with("a7"));
        assert!(derived("FEDCBA9876543210FEDCBA9876543210FEDCBAG5").ends_with("05"));
    }

    #[test]
    fn a_final_m_stands_for_zero_when_position_39_is_not_a_special_letter() {
        assert!(derived("0123456789ABCDEF0123456789ABCDEF012345AM").ends_with("a0"));
        assert!(derived("BEBD2381223A4BDD2C767B3F87E0B15C434C220M").ends_with("00"));
    }

    #[test]
    fn keys_that_do_not_decode_are_refused_without_showing_them() {
        let secret = "12345678901234567890123456789012345678PM";
        let err = UsableKey::from_merchant_key(secret).unwrap_err();
        assert!(
            err.to_string().contains("cmcic.key: the CM-CIC key is not hexadecimal"),
            "{err}"
        );
        assert!(!err.to_string().contains("1234567890"));
        assert!(!format!("{err:?}").contains("1234567890"));
        assert!(
            UsableKey::from_merchant_key("ABCDEF")
                .unwrap_err()
                .to_string()
                .contains("must have 40 characters, this one has 6")
        );
        assert!(UsableKey::from_merchant_key("é23456789012345678901234567890123456789").is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        assert_eq!(format!("{key:?}"), "UsableKey(***)");
    }
}
