//! `aliascb`: the name under which the bank keeps a buyer's card for Express Payment.
//!
//! The alias is sent to the bank and comes back in its pages' logs, so it must not reveal who the buyer
//! is: it is a keyed hash (HMAC-SHA256) of a [`VouchedIdentity`] and its origin (`customer:42`,
//! `librement-user:42`), never of an e-mail, which anyone can type into a checkout. Keyed, so that someone
//! who knows an identity cannot compute the alias and cannot test guesses offline.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::key::UsableKey;
use crate::identity::VouchedIdentity;

/// Context string separating the alias key from every other use of the secret. v2: aliases of vouched
/// identities; no v1 alias (keyed on an e-mail) can be computed any more, so no card saved under one is
/// ever offered again.
const DERIVATION_LABEL: &[u8] = b"librement-pay cmcic aliascb v2";

/// The secret that turns vouched identities into aliases. Its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct AliasKey([u8; 32]);

impl AliasKey {
    /// Derived from the merchant key (the default): HMAC-SHA256 of a fixed label under the usable key.
    pub fn derived_from(key: &UsableKey) -> Self {
        AliasKey(hmac_sha256(key.as_bytes(), DERIVATION_LABEL))
    }

    /// From a secret of the merchant's own (any length; it is hashed with the same label).
    pub fn from_secret(secret: &[u8]) -> Self {
        AliasKey(hmac_sha256(secret, DERIVATION_LABEL))
    }

    /// The alias of a buyer: 64 lower-case hex digits (`[a-zA-Z0-9]{1,64}` as the bank requires). The
    /// origin is hashed with the identifier, so a shop's customer `42` and an account `42` differ.
    pub fn alias_for(&self, identity: &VouchedIdentity) -> String {
        hex::encode(hmac_sha256(&self.0, identity.to_string().as_bytes()))
    }
}

impl fmt::Debug for AliasKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AliasKey(***)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::button::CustomerId;

    fn customer(id: &str) -> VouchedIdentity {
        VouchedIdentity::customer(&CustomerId::parse(id).unwrap())
    }

    #[test]
    fn aliases_are_stable_alphanumeric_and_depend_on_the_key() {
        let a = AliasKey::from_secret(b"one");
        let b = AliasKey::from_secret(b"two");
        let alias = a.alias_for(&customer("42"));
        assert_eq!(alias, a.alias_for(&customer("42")));
        assert_ne!(alias, b.alias_for(&customer("42")));
        assert_ne!(alias, a.alias_for(&customer("43")));
        assert!((1..=64).contains(&alias.len()));
        assert!(alias.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn a_shop_customer_and_an_account_with_the_same_number_never_share_a_card() {
        let key = AliasKey::from_secret(b"server secret");
        let account = VouchedIdentity::signed_in("librement-user", "42").unwrap();
        assert_ne!(key.alias_for(&customer("42")), key.alias_for(&account));
    }

    #[test]
    fn the_derived_key_differs_from_the_merchant_key_use() {
        let merchant = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        let derived = AliasKey::derived_from(&merchant);
        let same_bytes_as_secret = AliasKey::from_secret(merchant.as_bytes());
        assert_eq!(
            derived.alias_for(&customer("x")),
            same_bytes_as_secret.alias_for(&customer("x"))
        );
        assert_ne!(derived.alias_for(&customer("x")), hex::encode(merchant.as_bytes()));
        assert_eq!(format!("{derived:?}"), "AliasKey(***)");
    }

    #[test]
    fn an_alias_is_64_hex_digits_and_differs_between_a_customer_and_an_account_of_the_same_number() {
        use super::AliasKey;
        use crate::button::CustomerId;
        use crate::identity::VouchedIdentity;
        let key = AliasKey::from_secret(b"server secret");
        let customer = VouchedIdentity::customer(&CustomerId::parse("42").unwrap());
        let account = VouchedIdentity::signed_in("librement-user", 42).unwrap();
        let alias = key.alias_for(&customer);
        assert_eq!(alias.len(), 64);
        assert_ne!(alias, key.alias_for(&account));
    }
}
