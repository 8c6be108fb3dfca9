//! `[[webhooks]]`: where events are delivered over HTTP, signed as Standard Webhooks.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::secret::Secret;

/// An event type, as named in the webhook payload's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// `payment_processed`: a notification was verified and applied.
    PaymentProcessed,
    /// `payment_accepted`.
    PaymentAccepted,
    /// `payment_declined` (not always final).
    PaymentDeclined,
    /// `payment_pending`.
    PaymentPending,
    /// `payment_refunded` (refund, reversal; partial refunds too).
    PaymentRefunded,
    /// `subscription_cancelled` (cancel, end of term).
    SubscriptionCancelled,
}

impl WebhookEvent {
    /// Every event type.
    pub const ALL: [WebhookEvent; 6] = [
        WebhookEvent::PaymentProcessed,
        WebhookEvent::PaymentAccepted,
        WebhookEvent::PaymentDeclined,
        WebhookEvent::PaymentPending,
        WebhookEvent::PaymentRefunded,
        WebhookEvent::SubscriptionCancelled,
    ];

    /// The name in payloads and in `events = [...]`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::PaymentProcessed => "payment_processed",
            WebhookEvent::PaymentAccepted => "payment_accepted",
            WebhookEvent::PaymentDeclined => "payment_declined",
            WebhookEvent::PaymentPending => "payment_pending",
            WebhookEvent::PaymentRefunded => "payment_refunded",
            WebhookEvent::SubscriptionCancelled => "subscription_cancelled",
        }
    }

    /// The event type with this name.
    ///
    /// ```
    /// use actix_pay_server::config::WebhookEvent;
    /// assert_eq!(WebhookEvent::parse("payment_accepted"), Some(WebhookEvent::PaymentAccepted));
    /// assert_eq!(WebhookEvent::parse("accepted"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        WebhookEvent::ALL.into_iter().find(|event| event.as_str() == name)
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[webhooks]]` entry, resolved.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `url`: where events are POSTed.
    pub url: Url,
    /// `secrets`: `whsec_` + base64, at least one; the first signs, all sign during a rotation.
    pub secrets: Vec<Secret>,
    /// `events`: `None` = every event type.
    pub events: Option<Vec<WebhookEvent>>,
    /// `retry_for`: delivery is abandoned this long after the event. Default 3 days.
    pub retry_for: Duration,
}

impl WebhookConfig {
    /// Whether this endpoint receives events of type `event`.
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.as_ref().is_none_or(|events| events.contains(&event))
    }
}
