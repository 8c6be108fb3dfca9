//! The demo's in-process event listener: keeps the last events in memory for the live panel.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use payment_buttons::event::{Event, Listener, ListenerError};
use serde::Serialize;

/// How many events the panel keeps; older ones are forgotten.
pub const CAPACITY: usize = 50;

/// One line of the events panel: what a shop would look at in an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEntry {
    /// The event id (unique, stable across redeliveries).
    pub id: String,
    /// `payment_accepted`, `payment_processed`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The payment id.
    pub payment_id: String,
    /// The shop's order reference.
    pub order_reference: String,
    /// `paypal` or `cmcic`.
    pub gateway: String,
    /// The 0-based index of the buying option chosen.
    pub option: usize,
    /// The amount, a decimal string.
    pub amount: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The payment's state after the event.
    pub state: &'static str,
    /// When the state change happened.
    pub created_at: DateTime<Utc>,
    /// The gateway facts of the event (masked card, fraud causes, pending reason...); never a secret.
    pub details: serde_json::Value,
}

impl FeedEntry {
    fn from_event(event: &Event) -> Self {
        FeedEntry {
            id: event.id.clone(),
            kind: event.kind.as_str(),
            payment_id: event.payment.id.as_str().to_owned(),
            order_reference: event.payment.order_reference.clone(),
            gateway: event.payment.gateway.clone(),
            option: event.payment.option,
            amount: event.payment.amount.clone(),
            currency: event.payment.currency.clone(),
            state: event.payment.state.as_str(),
            created_at: event.created_at,
            details: event.details.clone(),
        }
    }
}

/// The last [`CAPACITY`] events delivered by the engine's outbox, newest first.
///
/// Delivery is at least once, so a redelivered event (same id) is kept once.
///
/// ```
/// use actix_pay_server::demo::feed::EventFeed;
/// let feed = EventFeed::default();
/// assert!(feed.latest().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct EventFeed {
    entries: Mutex<VecDeque<FeedEntry>>,
}

impl EventFeed {
    /// Records one event (ignored when an event with the same id is already kept).
    pub fn record(&self, event: &Event) {
        let entry = FeedEntry::from_event(event);
        // A poisoned lock only means another thread panicked while pushing: the deque is still usable.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.iter().any(|e| e.id == entry.id) {
            return;
        }
        entries.push_front(entry);
        entries.truncate(CAPACITY);
    }

    /// The kept events, newest first.
    pub fn latest(&self) -> Vec<FeedEntry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().cloned().collect()
    }
}

#[async_trait::async_trait]
impl Listener for EventFeed {
    async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
        self.record(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_buttons::event::{EventKind, PaymentSnapshot};
    use payment_buttons::payment::{PaymentId, PaymentState};

    fn event(id: &str, kind: EventKind, state: PaymentState) -> Event {
        Event {
            id: id.to_owned(),
            kind,
            created_at: Utc::now(),
            payment: PaymentSnapshot {
                id: PaymentId::generate(),
                order_reference: "DEMO-1".to_owned(),
                gateway: "paypal".to_owned(),
                state,
                option: 0,
                amount: "12.50".to_owned(),
                currency: "EUR".to_owned(),
                recurrence_months: None,
                subscription_id: None,
                gateway_reference: None,
                refunded_amount: "0.00".to_owned(),
            },
            button: serde_json::Value::Null,
            details: serde_json::Value::Null,
            gateway_message_id: Some(1),
            sequence: 1,
        }
    }

    #[tokio::test]
    async fn the_listener_keeps_events_newest_first() {
        let feed = EventFeed::default();
        feed.handle(&event("evt_1", EventKind::PaymentProcessed, PaymentState::Accepted))
            .await
            .unwrap();
        feed.handle(&event("evt_2", EventKind::PaymentAccepted, PaymentState::Accepted))
            .await
            .unwrap();
        let kept = feed.latest();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].id, "evt_2");
        assert_eq!(kept[0].kind, "payment_accepted");
        assert_eq!(kept[0].state, "accepted");
        assert_eq!(kept[0].amount, "12.50");
        assert_eq!(kept[1].kind, "payment_processed");
    }

    #[test]
    fn a_redelivered_event_is_kept_once() {
        let feed = EventFeed::default();
        let e = event("evt_same", EventKind::PaymentDeclined, PaymentState::Declined);
        feed.record(&e);
        feed.record(&e);
        assert_eq!(feed.latest().len(), 1);
    }

    #[test]
    fn only_the_last_fifty_events_are_kept() {
        let feed = EventFeed::default();
        for i in 0..CAPACITY + 7 {
            feed.record(&event(
                &format!("evt_{i}"),
                EventKind::PaymentAccepted,
                PaymentState::Accepted,
            ));
        }
        let kept = feed.latest();
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].id, format!("evt_{}", CAPACITY + 6));
        assert_eq!(kept[CAPACITY - 1].id, "evt_7");
    }
}
