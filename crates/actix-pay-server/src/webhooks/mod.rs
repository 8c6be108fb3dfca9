//! Webhook delivery: every outbox event is posted, signed as Standard Webhooks, to each `[[webhooks]]`
//! endpoint that wants it, at least once, in order per payment and endpoint.
//!
//! ```text
//! Store::apply --(same transaction)--> events (the outbox)
//! Engine::dispatch_events --claims--> WebhookFanout (a Listener): one webhook_deliveries row per endpoint
//! WebhookWorker, one task per endpoint: claim due rows (SKIP LOCKED + lease) -> sign -> POST -> record
//! ```
//!
//! The fan-out is an in-process listener, so the outbox's `dispatched_at` is its progress flag: an event is
//! marked dispatched only after its delivery rows are committed, and a repeated fan-out (after a crash)
//! writes nothing new thanks to the unique (event, endpoint). Delivery rows are claimed with a lease, so a
//! killed worker's deliveries are taken up again once the lease has passed, by this or another instance.
//!
//! ```no_run
//! # async fn demo(store: actix_pay_server::store::ServerStore,
//! #     config: Vec<actix_pay_server::config::WebhookConfig>) -> Result<(), Box<dyn std::error::Error>> {
//! use actix_pay_server::webhooks::{Webhooks, WorkerOptions};
//! let webhooks = Webhooks::new(store, &config)?;
//! let listener = webhooks.fanout(); // register with Engine::with_listener
//! let worker = webhooks.spawn_worker(WorkerOptions::default())?;
//! # drop((listener, worker)); Ok(()) }
//! ```

mod backoff;
mod endpoint;
mod fanout;
mod send;
mod worker;

use std::sync::Arc;

pub use backoff::Backoff;
pub use endpoint::Endpoint;
pub use fanout::WebhookFanout;
pub use send::{Sender, USER_AGENT};
pub use worker::{WorkerHandle, WorkerOptions};

use crate::config::WebhookConfig;
use crate::store::ServerStore;

/// Why webhook delivery could not be set up. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    /// A configured secret is not a valid `whsec_` secret.
    #[error("webhooks[{index}].secrets: {reason}")]
    Secret {
        /// Position of the endpoint in `[[webhooks]]`.
        index: usize,
        /// What is wrong (never the secret).
        reason: String,
    },
    /// An endpoint has no secret.
    #[error("webhooks[{0}].secrets: at least one secret is needed")]
    NoSecret(usize),
    /// Two entries have the same URL: endpoints are identified by their URL.
    #[error("webhooks[{0}].url: the same URL is configured twice")]
    DuplicateUrl(usize),
    /// The HTTP client could not be built.
    #[error("webhooks: HTTP client: {0}")]
    Client(String),
}

/// The configured endpoints over a store: makes the fan-out listener and the delivery worker.
#[derive(Debug, Clone)]
pub struct Webhooks {
    store: ServerStore,
    endpoints: Arc<[Endpoint]>,
    wake: Arc<tokio::sync::Notify>,
}

impl Webhooks {
    /// Reads the `[[webhooks]]` entries (secrets parsed, URLs unique).
    pub fn new(store: ServerStore, config: &[WebhookConfig]) -> Result<Self, WebhookSetupError> {
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(config.len());
        for (index, entry) in config.iter().enumerate() {
            let endpoint = Endpoint::from_config(index, entry)?;
            if endpoints.iter().any(|e| e.url() == endpoint.url()) {
                return Err(WebhookSetupError::DuplicateUrl(index));
            }
            endpoints.push(endpoint);
        }
        Ok(Self::with_endpoints(store, endpoints))
    }

    /// Endpoints built in code (tests, embedding applications). URLs must be unique.
    pub fn with_endpoints(store: ServerStore, endpoints: Vec<Endpoint>) -> Self {
        Webhooks {
            store,
            endpoints: endpoints.into(),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// What wakes the worker: notified after an operator made deliveries due again.
    pub fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// The listener that writes delivery rows from the outbox; register it with
    /// `Engine::with_listener`. It wakes the worker when it wrote something.
    pub fn fanout(&self) -> Arc<WebhookFanout> {
        Arc::new(WebhookFanout::new(
            self.store.clone(),
            self.endpoints.clone(),
            self.wake.clone(),
        ))
    }

    /// Starts the delivery worker on the current tokio runtime: one task per endpoint. Dropping the handle
    /// (or calling [`WorkerHandle::abort`]) stops it; nothing is lost, deliveries in flight are sent again
    /// after their lease.
    pub fn spawn_worker(&self, options: WorkerOptions) -> Result<WorkerHandle, WebhookSetupError> {
        let sender = Sender::new(options.timeout)?;
        Ok(worker::spawn(
            self.store.clone(),
            self.endpoints.clone(),
            sender,
            options,
            self.wake.clone(),
        ))
    }
}
