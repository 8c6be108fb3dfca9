//! The delivery worker: one task per endpoint claims due deliveries, sends them side by side (they are
//! about different payments: only the earliest pending delivery of a payment is claimable) and records
//! each attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinHandle, JoinSet};

use super::send::Answer;
use super::{Backoff, Endpoint, Sender};
use crate::store::{AttemptRecord, AttemptResult, ClaimedDelivery, ServerStore};

/// How the worker paces itself. The defaults suit production; tests shorten `poll` and `backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// How often an idle endpoint task looks for due retries (new deliveries wake it at once).
    pub poll: Duration,
    /// Most deliveries one endpoint sends at the same time.
    pub batch: usize,
    /// How long a claimed delivery stays reserved for this worker; after a crash it is sent again once
    /// this has passed. Kept above twice `timeout`.
    pub lease: Duration,
    /// Time limit of one request, connecting included.
    pub timeout: Duration,
    /// Delays between attempts.
    pub backoff: Backoff,
}

impl Default for WorkerOptions {
    /// Poll every 2 s, 20 at a time, 60 s lease, 10 s timeout, 2 s doubling up to 1 h.
    fn default() -> Self {
        WorkerOptions {
            poll: Duration::from_secs(2),
            batch: 20,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

/// The running worker. Dropping it or calling [`WorkerHandle::abort`] stops every task.
#[derive(Debug)]
pub struct WorkerHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stops the worker now. Attempts in flight may or may not have reached their endpoint; they are
    /// sent again once their lease has passed (receivers deduplicate on `webhook-id`).
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// A handle per delivery task (one per endpoint), to tell whether each still runs.
    pub fn handles(&self) -> impl Iterator<Item = tokio::task::AbortHandle> + '_ {
        self.tasks.iter().map(JoinHandle::abort_handle)
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

struct Context {
    store: ServerStore,
    /// Its position in `[[webhooks]]`: how metrics name it (never by its URL, which may hold a secret).
    index: usize,
    endpoint: Endpoint,
    sender: Sender,
    options: WorkerOptions,
}

pub(super) fn spawn(
    store: ServerStore,
    endpoints: Arc<[Endpoint]>,
    sender: Sender,
    mut options: WorkerOptions,
    wake: Arc<tokio::sync::Notify>,
) -> WorkerHandle {
    options.lease = options.lease.max(options.timeout * 2 + Duration::from_secs(1));
    options.batch = options.batch.max(1);
    let tasks = endpoints
        .iter()
        .enumerate()
        .map(|(index, endpoint)| {
            let context = Arc::new(Context {
                store: store.clone(),
                index,
                endpoint: endpoint.clone(),
                sender: sender.clone(),
                options,
            });
            tokio::spawn(endpoint_loop(context, wake.clone()))
        })
        .collect();
    WorkerHandle { tasks }
}

async fn endpoint_loop(context: Arc<Context>, wake: Arc<tokio::sync::Notify>) {
    loop {
        match round(&context).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(
                endpoint = %context.endpoint.display_url(), error = %e, "webhook delivery: database error; retrying"
            ),
        }
        let _ = tokio::time::timeout(context.options.poll, wake.notified()).await;
    }
}

/// Claims one batch and sends it; returns how many deliveries were attempted.
async fn round(context: &Arc<Context>) -> Result<usize, payment_buttons::store::StoreError> {
    let now = Utc::now();
    let lease = chrono::Duration::from_std(context.options.lease).unwrap_or(chrono::Duration::seconds(60));
    let claimed = context
        .store
        .claim_webhook_deliveries(context.endpoint.url(), now, now + lease, context.options.batch)
        .await?;
    let n = claimed.len();
    let mut running = JoinSet::new();
    for delivery in claimed {
        let context = context.clone();
        running.spawn(async move { attempt(&context, delivery).await });
    }
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Ok(())) => {}
            // Not recorded: the delivery stays claimed until its lease passes, then it is sent again.
            Ok(Err(e)) => tracing::error!(error = %e, "webhook delivery: cannot record an attempt"),
            Err(e) => tracing::error!(error = %e, "webhook delivery task failed"),
        }
    }
    Ok(n)
}

async fn attempt(context: &Context, delivery: ClaimedDelivery) -> Result<(), payment_buttons::store::StoreError> {
    let endpoint = &context.endpoint;
    let attempted_at = Utc::now();
    let answer = context
        .sender
        .send(endpoint, &delivery.event_id, &delivery.payload, attempted_at)
        .await;
    let result = decide(&answer, &delivery, endpoint, &context.options.backoff, Utc::now());
    let outcome = match result {
        AttemptResult::Delivered => "delivered",
        AttemptResult::Retry(_) => "retry",
        AttemptResult::GaveUp => "failed",
        AttemptResult::Gone => "gone",
    };
    crate::metrics::webhook_attempt(context.index, outcome);
    tracing::info!(
        endpoint = context.index, event = %delivery.event_id, attempt = delivery.attempts + 1,
        status = answer.status, latency_ms = u64::try_from(answer.latency.as_millis()).unwrap_or(u64::MAX),
        outcome, "webhook attempt"
    );
    match result {
        AttemptResult::Delivered => {}
        AttemptResult::Retry(next) => tracing::warn!(
            endpoint = %endpoint.display_url(), event = %delivery.event_id, attempts = delivery.attempts + 1,
            error = answer.error.as_deref().unwrap_or(""), next_attempt_at = %next, "webhook not delivered; will retry"
        ),
        AttemptResult::GaveUp => tracing::error!(
            endpoint = %endpoint.display_url(), event = %delivery.event_id, attempts = delivery.attempts + 1,
            error = answer.error.as_deref().unwrap_or(""), "webhook delivery given up: retry_for has passed"
        ),
        AttemptResult::Gone => tracing::error!(
            endpoint = %endpoint.display_url(), event = %delivery.event_id,
            "WEBHOOK ENDPOINT DISABLED: it answered 410 Gone; nothing more is sent to it (see docs/operations.md)"
        ),
    }
    context
        .store
        .record_webhook_attempt(AttemptRecord {
            delivery_id: delivery.id,
            attempted_at,
            http_status: answer.status,
            latency_ms: u64::try_from(answer.latency.as_millis()).unwrap_or(u64::MAX),
            error: answer.error.clone(),
            result,
        })
        .await
}

/// Delivered on 2xx, endpoint disabled on 410, otherwise a retry after the backoff unless that would be
/// later than `retry_for` after the delivery was written.
fn decide(
    answer: &Answer,
    delivery: &ClaimedDelivery,
    endpoint: &Endpoint,
    backoff: &Backoff,
    now: DateTime<Utc>,
) -> AttemptResult {
    if answer.is_success() {
        return AttemptResult::Delivered;
    }
    if answer.is_gone() {
        return AttemptResult::Gone;
    }
    let delay = chrono::Duration::from_std(backoff.delay(delivery.attempts + 1)).unwrap_or(chrono::Duration::hours(1));
    let deadline =
        delivery.created_at + chrono::Duration::from_std(endpoint.retry_for()).unwrap_or(chrono::Duration::days(3));
    let next = now + delay;
    if next > deadline {
        AttemptResult::GaveUp
    } else {
        AttemptResult::Retry(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: u32, created_at: DateTime<Utc>) -> ClaimedDelivery {
        ClaimedDelivery {
            id: 1,
            event_id: "evt_1".into(),
            endpoint: "http://127.0.0.1:9/".into(),
            attempts,
            created_at,
            payload: "{}".into(),
        }
    }

    fn answer(status: Option<u16>) -> Answer {
        Answer {
            status,
            latency: Duration::from_millis(5),
            error: None,
        }
    }

    fn endpoint(retry_for: Duration) -> Endpoint {
        Endpoint::new("http://127.0.0.1:9/", vec![], None, retry_for)
    }

    #[test]
    fn any_2xx_is_delivered_and_410_disables() {
        let now = Utc::now();
        let e = endpoint(Duration::from_secs(3600));
        for status in [200, 202, 204, 299] {
            assert_eq!(
                decide(&answer(Some(status)), &delivery(0, now), &e, &Backoff::default(), now),
                AttemptResult::Delivered
            );
        }
        assert_eq!(
            decide(&answer(Some(410)), &delivery(0, now), &e, &Backoff::default(), now),
            AttemptResult::Gone
        );
    }

    #[test]
    fn other_answers_and_timeouts_retry_until_retry_for_has_passed() {
        let now = Utc::now();
        let e = endpoint(Duration::from_secs(3600));
        for status in [None, Some(301), Some(404), Some(500), Some(503)] {
            match decide(&answer(status), &delivery(0, now), &e, &Backoff::default(), now) {
                AttemptResult::Retry(next) => assert!(next > now && next < now + chrono::Duration::seconds(3)),
                other => panic!("{status:?}: {other:?}"),
            }
        }
        let old = now - chrono::Duration::minutes(59);
        assert_eq!(
            decide(&answer(Some(500)), &delivery(10, old), &e, &Backoff::default(), now),
            AttemptResult::GaveUp
        );
    }
}
