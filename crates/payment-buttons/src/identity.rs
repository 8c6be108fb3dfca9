//! Who the buyer is, when someone vouched for it.
//!
//! A saved card (CM-CIC Express Payment) offers a buyer a card they used before. It must be tied to a person
//! that someone proved, never to what a form field says: anyone can type a victim's e-mail into a shop's
//! checkout. Two things are proven here: a shop's customer identifier, which the shop signs into the button
//! ([`ButtonConfig::customer_id`](crate::button::ButtonConfig::customer_id)), and an account that the
//! service itself signed in (an application built on this crate names its own origin, such as
//! `librement-user`). The origin is part of the identity, so that a shop's customer `42` and an account `42`
//! never share a card.

use std::fmt;

use crate::button::CustomerId;

/// The origin of identities that come from a button's signed `customer_id`.
pub const CUSTOMER_ORIGIN: &str = "customer";

/// An identity someone vouched for, with its origin: what a saved card may be keyed on.
///
/// ```
/// use payment_buttons::button::CustomerId;
/// use payment_buttons::identity::VouchedIdentity;
/// let shop = VouchedIdentity::customer(&CustomerId::parse("42").unwrap());
/// let account = VouchedIdentity::signed_in("librement-user", "42").unwrap();
/// assert_eq!(shop.to_string(), "customer:42");
/// assert_eq!(account.to_string(), "librement-user:42");
/// assert_ne!(shop, account);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VouchedIdentity {
    origin: String,
    id: String,
}

/// Why an identity could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The origin is not 1 to 32 lower-case letters and dashes, or is the reserved `customer`.
    #[error("an identity origin is 1 to 32 lower-case letters or dashes, and not \"customer\"")]
    BadOrigin,
    /// The identifier is empty or longer than 64 characters.
    #[error("an account identifier has 1 to 64 characters")]
    BadId,
}

impl VouchedIdentity {
    /// A shop's customer, as its signed button names it.
    pub fn customer(id: &CustomerId) -> Self {
        VouchedIdentity {
            origin: CUSTOMER_ORIGIN.to_owned(),
            id: id.as_str().to_owned(),
        }
    }

    /// An account the application signed in itself (`origin` names the application's accounts, e.g.
    /// `librement-user`). Only code that checked the account's credentials may call this.
    pub fn signed_in(origin: &str, id: impl fmt::Display) -> Result<Self, IdentityError> {
        let origin_ok = (1..=32).contains(&origin.len())
            && origin.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && origin != CUSTOMER_ORIGIN;
        if !origin_ok {
            return Err(IdentityError::BadOrigin);
        }
        let id = id.to_string();
        if id.is_empty() || id.chars().count() > 64 {
            return Err(IdentityError::BadId);
        }
        Ok(VouchedIdentity {
            origin: origin.to_owned(),
            id,
        })
    }

    /// Where the identity comes from (`customer`, `librement-user`, ...).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The identifier within its origin.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// `origin:id`, the string a saved card's key is derived from.
impl fmt::Display for VouchedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.origin, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_cannot_pose_as_a_shop_customer() {
        assert_eq!(
            VouchedIdentity::signed_in("customer", "42"),
            Err(IdentityError::BadOrigin)
        );
    }

    #[test]
    fn origins_are_plain_names() {
        for bad in ["", "Librement", "a:b", "with space", &"x".repeat(33)] {
            assert_eq!(
                VouchedIdentity::signed_in(bad, "1"),
                Err(IdentityError::BadOrigin),
                "{bad:?}"
            );
        }
        assert_eq!(
            VouchedIdentity::signed_in("librement-user", ""),
            Err(IdentityError::BadId)
        );
    }
}
