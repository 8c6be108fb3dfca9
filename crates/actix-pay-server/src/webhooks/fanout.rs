//! The outbox listener that writes one delivery row per interested endpoint.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use payment_buttons::event::{Event, Listener, ListenerError};

use super::Endpoint;
use crate::store::ServerStore;

/// Registered with the engine like any in-process listener: the engine calls it from the outbox after
/// the payment change is committed and marks the event dispatched only once it succeeded. Writing the
/// rows again for the same event changes nothing, so a crash between the two loses nothing and
/// duplicates nothing.
#[derive(Debug)]
pub struct WebhookFanout {
    store: ServerStore,
    endpoints: Arc<[Endpoint]>,
    wake: Arc<tokio::sync::Notify>,
}

impl WebhookFanout {
    pub(super) fn new(store: ServerStore, endpoints: Arc<[Endpoint]>, wake: Arc<tokio::sync::Notify>) -> Self {
        WebhookFanout { store, endpoints, wake }
    }
}

#[async_trait]
impl Listener for WebhookFanout {
    async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
        let urls: Vec<String> = self
            .endpoints
            .iter()
            .filter(|e| e.wants(event.kind))
            .map(|e| e.url().to_owned())
            .collect();
        if urls.is_empty() {
            return Ok(());
        }
        let written = self
            .store
            .fan_out_webhook(&event.id, urls, Utc::now())
            .await
            .map_err(|e| ListenerError(format!("webhook fan-out: {e}")))?;
        if written > 0 {
            self.wake.notify_waiters();
        }
        Ok(())
    }
}
