//! `[[webhooks]]`: where events are delivered over HTTP, signed as Standard Webhooks.

use std::time::Duration;

use url::Url;

use super::secret::Secret;

/// An event type, as named in the webhook payload's `type` and in `events = [...]`: the core's
/// [`EventKind`](payment_buttons::event::EventKind), under the name the configuration uses.
pub use payment_buttons::event::EventKind as WebhookEvent;

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
