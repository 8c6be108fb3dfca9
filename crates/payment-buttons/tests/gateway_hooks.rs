//! The gateway hooks wired in the engine and the actix front end, with a gateway of the test's own (the core
//! names none): a hand-off through the gateway's API, the buyer's return with a server-side step, and a
//! second notification route with the headers it needs. Every answer is logged before anything is done with
//! it, and what a return applies is applied once.
#![cfg(feature = "actix")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::{App, test as atest};
use chrono::{DateTime, Utc};
use payment_buttons::button::{ButtonConfig, ButtonError};
use payment_buttons::engine::Engine;
use payment_buttons::event::Event;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{
    ApiHandOffs, BuyerReturn, DecodedFields, Gateway, GatewayCall, GatewayError, Gateways, HandOff, IncomingMessage,
    NotifyRoute, PaymentRequest, Reply, Returned, ServiceUrls, StoredPaymentFacts, VerificationWithCalls,
};
use payment_buttons::memory::MemoryStore;
use payment_buttons::money::Money;
use payment_buttons::notification::{Notification, Outcome, Target, Verification, VerificationStatus, Verified};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::refund::{NewRefund, RecordedRefund, RefundId, RefundUpdate, StoredRefund};
use payment_buttons::store::{
    Applied, Direction, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store, StoreError,
    StoredPayment,
};
use payment_buttons::token::ButtonSigner;
use payment_buttons::transition::ApplyRequest;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

/// A gateway with an API: it "creates" the payment when asked, "captures" on the return, and also takes
/// signed messages on `/notify/stub/signed`.
#[derive(Default)]
struct Stub {
    refuse_hand_off: AtomicBool,
    returns: std::sync::atomic::AtomicUsize,
}

const SIGNED: NotifyRoute = NotifyRoute {
    path: "signed",
    headers: &["x-signature"],
};

fn call(what: &str, body: &str) -> GatewayCall {
    GatewayCall {
        received_at: Utc::now(),
        request: format!("POST https://api.stub.example/{what}"),
        status: 201,
        content_type: Some("application/json".into()),
        body: body.as_bytes().to_vec(),
    }
}

fn captured(payment: &str) -> Notification {
    Notification {
        payment_ref: Some(payment.to_owned()),
        target: Target::Payment,
        outcome: Some(Outcome::Accepted),
        idempotency_key: "CAPTURE-1:Completed".into(),
        gateway_reference: Some("CAPTURE-1".into()),
        subscription: None,
        amount: Some(Money::parse("12.50", "EUR").unwrap()),
        receiver: Some("seller@example.com".into()),
        test: false,
        details: Default::default(),
        flags: vec![],
        summary: "capture completed".into(),
    }
}

#[async_trait::async_trait]
impl Gateway for Stub {
    fn name(&self) -> &'static str {
        "stub"
    }
    fn check_button(&self, _: &ButtonConfig) -> Result<(), ButtonError> {
        Ok(())
    }
    fn receiver(&self, _: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        Ok(Some("seller@example.com".into()))
    }
    fn hand_off(&self, _: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        panic!("a gateway with an API hand-off is never asked for a form")
    }
    fn decode(&self, _: &IncomingMessage) -> DecodedFields {
        DecodedFields::default()
    }
    fn acknowledge(&self, _: &IncomingMessage) -> Reply {
        Reply::empty_ok()
    }
    async fn verify(&self, message: &IncomingMessage) -> Verification {
        // Signed messages only count on their route, with their signature header.
        let signed =
            message.route() == "signed" && message.headers.get("x-signature").map(String::as_str) == Some("ok");
        let body = std::str::from_utf8(&message.body).unwrap_or_default();
        if let (true, Some(payment)) = (signed, body.strip_prefix("approved:")) {
            return Verification::Return {
                payment: PaymentId::parse(payment).unwrap(),
                query: vec![("token".into(), "P-1".into())],
            };
        }
        match (signed, body.strip_prefix("captured:")) {
            (true, Some(payment)) => Verification::Verified(Verified::vouched_by_gateway(captured(payment))),
            _ => Verification::Rejected {
                status: VerificationStatus::Invalid,
                reason: "not signed".into(),
                flags: vec![],
            },
        }
    }
    /// A message signed `by-api` is checked by calling the stub's API, which answers that it is genuine:
    /// that answer comes back with the verification, for the log.
    async fn verify_with_calls(&self, message: &IncomingMessage) -> VerificationWithCalls {
        if message.headers.get("x-signature").map(String::as_str) != Some("by-api") {
            return self.verify(message).await.into();
        }
        let mut checked = message.clone();
        checked.headers.insert("x-signature".into(), "ok".into());
        VerificationWithCalls {
            verification: self.verify(&checked).await,
            calls: vec![call("verify-signature", r#"{"verification_status":"SUCCESS"}"#)],
        }
    }
    fn notify_routes(&self) -> &'static [NotifyRoute] {
        &[NotifyRoute::MAIN, SIGNED]
    }
    fn api_hand_off(&self) -> Option<&dyn ApiHandOffs> {
        Some(self)
    }
    fn buyer_return(&self) -> Option<&dyn BuyerReturn> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl ApiHandOffs for Stub {
    async fn hand_off_via_api(
        &self,
        request: &PaymentRequest<'_>,
    ) -> (Result<HandOff, GatewayError>, Vec<GatewayCall>) {
        if self.refuse_hand_off.load(Ordering::SeqCst) {
            return (
                Err(GatewayError::Unavailable("the stub refused".into())),
                vec![call("payments", r#"{"error":"refused"}"#)],
            );
        }
        let body = format!(r#"{{"id":"P-1","invoice":"{}"}}"#, request.payment_id);
        (
            Ok(HandOff::Redirect {
                location: "https://stub.example/approve?token=P-1".into(),
            }),
            vec![call("payments", &body)],
        )
    }
}

#[async_trait::async_trait]
impl BuyerReturn for Stub {
    async fn on_return(
        &self,
        payment: &StoredPaymentFacts<'_>,
        query: &[(String, String)],
        urls: &ServiceUrls,
    ) -> Returned {
        self.returns.fetch_add(1, Ordering::SeqCst);
        let token_ok = query.iter().any(|(k, v)| k == "token" && (v == "P-1" || v == "CHEAP"));
        let cheap = query.iter().any(|(_, v)| v == "CHEAP");
        Returned {
            calls: vec![call("payments/P-1/capture", r#"{"status":"COMPLETED"}"#)],
            notification: token_ok.then(|| {
                let mut n = captured(payment.payment_id.as_str());
                if cheap {
                    n.amount = Some(Money::parse("0.01", "EUR").unwrap());
                    n.idempotency_key = "CAPTURE-2:Completed".into();
                }
                Verified::vouched_by_gateway(n)
            }),
            hand_off: HandOff::Redirect {
                location: urls.status(payment.payment_id),
            },
        }
    }
}

fn engine(stub: Arc<Stub>) -> Arc<Engine<MemoryStore>> {
    engine_over(stub, Arc::new(MemoryStore::new()))
}

fn engine_over<S: Store>(stub: Arc<Stub>, store: Arc<S>) -> Arc<Engine<S>> {
    Arc::new(Engine::new(
        store,
        Gateways::new().with(stub),
        ButtonSigner::new(SECRET),
        ServiceUrls::new("https://pay.example").unwrap(),
    ))
}

fn token<S: Store>(engine: &Engine<S>) -> String {
    let button = ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-1", "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR"}],
            "payment_options": {"stub": {}},
            "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .unwrap();
    engine.sign_button(&button, Utc::now()).unwrap()
}

macro_rules! app {
    ($engine:expr) => {
        atest::init_service(App::new().configure(payment_buttons::actix::configure($engine.clone()))).await
    };
}

/// Posts the button to `/pay`.
macro_rules! pay {
    ($app:expr, $token:expr) => {
        atest::call_service(
            $app,
            atest::TestRequest::post()
                .uri("/pay")
                .set_form([("button", $token)])
                .to_request(),
        )
        .await
    };
}

fn location(answer: &actix_web::dev::ServiceResponse) -> String {
    answer.headers().get("location").unwrap().to_str().unwrap().to_owned()
}

fn payment_of(store: &MemoryStore) -> PaymentId {
    store.messages().first().unwrap().payment_id.clone().unwrap()
}

#[actix_web::test]
async fn an_api_hand_off_stores_the_payment_logs_the_answer_then_redirects() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    let answer = pay!(&app, token(&engine));
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "https://stub.example/approve?token=P-1");
    let logged = engine.store().messages();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].direction, Direction::Answer);
    let id = payment_of(engine.store());
    assert!(String::from_utf8_lossy(&logged[0].message.body).contains(id.as_str()));
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Created
    );
}

#[actix_web::test]
async fn a_refused_api_hand_off_is_a_502_with_its_answer_logged() {
    let stub = Arc::new(Stub::default());
    stub.refuse_hand_off.store(true, Ordering::SeqCst);
    let engine = engine(stub);
    let app = app!(engine);
    let answer = pay!(&app, token(&engine));
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    let body = atest::read_body(answer).await;
    assert!(String::from_utf8_lossy(&body).contains("the stub refused"));
    let logged = engine.store().messages();
    assert_eq!(logged.len(), 1, "the refusal is logged too");
    assert_eq!(logged[0].message.body, br#"{"error":"refused"}"#);
}

#[actix_web::test]
async fn the_return_logs_the_capture_applies_it_once_and_sends_the_buyer_to_the_status_page() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    for _ in 0..2 {
        let back = atest::TestRequest::get()
            .uri(&format!("/return/stub/{id}?token=P-1"))
            .to_request();
        let answer = atest::call_service(&app, back).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&answer), format!("https://pay.example/payments/{id}"));
    }
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    let accepted = engine
        .store()
        .events_for_payment(&id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::PaymentAccepted)
        .count();
    assert_eq!(accepted, 1, "two returns, one acceptance");
    let captures: Vec<_> = engine
        .store()
        .messages()
        .into_iter()
        .filter(|m| m.direction == Direction::Answer && m.fields["request"].ends_with("/capture"))
        .collect();
    assert_eq!(captures.len(), 2, "each answer is logged");
    assert!(
        captures[1].outcome.as_deref().unwrap().starts_with("duplicate"),
        "{:?}",
        captures[1]
    );
}

#[actix_web::test]
async fn a_return_with_a_wrong_token_applies_nothing_and_unknown_returns_are_404() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    let back = atest::TestRequest::get()
        .uri(&format!("/return/stub/{id}?token=OTHER"))
        .to_request();
    assert_eq!(atest::call_service(&app, back).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Created
    );
    for uri in [
        format!("/return/stub/{}", PaymentId::generate()),
        format!("/return/other/{id}"),
        "/return/stub/..%2F..".to_owned(),
    ] {
        let request = atest::TestRequest::get().uri(&uri).to_request();
        assert_eq!(
            atest::call_service(&app, request).await.status(),
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
}

#[actix_web::test]
async fn a_second_route_logs_the_headers_it_lists_and_its_name_and_other_routes_are_404() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    let request = atest::TestRequest::post()
        .uri("/notify/stub/signed")
        .insert_header(("x-signature", "ok"))
        .insert_header(("x-unlisted", "kept out"))
        .set_payload(format!("captured:{id}"))
        .to_request();
    assert_eq!(atest::call_service(&app, request).await.status(), StatusCode::OK);
    let logged = engine.store().messages().pop().unwrap();
    assert_eq!(
        logged.message.headers.get("x-signature").map(String::as_str),
        Some("ok")
    );
    assert_eq!(logged.message.route(), "signed");
    assert!(
        !logged.message.headers.contains_key("x-unlisted"),
        "only what verification needs"
    );
    engine.process_due(Utc::now(), 10).await.unwrap();
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );

    // The same body on the main route is not signed there: logged, rejected.
    let request = atest::TestRequest::post()
        .uri("/notify/stub")
        .insert_header(("x-signature", "ok"))
        .set_payload(format!("captured:{id}"))
        .to_request();
    assert_eq!(atest::call_service(&app, request).await.status(), StatusCode::OK);
    let before = engine.store().messages().len();
    let request = atest::TestRequest::post()
        .uri("/notify/stub/other")
        .set_payload("x")
        .to_request();
    assert_eq!(atest::call_service(&app, request).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        engine.store().messages().len(),
        before,
        "nothing logged for an unknown route"
    );
    engine.process_due(Utc::now(), 10).await.unwrap();
    let main = engine.store().messages().pop().unwrap();
    assert_eq!(main.verification, VerificationStatus::Invalid);
}

#[actix_web::test]
async fn a_message_asking_for_the_return_step_runs_it_only_for_a_payment_of_ours() {
    let stub = Arc::new(Stub::default());
    let engine = engine(stub.clone());
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    let approved = |payment: String| {
        atest::TestRequest::post()
            .uri("/notify/stub/signed")
            .insert_header(("x-signature", "ok"))
            .set_payload(format!("approved:{payment}"))
            .to_request()
    };
    // Another system's payment: no call is made.
    atest::call_service(&app, approved(PaymentId::generate().to_string())).await;
    engine.process_due(Utc::now(), 10).await.unwrap();
    assert_eq!(
        stub.returns.load(Ordering::SeqCst),
        0,
        "no capture for a payment we do not have"
    );
    let foreign = engine.store().messages().pop().unwrap();
    assert!(
        foreign.outcome.as_deref().unwrap().starts_with("not acted on"),
        "{foreign:?}"
    );

    // Ours: the step runs, its answer is logged and applied.
    atest::call_service(&app, approved(id.to_string())).await;
    engine.process_due(Utc::now(), 10).await.unwrap();
    assert_eq!(stub.returns.load(Ordering::SeqCst), 1);
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    let answer = engine.store().messages().pop().unwrap();
    assert_eq!(answer.direction, Direction::Answer);
    assert!(answer.outcome.as_deref().unwrap().starts_with("applied"), "{answer:?}");
}

#[actix_web::test]
async fn a_capture_answer_that_does_not_match_the_payment_is_not_applied_and_its_row_says_why() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    let back = atest::TestRequest::get()
        .uri(&format!("/return/stub/{id}?token=CHEAP"))
        .to_request();
    assert_eq!(atest::call_service(&app, back).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Created
    );
    let answer = engine.store().messages().pop().unwrap();
    assert_eq!(answer.direction, Direction::Answer);
    let outcome = answer.outcome.unwrap();
    assert!(
        outcome.contains("not applied") && outcome.contains("amount_mismatch"),
        "{outcome}"
    );
}

/// A signed message whose signature the stub checks through its API, on `/notify/stub/signed`.
fn checked_by_api(payment: &PaymentId) -> actix_http::Request {
    atest::TestRequest::post()
        .uri("/notify/stub/signed")
        .insert_header(("x-signature", "by-api"))
        .set_payload(format!("captured:{payment}"))
        .to_request()
}

#[actix_web::test]
async fn the_answer_to_a_verification_call_is_logged_as_an_answer_to_that_message() {
    let engine = engine(Arc::new(Stub::default()));
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(engine.store());
    atest::call_service(&app, checked_by_api(&id)).await;
    let message = engine.store().messages().pop().unwrap();
    engine.process_due(Utc::now(), 10).await.unwrap();

    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    let logged = engine.store().messages();
    let answer = logged
        .iter()
        .find(|m| m.direction == Direction::Answer && m.fields["request"].ends_with("/verify-signature"))
        .expect("the verification's answer is in the log");
    assert_eq!(answer.message.body, br#"{"verification_status":"SUCCESS"}"#);
    assert_eq!(answer.verification, VerificationStatus::Verified);
    assert_eq!(
        answer.outcome.as_deref(),
        Some(format!("answer to the verification of message {} (attempt 1)", message.id).as_str())
    );
    let message = logged.iter().find(|m| m.id == message.id).unwrap();
    assert!(
        message.outcome.as_deref().unwrap().starts_with("applied"),
        "{message:?}"
    );
}

/// A log that cannot take the answers of a verification (about no payment yet), on their own or with the
/// message's application (which then fails whole, as a store's transaction would); everything else is
/// written.
struct VerificationAnswersNotLogged(MemoryStore);

#[async_trait::async_trait]
impl Store for VerificationAnswersNotLogged {
    async fn log_answers(
        &self,
        gateway: &str,
        payment: Option<&PaymentId>,
        calls: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError> {
        match payment {
            None => Err(StoreError::Database("the log is full".into())),
            Some(_) => self.0.log_answers(gateway, payment, calls).await,
        }
    }
    async fn log_message(&self, m: NewMessage) -> Result<MessageId, StoreError> {
        self.0.log_message(m).await
    }
    async fn create_payment(&self, p: NewPayment) -> Result<(), StoreError> {
        self.0.create_payment(p).await
    }
    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        self.0.payment(id).await
    }
    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        self.0.claim_messages(now, limit).await
    }
    async fn reschedule_message(&self, id: MessageId, n: u32, at: DateTime<Utc>, why: &str) -> Result<(), StoreError> {
        self.0.reschedule_message(id, n, at, why).await
    }
    async fn settle_message(&self, id: MessageId, s: Settlement) -> Result<(), StoreError> {
        self.0.settle_message(id, s).await
    }
    async fn apply(&self, r: ApplyRequest) -> Result<Applied, StoreError> {
        if !r.verification_answers().is_empty() {
            return Err(StoreError::Database("the log is full".into()));
        }
        self.0.apply(r).await
    }
    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.0.undispatched_events(limit).await
    }
    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError> {
        self.0.mark_dispatched(seq).await
    }
    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError> {
        self.0.events_for_payment(id).await
    }
    async fn healthy(&self) -> bool {
        self.0.healthy().await
    }
    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.0.abandon_created_before(cutoff, now).await
    }
    async fn payments_for_order(&self, order: &str) -> Result<Vec<StoredPayment>, StoreError> {
        self.0.payments_for_order(order).await
    }
    async fn record_refund(&self, r: NewRefund) -> Result<RecordedRefund, StoreError> {
        self.0.record_refund(r).await
    }
    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError> {
        self.0.refund(id).await
    }
    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError> {
        self.0.refunds_for_payment(id).await
    }
    async fn begin_refund_attempt(
        &self,
        id: &RefundId,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredRefund>, StoreError> {
        self.0.begin_refund_attempt(id, now).await
    }
    async fn update_refund(
        &self,
        id: &RefundId,
        update: RefundUpdate,
        log_id: Option<MessageId>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError> {
        self.0.update_refund(id, update, log_id, outcome, now).await
    }
    async fn note_answer(&self, id: MessageId, outcome: &str) -> Result<(), StoreError> {
        self.0.note_answer(id, outcome).await
    }
    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError> {
        self.0.due_refunds(now, limit).await
    }
}

#[actix_web::test]
async fn a_message_whose_verification_answer_cannot_be_logged_is_not_acted_on_and_stays_queued() {
    let store = Arc::new(VerificationAnswersNotLogged(MemoryStore::new()));
    let engine = engine_over(Arc::new(Stub::default()), store.clone());
    let app = app!(engine);
    pay!(&app, token(&engine));
    let id = payment_of(&store.0);
    atest::call_service(&app, checked_by_api(&id)).await;
    let message = store.0.messages().pop().unwrap();

    assert!(engine.process_due(Utc::now(), 10).await.is_err());
    assert_eq!(store.payment(&id).await.unwrap().unwrap().state, PaymentState::Created);
    assert!(store.events_for_payment(&id).await.unwrap().is_empty());
    let after = store.0.messages().into_iter().find(|m| m.id == message.id).unwrap();
    assert_eq!((after.verification, after.outcome), (VerificationStatus::Pending, None));
    let later = Utc::now() + chrono::Duration::minutes(5);
    assert_eq!(
        store.claim_messages(later, 10).await.unwrap().len(),
        1,
        "claimed again once its lease has passed"
    );
}
