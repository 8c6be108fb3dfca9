//! Payments: identifiers and states.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// A payment id: 12 random characters `[0-9A-Za-z]` (about 71 bits).
///
/// Unguessable (the status page is public), unique across database resets, and valid both as a
/// PayPal `invoice` and as a CM-CIC `reference` in either protocol.
///
/// ```
/// use payment_buttons::payment::PaymentId;
/// let id = PaymentId::generate();
/// assert_eq!(id.as_str().len(), 12);
/// assert!(PaymentId::parse(id.as_str()).is_ok());
/// assert!(PaymentId::parse("INV-1042").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PaymentId(String);

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl PaymentId {
    /// Length of every payment id.
    pub const LEN: usize = 12;

    /// A fresh random id from a cryptographically secure generator.
    pub fn generate() -> Self {
        // ThreadRng is a CSPRNG seeded from the operating system.
        let mut rng = rand::rng();
        let id = (0..Self::LEN)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        PaymentId(id)
    }

    /// Accepts exactly 12 characters of `[0-9A-Za-z]`.
    pub fn parse(s: &str) -> Result<Self, InvalidPaymentId> {
        if s.len() == Self::LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(PaymentId(s.to_owned()))
        } else {
            Err(InvalidPaymentId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A string that is not a payment id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a payment id (12 characters 0-9, A-Z, a-z)")]
pub struct InvalidPaymentId;

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentId({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PaymentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PaymentId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The life of a payment: `created` by `/pay`, then what the gateway says.
///
/// ```
/// use payment_buttons::payment::PaymentState;
/// assert_eq!("accepted".parse::<PaymentState>().unwrap(), PaymentState::Accepted);
/// assert_eq!(PaymentState::Cancelled.as_str(), "cancelled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Recorded when the buyer pressed the button; nothing heard from the gateway yet.
    Created,
    /// The gateway reported a payment that is not final (eCheck, review...).
    Pending,
    /// Money received.
    Accepted,
    /// Refused or failed. Not always final: a gateway may accept the same payment later.
    Declined,
    /// Refunded or reversed (wholly or partly).
    Refunded,
    /// A subscription that was cancelled or reached its end of term.
    Cancelled,
    /// Created and never paid within the configured time (`server.abandon_after`). Never deleted: a late
    /// notification still applies to it as to a created payment.
    Abandoned,
}

impl PaymentState {
    /// Every state, in life order.
    pub const ALL: [PaymentState; 7] = [
        PaymentState::Created,
        PaymentState::Pending,
        PaymentState::Accepted,
        PaymentState::Declined,
        PaymentState::Refunded,
        PaymentState::Cancelled,
        PaymentState::Abandoned,
    ];

    /// The name stored in the database and sent in events.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentState::Created => "created",
            PaymentState::Pending => "pending",
            PaymentState::Accepted => "accepted",
            PaymentState::Declined => "declined",
            PaymentState::Refunded => "refunded",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Abandoned => "abandoned",
        }
    }
}

impl FromStr for PaymentState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state name that is not a [`PaymentState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment state {0:?}")]
pub struct UnknownState(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_and_valid() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| PaymentId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| PaymentId::parse(id.as_str()).is_ok()));
    }

    #[test]
    fn ids_of_the_wrong_shape_are_refused() {
        for bad in ["", "short", "ABCDEFGHIJKLM", "ABCDEFGHIJK-", "ABCDEFGHIJKé"] {
            assert!(PaymentId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
