//! The message worker (`Engine::drain_messages`) with many verifications in flight: each payment's messages
//! are applied in log order whichever verification ends first, payments do not wait for each other, a
//! failing or hanging gateway does not hold the other gateway's messages, and every message is applied
//! exactly once, whether the messages ready at once are applied together (group commit, in batches) or one
//! by one; a message whose application fails costs the others of its batch nothing. Each scenario runs on
//! the in-memory store and on `DieselStore` over SQLite, and over PostgreSQL when `TEST_DATABASE_URL` is set
//! (CI sets it for this file).

#[path = "common/shop.rs"]
mod shop;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::testing::CmcicReturn;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::diesel::{AppliedChange, ApplyHook, DieselStore, HookOutcome, StoreOptions, Tx};
use payment_buttons::engine::Engine;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{Gateways, HandOff, IncomingMessage, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::store::conformance::TestDatabase;
use payment_buttons::store::{Store, StoreError};
use payment_buttons::testing::{Confirmation, HandOffForm};
use payment_buttons::token::ButtonSigner;
use shop::{SELLER, web_accept};

const CMCIC_KEY: &str = "0123456789ABCDEF0123456789ABCDEF012345AM";

/// A postback that answers as `answer` says, counting the postbacks it was asked.
struct CountingPostback<F> {
    answer: F,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl<F, Fut> Postback for CountingPostback<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = PostbackAnswer> + Send,
{
    async fn validate(&self, body: &[u8]) -> PostbackAnswer {
        self.asked.fetch_add(1, Ordering::SeqCst);
        (self.answer)(String::from_utf8_lossy(body).into_owned()).await
    }
}

fn counting<F, Fut>(answer: F) -> Arc<CountingPostback<F>>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = PostbackAnswer> + Send,
{
    Arc::new(CountingPostback {
        answer,
        asked: AtomicUsize::new(0),
    })
}

fn cmcic_gateway() -> Arc<CmcicGateway> {
    let key = UsableKey::from_merchant_key(CMCIC_KEY).unwrap();
    Arc::new(CmcicGateway::new(
        CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1").unwrap(),
    ))
}

/// PayPal answering through `postback`, and CM-CIC, over `store`.
fn engine<S: Store>(store: Arc<S>, postback: Arc<dyn Postback>, cmcic: Arc<CmcicGateway>) -> Engine<S> {
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    Engine::new(
        store,
        Gateways::new()
            .with(Arc::new(PaypalGateway::new(config, postback)))
            .with(cmcic),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    )
}

fn button() -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-1042",
        "options": [{{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR"}}],
        "payment_options": {{"paypal": {{"paypal_email": "{SELLER}"}},
          "cmcic": {{"billing": {{"address_line1": "3 rue de l'Eglise", "city": "Orleans",
                     "postal_code": "45000", "country": "FR"}}}}}},
        "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                 "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

/// Starts a payment through `gateway`; returns it and its hand-off form.
async fn buy<S: Store>(engine: &Engine<S>, gateway: &str) -> (PaymentId, HandOffForm) {
    let token = engine.sign_button(&button(), Utc::now()).unwrap();
    let started = engine
        .start_payment(&token, Some("0"), Some(gateway), None, None, Utc::now())
        .await
        .unwrap();
    let HandOff::Form { action, fields } = started.hand_off else {
        panic!("a form hand-off")
    };
    (started.payment_id, HandOffForm { action, fields })
}

async fn post<S: Store>(engine: &Engine<S>, gateway: &str, body: Vec<u8>) {
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    };
    engine.receive(gateway, message).await.unwrap();
}

async fn paypal_ipn<S: Store>(engine: &Engine<S>, id: &PaymentId, txn: &str, status: &str) {
    let mut fields = web_accept(id.as_str(), txn, status, "12.50");
    if status == "Pending" {
        fields.push(("pending_reason", "echeck"));
    }
    post(engine, "paypal", encode_ipn(fields)).await;
}

async fn kinds<S: Store>(engine: &Engine<S>, id: &PaymentId) -> Vec<EventKind> {
    let events = engine.store().events_for_payment(id).await.unwrap();
    events.into_iter().map(|e| e.kind).collect()
}

async fn state<S: Store>(engine: &Engine<S>, id: &PaymentId) -> PaymentState {
    engine.store().payment(id).await.unwrap().unwrap().state
}

/// Waits (at most `within`) until `done` holds.
async fn eventually<F, Fut>(within: Duration, what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the worker on `engine` until the returned handle is dropped.
fn start_worker<S: Store>(engine: Arc<Engine<S>>) -> AbortOnDrop {
    let wake = Arc::new(tokio::sync::Notify::new());
    AbortOnDrop(tokio::spawn(async move {
        engine.drain_messages(&wake, Duration::from_millis(50), &|| {}).await;
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a scenario on the in-memory store, then on `DieselStore` over every test database.
macro_rules! run_everywhere {
    ($scenario:ident) => {{
        $scenario(Arc::new(MemoryStore::new()), "memory").await;
        for db in TestDatabase::every_backend() {
            let store = DieselStore::open(db.url()).await.expect("open the store");
            $scenario(Arc::new(store), db.backend()).await;
        }
    }};
}

async fn later_message_verified_first<S: Store>(store: Arc<S>, backend: &str) {
    // The Pending's postback waits for the gate; every other postback answers at once.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let postback = {
        let gate = gate.clone();
        counting(move |body: String| {
            let gate = gate.clone();
            async move {
                if body.contains("payment_status=Pending") {
                    let _ = gate.acquire().await.unwrap();
                }
                PostbackAnswer::Verified
            }
        })
    };
    let engine = Arc::new(engine(store, postback.clone(), cmcic_gateway()).with_concurrency(8));
    let (slow, _) = buy(&engine, "paypal").await;
    let (other, _) = buy(&engine, "paypal").await;
    paypal_ipn(&engine, &slow, "TXN-SLOW", "Pending").await;
    paypal_ipn(&engine, &slow, "TXN-SLOW", "Completed").await;
    paypal_ipn(&engine, &other, "TXN-OTHER", "Completed").await;
    let _worker = start_worker(engine.clone());

    eventually(Duration::from_secs(10), "the other payment is accepted", || async {
        state(&engine, &other).await == PaymentState::Accepted
    })
    .await;
    eventually(Duration::from_secs(10), "all three postbacks asked", || async {
        postback.asked.load(Ordering::SeqCst) == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        state(&engine, &slow).await,
        PaymentState::Created,
        "{backend}: the Completed is verified, but waits for the Pending logged before it"
    );
    assert!(kinds(&engine, &slow).await.is_empty(), "{backend}");

    gate.add_permits(1);
    eventually(Duration::from_secs(10), "the slow payment is accepted", || async {
        state(&engine, &slow).await == PaymentState::Accepted
    })
    .await;
    assert_eq!(
        kinds(&engine, &slow).await,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentPending,
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted
        ],
        "{backend}: the Pending, logged first, is applied first"
    );
    assert_eq!(
        kinds(&engine, &other).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted],
        "{backend}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_later_message_verified_first_is_applied_second_and_other_payments_do_not_wait() {
    run_everywhere!(later_message_verified_first);
}

async fn failing_paypal<S: Store>(store: Arc<S>, backend: &str) {
    let postback = counting(|_| async { PostbackAnswer::Retry("connection refused".into()) });
    let cmcic = cmcic_gateway();
    let engine = Arc::new(engine(store, postback.clone(), cmcic.clone()).with_concurrency(4));
    let mut paypal = Vec::new();
    for i in 0..6 {
        let (id, _) = buy(&engine, "paypal").await;
        paypal_ipn(&engine, &id, &format!("TXN-F{i}"), "Completed").await;
        paypal.push(id);
    }
    let mut card = Vec::new();
    for _ in 0..3 {
        let (id, form) = buy(&engine, "cmcic").await;
        post(&engine, "cmcic", CmcicReturn::accepted(&cmcic).body_for(&form)).await;
        card.push(id);
    }
    let _worker = start_worker(engine.clone());

    for id in &card {
        eventually(Duration::from_secs(10), "the card payment is accepted", || async {
            state(&engine, id).await == PaymentState::Accepted
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        postback.asked.load(Ordering::SeqCst),
        6,
        "{backend}: each PayPal message was tried once, then waits in the store for its retry (10 s later), not in memory"
    );
    for id in &paypal {
        assert_eq!(state(&engine, id).await, PaymentState::Created, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gateway_does_not_hold_the_other_gateways_messages() {
    run_everywhere!(failing_paypal);
}

async fn hanging_paypal<S: Store>(store: Arc<S>, backend: &str) {
    // PayPal never answers (until the test ends): its verifications fill its share of the slots.
    let postback = counting(|_| std::future::pending::<PostbackAnswer>());
    let cmcic = cmcic_gateway();
    let engine = Arc::new(engine(store, postback.clone(), cmcic.clone()).with_concurrency(4));
    for i in 0..8 {
        let (id, _) = buy(&engine, "paypal").await;
        paypal_ipn(&engine, &id, &format!("TXN-H{i}"), "Completed").await;
    }
    let mut card = Vec::new();
    for _ in 0..2 {
        let (id, form) = buy(&engine, "cmcic").await;
        post(&engine, "cmcic", CmcicReturn::accepted(&cmcic).body_for(&form)).await;
        card.push(id);
    }
    let _worker = start_worker(engine.clone());

    for id in &card {
        eventually(
            Duration::from_secs(20),
            "the card payment is accepted past the hanging postbacks",
            || async { state(&engine, id).await == PaymentState::Accepted },
        )
        .await;
    }
    assert!(
        postback.asked.load(Ordering::SeqCst) < 4,
        "{backend}: PayPal holds at most its share (3 of 4) of the verifications"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_whose_postbacks_hang_does_not_starve_the_other_gateway() {
    run_everywhere!(hanging_paypal);
}

async fn exactly_once<S: Store>(store: Arc<S>, backend: &str) {
    // Four batches are applied at once, as the server does on PostgreSQL.
    exactly_once_applying(store, backend, 4, payment_buttons::engine::DEFAULT_APPLY_BATCH).await;
}

async fn exactly_once_in_small_batches<S: Store>(store: Arc<S>, backend: &str) {
    // One batch at a time, as on SQLite, of at most three messages: many batches, each of several payments.
    exactly_once_applying(store, backend, 1, 3).await;
}

async fn exactly_once_one_by_one<S: Store>(store: Arc<S>, backend: &str) {
    // No group commit: each message in a transaction of its own.
    exactly_once_applying(store, backend, 1, 1).await;
}

async fn exactly_once_applying<S: Store>(store: Arc<S>, backend: &str, apply_concurrency: usize, batch: usize) {
    // Postbacks end in a scrambled order (a few milliseconds each, the Pendings slower).
    let postback = counting(|body: String| async move {
        let jitter = body.len() as u64 % 7;
        let extra = if body.contains("payment_status=Pending") { 5 } else { 0 };
        tokio::time::sleep(Duration::from_millis(jitter + extra)).await;
        PostbackAnswer::Verified
    });
    let backend = &format!("{backend}, {apply_concurrency} batches of at most {batch} at once");
    let engine = Arc::new(
        engine(store, postback.clone(), cmcic_gateway())
            .with_concurrency(32)
            .with_apply_concurrency(apply_concurrency)
            .with_apply_batch(batch),
    );
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(buy(&engine, "paypal").await.0);
    }
    let _worker = start_worker(engine.clone());
    // Logged while the worker runs; each payment gets a Pending, its Completed, and the Completed resent.
    for (i, id) in ids.iter().enumerate() {
        let txn = format!("TXN-E{i}");
        paypal_ipn(&engine, id, &txn, "Pending").await;
    }
    for (i, id) in ids.iter().enumerate() {
        let txn = format!("TXN-E{i}");
        paypal_ipn(&engine, id, &txn, "Completed").await;
        paypal_ipn(&engine, id, &txn, "Completed").await;
    }
    eventually(Duration::from_secs(30), "every message verified", || async {
        postback.asked.load(Ordering::SeqCst) == 3 * ids.len()
    })
    .await;
    for id in &ids {
        eventually(Duration::from_secs(10), "the payment is accepted", || async {
            state(&engine, id).await == PaymentState::Accepted
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in &ids {
        assert_eq!(
            kinds(&engine, id).await,
            [
                EventKind::PaymentProcessed,
                EventKind::PaymentPending,
                EventKind::PaymentProcessed,
                EventKind::PaymentAccepted
            ],
            "{backend}: in log order, once each; the resent Completed changed nothing"
        );
    }
    assert_eq!(
        postback.asked.load(Ordering::SeqCst),
        3 * ids.len(),
        "{backend}: each verified once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_applied_exactly_once_in_log_order_per_payment() {
    run_everywhere!(exactly_once);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_applied_exactly_once_in_log_order_in_small_batches_and_one_by_one() {
    run_everywhere!(exactly_once_in_small_batches);
    run_everywhere!(exactly_once_one_by_one);
}

/// An application's hook that refuses to complete one payment (its ledger is down, say): applying any
/// message about that payment fails, and the store rolls it back.
#[derive(Clone, Default)]
struct RefusesOnePayment {
    refused: Arc<std::sync::Mutex<Option<PaymentId>>>,
    refusals: Arc<AtomicUsize>,
}

impl ApplyHook for RefusesOnePayment {
    fn after_change(&self, _: &mut Tx<'_>, change: &AppliedChange<'_>) -> Result<HookOutcome, StoreError> {
        if self.refused.lock().unwrap().as_ref() == Some(change.payment_id) {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Database("the ledger is down".into()));
        }
        Ok(HookOutcome::KeepEvents)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_application_fails_costs_the_other_messages_of_its_batch_nothing() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend();
        let hook = RefusesOnePayment::default();
        let store = StoreOptions::new()
            .apply_hook(Arc::new(hook.clone()))
            .open(db.url())
            .await
            .expect("open the store");
        let postback = counting(|_| async { PostbackAnswer::Verified });
        let engine = engine(Arc::new(store), postback.clone(), cmcic_gateway())
            .with_concurrency(16)
            .with_apply_batch(16);
        let mut ids = Vec::new();
        for _ in 0..12 {
            ids.push(buy(&engine, "paypal").await.0);
        }
        // The refused payment is in the middle of the log, so in a batch with others; its Completed follows
        // its Pending and must not overtake it.
        let refused = ids[6].clone();
        *hook.refused.lock().unwrap() = Some(refused.clone());
        for (i, id) in ids.iter().enumerate() {
            let status = if *id == refused { "Pending" } else { "Completed" };
            paypal_ipn(&engine, id, &format!("TXN-B{i}"), status).await;
        }
        paypal_ipn(&engine, &refused, "TXN-B6", "Completed").await;

        let result = engine.process_due(Utc::now(), 100).await;
        assert!(
            result.is_err(),
            "{backend}: the failed application is reported, once every other message is done"
        );
        assert!(hook.refusals.load(Ordering::SeqCst) >= 1, "{backend}");
        for id in ids.iter().filter(|id| **id != refused) {
            assert_eq!(
                state(&engine, id).await,
                PaymentState::Accepted,
                "{backend}: the other payments of the batch are applied"
            );
            assert_eq!(
                kinds(&engine, id).await,
                [EventKind::PaymentProcessed, EventKind::PaymentAccepted],
                "{backend}: once"
            );
        }
        assert_eq!(state(&engine, &refused).await, PaymentState::Created, "{backend}");
        assert!(
            kinds(&engine, &refused).await.is_empty(),
            "{backend}: nothing of it was written"
        );
        assert_eq!(
            engine.store().queued_count().await.unwrap(),
            2,
            "{backend}: the refused payment's Pending and the Completed behind it stay queued"
        );
        assert_eq!(postback.asked.load(Ordering::SeqCst), 13, "{backend}");

        // The ledger is back: once the lease has passed, both are applied, in log order.
        *hook.refused.lock().unwrap() = None;
        let later = Utc::now() + payment_buttons::store::MESSAGE_CLAIM_LEASE + chrono::Duration::seconds(1);
        engine.process_due(later, 100).await.expect("applied this time");
        assert_eq!(
            kinds(&engine, &refused).await,
            [
                EventKind::PaymentProcessed,
                EventKind::PaymentPending,
                EventKind::PaymentProcessed,
                EventKind::PaymentAccepted
            ],
            "{backend}"
        );
    }
}
