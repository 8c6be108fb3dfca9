//! The spine over HTTP, against the real app on a real SQLite store: a button rendered by the public Tera
//! function, posted to `/pay`, recorded with its whole configuration; forged tokens refused with a reason;
//! `POST /api/buttons`; `/healthz`; raw logging of notifications.

#[path = "common/app.rs"]
mod common_app;

use std::sync::Arc;

use actix_pay_server::serve::Assembled;
use actix_pay_server::store::ServerStore;
use actix_web::test as atest;
use actix_web::{App, http::StatusCode};
use base64::Engine as _;
use payment_buttons::button::ButtonConfig;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::Store;
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

use common_app::{PUBLIC_URL, SECRET};
const API_KEY: &str = "test-api-key-0123456789";

struct Harness {
    assembled: Assembled,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let (assembled, dir) = common_app::assembled_app(&[("PAY_SERVER_API_KEYS", API_KEY)]).await;
    Harness { assembled, _dir: dir }
}

impl Harness {
    fn store(&self) -> &Arc<ServerStore> {
        self.assembled.state.engine.store()
    }
}

macro_rules! app {
    ($h:expr) => {
        atest::init_service(App::new().configure($h.assembled.configure())).await
    };
}

fn two_option_button() -> serde_json::Value {
    serde_json::json!({
        "order_date": "2026-11-26T10:00:00Z",
        "order_reference": "ORDER-1042",
        "email": "buyer@example.org",
        "language": "en",
        "options": [
            { "description": "Manual, PDF", "amount": "12.50", "currency": "EUR", "custom": { "sku": "manual-pdf" } },
            { "description": "Manual, paper", "amount": "25.00", "currency": "EUR", "custom": { "sku": "manual-paper" } }
        ],
        "payment_options": {
            "paypal": { "paypal_email": "seller@example.com" },
            "cmcic": {}
        },
        "text": "Buy the manual",
        "urls": { "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                  "declined": "https://shop.example/sorry" }
    })
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2F;", "/")
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

async fn body_text(resp: actix_web::dev::ServiceResponse) -> String {
    String::from_utf8(atest::read_body(resp).await.to_vec()).unwrap()
}

#[actix_web::test]
async fn a_button_rendered_by_the_tera_function_is_paid_with_its_whole_configuration_recorded() {
    let h = harness().await;
    let app = app!(h);

    // A shop registers the public function on its own Tera instance.
    let mut tera = tera::Tera::default();
    let function = ButtonFunction::new(ButtonSigner::new(SECRET), format!("{PUBLIC_URL}/pay"))
        .with_gateways(h.assembled.state.engine.gateways().clone());
    tera.register_function("payment_button", function);
    tera.add_raw_template("shop.html", "<main>{{ payment_button(config=button) }}</main>")
        .unwrap();
    let mut ctx = tera::Context::new();
    ctx.insert("button", &two_option_button());
    let page = tera.render("shop.html", &ctx).unwrap();
    assert!(
        page.contains("<select name=\"option\">"),
        "two options give a drop-down: {page}"
    );
    assert!(
        page.contains("value=\"paypal\"") && page.contains("value=\"cmcic\""),
        "one submit per gateway"
    );
    let token = hidden(&page, "button").expect("the form carries the token");

    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/pay")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[("button", &token), ("option", "1"), ("gateway", "paypal")]))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let hand_off = body_text(resp).await;
    assert!(
        hand_off.contains("action=\"http://pay.test/simulator/paypal\""),
        "{hand_off}"
    );
    assert!(
        hand_off.contains("<script src=\"/pay/hand-off.js\"></script>")
            && hand_off.contains("<button type=\"submit\">"),
        "the form is submitted by the served script, or by its button: {hand_off}"
    );
    let id = PaymentId::parse(&hidden(&hand_off, "invoice").unwrap()).unwrap();

    let payment = h.store().payment(&id).await.unwrap().expect("the payment is recorded");
    let expected: ButtonConfig = serde_json::from_value(two_option_button()).unwrap();
    assert_eq!(payment.button, expected, "the complete configuration is stored");
    assert_eq!(payment.option_index, 1);
    assert_eq!(payment.amount.to_string(), "25.00");
    assert_eq!(payment.gateway, "paypal");
    assert_eq!(payment.receiver.as_deref(), Some("seller@example.com"));
    assert_eq!(payment.state.as_str(), "created");
}

async fn post_pay(h: &Harness, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let app = app!(h);
    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/pay")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(fields))
            .to_request(),
    )
    .await;
    let status = resp.status();
    (status, body_text(resp).await)
}

fn sign(secret: &[u8], ttl_secs: u64, at: chrono::DateTime<chrono::Utc>) -> String {
    let config: ButtonConfig = serde_json::from_value(two_option_button()).unwrap();
    ButtonSigner::new(secret)
        .sign(&config, std::time::Duration::from_secs(ttl_secs), at)
        .unwrap()
}

#[actix_web::test]
async fn tampered_truncated_foreign_and_expired_tokens_are_refused_with_a_reason() {
    let h = harness().await;
    let good = sign(SECRET, 3600, chrono::Utc::now());

    // Change the amount inside the payload, keep the signature.
    let (head, signature) = good.rsplit_once('.').unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(engine.decode(&head[3..]).unwrap()).unwrap();
    let tampered = format!("v1.{}.{signature}", engine.encode(json.replace("12.50", "0.01")));
    let (status, body) = post_pay(&h, &[("button", &tampered), ("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("signature does not match"), "{body}");

    let (status, body) = post_pay(&h, &[("button", &good[..good.len() / 2]), ("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("malformed or truncated") || body.contains("signature does not match"),
        "{body}"
    );

    let foreign = sign(b"another service's secret, 32 bytes long", 3600, chrono::Utc::now());
    let (status, body) = post_pay(&h, &[("button", &foreign), ("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("signature does not match"), "{body}");

    let expired = sign(SECRET, 60, chrono::Utc::now() - chrono::Duration::hours(1));
    let (status, body) = post_pay(&h, &[("button", &expired), ("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("expired"), "{body}");

    let (status, body) = post_pay(&h, &[("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("no `button` field"), "{body}");

    assert_eq!(
        h.store().payment_count().await.unwrap(),
        0,
        "no refused token records a payment"
    );
}

#[actix_web::test]
async fn a_bad_option_or_gateway_choice_is_refused() {
    let h = harness().await;
    let token = sign(SECRET, 3600, chrono::Utc::now());
    let (status, body) = post_pay(&h, &[("button", &token), ("option", "2"), ("gateway", "paypal")]).await;
    assert_eq!(
        (status, body.contains("buying option does not exist")),
        (StatusCode::BAD_REQUEST, true),
        "{body}"
    );
    let (status, body) = post_pay(&h, &[("button", &token), ("option", "-1"), ("gateway", "paypal")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post_pay(&h, &[("button", &token), ("gateway", "bitcoin")]).await;
    assert_eq!(
        (status, body.contains("does not offer")),
        (StatusCode::BAD_REQUEST, true),
        "{body}"
    );
    let (status, body) = post_pay(&h, &[("button", &token)]).await;
    assert_eq!(
        (status, body.contains("choose a payment method")),
        (StatusCode::BAD_REQUEST, true),
        "{body}"
    );
    let (status, _) = post_pay(&h, &[("button", &token), ("gateway", "cmcic")]).await;
    assert_eq!(status, StatusCode::OK, "option absent = the first one, through CM-CIC");
}

async fn api(h: &Harness, key: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
    let app = app!(h);
    let mut req = atest::TestRequest::post()
        .uri("/api/buttons")
        .set_payload(body.to_owned());
    if let Some(key) = key {
        req = req.insert_header(("authorization", format!("Bearer {key}")));
    }
    let resp = atest::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let json: serde_json::Value = serde_json::from_slice(&atest::read_body(resp).await).unwrap();
    (status, json)
}

#[actix_web::test]
async fn the_button_api_refuses_a_button_too_large_to_be_paid_naming_the_limit() {
    let h = harness().await;
    let mut body = two_option_button();
    // 20 buying options with 10 custom fields of 256 characters each: valid, but a token of about 70 KB,
    // which `/pay` would refuse.
    let custom: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|k| (format!("field{k}"), serde_json::Value::String("v".repeat(256))))
        .collect();
    body["options"] = (0..20)
        .map(|i| serde_json::json!({ "description": format!("Option {i}"), "amount": "1.00", "currency": "EUR", "custom": custom }))
        .collect();
    let (status, json) = api(&h, Some(API_KEY), &body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("65536 bytes (64 KiB)"), "{error}");
}

#[actix_web::test]
async fn the_button_api_signs_and_renders_for_services_in_other_languages() {
    let h = harness().await;
    let body = two_option_button().to_string();
    let (status, json) = api(&h, Some(API_KEY), &body).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let token = json["token"].as_str().unwrap();
    let html = json["html"].as_str().unwrap();
    assert!(
        html.contains("action=\"http:&#x2F;&#x2F;pay.test&#x2F;pay\""),
        "absolute action: {html}"
    );
    assert_eq!(hidden(html, "button").as_deref(), Some(token));
    let (status, _) = post_pay(&h, &[("button", token), ("gateway", "cmcic")]).await;
    assert_eq!(status, StatusCode::OK, "the API's token pays");

    let (status, json) = api(&h, None, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let (status, _) = api(&h, Some("wrong-key-0123456789"), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut bad = two_option_button();
    bad["options"][0]["amount"] = "12.505".into();
    let (status, json) = api(&h, Some(API_KEY), &bad.to_string()).await;
    assert_eq!(
        (status, json["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("options[0].amount")),
        "{json}"
    );

    let mut recurring = two_option_button();
    recurring["options"][1]["recurrence_months"] = 1.into();
    let (status, json) = api(&h, Some(API_KEY), &recurring.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "cmcic has no subscriptions: {json}");
    assert_eq!(json["field"].as_str(), Some("options[1].recurrence_months"));

    let mut unknown = two_option_button();
    unknown["colour"] = "blue".into();
    let (status, json) = api(&h, Some(API_KEY), &unknown.to_string()).await;
    assert_eq!(
        (status, json["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("colour")),
        "{json}"
    );

    let (status, json) = api(&h, Some(API_KEY), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
}

#[actix_web::test]
async fn health_answers_when_the_database_does() {
    let h = harness().await;
    let app = app!(h);
    let resp = atest::call_service(&app, atest::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_notification_is_logged_byte_for_byte_before_the_answer() {
    let h = harness().await;
    let app = app!(h);
    // windows-1252 bytes, not UTF-8: stored exactly as received.
    let body: &[u8] = b"txn_type=web_accept&first_name=Zo\xe9&invoice=NOSUCHPAYMNT&payment_status=Completed";
    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/notify/paypal")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_vec())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(atest::read_body(resp).await.is_empty(), "PayPal gets an empty 200");
    let row = h.store().message(1).await.unwrap().expect("logged");
    assert_eq!(row.body, body);
    assert_eq!(row.gateway, "paypal");
    assert_eq!(row.method, "POST");
    assert_eq!(row.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(row.fields["first_name"], "Zoé", "decoded as windows-1252 for reading");
    assert_eq!(h.store().queued_count().await.unwrap(), 1, "queued for verification");

    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/notify/bitcoin")
            .set_payload("x=1")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let resp = atest::call_service(
        &app,
        atest::TestRequest::post()
            .uri("/notify/cmcic")
            .set_payload("TPE=1&MAC=00")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        atest::read_body(resp).await,
        "version=2\ncdr=1\n",
        "a bad seal is answered cdr=1"
    );
    assert!(h.store().message(2).await.unwrap().is_some(), "and logged all the same");
}

async fn status_page(h: &Harness, path: &str) -> String {
    let app = app!(h);
    let resp = atest::call_service(&app, atest::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body_text(resp).await
}

#[actix_web::test]
async fn the_status_page_waits_for_news_then_stops_waiting_and_knows_a_cancellation() {
    let h = harness().await;
    let engine = &h.assembled.state.engine;
    let now = chrono::Utc::now();
    let fresh = engine
        .start_payment(&sign(SECRET, 3600, now), None, Some("paypal"), None, None, now)
        .await
        .unwrap();
    let page = status_page(&h, &format!("/payments/{}", fresh.payment_id)).await;
    assert!(
        page.contains(&format!(
            "url=http:&#x2F;&#x2F;pay.test&#x2F;payments&#x2F;{}",
            fresh.payment_id
        )),
        "{page}"
    );

    let page = status_page(&h, &format!("/payments/{}?cancelled=1", fresh.payment_id)).await;
    assert!(
        page.contains("You cancelled the payment: nothing was charged."),
        "{page}"
    );
    assert!(
        page.contains("url=https:&#x2F;&#x2F;shop.example&#x2F;cart"),
        "back to the shop: {page}"
    );

    let then = now - chrono::Duration::minutes(20);
    let old = engine
        .start_payment(&sign(SECRET, 3600, then), None, Some("paypal"), None, None, then)
        .await
        .unwrap();
    let page = status_page(&h, &format!("/payments/{}", old.payment_id)).await;
    assert!(page.contains("has confirmed nothing"), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "no endless reloading: {page}");

    let app = app!(h);
    let resp = atest::call_service(
        &app,
        atest::TestRequest::get().uri("/payments/nonexistent0").to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
