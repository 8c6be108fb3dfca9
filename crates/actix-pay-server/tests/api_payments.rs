//! The payments API over HTTP: `GET /api/payments/{id}`, `GET /api/payments?order_reference=`,
//! `POST /api/payments/{id}/refunds`, `POST /api/payments/{id}/cancel`: every answer and error, and
//! parallel requests. The server's routes and SQLite store, with PayPal whose postbacks say VERIFIED and
//! whose refunds and cancellations answer as each test scripts (`testing::scripted::Scripted`).

#[path = "common/app.rs"]
mod common_app;

use std::sync::Arc;
use std::time::Duration;

use actix_pay_server::app::{ApiKeys, AppState};
use actix_pay_server::store::ServerStore;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test as atest};
use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::gateway::{CancelAnswer, Gateway, Gateways, IncomingMessage, RefundAnswer};
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::testing::ScriptedPostback;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use payment_buttons::testing::scripted::Scripted;
use serde_json::{Value, json};

const KEY: &str = "k_shop_7d3f9a1c2b4e6f80";
const SELLER: &str = "seller@example.com";

struct Shop {
    engine: Arc<Engine<ServerStore>>,
    paypal: Arc<Scripted>,
    state: Arc<AppState<ServerStore>>,
    _dir: tempfile::TempDir,
}

async fn shop() -> Shop {
    let (assembled, dir) = common_app::assembled_app(&[("PAY_SERVER_API_KEYS", KEY)]).await;
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal/webscr".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let paypal = Arc::new(Scripted::new(Arc::new(PaypalGateway::new(
        config,
        ScriptedPostback::verified().shared(),
    ))));
    let core = &assembled.state.engine;
    let engine = Arc::new(Engine::new(
        Arc::new(assembled.store.clone()),
        Gateways::new().with(paypal.clone() as Arc<dyn Gateway>),
        core.signer().clone(),
        core.urls().clone(),
    ));
    let state = Arc::new(AppState {
        engine: engine.clone(),
        templates: assembled.state.templates.clone(),
        buttons: assembled.state.buttons.clone(),
        api_keys: ApiKeys::new([KEY.to_owned()]),
        simulator: true,
        trusted_proxies: assembled.state.trusted_proxies.clone(),
        refunds: Arc::new(actix_pay_server::refunds::EngineRefunds(engine.clone())),
    });
    Shop {
        engine,
        paypal,
        state,
        _dir: dir,
    }
}

fn button(order: &str, recurring: bool) -> ButtonConfig {
    let recurrence = if recurring { "1" } else { "null" };
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "{order}",
        "options": [{{"description": "Manual", "amount": "12.50", "currency": "EUR", "recurrence_months": {recurrence}}}],
        "payment_options": {{"paypal": {{"paypal_email": "{SELLER}"}}}},
        "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                 "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

impl Shop {
    async fn ipn(&self, fields: &[(&str, &str)]) {
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: Some("192.0.2.7".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: encode_ipn(fields.iter().copied()),
            headers: Default::default(),
        };
        self.engine.receive("paypal", message).await.unwrap();
        self.engine.process_due(Utc::now(), 10).await.unwrap();
    }

    /// A payment of 12.50 EUR for `order`, accepted when `pay`.
    async fn payment(&self, order: &str, pay: bool) -> PaymentId {
        let started = self
            .engine
            .start_payment_of(button(order, false), "paypal", None, None, Utc::now())
            .await
            .unwrap();
        let id = started.payment_id;
        if pay {
            // A transaction id of its own: PayPal's are unique.
            let txn = format!("TXN{id}");
            self.ipn(&completed(&id, &txn, "12.50", None)).await;
        }
        id
    }
}

fn completed<'a>(id: &'a PaymentId, txn: &'a str, gross: &'a str, subscr: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut ipn = vec![
        (
            "txn_type",
            if subscr.is_some() {
                "subscr_payment"
            } else {
                "web_accept"
            },
        ),
        ("payment_status", "Completed"),
        ("txn_id", txn),
        ("invoice", id.as_str()),
        ("mc_gross", gross),
        ("mc_currency", "EUR"),
        ("receiver_email", SELLER),
        ("business", SELLER),
        ("payment_date", "10:41:07 Mar 03, 2025 PST"),
    ];
    if let Some(s) = subscr {
        ipn.push(("subscr_id", s));
    }
    ipn
}

async fn app(shop: &Shop) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    atest::init_service(App::new().configure(actix_pay_server::app::configure(shop.state.clone()))).await
}

fn get(uri: &str) -> atest::TestRequest {
    atest::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {KEY}")))
}

fn refund(id: &PaymentId, key: Option<&str>, body: Value) -> atest::TestRequest {
    let mut r = atest::TestRequest::post()
        .uri(&format!("/api/payments/{id}/refunds"))
        .insert_header(("Authorization", format!("Bearer {KEY}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_string());
    if let Some(key) = key {
        r = r.insert_header(("Idempotency-Key", key));
    }
    r
}

async fn send<S>(app: &S, request: atest::TestRequest) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response = atest::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = atest::read_body(response).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json)
}

#[actix_web::test]
async fn every_route_needs_a_key() {
    let shop = shop().await;
    let app = app(&shop).await;
    let id = shop.payment("ORDER-1", true).await;
    for request in [
        atest::TestRequest::get().uri(&format!("/api/payments/{id}")),
        atest::TestRequest::get().uri("/api/payments?order_reference=ORDER-1"),
        atest::TestRequest::post()
            .uri(&format!("/api/payments/{id}/refunds"))
            .insert_header(("Idempotency-Key", "k")),
        atest::TestRequest::post()
            .uri(&format!("/api/payments/{id}/cancel"))
            .insert_header(("Authorization", "Bearer not-the-key")),
    ] {
        let (status, body) = send(&app, request).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "missing or wrong API key");
    }
    assert!(shop.paypal.refund_requests().is_empty());
}

#[actix_web::test]
async fn a_payment_and_an_orders_payments_are_read_back_and_unknown_ones_are_404() {
    let shop = shop().await;
    let app = app(&shop).await;
    let first = shop.payment("ORDER-7", false).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let paid = shop.payment("ORDER-7", true).await;
    shop.payment("ORDER-8", true).await;

    let (status, body) = send(&app, get(&format!("/api/payments/{paid}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], paid.as_str());
    assert_eq!(body["order_reference"], "ORDER-7");
    assert_eq!(
        (
            &body["state"],
            &body["amount"],
            &body["currency"],
            &body["refunded_amount"]
        ),
        (&json!("accepted"), &json!("12.50"), &json!("EUR"), &json!("0.00"))
    );
    assert_eq!(body["gateway_reference"], format!("TXN{paid}"));
    assert_eq!(body["refunds"], json!([]));
    let events: Vec<(&str, u64)> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["sequence"].as_u64().unwrap()))
        .collect();
    assert_eq!(events, [("payment_processed", 1), ("payment_accepted", 2)]);

    let (status, list) = send(&app, get("/api/payments?order_reference=ORDER-7")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [paid.as_str(), first.as_str()], "newest first, this order's only");
    let (status, none) = send(&app, get("/api/payments?order_reference=NOPE")).await;
    assert_eq!((status, none), (200, json!([])));
    let (status, body) = send(&app, get("/api/payments")).await;
    assert_eq!((status, &body["field"]), (400, &json!("order_reference")), "{body}");

    for unknown in [PaymentId::generate().to_string(), "not-an-id".to_owned()] {
        let (status, body) = send(&app, get(&format!("/api/payments/{unknown}"))).await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "no such payment", "field": null}))
        );
    }
}

#[actix_web::test]
async fn a_partial_then_a_full_refund_with_replays_and_a_reused_key() {
    let shop = shop().await;
    let app = app(&shop).await;
    let id = shop.payment("ORDER-1", true).await;
    shop.paypal.answer_refund(Scripted::succeeded("RF1:Refunded"));

    let (status, first) = send(
        &app,
        refund(&id, Some("k-1"), json!({"amount": "5.00", "reason": "damaged"})),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (&first["state"], &first["amount"], &first["reason"]),
        (&json!("succeeded"), &json!("5.00"), &json!("damaged"))
    );
    assert!(first["id"].as_str().unwrap().starts_with("rfd_"));

    let (status, again) = send(
        &app,
        refund(&id, Some("k-1"), json!({"amount": "5.00", "reason": "damaged"})),
    )
    .await;
    assert_eq!(
        (status, &again),
        (201, &first),
        "the same key and body: the same refund and answer"
    );
    let (status, body) = send(&app, refund(&id, Some("k-1"), json!({"amount": "6.00"}))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(shop.paypal.refund_requests().len(), 1, "the gateway was asked once");

    let (_, payment) = send(&app, get(&format!("/api/payments/{id}"))).await;
    assert_eq!(
        (&payment["state"], &payment["refunded_amount"]),
        (&json!("accepted"), &json!("5.00"))
    );
    assert_eq!(payment["refunds"][0]["id"], first["id"]);
    let last = payment["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["type"], &last["sequence"]),
        (&json!("payment_refunded"), &json!(4))
    );

    // No amount: what is left.
    shop.paypal.answer_refund(Scripted::succeeded("RF2:Refunded"));
    let (status, rest) = send(&app, refund(&id, Some("k-2"), json!({}))).await;
    assert_eq!(
        (status, &rest["amount"], &rest["state"]),
        (201, &json!("7.50"), &json!("succeeded"))
    );
    let (_, payment) = send(&app, get(&format!("/api/payments/{id}"))).await;
    assert_eq!(
        (&payment["state"], &payment["refunded_amount"]),
        (&json!("refunded"), &json!("12.50"))
    );

    let (status, body) = send(&app, refund(&id, Some("k-3"), json!({"amount": "1.00"}))).await;
    assert_eq!(status, 409, "nothing left: {body}");
    assert_eq!(body["error"], "nothing is left to refund");
}

#[actix_web::test]
async fn bad_requests_and_payments_that_cannot_be_refunded() {
    let shop = shop().await;
    let app = app(&shop).await;
    let id = shop.payment("ORDER-1", true).await;

    let (status, body) = send(&app, refund(&id, None, json!({}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Idempotency-Key"));
    for (amount, what) in [
        ("12.51", "more than the 12.50 left"),
        ("12.505", "decimal"),
        ("0", "more than zero"),
        ("-1.00", ""),
        ("five", ""),
    ] {
        let (status, body) = send(&app, refund(&id, Some("k"), json!({ "amount": amount }))).await;
        assert_eq!((status, &body["field"]), (400, &json!("amount")), "{amount}: {body}");
        assert!(body["error"].as_str().unwrap().contains(what), "{amount}: {body}");
    }
    let (status, body) = send(&app, refund(&id, Some("k"), json!({"amount": "1.00", "tip": "x"}))).await;
    assert_eq!(status, 400, "unknown keys are refused: {body}");
    let unknown = PaymentId::generate();
    let (status, _) = send(&app, refund(&unknown, Some("k"), json!({}))).await;
    assert_eq!(status, 404);

    let unpaid = shop.payment("ORDER-2", false).await;
    let (status, body) = send(&app, refund(&unpaid, Some("k"), json!({}))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("created"), "{body}");

    shop.paypal
        .refuse_all("a payment to another account than these REST credentials'");
    let (status, body) = send(&app, refund(&id, Some("k"), json!({}))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("another account"));
    assert!(shop.paypal.refund_requests().is_empty(), "nothing reached the gateway");
    let (_, payment) = send(&app, get(&format!("/api/payments/{id}"))).await;
    assert_eq!(payment["refunds"], json!([]));
}

#[actix_web::test]
async fn a_gateway_that_does_not_answer_leaves_the_refund_pending_and_blocks_a_second_one() {
    let shop = shop().await;
    let app = app(&shop).await;
    let id = shop.payment("ORDER-1", true).await;
    shop.paypal.answer_refund(RefundAnswer::Retry {
        reason: "timeout".into(),
    });
    let (status, pending) = send(&app, refund(&id, Some("k-1"), json!({"amount": "2.00"}))).await;
    assert_eq!((status, &pending["state"]), (201, &json!("pending")), "{pending}");
    let (status, body) = send(&app, refund(&id, Some("k-2"), json!({"amount": "1.00"}))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("still pending"), "{body}");

    shop.paypal.answer_refund(RefundAnswer::Failed {
        reason: "INSUFFICIENT_FUNDS".into(),
    });
    let later = Utc::now() + chrono::Duration::hours(2);
    assert_eq!(shop.engine.retry_due_refunds(later, 10).await.unwrap(), 1);
    let (_, payment) = send(&app, get(&format!("/api/payments/{id}"))).await;
    assert_eq!(payment["refunds"][0]["state"], "failed");
    assert_eq!(payment["refunds"][0]["failure_reason"], "INSUFFICIENT_FUNDS");
    let (status, _) = send(&app, refund(&id, Some("k-2"), json!({"amount": "1.00"}))).await;
    assert_eq!(status, 201, "nothing pending any more");
}

#[actix_web::test]
async fn parallel_requests_make_one_refund_per_key_and_at_most_one_pending() {
    let shop = shop().await;
    let app = app(&shop).await;
    let id = shop.payment("ORDER-1", true).await;
    shop.paypal.delay(Duration::from_millis(30));
    shop.paypal.answer_refund(RefundAnswer::Pending {
        gateway_refund_id: None,
    });

    let same = (0..10).map(|_| send(&app, refund(&id, Some("same"), json!({"amount": "5.00"}))));
    let answers = futures_util::future::join_all(same).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one refund for one key");
    assert_eq!(shop.paypal.refund_requests().len(), 1, "asked once");

    let other = shop.payment("ORDER-2", true).await;
    shop.paypal.answer_refund(RefundAnswer::Pending {
        gateway_refund_id: None,
    });
    let different = (0..10).map(|i| send(&app, refund(&other, Some(&format!("k{i}")), json!({"amount": "1.00"}))));
    let answers = futures_util::future::join_all(different).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let conflicts = answers.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((created, conflicts), (1, 9), "{answers:?}");
    let (_, payment) = send(&app, get(&format!("/api/payments/{other}"))).await;
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn cancelling_a_subscription_answers_202_and_a_one_off_payment_409() {
    let shop = shop().await;
    let app = app(&shop).await;
    let cancel = |id: &PaymentId| {
        atest::TestRequest::post()
            .uri(&format!("/api/payments/{id}/cancel"))
            .insert_header(("Authorization", format!("Bearer {KEY}")))
    };
    let one_off = shop.payment("ORDER-1", true).await;
    let (status, body) = send(&app, cancel(&one_off)).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = send(&app, cancel(&PaymentId::generate())).await;
    assert_eq!(status, 404);

    let started = shop
        .engine
        .start_payment_of(button("ORDER-S", true), "paypal", None, None, Utc::now())
        .await
        .unwrap();
    let sub = started.payment_id;
    let signup = [
        ("txn_type", "subscr_signup"),
        ("subscr_id", "I-SUB1"),
        ("invoice", sub.as_str()),
        ("mc_amount3", "12.50"),
        ("mc_currency", "EUR"),
        ("period3", "1 M"),
        ("receiver_email", SELLER),
        ("business", SELLER),
    ];
    shop.ipn(&signup).await;
    shop.ipn(&completed(&sub, "TXNS1", "12.50", Some("I-SUB1"))).await;

    shop.paypal.answer_cancel(CancelAnswer::Retry {
        reason: "timeout".into(),
    });
    let (status, body) = send(&app, cancel(&sub)).await;
    assert_eq!(status, 503, "{body}");
    shop.paypal.answer_cancel(CancelAnswer::Cancelled {
        idempotency_key: "subscr_cancel:I-SUB1".into(),
    });
    let (status, body) = send(
        &app,
        cancel(&sub)
            .insert_header(("Content-Type", "application/json"))
            .set_payload(r#"{"reason": "the customer asked"}"#),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "cancelled");
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "subscription_cancelled").count(),
        1,
        "{kinds:?}"
    );
    let (status, _) = send(&app, cancel(&sub)).await;
    assert_eq!(status, 409, "cancelled already");
    let answers = shop.engine.store().core().messages_for_payment(&sub).await.unwrap();
    assert!(
        answers
            .iter()
            .any(|row| row.direction == payment_buttons::store::Direction::Answer),
        "the gateway's answers are in the log"
    );
}
