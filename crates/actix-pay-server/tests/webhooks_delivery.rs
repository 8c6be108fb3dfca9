//! Webhook delivery, specified scenario by scenario against a real HTTP receiver on 127.0.0.1. Events are
//! made through the real `Store::apply` path and fanned out by the real outbox dispatch. Each scenario runs
//! on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set; the two-instance scenario needs PostgreSQL.

#[path = "common/store.rs"]
mod common;

use common::*;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::Store;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_pay_server::store::{DeliveryRow, DeliveryStatus, ServerStore};
use actix_pay_server::webhooks::{Backoff, Endpoint, WorkerOptions};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::event::{Event, EventKind, Listener};
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::token::ButtonSigner;
use payment_buttons::webhook::{self, DEFAULT_TOLERANCE, ReceivedHeaders, WebhookSecret};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// Whether the signature verified with the receiver's secret at arrival.
    pub verified: bool,
    /// `Content-Type` and `User-Agent`.
    pub content_type: String,
    pub user_agent: String,
    /// The raw body.
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 500 for the first `n` requests, then 204.
    FailFirst(usize),
    /// 410 always.
    Gone,
    /// 204 after a pause.
    Slow(Duration),
}

/// A webhook receiver on 127.0.0.1 that verifies every request and records it.
pub struct Receiver {
    pub url: String,
    pub secret: WebhookSecret,
    log: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

struct State {
    secret: WebhookSecret,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Received>>>,
}

async fn receive(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let received = ReceivedHeaders {
        id: &id,
        timestamp: &timestamp,
        signature: &signature,
    };
    let verified = webhook::verify(
        std::slice::from_ref(&state.secret),
        &received,
        &body,
        Utc::now(),
        DEFAULT_TOLERANCE,
    )
    .is_ok();
    let seen = state.log.lock().unwrap().len();
    let status = match state.behaviour {
        Behaviour::FailFirst(n) if seen < n => 500,
        Behaviour::FailFirst(_) => 204,
        Behaviour::Gone => 410,
        Behaviour::Slow(pause) => {
            tokio::time::sleep(pause).await;
            204
        }
    };
    state.log.lock().unwrap().push(Received {
        id,
        timestamp: timestamp.parse().unwrap_or(0),
        verified,
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    /// Starts a receiver on a free port.
    pub fn start(behaviour: Behaviour) -> Receiver {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), behaviour)
    }

    /// Starts a receiver on `listener` (to bring back a receiver on a port that was down).
    pub fn start_on(listener: TcpListener, behaviour: Behaviour) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let secret = WebhookSecret::generate();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = web::Data::new(State {
            secret: secret.clone(),
            behaviour,
            log: log.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/events", web::post().to(receive))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/events"),
            secret,
            log,
            handle,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Ids of the requests answered 2xx, in arrival order.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.id)
            .collect()
    }

    /// An endpoint for this receiver.
    pub fn endpoint(&self, kinds: Option<Vec<EventKind>>) -> Endpoint {
        Endpoint::new(
            self.url.clone(),
            vec![self.secret.clone()],
            kinds,
            Duration::from_secs(3600),
        )
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// Worker options that make tests run in seconds.
pub fn fast() -> WorkerOptions {
    WorkerOptions {
        poll: Duration::from_millis(50),
        batch: 20,
        lease: Duration::from_secs(3),
        timeout: Duration::from_secs(1),
        backoff: Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(400),
        },
    }
}

/// An engine over `store` with no gateway, whose only job here is to run the outbox listeners.
pub fn engine(store: &ServerStore, listeners: Vec<Arc<dyn Listener>>) -> Engine<ServerStore> {
    let mut engine = Engine::new(
        Arc::new(store.clone()),
        Gateways::new(),
        ButtonSigner::new(b"a test key that signs nothing here"),
        ServiceUrls::new("http://127.0.0.1:1").unwrap(),
    );
    for listener in listeners {
        engine = engine.with_listener(listener);
    }
    engine
}

/// Runs the outbox until it is empty.
pub async fn dispatch_all(engine: &Engine<ServerStore>) {
    for _ in 0..1000 {
        if engine.dispatch_events(100).await.unwrap() == 0 {
            return;
        }
    }
    panic!("the outbox does not empty");
}

/// Waits (up to `limit`) until `done` holds for the deliveries; returns them.
pub async fn wait_for_deliveries(
    store: &ServerStore,
    limit: Duration,
    done: impl Fn(&[DeliveryRow]) -> bool,
) -> Vec<DeliveryRow> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let rows = store.webhook_deliveries().await.unwrap();
        if done(&rows) {
            return rows;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("deliveries did not settle in {limit:?}: {rows:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// True when every row has left `pending`.
pub fn all_settled(rows: &[DeliveryRow]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r.status != DeliveryStatus::Pending)
}

/// The events a receiver got, parsed.
pub fn events_of(requests: &[Received]) -> Vec<Event> {
    requests
        .iter()
        .map(|r| serde_json::from_str(&r.body).expect("the body is an event"))
        .collect()
}

/// The button the common fixtures use, as JSON.
pub fn button_json(button: &ButtonConfig) -> serde_json::Value {
    button.to_json_value()
}

/// A payment accepted through the real apply path: two events (`payment_processed`, `payment_accepted`).
async fn accepted_payment(db: &TestDb) -> PaymentId {
    let p = create_payment(&db.store, false).await;
    let key = format!("{p}:Completed");
    log_and_apply(
        &db.store,
        &p,
        notification(&p, Target::Payment, Some(Outcome::Accepted), &key, &key),
    )
    .await;
    p
}

/// Refunds `p`: two more events (`payment_processed`, `payment_refunded`).
async fn refund(db: &TestDb, p: &PaymentId) {
    let key = format!("{p}:Refunded");
    let outcome = Outcome::Refunded { amount: None };
    log_and_apply(
        &db.store,
        p,
        notification(p, Target::Payment, Some(outcome), &key, &key),
    )
    .await;
}

/// Outbox event ids in outbox order, per payment.
async fn event_ids(db: &TestDb, p: &PaymentId) -> Vec<String> {
    db.store
        .events_for_payment(p)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// The first 2xx arrival of each id, in arrival order, restricted to `ids`.
fn first_arrivals(accepted: &[String], ids: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for id in accepted {
        if ids.contains(id) && !seen.contains(id) {
            seen.push(id.clone());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_each_event_once_it_answers_2xx_with_every_attempt_recorded_and_signed() {
    on_every_backend(|db| async move {
        let receiver = Receiver::start(Behaviour::FailFirst(2));
        let webhooks =
            actix_pay_server::webhooks::Webhooks::with_endpoints(db.store.clone(), vec![receiver.endpoint(None)]);
        let p = accepted_payment(&db).await;
        dispatch_all(&engine(&db.store, vec![webhooks.fanout()])).await;
        let worker = webhooks.spawn_worker(fast()).unwrap();
        let rows = wait_for_deliveries(&db.store, Duration::from_secs(20), all_settled).await;
        drop(worker);

        let ids = event_ids(&db, &p).await;
        assert_eq!(rows.len(), 2, "{}", db.backend);
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Delivered),
            "{}: {rows:#?}",
            db.backend
        );
        let first = rows.iter().find(|r| r.event_id == ids[0]).unwrap();
        assert_eq!(first.attempts, 3, "{}: two failures then success", db.backend);
        let attempts = db.store.webhook_attempts(first.id).await.unwrap();
        assert_eq!(
            attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(),
            [Some(500), Some(500), Some(204)],
            "{}",
            db.backend
        );
        assert_eq!(attempts[0].error.as_deref(), Some("HTTP 500 Internal Server Error"));
        assert_eq!(attempts[2].error, None);
        assert!(attempts.windows(2).all(|w| w[0].attempted_at < w[1].attempted_at));

        let requests = receiver.requests();
        assert_eq!(
            requests.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            [ids[0].clone(), ids[0].clone(), ids[0].clone(), ids[1].clone()],
            "{}: the second event waits until the first is delivered",
            db.backend
        );
        for r in &requests {
            assert!(
                r.verified,
                "{}: every attempt is signed with the endpoint's secret",
                db.backend
            );
            assert_eq!(r.content_type, "application/json");
            assert!(r.user_agent.starts_with("librement-pay-webhooks/"));
            assert!(
                (r.timestamp - Utc::now().timestamp()).abs() < 60,
                "a fresh timestamp per attempt"
            );
        }
        receiver.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_created_while_the_receiver_is_down_arrive_later_in_order_per_payment() {
    on_every_backend(|db| async move {
        // A port with nothing listening: connections are refused until the receiver comes back on it.
        let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = reserved.local_addr().unwrap().port();
        drop(reserved);
        let down = Endpoint::new(
            format!("http://127.0.0.1:{port}/events"),
            vec![WebhookSecret::generate()],
            None,
            Duration::from_secs(3600),
        );
        let webhooks = actix_pay_server::webhooks::Webhooks::with_endpoints(db.store.clone(), vec![down.clone()]);
        let engine = engine(&db.store, vec![webhooks.fanout()]);
        let worker = webhooks.spawn_worker(fast()).unwrap();
        let mut payments = Vec::new();
        for _ in 0..3 {
            let p = accepted_payment(&db).await;
            refund(&db, &p).await;
            payments.push(p);
        }
        dispatch_all(&engine).await;
        wait_for_deliveries(&db.store, Duration::from_secs(20), |rows| {
            rows.len() == 12 && rows.iter().filter(|r| r.attempts >= 2).count() >= 3
        })
        .await;
        let failed_attempt = db.store.webhook_deliveries().await.unwrap()[0].clone();
        assert_eq!(failed_attempt.status, DeliveryStatus::Pending);
        assert_eq!(failed_attempt.last_status, None, "{}", db.backend);
        assert!(
            failed_attempt
                .last_error
                .as_deref()
                .unwrap_or("")
                .starts_with("cannot connect"),
            "{}: {failed_attempt:?}",
            db.backend
        );

        // The receiver comes back, with the endpoint's secret.
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let receiver = Receiver::start_on(listener, Behaviour::FailFirst(0));
        let rows = wait_for_deliveries(&db.store, Duration::from_secs(20), all_settled).await;
        drop(worker);
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Delivered),
            "{}: {rows:#?}",
            db.backend
        );
        let accepted = receiver.accepted_ids();
        for p in &payments {
            let ids = event_ids(&db, p).await;
            assert_eq!(ids.len(), 4);
            assert_eq!(
                first_arrivals(&accepted, &ids),
                ids,
                "{}: order of payment {p}",
                db.backend
            );
        }
        receiver.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_endpoint_and_nothing_more_is_sent_to_it() {
    on_every_backend(|db| async move {
        let receiver = Receiver::start(Behaviour::Gone);
        let webhooks =
            actix_pay_server::webhooks::Webhooks::with_endpoints(db.store.clone(), vec![receiver.endpoint(None)]);
        let engine = engine(&db.store, vec![webhooks.fanout()]);
        // One payment: its second event waits behind the first, so exactly one request is made.
        accepted_payment(&db).await;
        dispatch_all(&engine).await;
        let worker = webhooks.spawn_worker(fast()).unwrap();
        let rows = wait_for_deliveries(&db.store, Duration::from_secs(20), all_settled).await;
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Disabled),
            "{}: {rows:#?}",
            db.backend
        );
        let (_, reason) = db
            .store
            .webhook_endpoint_disabled(&receiver.url)
            .await
            .unwrap()
            .expect("disabled");
        assert!(reason.contains("410"), "{reason}");

        // A later event is recorded as disabled for this endpoint and never sent.
        accepted_payment(&db).await;
        dispatch_all(&engine).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(worker);
        let rows = db.store.webhook_deliveries().await.unwrap();
        assert_eq!(rows.len(), 4);
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Disabled),
            "{}",
            db.backend
        );
        assert_eq!(rows.iter().map(|r| r.attempts).sum::<u32>(), 1, "{}", db.backend);
        assert_eq!(
            receiver.requests().len(),
            1,
            "{}: only the request that got the 410",
            db.backend
        );
        receiver.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_with_an_event_filter_gets_only_the_chosen_types() {
    on_every_backend(|db| async move {
        let picky = Receiver::start(Behaviour::FailFirst(0));
        let all = Receiver::start(Behaviour::FailFirst(0));
        let webhooks = actix_pay_server::webhooks::Webhooks::with_endpoints(
            db.store.clone(),
            vec![
                picky.endpoint(Some(vec![EventKind::PaymentRefunded])),
                all.endpoint(None),
            ],
        );
        let p = accepted_payment(&db).await;
        refund(&db, &p).await;
        dispatch_all(&engine(&db.store, vec![webhooks.fanout()])).await;
        let worker = webhooks.spawn_worker(fast()).unwrap();
        wait_for_deliveries(&db.store, Duration::from_secs(20), |rows| {
            rows.len() == 5 && all_settled(rows)
        })
        .await;
        drop(worker);
        let kinds = |r: &Receiver| events_of(&r.requests()).iter().map(|e| e.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&picky), [EventKind::PaymentRefunded], "{}", db.backend);
        assert_eq!(
            kinds(&all),
            [
                EventKind::PaymentProcessed,
                EventKind::PaymentAccepted,
                EventKind::PaymentProcessed,
                EventKind::PaymentRefunded
            ],
            "{}",
            db.backend
        );
        picky.stop().await;
        all.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_is_exactly_the_stored_event_with_the_complete_button_configuration() {
    on_every_backend(|db| async move {
        let receiver = Receiver::start(Behaviour::FailFirst(0));
        let webhooks = actix_pay_server::webhooks::Webhooks::with_endpoints(
            db.store.clone(),
            vec![receiver.endpoint(Some(vec![EventKind::PaymentAccepted]))],
        );
        let p = accepted_payment(&db).await;
        dispatch_all(&engine(&db.store, vec![webhooks.fanout()])).await;
        let worker = webhooks.spawn_worker(fast()).unwrap();
        wait_for_deliveries(&db.store, Duration::from_secs(20), all_settled).await;
        drop(worker);
        let stored = db.store.events_for_payment(&p).await.unwrap().pop().unwrap();
        let body: serde_json::Value = serde_json::from_str(&receiver.requests()[0].body).unwrap();
        assert_eq!(body, serde_json::to_value(&stored).unwrap(), "{}", db.backend);
        assert_eq!(body["button"], button_json(&button(false)), "{}", db.backend);
        assert_eq!(body["button"]["options"][0]["custom"]["sku"], "manual-pdf");
        assert_eq!(body["id"], receiver.requests()[0].id.as_str());
        receiver.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_in_the_middle_of_delivery_is_taken_over_by_a_new_one_and_nothing_is_missing() {
    on_every_backend(|db| async move {
        let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(150)));
        let webhooks =
            actix_pay_server::webhooks::Webhooks::with_endpoints(db.store.clone(), vec![receiver.endpoint(None)]);
        let mut payments = Vec::new();
        for _ in 0..10 {
            payments.push(accepted_payment(&db).await);
        }
        dispatch_all(&engine(&db.store, vec![webhooks.fanout()])).await;
        let first = webhooks.spawn_worker(fast()).unwrap();
        // Stopped while requests are in flight: some delivered, some not.
        tokio::time::sleep(Duration::from_millis(220)).await;
        first.abort();
        drop(first);
        let rows = db.store.webhook_deliveries().await.unwrap();
        let delivered_before = rows.iter().filter(|r| r.status == DeliveryStatus::Delivered).count();
        assert!(delivered_before < 20, "{}: the restart happens mid-way", db.backend);

        // "Restart": a new worker on the same database, with the same configuration.
        let restarted =
            actix_pay_server::webhooks::Webhooks::with_endpoints(db.store.clone(), vec![receiver.endpoint(None)]);
        let second = restarted.spawn_worker(fast()).unwrap();
        let rows = wait_for_deliveries(&db.store, Duration::from_secs(30), all_settled).await;
        drop(second);
        assert!(
            rows.iter().all(|r| r.status == DeliveryStatus::Delivered),
            "{}: {rows:#?}",
            db.backend
        );
        let accepted = receiver.accepted_ids();
        for p in &payments {
            let ids = event_ids(&db, p).await;
            assert_eq!(
                first_arrivals(&accepted, &ids),
                ids,
                "{}: every event, in order, after dedup",
                db.backend
            );
        }
        assert!(receiver.requests().iter().all(|r| r.verified));
        receiver.stop().await;
    })
    .await;
}

/// Records which events an instance's in-process listeners saw.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Listener for Seen {
    async fn handle(&self, event: &Event) -> Result<(), payment_buttons::event::ListenerError> {
        self.0.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgresql_deliver_each_of_200_events_exactly_once_in_order_per_payment() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL is not set: the two-instance scenario needs PostgreSQL");
        return;
    };
    if admin.is_empty() {
        return;
    }
    on_every_backend(|db| async move {
        if db.backend != "postgresql" {
            return;
        }
        let receiver = Receiver::start(Behaviour::FailFirst(0));
        let mut payments = Vec::new();
        for _ in 0..100 {
            payments.push(accepted_payment(&db).await);
        }
        // Two instances: their own connection pools, engines, listeners and workers, one database.
        let other = ServerStore::open(&db.url).await.unwrap();
        let mut instances = Vec::new();
        for store in [db.store.clone(), other] {
            let webhooks =
                actix_pay_server::webhooks::Webhooks::with_endpoints(store.clone(), vec![receiver.endpoint(None)]);
            let seen = Arc::new(Seen::default());
            let engine = Arc::new(engine(&store, vec![seen.clone(), webhooks.fanout()]));
            let worker = webhooks.spawn_worker(fast()).unwrap();
            instances.push((engine, seen, worker));
        }
        let dispatchers: Vec<_> = instances
            .iter()
            .map(|(engine, _, _)| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    for _ in 0..200 {
                        engine.dispatch_events(7).await.unwrap();
                    }
                })
            })
            .collect();
        for d in dispatchers {
            d.await.unwrap();
        }
        let rows = wait_for_deliveries(&db.store, Duration::from_secs(60), |rows| {
            rows.len() == 200 && all_settled(rows)
        })
        .await;
        assert!(
            rows.iter()
                .all(|r| r.status == DeliveryStatus::Delivered && r.attempts == 1)
        );

        let mut listened: Vec<String> = instances
            .iter()
            .flat_map(|(_, seen, _)| seen.0.lock().unwrap().clone())
            .collect();
        assert!(
            instances.iter().all(|(_, seen, _)| !seen.0.lock().unwrap().is_empty()),
            "both instances claimed events"
        );
        listened.sort();
        let before = listened.len();
        listened.dedup();
        assert_eq!(
            (before, listened.len()),
            (200, 200),
            "each event handed to one instance's listeners once"
        );

        let accepted = receiver.accepted_ids();
        assert_eq!(accepted.len(), 200, "no delivery repeated, none missing");
        for p in &payments {
            let ids = event_ids(&db, p).await;
            let arrivals: Vec<String> = accepted.iter().filter(|id| ids.contains(id)).cloned().collect();
            assert_eq!(arrivals, ids, "order of payment {p}");
        }
        drop(instances);
        receiver.stop().await;
    })
    .await;
}
