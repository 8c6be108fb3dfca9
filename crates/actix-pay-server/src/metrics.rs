//! `GET /metrics` in Prometheus's text format, and `GET /readyz`.
//!
//! The engine (payment-buttons, feature `metrics`) records its metrics through the `metrics` facade with
//! the prefix `librement`; this module installs the Prometheus recorder (once per process), records the
//! server's own (HTTP requests, webhook attempts), and sets the gauges read from the database at each
//! scrape (queue depth, outbox lag). Names: see docs/operations.md.
//!
//! Only the addresses of `metrics.allow` (default loopback) may read `/metrics`, or a request with
//! `Authorization: Bearer <metrics.token>`; anyone else gets 403.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use ipnet::IpNet;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use payment_buttons::diesel::{AnyConnection, utc};
use payment_buttons::store::StoreError;

use crate::config::MetricsConfig;
use crate::store::ServerStore;
use crate::store::schema::events;

/// The prefix of every metric name.
pub const PREFIX: &str = "librement";

/// Histogram buckets, in seconds: from a local verification (sub-millisecond) to a slow postback.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's Prometheus recorder: installed by the first caller, shared by every later one (tests
/// build many apps in one process; the `metrics` facade has one global recorder).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first: then ours records nothing, and the page
        // says so rather than lying (an empty page).
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::error!(error = %e, "metrics: another recorder is installed; /metrics will be empty");
        }
        handle
    })
}

/// What `/metrics` and `/readyz` need.
pub struct Observability {
    /// The database.
    pub store: ServerStore,
    /// `[metrics]`.
    pub config: MetricsConfig,
    /// The background tasks `serve` started.
    pub workers: WorkerWatch,
}

/// The background tasks `serve` started, by name: `/readyz` fails while none is registered or once one
/// has stopped (each loops forever, so a finished one crashed).
#[derive(Debug, Default)]
pub struct WorkerWatch(std::sync::Mutex<Vec<(&'static str, tokio::task::AbortHandle)>>);

impl WorkerWatch {
    /// Watches a background task under `name`: `/readyz` answers 503 once it has stopped.
    pub fn watch(&self, name: &'static str, task: tokio::task::AbortHandle) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((name, task));
    }

    /// What keeps the workers from being ready: none started yet, or the names of those that stopped.
    fn problem(&self) -> Option<String> {
        let workers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if workers.is_empty() {
            return Some("the workers are not running".to_owned());
        }
        let mut stopped: Vec<&str> = workers
            .iter()
            .filter(|(_, task)| task.is_finished())
            .map(|(name, _)| *name)
            .collect();
        stopped.dedup();
        (!stopped.is_empty()).then(|| format!("workers stopped: {}", stopped.join(", ")))
    }
}

impl Observability {
    /// Installs the recorder (once per process) when metrics are enabled.
    pub fn new(store: ServerStore, config: MetricsConfig) -> Self {
        if config.enabled {
            handle();
        }
        Observability {
            store,
            config,
            workers: WorkerWatch::default(),
        }
    }
}

/// Mounts `/readyz`, and `/metrics` when enabled.
pub fn configure(obs: Arc<Observability>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let enabled = obs.config.enabled;
        cfg.app_data(web::Data::from(obs))
            .route("/readyz", web::get().to(readyz));
        if enabled {
            cfg.route("/metrics", web::get().to(scrape));
        }
    }
}

/// True when `req` may read the metrics: from an allowed address, or with the token.
fn allowed(config: &MetricsConfig, req: &HttpRequest) -> bool {
    let from_allowed = payment_buttons::actix::client_ip(req).is_some_and(|ip| {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        config.allow.iter().any(|net: &IpNet| net.contains(&ip))
    });
    let with_token = config.token.as_ref().is_some_and(|token| {
        use subtle::ConstantTimeEq;
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, given)| bool::from(given.trim().as_bytes().ct_eq(token.expose().as_bytes())))
    });
    from_allowed || with_token
}

/// `GET /metrics`.
async fn scrape(obs: web::Data<Observability>, req: HttpRequest) -> HttpResponse {
    if !allowed(&obs.config, &req) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("metrics are readable from metrics.allow only, or with the bearer token\n");
    }
    match gauges(&obs.store).await {
        Ok((depth, lag)) => {
            metrics::gauge!(format!("{PREFIX}_queue_depth")).set(depth as f64);
            metrics::gauge!(format!("{PREFIX}_outbox_lag_seconds")).set(lag);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: the database gauges could not be read"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle().render())
}

/// Messages waiting for verification, and the age in seconds of the oldest undispatched event (0 when
/// none waits).
async fn gauges(store: &ServerStore) -> Result<(i64, f64), StoreError> {
    let depth = store.queued_count().await?;
    let oldest: Option<NaiveDateTime> = store
        .with_connection(|conn: &mut AnyConnection| {
            events::table
                .filter(events::dispatched_at.is_null())
                .order(events::seq.asc())
                .select(events::created_at)
                .first(conn)
                .optional()
                .map_err(StoreError::from)
        })
        .await?;
    let lag = oldest.map_or(0.0, |at| {
        (Utc::now() - utc(at)).num_milliseconds().max(0) as f64 / 1000.0
    });
    Ok((depth, lag))
}

/// `GET /readyz`: 200 when the database answers, every migration is applied and the workers run; 503
/// saying which is not so otherwise.
async fn readyz(obs: web::Data<Observability>) -> HttpResponse {
    let mut problems = Vec::new();
    if !payment_buttons::store::Store::healthy(&obs.store).await {
        problems.push("the database does not answer".to_owned());
    }
    match crate::store::pending_migrations(&obs.store).await {
        Ok(0) => {}
        Ok(n) => problems.push(format!("{n} migrations are not applied")),
        Err(e) => problems.push(format!("migrations could not be read: {e}")),
    }
    if let Some(problem) = obs.workers.problem() {
        problems.push(problem);
    }
    if problems.is_empty() {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("not ready: {}\n", problems.join("; ")))
    }
}

/// Counts one webhook attempt of the `index`-th endpoint with its `result`.
pub fn webhook_attempt(index: usize, result: &'static str) {
    metrics::counter!(
        format!("{PREFIX}_webhook_deliveries_total"),
        "endpoint" => index.to_string(),
        "result" => result
    )
    .increment(1);
}

/// Middleware: counts every request by route pattern (never the path: ids would make a series each) and
/// status, and records its duration.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    // Known once routing is done.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!(format!("{PREFIX}_http_requests_total"), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(format!("{PREFIX}_http_request_duration_seconds"), "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_that_stopped_makes_the_service_not_ready_and_is_named() {
        let watch = WorkerWatch::default();
        assert_eq!(watch.problem().as_deref(), Some("the workers are not running"));

        let running = tokio::spawn(std::future::pending::<()>());
        let crashed = tokio::spawn(async { panic!("a worker's bug") });
        watch.watch("messages", running.abort_handle());
        watch.watch("webhooks", crashed.abort_handle());
        assert!(crashed.await.is_err(), "the task panicked");

        assert_eq!(watch.problem().as_deref(), Some("workers stopped: webhooks"));
        running.abort();
    }

    #[tokio::test]
    async fn workers_that_run_are_ready() {
        let watch = WorkerWatch::default();
        let running = tokio::spawn(std::future::pending::<()>());
        watch.watch("messages", running.abort_handle());
        assert_eq!(watch.problem(), None);
        running.abort();
    }
}
