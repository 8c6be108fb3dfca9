//! Events: what other services hear about payments. An [`Event`] is what in-process listeners receive
//! and, as JSON, the body of a webhook: here, the `payment_accepted` that follows a PayPal payment (one
//! example of each kind ships in this crate's `events/` folder; the tests build them with the code that
//! builds events).
//!
//! ```json
#![doc = include_str!("../events/payment_accepted.json")]
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::payment::{PaymentId, PaymentState};

/// The kinds of event, in the order they can follow each other for one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A verified notification was applied. Always first; at most one outcome event follows.
    PaymentProcessed,
    /// Money received.
    PaymentAccepted,
    /// Refused or failed (not always final).
    PaymentDeclined,
    /// Not final yet.
    PaymentPending,
    /// Money went back (a refund or a reversal, in full or in part): `details.refund_amount` is this
    /// refund's amount, `payment.refunded_amount` the total so far. A partly refunded payment stays
    /// `accepted`; it becomes `refunded` when the total reaches its amount.
    PaymentRefunded,
    /// A subscription was cancelled or reached its end of term.
    SubscriptionCancelled,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 6] = [
        EventKind::PaymentProcessed,
        EventKind::PaymentAccepted,
        EventKind::PaymentDeclined,
        EventKind::PaymentPending,
        EventKind::PaymentRefunded,
        EventKind::SubscriptionCancelled,
    ];

    /// The name in payloads, config filters and the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::PaymentProcessed => "payment_processed",
            EventKind::PaymentAccepted => "payment_accepted",
            EventKind::PaymentDeclined => "payment_declined",
            EventKind::PaymentPending => "payment_pending",
            EventKind::PaymentRefunded => "payment_refunded",
            EventKind::SubscriptionCancelled => "subscription_cancelled",
        }
    }

    /// The outcome event for a payment entering `state`, if any.
    pub fn for_state(state: PaymentState) -> Option<EventKind> {
        match state {
            // Becoming abandoned is bookkeeping of ours, not news from the gateway: no event.
            PaymentState::Created | PaymentState::Abandoned => None,
            PaymentState::Pending => Some(EventKind::PaymentPending),
            PaymentState::Accepted => Some(EventKind::PaymentAccepted),
            PaymentState::Declined => Some(EventKind::PaymentDeclined),
            PaymentState::Refunded => Some(EventKind::PaymentRefunded),
            PaymentState::Cancelled => Some(EventKind::SubscriptionCancelled),
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event type {s:?}"))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payment as an event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSnapshot {
    /// Our payment id.
    pub id: PaymentId,
    /// The shop's order reference.
    pub order_reference: String,
    /// The gateway (or payment method) name.
    pub gateway: String,
    /// The state after this event.
    pub state: PaymentState,
    /// Index of the chosen buying option.
    pub option: usize,
    /// Decimal amount, with the currency's places (`"12.50"`).
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Months between charges for a subscription.
    pub recurrence_months: Option<u8>,
    /// For a subscription cycle: the payment that started the subscription.
    pub subscription_id: Option<PaymentId>,
    /// The gateway's transaction reference.
    pub gateway_reference: Option<String>,
    /// How much of the payment has been refunded or reversed so far, with the currency's places.
    pub refunded_amount: String,
}

/// One event, exactly as webhooks send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique, stable across redeliveries (also the `webhook-id`).
    pub id: String,
    /// The kind, serialized as `type`.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When the state change happened.
    pub created_at: DateTime<Utc>,
    /// The payment.
    pub payment: PaymentSnapshot,
    /// The complete validated button configuration the payment was made with.
    pub button: serde_json::Value,
    /// Gateway facts (pending reason, masked card, fraud causes, refunded amount...).
    pub details: serde_json::Value,
    /// The log row that caused the event, or `None` (e.g. a Librement balance payment).
    pub gateway_message_id: Option<i64>,
    /// 1, 2, 3... per payment, in the order the events were written: a listener keeps the event with the
    /// highest `sequence` as the payment's latest, whatever order deliveries arrive in. Assigned by the
    /// store when the event is written (0 until then).
    #[serde(default)]
    pub sequence: u64,
}

impl Event {
    /// A fresh event id: `evt_` and 24 random hex digits.
    pub fn new_id() -> String {
        let bytes: [u8; 12] = rand::rng().random();
        format!("evt_{}", hex::encode(bytes))
    }
}

/// Why an in-process listener failed; the outbox will call it again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ListenerError(pub String);

/// An in-process subscriber. Called from the durable outbox after the state change is committed, at least
/// once per event: deduplicate on [`Event::id`] when that matters.
///
/// ```
/// use payment_buttons::event::{Event, EventKind, Listener, ListenerError};
/// struct Fulfil;
/// #[async_trait::async_trait]
/// impl Listener for Fulfil {
///     async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
///         if event.kind == EventKind::PaymentAccepted {
///             // ship event.payment.order_reference, once per event.id
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Listener: Send + Sync + 'static {
    /// Handles one event. An error makes the outbox retry later.
    async fn handle(&self, event: &Event) -> Result<(), ListenerError>;
}
