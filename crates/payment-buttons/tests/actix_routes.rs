//! The actix integration on its own: a store that cannot write makes the notification route answer 503
//! (the gateway sends again: nothing is lost), and `/pay` answers 503 rather than a stack trace.
#![cfg(feature = "actix")]

use std::sync::Arc;

use actix_web::test as atest;
use actix_web::{App, http::StatusCode};
use chrono::{DateTime, Utc};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::event::Event;
use payment_buttons::gateway::GatewayCall;
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::refund::{NewRefund, RecordedRefund, RefundId, RefundUpdate, StoredRefund};
use payment_buttons::store::{
    Applied, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store, StoreError,
    StoredPayment,
};
use payment_buttons::token::ButtonSigner;
use payment_buttons::transition::ApplyRequest;

/// A database that is down for writes.
struct DownForWrites(MemoryStore);

fn down() -> StoreError {
    StoreError::Database("connection refused".into())
}

#[async_trait::async_trait]
impl Store for DownForWrites {
    async fn log_message(&self, _: NewMessage) -> Result<MessageId, StoreError> {
        Err(down())
    }
    async fn create_payment(&self, _: NewPayment) -> Result<(), StoreError> {
        Err(down())
    }
    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        self.0.payment(id).await
    }
    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        self.0.claim_messages(now, limit).await
    }
    async fn reschedule_message(&self, _: MessageId, _: u32, _: DateTime<Utc>, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn settle_message(&self, _: MessageId, _: Settlement) -> Result<(), StoreError> {
        Err(down())
    }
    async fn apply(&self, _: ApplyRequest) -> Result<Applied, StoreError> {
        Err(down())
    }
    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.0.undispatched_events(limit).await
    }
    async fn mark_dispatched(&self, _: i64) -> Result<(), StoreError> {
        Err(down())
    }
    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError> {
        self.0.events_for_payment(id).await
    }
    async fn healthy(&self) -> bool {
        false
    }
    async fn abandon_created_before(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<u64, StoreError> {
        Err(down())
    }
    async fn payments_for_order(&self, order: &str) -> Result<Vec<StoredPayment>, StoreError> {
        self.0.payments_for_order(order).await
    }
    async fn log_answers(
        &self,
        _: &str,
        _: Option<&PaymentId>,
        _: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError> {
        Err(down())
    }
    async fn record_refund(&self, _: NewRefund) -> Result<RecordedRefund, StoreError> {
        Err(down())
    }
    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError> {
        self.0.refund(id).await
    }
    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError> {
        self.0.refunds_for_payment(id).await
    }
    async fn begin_refund_attempt(&self, _: &RefundId, _: DateTime<Utc>) -> Result<Option<StoredRefund>, StoreError> {
        Err(down())
    }
    async fn update_refund(
        &self,
        _: &RefundId,
        _: RefundUpdate,
        _: Option<MessageId>,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError> {
        Err(down())
    }
    async fn note_answer(&self, _: MessageId, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError> {
        self.0.due_refunds(now, limit).await
    }
}

struct AlwaysVerified;
#[async_trait::async_trait]
impl Postback for AlwaysVerified {
    async fn validate(&self, _: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Verified
    }
}

fn engine() -> Arc<Engine<DownForWrites>> {
    engine_over(Arc::new(DownForWrites(MemoryStore::new())))
}

/// An engine over `store`, with PayPal (simulator) whose postbacks always answer VERIFIED.
fn engine_over<S: Store>(store: Arc<S>) -> Arc<Engine<S>> {
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    Arc::new(Engine::new(
        store,
        Gateways::new().with(Arc::new(PaypalGateway::new(config, Arc::new(AlwaysVerified)))),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    ))
}

#[actix_web::test]
async fn a_message_that_cannot_be_logged_is_answered_503_so_the_gateway_sends_it_again() {
    let app = atest::init_service(App::new().configure(payment_buttons::actix::configure(engine()))).await;
    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/notify/paypal")
            .set_payload("txn_type=web_accept")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = atest::read_body(resp).await;
    assert!(
        !String::from_utf8_lossy(&body).contains("connection refused"),
        "no internal detail leaks"
    );
}

#[actix_web::test]
async fn a_payment_that_cannot_be_recorded_is_a_503_page_without_internals() {
    let engine = engine();
    let button = ButtonConfig::from_json(
        r#"{"order_reference": "A1", "options": [{"description": "Book", "amount": "9.90", "currency": "EUR"}],
        "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
        "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .unwrap();
    let token = engine.sign_button(&button, Utc::now()).unwrap();
    let app = atest::init_service(App::new().configure(payment_buttons::actix::configure(engine))).await;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("button", &token)
        .finish();
    let resp = atest::call_service(
        &app,
        atest::TestRequest::post().uri("/pay").set_payload(body).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = String::from_utf8(atest::read_body(resp).await.to_vec()).unwrap();
    assert!(
        page.contains("try again") && !page.contains("connection refused"),
        "{page}"
    );
}

#[actix_web::test]
async fn the_log_records_the_address_trusted_proxies_report_and_the_peer_otherwise() {
    use payment_buttons::forwarded::TrustedProxies;
    let store = Arc::new(MemoryStore::new());
    let engine = engine_over(store.clone());
    let app = atest::init_service(
        App::new()
            .app_data(actix_web::web::Data::new(
                TrustedProxies::parse(["10.0.0.0/8"]).unwrap(),
            ))
            .configure(payment_buttons::actix::configure(engine)),
    )
    .await;
    for peer in ["10.0.0.2:4000", "203.0.113.5:4000"] {
        let request = atest::TestRequest::post()
            .uri("/notify/paypal")
            .peer_addr(peer.parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4, 173.0.82.126"))
            .set_payload("txn_type=web_accept")
            .to_request();
        assert_eq!(atest::call_service(&app, request).await.status(), StatusCode::OK);
    }
    let logged: Vec<Option<String>> = store.messages().into_iter().map(|m| m.message.remote_addr).collect();
    assert_eq!(
        logged,
        [Some("173.0.82.126".to_owned()), Some("203.0.113.5".to_owned())],
        "through the proxy: the address it saw; straight in: the peer, whatever the header says"
    );
}
