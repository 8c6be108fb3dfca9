//! One configured endpoint, ready to sign and filter.

use std::time::Duration;

use payment_buttons::event::EventKind;
use payment_buttons::webhook::WebhookSecret;

use super::WebhookSetupError;
use crate::config::WebhookConfig;

/// A webhook endpoint: its URL (its identity in the database), its secrets, which events it wants and how
/// long an event is retried. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Endpoint {
    url: String,
    secrets: Vec<WebhookSecret>,
    kinds: Option<Vec<EventKind>>,
    retry_for: Duration,
}

impl Endpoint {
    /// An endpoint; `kinds = None` means every event.
    ///
    /// ```
    /// use std::time::Duration;
    /// use payment_buttons::event::EventKind;
    /// use payment_buttons::webhook::WebhookSecret;
    /// use actix_pay_server::webhooks::Endpoint;
    /// let e = Endpoint::new("http://127.0.0.1:9000/events", vec![WebhookSecret::generate()],
    ///     Some(vec![EventKind::PaymentAccepted]), Duration::from_secs(3 * 86_400));
    /// assert!(e.wants(EventKind::PaymentAccepted));
    /// assert!(!e.wants(EventKind::PaymentProcessed));
    /// ```
    pub fn new(
        url: impl Into<String>,
        secrets: Vec<WebhookSecret>,
        kinds: Option<Vec<EventKind>>,
        retry_for: Duration,
    ) -> Self {
        Endpoint {
            url: url.into(),
            secrets,
            kinds,
            retry_for,
        }
    }

    /// From the `index`-th `[[webhooks]]` entry.
    pub fn from_config(index: usize, config: &WebhookConfig) -> Result<Self, WebhookSetupError> {
        if config.secrets.is_empty() {
            return Err(WebhookSetupError::NoSecret(index));
        }
        let secrets = config
            .secrets
            .iter()
            .map(|s| WebhookSecret::parse(s.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| WebhookSetupError::Secret {
                index,
                reason: e.to_string(),
            })?;
        let kinds = config.events.as_ref().cloned();
        Ok(Endpoint::new(config.url.as_str(), secrets, kinds, config.retry_for))
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without user information and query, for logs.
    pub fn display_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.to_string()
            }
            Err(_) => "(invalid URL)".to_owned(),
        }
    }

    /// The secrets, the current one first.
    pub fn secrets(&self) -> &[WebhookSecret] {
        &self.secrets
    }

    /// How long an event is retried.
    pub fn retry_for(&self) -> Duration {
        self.retry_for
    }

    /// Whether this endpoint receives events of this kind.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_show_the_url_without_credentials_or_query() {
        let e = Endpoint::new(
            "https://user:pw@shop.example/hook?token=abc",
            vec![],
            None,
            Duration::from_secs(1),
        );
        assert_eq!(e.display_url(), "https://shop.example/hook");
    }
}
