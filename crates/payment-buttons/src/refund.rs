//! Refunds the service asks a gateway for, and those a gateway tells us about: their ids, states and the
//! rules a new refund must pass. The engine drives them ([`crate::engine::Engine::refund`]); the store keeps
//! them ([`crate::store::Store::record_refund`]) and settles them in the transaction that applies the money.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::Digest;

use crate::money::Money;
use crate::payment::{PaymentId, PaymentState};
use crate::store::StoredPayment;

/// Our id of a refund: `rfd_` and 24 random hex digits. The same on every attempt, so it is the
/// idempotency key sent to gateways that take one (PayPal's `PayPal-Request-Id`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct RefundId(String);

impl RefundId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let bytes: [u8; 12] = rand::rng().random();
        RefundId(format!("rfd_{}", hex::encode(bytes)))
    }

    /// Accepts `rfd_` and 24 lower-case hex digits.
    pub fn parse(s: &str) -> Result<Self, InvalidRefundId> {
        match s.strip_prefix("rfd_") {
            Some(hex) if hex.len() == 24 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                Ok(RefundId(s.to_owned()))
            }
            _ => Err(InvalidRefundId),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefundId({})", self.0)
    }
}

/// A string that is not a refund id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a refund id (rfd_ and 24 hex digits)")]
pub struct InvalidRefundId;

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Asked; the gateway has not confirmed it yet (no answer, or it is processing it). At most one per
    /// payment.
    Pending,
    /// The money went back; counted in the payment's refunded sum.
    Succeeded,
    /// The gateway refused it (final), with its reason.
    Failed,
    /// It may or may not have happened and asking again could refund twice: an operator checks at the
    /// gateway. Never retried.
    Unknown,
}

/// Who asked for a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundOrigin {
    /// A shop, through the payments API.
    Api,
    /// An operator, in the console.
    Console,
    /// Made on the gateway's own site: we learnt it from the gateway's notification.
    Gateway,
}

macro_rules! names {
    ($ty:ident, $err:literal, $($variant:ident => $name:literal),+ $(,)?) => {
        impl $ty {
            /// The name stored in the database and shown in the API.
            pub fn as_str(&self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl FromStr for $ty {
            type Err = crate::store::StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(crate::store::StoreError::Corrupt(format!(concat!($err, " {:?}"), other))),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(RefundState, "unknown refund state", Pending => "pending", Succeeded => "succeeded", Failed => "failed",
    Unknown => "unknown");
names!(RefundOrigin, "unknown refund origin", Api => "api", Console => "console", Gateway => "gateway");

/// A refund as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRefund {
    /// Our id.
    pub id: RefundId,
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// How much, in the payment's currency.
    pub amount: Money,
    /// Why, as the caller wrote it.
    pub reason: Option<String>,
    /// Where it stands.
    pub state: RefundState,
    /// Who asked.
    pub origin: RefundOrigin,
    /// The caller's idempotency key (none for a refund the gateway told us about).
    pub idempotency_key: Option<String>,
    /// A digest of what the caller asked (see [`request_hash`]).
    pub request_hash: Option<String>,
    /// The gateway's id of the refund, once known.
    pub gateway_refund_id: Option<String>,
    /// The gateway's reason, for a failed or unknown refund (or the last retried failure of a pending one).
    pub failure_reason: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was first sent to the gateway.
    pub first_sent_at: Option<DateTime<Utc>>,
    /// When a pending refund is sent again (none while nothing is planned).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A refund to record, asked by a shop or an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefund {
    /// Its id, fresh.
    pub id: RefundId,
    /// The payment.
    pub payment_id: PaymentId,
    /// How much; `None` is what is left.
    pub amount: Option<Money>,
    /// Why.
    pub reason: Option<String>,
    /// Who asks.
    pub origin: RefundOrigin,
    /// The caller's idempotency key, unique per payment.
    pub idempotency_key: String,
    /// A digest of the request ([`request_hash`]).
    pub request_hash: String,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A digest of what a refund request asks (amount as written, or none; reason), so that a replay under the
/// same idempotency key is told from another request: hex SHA-256 of a length-prefixed encoding.
pub fn request_hash(amount: Option<&str>, reason: Option<&str>) -> String {
    let mut h = sha2::Sha256::new();
    for part in [amount, reason] {
        match part {
            // Length-prefixed so that no two requests encode alike.
            Some(s) => h.update(format!("{}:{s};", s.len())),
            None => h.update("-;"),
        }
    }
    hex::encode(h.finalize())
}

/// Why a refund cannot be recorded for a payment, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    /// Only an accepted payment can be refunded.
    #[error("the payment is {0}: only an accepted payment can be refunded")]
    NotAccepted(PaymentState),
    /// Everything was refunded already.
    #[error("nothing is left to refund")]
    NothingLeft,
    /// More than is left.
    #[error("the amount is more than the {left} left to refund")]
    ExceedsLeft {
        /// What is left, with the currency's places.
        left: String,
    },
    /// Zero or negative, or in another currency than the payment's.
    #[error("{0}")]
    BadAmount(String),
    /// Another refund of this payment is still pending: one at a time, so that a later notification of a
    /// refund always matches.
    #[error("refund {0} of this payment is still pending")]
    RefundPending(RefundId),
}

/// What recording a refund did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedRefund {
    /// A new refund, pending: send it.
    New(StoredRefund),
    /// The idempotency key was used before for this payment: that refund (compare the request hashes).
    Existing(StoredRefund),
    /// Not recorded.
    Refused(RefundRefusal),
}

/// The checks a new refund passes against its payment as locked in the store's transaction, and the
/// amount it refunds. Both stores call it, so the rules live once.
pub fn check_new(
    payment: &StoredPayment,
    pending: Option<&StoredRefund>,
    amount: Option<Money>,
) -> Result<Money, RefundRefusal> {
    match payment.state {
        PaymentState::Accepted => {}
        PaymentState::Refunded => return Err(RefundRefusal::NothingLeft),
        other => return Err(RefundRefusal::NotAccepted(other)),
    }
    let left = payment
        .amount
        .checked_sub(payment.refunded)
        .filter(|left| left.is_positive())
        .ok_or(RefundRefusal::NothingLeft)?;
    if let Some(pending) = pending {
        return Err(RefundRefusal::RefundPending(pending.id.clone()));
    }
    let Some(amount) = amount else { return Ok(left) };
    if amount.currency() != payment.amount.currency() {
        return Err(RefundRefusal::BadAmount(format!(
            "the payment is in {}, not {}",
            payment.amount.currency(),
            amount.currency()
        )));
    }
    if !amount.is_positive() {
        return Err(RefundRefusal::BadAmount("the amount must be more than zero".into()));
    }
    if amount.minor_units() > left.minor_units() {
        return Err(RefundRefusal::ExceedsLeft { left: left.to_string() });
    }
    Ok(amount)
}

impl NewRefund {
    /// The row of this refund once checked: pending, `amount` as [`check_new`] settled it.
    pub fn into_stored(self, amount: Money) -> StoredRefund {
        StoredRefund {
            id: self.id,
            payment_id: self.payment_id,
            amount,
            reason: self.reason,
            state: RefundState::Pending,
            origin: self.origin,
            idempotency_key: Some(self.idempotency_key),
            request_hash: Some(self.request_hash),
            gateway_refund_id: None,
            failure_reason: None,
            attempts: 0,
            first_sent_at: None,
            // Due at once: if the process stops before the first attempt, the retry worker sends it.
            next_attempt_at: Some(self.now),
            created_at: self.now,
            updated_at: self.now,
        }
    }
}

/// How long a refund being sent is hidden from the retry worker ([`crate::store::Store::begin_refund_attempt`]):
/// longer than any gateway call; if the process dies during the call, the worker sends it again after this.
pub const REFUND_ATTEMPT_LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// How long a refund the gateway took but has not completed (`Pending`) waits before it is asked about
/// again (with the same refund id), when no notification settled it meanwhile.
pub const PENDING_RECHECK: chrono::Duration = chrono::Duration::hours(1);

/// A pending refund's next state after an attempt that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundUpdate {
    /// The gateway took it, not completed: ask again at `recheck_at` unless its notification comes first.
    Pending {
        /// The gateway's id of the refund, when it gave one.
        gateway_refund_id: Option<String>,
        /// When to ask again.
        recheck_at: DateTime<Utc>,
    },
    /// No usable answer: send again, with the same id, at `next_attempt_at`.
    Retry {
        /// Why.
        reason: String,
        /// When.
        next_attempt_at: DateTime<Utc>,
    },
    /// Refused by the gateway: final.
    Failed {
        /// The gateway's reason.
        reason: String,
    },
    /// State unknown at the gateway: never retried, an operator checks.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// What an attempt that did not succeed does to a pending refund.
pub(crate) fn apply_update(r: &mut StoredRefund, update: RefundUpdate, now: DateTime<Utc>) {
    match update {
        RefundUpdate::Pending {
            gateway_refund_id,
            recheck_at,
        } => {
            if gateway_refund_id.is_some() {
                r.gateway_refund_id = gateway_refund_id;
            }
            r.next_attempt_at = Some(recheck_at);
        }
        RefundUpdate::Retry {
            reason,
            next_attempt_at,
        } => {
            r.failure_reason = Some(reason);
            r.next_attempt_at = Some(next_attempt_at);
        }
        RefundUpdate::Failed { reason } => {
            r.state = RefundState::Failed;
            r.failure_reason = Some(reason);
            r.next_attempt_at = None;
        }
        RefundUpdate::Unknown { reason } => {
            r.state = RefundState::Unknown;
            r.failure_reason = Some(reason);
            r.next_attempt_at = None;
        }
    }
    r.updated_at = now;
}

/// How a refund row changes when a refund is applied to its payment (inside the apply transaction).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RefundRowChange {
    /// Nothing to write.
    None,
    /// This refund succeeded (idempotent: a row already succeeded stays so).
    Succeeded {
        id: RefundId,
        gateway_refund_id: Option<String>,
    },
    /// A refund made at the gateway, recorded as succeeded with origin `gateway`.
    Insert(Box<StoredRefund>),
}

/// Decides the refund row a notification (or our own refund's answer) settles: the refund the request
/// names; else, for an applied refund, the pending refund of the same amount; else a new row of origin
/// `gateway`. `pending` looks the payment's pending refund up; it is called only for an applied refund
/// that names none, so that the other messages (nearly all of them) cost the store no read.
pub(crate) fn row_change<E>(
    request: &crate::transition::ApplyRequest,
    before: &StoredPayment,
    refunded_after: Option<Money>,
    applied: bool,
    pending: impl FnOnce() -> Result<Option<StoredRefund>, E>,
) -> Result<RefundRowChange, E> {
    if let Some(link) = request.refund_link() {
        return Ok(RefundRowChange::Succeeded {
            id: link.refund_id.clone(),
            gateway_refund_id: link.gateway_refund_id.clone(),
        });
    }
    let is_refund = matches!(
        request.notification().outcome,
        Some(crate::notification::Outcome::Refunded { .. })
    );
    let (true, true, Some(total)) = (applied, is_refund, refunded_after) else {
        return Ok(RefundRowChange::None);
    };
    let Some(this_refund) = total.checked_sub(before.refunded).filter(|m| m.is_positive()) else {
        return Ok(RefundRowChange::None);
    };
    Ok(match pending()? {
        Some(p) if p.amount == this_refund => RefundRowChange::Succeeded {
            id: p.id.clone(),
            gateway_refund_id: None,
        },
        _ => RefundRowChange::Insert(Box::new(StoredRefund {
            id: RefundId::generate(),
            payment_id: before.id.clone(),
            amount: this_refund,
            reason: None,
            state: RefundState::Succeeded,
            origin: RefundOrigin::Gateway,
            idempotency_key: None,
            request_hash: None,
            gateway_refund_id: None,
            failure_reason: None,
            attempts: 0,
            first_sent_at: None,
            next_attempt_at: None,
            created_at: request.now(),
            updated_at: request.now(),
        })),
    })
}

/// The refund an [`crate::transition::ApplyRequest`] built from a gateway's answer settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLink {
    /// Our refund.
    pub refund_id: RefundId,
    /// The gateway's id of it, when given.
    pub gateway_refund_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_ids_are_fresh_and_parse_back() {
        let id = RefundId::generate();
        assert_eq!(RefundId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(id, RefundId::generate());
        for bad in [
            "",
            "rfd_",
            "rfd_XYZ",
            "evt_0123456789abcdef01234567",
            "rfd_0123456789ABCDEF01234567",
        ] {
            assert!(RefundId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_request_hash_tells_apart_what_a_concatenation_would_not() {
        assert_eq!(request_hash(Some("5.00"), None), request_hash(Some("5.00"), None));
        assert_ne!(request_hash(Some("5.00"), None), request_hash(None, Some("5.00")));
        assert_ne!(
            request_hash(Some("5.0"), Some("0x")),
            request_hash(Some("5.00"), Some("x"))
        );
        assert_ne!(request_hash(None, None), request_hash(Some(""), None));
    }

    #[test]
    fn states_and_origins_read_back_from_their_names() {
        for s in [
            RefundState::Pending,
            RefundState::Succeeded,
            RefundState::Failed,
            RefundState::Unknown,
        ] {
            assert_eq!(s.as_str().parse::<RefundState>().unwrap(), s);
        }
        for o in [RefundOrigin::Api, RefundOrigin::Console, RefundOrigin::Gateway] {
            assert_eq!(o.as_str().parse::<RefundOrigin>().unwrap(), o);
        }
        assert!("done".parse::<RefundState>().is_err());
    }
}
