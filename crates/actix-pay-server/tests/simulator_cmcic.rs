//! The CM-CIC simulator behaves like the bank toward the real code paths: it refuses forms whose seal is
//! wrong, and posts returns sealed as the bank seals them to the merchant's `/notify/cmcic`.
//!
//! The merchant's server is stood in for by a small HTTP server that records each return and answers as the
//! core gateway answers (`version=2\ncdr=0\n` for a valid seal). Payment forms are built by the core gateway.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_pay_server::simulator::cmcic::{self, CmcicSimulator};
use actix_web::dev::ServerHandle;
use actix_web::http::{StatusCode, header};
use actix_web::test as atest;
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::Datelike;
use payment_buttons::button::{ButtonConfig, CustomerId};
use payment_buttons::cmcic::CmcicProtocol;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::cmcic::{CmcicGateway, CmcicRefunds};
use payment_buttons::gateway::{
    Gateway, HandOff, IncomingMessage, PaymentRequest, RefundAnswer, RefundRequest, Refunds, ServiceUrls,
    StoredPaymentFacts,
};
use payment_buttons::identity::VouchedIdentity;
use payment_buttons::money::Money;
use payment_buttons::notification::{Notification, Outcome, Verification};
use payment_buttons::payment::PaymentId;
use payment_buttons::urlencoded::FormFields;

const KEY: &str = "0123456789ABCDEF0123456789ABCDEF012345AM";
const OTHER_KEY: &str = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
const URL_OK: &str = "https://shop.example/thanks";
const URL_ERR: &str = "https://shop.example/sorry";
const ACCEPTED: &str = "4000 0000 0000 0002";
const DECLINED: &str = "4000 0000 0000 0010";
const FRAUD: &str = "4000 0000 0000 0036";
const INFORMATION: &str = "4000 0000 0000 0044";

fn gateway(key: &str, protocol: CmcicProtocol) -> CmcicGateway {
    let key = UsableKey::from_merchant_key(key).unwrap();
    CmcicGateway::new(
        CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1")
            .unwrap()
            .with_protocol(protocol),
    )
}

/// The merchant's server: records every return and answers it as the core gateway does.
struct Merchant {
    urls: ServiceUrls,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    handle: ServerHandle,
}

struct MerchantState {
    gateway: CmcicGateway,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

async fn notify(state: web::Data<MerchantState>, body: web::Bytes) -> HttpResponse {
    state.received.lock().unwrap().push(body.to_vec());
    let reply = state.gateway.acknowledge(&message(body.to_vec()));
    HttpResponse::build(StatusCode::from_u16(reply.status).unwrap())
        .content_type("text/plain")
        .body(reply.body)
}

async fn merchant(gateway: CmcicGateway) -> Merchant {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = web::Data::new(MerchantState {
        gateway,
        received: received.clone(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/notify/cmcic", web::post().to(notify))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let address = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Merchant {
        urls: ServiceUrls::new(&format!("http://{address}")).unwrap(),
        received,
        handle,
    }
}

impl Merchant {
    fn returns(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    fn last_return(&self) -> Vec<u8> {
        self.returns().pop().expect("the merchant received a return")
    }
}

fn message(body: Vec<u8>) -> IncomingMessage {
    IncomingMessage {
        received_at: chrono::Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    }
}

async fn verified(gateway: &CmcicGateway, body: Vec<u8>) -> Notification {
    match gateway.verify(&message(body)).await {
        Verification::Verified(n) => n.into_inner(),
        other => panic!("the return's seal must verify, got {other:?}"),
    }
}

fn button(language: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{
          "order_reference": "ORDER-1042",
          "language": "{language}",
          "options": [ {{ "description": "Manual, PDF", "amount": "12.50", "currency": "EUR" }} ],
          "payment_options": {{ "cmcic": {{}} }},
          "urls": {{ "back": "https://shop.example/cart", "accepted": "{URL_OK}", "declined": "{URL_ERR}" }}
        }}"#
    ))
    .unwrap()
}

/// The payment form the core hands the buyer's browser, with distinct return URLs for accepted and
/// declined payments (the core sends both to our status page) and sealed again by the core.
fn payment_form(
    gateway: &CmcicGateway,
    urls: &ServiceUrls,
    customer: Option<&str>,
    language: &str,
) -> Vec<(String, String)> {
    let id = PaymentId::generate();
    let button = button(language);
    let identity = customer.map(|c| VouchedIdentity::customer(&CustomerId::parse(c).unwrap()));
    let request = PaymentRequest {
        payment_id: &id,
        button: &button,
        option_index: 0,
        buyer_email: None,
        identity: identity.as_ref(),
        urls,
        created_at: chrono::Utc::now(),
    };
    let HandOff::Form { action, fields } = gateway.hand_off(&request).unwrap() else {
        panic!("cmcic hands off with a form");
    };
    assert_eq!(action, format!("{}/simulator/cmcic", urls.base()));
    let mut fields: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(name, _)| name != "MAC")
        .map(|(name, value)| match name.as_str() {
            "url_retour_ok" => (name, URL_OK.to_owned()),
            "url_retour_err" => (name, URL_ERR.to_owned()),
            _ => (name, value),
        })
        .collect();
    let seal = simulator::request_seal(gateway.config(), &fields);
    fields.push(("MAC".into(), seal));
    fields
}

fn form_body(fields: &[(impl AsRef<str>, impl AsRef<str>)]) -> Vec<u8> {
    let mut form = FormFields::new();
    for (name, value) in fields {
        form.push(name.as_ref().as_bytes(), value.as_ref().as_bytes());
    }
    form.to_body()
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn future_expiry() -> String {
    format!("12/{:02}", (chrono::Utc::now().year() + 2) % 100)
}

/// The HTML as a browser reads its URLs (Tera escapes `/` in text and attributes).
fn unescaped(html: &str) -> String {
    html.replace("&#x2F;", "/").replace("&amp;", "&")
}

/// The path the card form posts to, from the page's `action`.
fn pay_path(html: &str) -> String {
    let html = unescaped(html);
    let start = html.find("/simulator/cmcic/").expect("the page has a card form");
    let end = html[start..].find('"').expect("the action ends") + start;
    let path = &html[start..end];
    assert!(path.ends_with("/pay"), "unexpected form action {path}");
    path.to_owned()
}

fn simulator(gateway: CmcicGateway, merchant: &Merchant) -> Arc<CmcicSimulator> {
    let templates = Arc::new(actix_pay_server::pages::templates().unwrap());
    Arc::new(CmcicSimulator::new(Arc::new(gateway), templates, &merchant.urls).unwrap())
}

macro_rules! app {
    ($sim:expr) => {
        atest::init_service(App::new().configure(cmcic::configure($sim.clone()))).await
    };
}

/// Posts a payment form to the simulator: the status and the page.
macro_rules! open {
    ($app:expr, $fields:expr) => {{
        let request = atest::TestRequest::post()
            .uri("/simulator/cmcic")
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form_body($fields))
            .to_request();
        let response = atest::call_service(&$app, request).await;
        let status = response.status();
        let body = atest::read_body(response).await;
        (status, String::from_utf8(body.to_vec()).unwrap())
    }};
}

/// Submits the card form: the status, the `Location` header and the page.
macro_rules! submit {
    ($app:expr, $path:expr, $fields:expr) => {{
        let request = atest::TestRequest::post()
            .uri(&$path)
            .peer_addr("192.0.2.10:51000".parse().unwrap())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form_body($fields))
            .to_request();
        let response = atest::call_service(&$app, request).await;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let body = atest::read_body(response).await;
        (status, location, String::from_utf8(body.to_vec()).unwrap())
    }};
}

fn card(number: &str) -> Vec<(String, String)> {
    vec![
        ("card_number".into(), number.into()),
        ("expiry".into(), future_expiry()),
        ("cvv".into(), "123".into()),
    ]
}

#[actix_web::test]
async fn a_form_with_a_wrong_seal_gets_the_banks_invalid_seal_page() {
    let merchant = merchant(gateway(KEY, CmcicProtocol::Monetico)).await;
    let sim = simulator(gateway(KEY, CmcicProtocol::Monetico), &merchant);
    let app = app!(sim);

    let mut altered = payment_form(&gateway(KEY, CmcicProtocol::Monetico), &merchant.urls, None, "en");
    for (name, value) in altered.iter_mut() {
        if name == "montant" {
            *value = "0.01EUR".into();
        }
    }
    let (status, html) = open!(app, &altered);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("The seal is invalid."), "{html}");
    assert!(
        !html.contains("0.01"),
        "the page gives no detail beyond the invalid seal"
    );

    let other_key = payment_form(&gateway(OTHER_KEY, CmcicProtocol::Monetico), &merchant.urls, None, "fr");
    let (status, html) = open!(app, &other_key);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Le sceau est invalide."), "{html}");

    let (status, _) = open!(app, &[("TPE", "1234567"), ("montant", "12.50EUR")]);
    assert_eq!(status, StatusCode::BAD_REQUEST, "a form without MAC is refused too");
    assert!(merchant.returns().is_empty());
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn an_accepted_card_posts_a_sealed_paiement_and_sends_the_buyer_to_url_retour_ok() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let form = payment_form(&gw, &merchant.urls, None, "en");

    let (status, html) = open!(app, &form);
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("monSite1"), "the merchant is shown");
    assert!(html.contains("12.50"), "the amount is shown");
    assert!(html.contains(&field(&form, "reference")), "the reference is shown");
    assert!(html.contains(r#"name="card_number""#) && html.contains(r#"name="cvv""#));
    assert!(html.contains(ACCEPTED), "the test cards are listed as a hint");
    assert!(
        !html.contains(r#"name="remember""#),
        "no Express Payment without aliascb"
    );

    let (status, location, _) = submit!(app, pay_path(&html), &card(ACCEPTED));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(URL_OK));

    let body = merchant.last_return();
    let notification = verified(&gw, body.clone()).await;
    assert_eq!(notification.outcome, Some(Outcome::Accepted));
    assert_eq!(
        notification.payment_ref.as_deref(),
        Some(field(&form, "reference").as_str())
    );
    assert_eq!(notification.amount.map(|a| a.minor_units()), Some(1250));
    assert!(notification.flags.is_empty(), "{:?}", notification.flags);
    let sent = FormFields::parse(&body);
    assert_eq!(sent.get_str("code-retour"), Some("paiement"));
    assert_eq!(sent.get_str("texte-libre").unwrap(), field(&form, "texte-libre"));
    assert_eq!(sent.get_str("cbmasquee"), Some("400000******0002"));
    assert_eq!(sent.get_str("brand"), Some("VI"));
    assert_eq!(sent.get_str("ipclient"), Some("192.0.2.10"));
    assert_eq!(sent.get_str("numauto").map(str::len), Some(6));
    assert_eq!(sent.get_str("vld"), Some(future_expiry().replace('/', "").as_str()));
    for name in [
        "cvx",
        "status3ds",
        "motifrefus",
        "originecb",
        "bincb",
        "hpancb",
        "originetr",
        "veres",
        "pares",
    ] {
        assert!(sent.get(name).is_some(), "the return carries {name}");
    }
    assert!(!String::from_utf8_lossy(&body).contains("4000000000000002"));
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn a_declined_card_and_an_unknown_card_send_the_buyer_to_url_retour_err() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);

    for number in [DECLINED, "5555 5555 5555 4444"] {
        let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));
        let (status, location, _) = submit!(app, pay_path(&html), &card(number));
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some(URL_ERR), "{number}");
        let body = merchant.last_return();
        let notification = verified(&gw, body.clone()).await;
        assert_eq!(notification.outcome, Some(Outcome::Declined), "{number}");
        let sent = FormFields::parse(&body);
        assert_eq!(sent.get_str("code-retour"), Some("Annulation"));
        assert_eq!(sent.get_str("motifrefus"), Some("Refus"));
        assert_eq!(sent.get_str("numauto"), Some(""), "no authorisation for a refusal");
        assert_eq!(sent.get("filtragecause"), None);
    }
    assert_eq!(merchant.returns().len(), 2);
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn the_fraud_card_is_refused_by_two_filters() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));
    let (_, location, _) = submit!(app, pay_path(&html), &card(FRAUD));
    assert_eq!(location.as_deref(), Some(URL_ERR));

    let body = merchant.last_return();
    let sent = FormFields::parse(&body);
    assert_eq!(sent.get_str("code-retour"), Some("Annulation"));
    assert_eq!(sent.get_str("motifrefus"), Some("filtrage"));
    assert_eq!(sent.get_str("filtragecause"), Some("4-6"));
    let notification = verified(&gw, body).await;
    assert_eq!(notification.outcome, Some(Outcome::Declined));
    let fraud = notification.details["fraud"]
        .as_array()
        .expect("fraud causes in the details");
    assert_eq!(fraud.len(), 2);
    assert_eq!(fraud[0]["reason"], "card country");
    assert_eq!(fraud[1]["reason"], "card country vs IP country");
    assert!(
        fraud
            .iter()
            .all(|c| c["information_only"] == false && c["value"].is_string())
    );
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn the_information_card_is_accepted_with_its_filter_in_information_mode() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));
    let (_, location, _) = submit!(app, pay_path(&html), &card(INFORMATION));
    assert_eq!(location.as_deref(), Some(URL_OK));

    let body = merchant.last_return();
    let sent = FormFields::parse(&body);
    assert_eq!(sent.get_str("code-retour"), Some("paiement"));
    assert_eq!(sent.get_str("filtrage_etat"), Some("information"));
    assert_eq!(sent.get_str("filtragecause"), Some("3"));
    let notification = verified(&gw, body).await;
    assert_eq!(notification.outcome, Some(Outcome::Accepted));
    let fraud = notification.details["fraud"].as_array().unwrap();
    assert_eq!(fraud.len(), 1);
    assert_eq!(fraud[0]["information_only"], true);
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn express_payment_saves_the_card_then_asks_only_for_its_security_code() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let buyer = Some("customer-1");

    // First purchase: the full form, with the offer to remember the card.
    let first = payment_form(&gw, &merchant.urls, buyer, "en");
    assert!(!field(&first, "aliascb").is_empty());
    let (_, html) = open!(app, &first);
    assert!(html.contains(r#"name="remember""#), "{html}");
    let mut remembered = card(ACCEPTED);
    remembered.push(("remember".into(), "1".into()));
    let (_, location, _) = submit!(app, pay_path(&html), &remembered);
    assert_eq!(location.as_deref(), Some(URL_OK));
    let sent = FormFields::parse(&merchant.last_return());
    assert_eq!(sent.get_str("cbenregistree"), Some("1"));
    assert_eq!(sent.get_str("cbmasquee"), Some("400000******0002"));

    // Second purchase by the same buyer: only the security code of the saved card.
    let second = payment_form(&gw, &merchant.urls, buyer, "en");
    let (status, html) = open!(app, &second);
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Pay with your saved card"), "{html}");
    assert!(html.contains("•••• 0002"), "{html}");
    assert!(html.contains(r#"name="cvv""#));
    assert!(
        !html.contains(r#"name="card_number""#),
        "the saved card is not typed again"
    );
    assert!(!html.contains(r#"name="expiry""#));
    assert!(unescaped(&html).contains("?card=new"), "a link offers another card");
    let (_, location, _) = submit!(app, pay_path(&html), &[("saved", "1"), ("cvv", "123")]);
    assert_eq!(location.as_deref(), Some(URL_OK));
    let body = merchant.last_return();
    let sent = FormFields::parse(&body);
    assert_eq!(sent.get_str("cbmasquee"), Some("400000******0002"));
    assert_eq!(sent.get_str("cbenregistree"), Some("1"));
    assert_eq!(sent.get_str("reference").unwrap(), field(&second, "reference"));
    assert_eq!(verified(&gw, body).await.outcome, Some(Outcome::Accepted));

    // Another buyer has no saved card.
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, Some("customer-2"), "en"));
    assert!(html.contains(r#"name="card_number""#));

    for body in merchant.returns() {
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("4000000000000002") && !text.contains(ACCEPTED), "{text}");
    }
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn a_saved_card_with_another_security_code_is_declined_as_at_the_bank() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let buyer = Some("customer-1");
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    let mut remembered = card(ACCEPTED); // saved with the security code 123
    remembered.push(("remember".into(), "1".into()));
    submit!(app, pay_path(&html), &remembered);

    // Someone who reaches the saved card guesses its code.
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    assert!(html.contains("Pay with your saved card"), "{html}");
    let (_, location, _) = submit!(app, pay_path(&html), &[("saved", "1"), ("cvv", "999")]);
    assert_eq!(location.as_deref(), Some(URL_ERR));
    let body = merchant.last_return();
    let sent = FormFields::parse(&body);
    assert_eq!(sent.get_str("code-retour"), Some("Annulation"));
    assert_eq!(sent.get_str("numauto"), Some(""));
    assert_eq!(verified(&gw, body).await.outcome, Some(Outcome::Declined));

    // The owner, with the right code, still pays with it.
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    let (_, location, _) = submit!(app, pay_path(&html), &[("saved", "1"), ("cvv", "123")]);
    assert_eq!(location.as_deref(), Some(URL_OK));
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn another_card_can_replace_the_saved_one_and_a_declined_card_is_not_saved() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let buyer = Some("customer-1");

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    let mut declined = card(DECLINED);
    declined.push(("remember".into(), "1".into()));
    submit!(app, pay_path(&html), &declined);
    assert_eq!(
        FormFields::parse(&merchant.last_return()).get_str("cbenregistree"),
        Some("0")
    );

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    assert!(html.contains(r#"name="card_number""#), "a declined card was not saved");
    let mut remembered = card(INFORMATION);
    remembered.push(("remember".into(), "1".into()));
    submit!(app, pay_path(&html), &remembered);

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, buyer, "en"));
    assert!(html.contains("•••• 0044"));
    let path = pay_path(&html);
    let session_page = path.trim_end_matches("/pay").to_owned() + "?card=new";
    let request = atest::TestRequest::get().uri(&session_page).to_request();
    let response = atest::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = String::from_utf8(atest::read_body(response).await.to_vec()).unwrap();
    assert!(html.contains(r#"name="card_number""#) && html.contains(r#"name="remember""#));
    let (_, location, _) = submit!(app, pay_path(&html), &card(ACCEPTED));
    assert_eq!(location.as_deref(), Some(URL_OK));
    assert_eq!(
        FormFields::parse(&merchant.last_return()).get_str("cbmasquee"),
        Some("400000******0002")
    );
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn bad_card_input_shows_the_form_again_with_a_message_and_posts_nothing() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));
    let path = pay_path(&html);

    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("card_number", ACCEPTED), ("expiry", "12/99"), ("cvv", "12")],
            "3-digit security code",
        ),
        (
            &[("card_number", ACCEPTED), ("expiry", "12/99"), ("cvv", "abc")],
            "3-digit security code",
        ),
        (
            &[("card_number", "4000"), ("expiry", "12/99"), ("cvv", "123")],
            "12 to 19 digits",
        ),
        (
            &[("card_number", ACCEPTED), ("expiry", "01/20"), ("cvv", "123")],
            "has expired",
        ),
        (
            &[("card_number", ACCEPTED), ("expiry", "soon"), ("cvv", "123")],
            "MM/YY",
        ),
    ];
    for (input, message) in cases {
        let (status, location, html) = submit!(app, path, input);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input:?}");
        assert_eq!(location, None);
        assert!(html.contains(message), "{input:?}: {html}");
        assert!(html.contains(r#"role="alert""#));
        assert!(!html.contains("4000000000000002"), "the typed number is not echoed");
    }
    let (status, _, html) = submit!(app, path, &[("garbage", "\u{0}")]);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(merchant.returns().is_empty());

    let (status, location, _) = submit!(app, path, &card(ACCEPTED));
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(URL_OK)));
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn a_payment_session_is_paid_once() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));
    let path = pay_path(&html);

    let (status, _, _) = submit!(app, path, &card(ACCEPTED));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, html) = submit!(app, path, &card(ACCEPTED));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("expired or was already used"));
    let (status, _, _) = submit!(app, "/simulator/cmcic/unknown/pay", &card(ACCEPTED));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(merchant.returns().len(), 1);
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn a_merchant_that_does_not_acknowledge_the_return_is_reported_on_the_page() {
    // The merchant's server holds another key: it answers cdr=1 to the simulator's returns.
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gateway(OTHER_KEY, CmcicProtocol::Monetico)).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "en"));

    let (status, location, html) = submit!(app, pay_path(&html), &card(ACCEPTED));
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(location, None);
    assert!(html.contains("did not confirm"), "{html}");
    assert!(html.contains("cdr=1"), "the merchant's answer is shown: {html}");
    assert!(unescaped(&html).contains(URL_OK), "the buyer can still carry on");
    assert_eq!(merchant.returns().len(), 1);
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn the_page_speaks_french_when_lgue_is_fr_and_english_otherwise() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);

    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "fr"));
    assert!(html.contains(r#"<html lang="fr">"#));
    assert!(html.contains("Numéro de carte") && html.contains("Payer"), "{html}");
    assert!(html.contains("12,50"), "a French amount: {html}");
    let (_, html) = open!(app, &payment_form(&gw, &merchant.urls, None, "de"));
    assert!(html.contains("Card number") && html.contains(">Pay "), "{html}");
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn a_legacy_protocol_form_gets_a_return_sealed_in_the_legacy_protocol() {
    let gw = gateway(KEY, CmcicProtocol::Legacy);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let form = payment_form(&gw, &merchant.urls, Some("customer-1"), "en");
    assert!(field(&form, "options").starts_with("aliascb="));

    let (status, html) = open!(app, &form);
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"name="remember""#), "the alias is read from options");
    let (_, location, _) = submit!(app, pay_path(&html), &card(ACCEPTED));
    assert_eq!(location.as_deref(), Some(URL_OK));
    let notification = verified(&gw, merchant.last_return()).await;
    assert_eq!(notification.outcome, Some(Outcome::Accepted));
    let monetico = gateway(KEY, CmcicProtocol::Monetico);
    assert!(
        !matches!(
            monetico.verify(&message(merchant.last_return())).await,
            Verification::Verified(_)
        ),
        "the seal is the legacy one"
    );
    merchant.handle.stop(true).await;
}

/// The simulator on a real port, for the merchant's server-to-server refunds: its recredit URL.
async fn serve_simulator(sim: &Arc<CmcicSimulator>) -> (String, ServerHandle) {
    let sim = sim.clone();
    // Several workers, so that parallel refunds are handled on several threads at once.
    let server = HttpServer::new(move || App::new().configure(cmcic::configure(sim.clone())))
        .workers(4)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let url = format!(
        "http://{}{}{}",
        server.addrs()[0],
        cmcic::BASE_PATH,
        cmcic::RECREDIT_ROUTE
    );
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (url, handle)
}

/// What the merchant stored about a payment the simulator accepted: the notification's details and the
/// order's creation time (the day the form's `date` gives).
struct Paid {
    id: PaymentId,
    created_at: chrono::DateTime<chrono::Utc>,
    details: serde_json::Map<String, serde_json::Value>,
    numauto: Option<String>,
}

impl Paid {
    fn facts(&self, refunded_before: &str) -> StoredPaymentFacts<'_> {
        StoredPaymentFacts {
            payment_id: &self.id,
            gateway_reference: self.numauto.as_deref(),
            receiver: Some("1234567"),
            amount: Money::parse("12.50", "EUR").unwrap(),
            refunded_before: Money::parse(refunded_before, "EUR").unwrap(),
            created_at: self.created_at,
            details: &self.details,
            gateway_subscription_id: None,
        }
    }
}

fn refund_request<'a>(payment: StoredPaymentFacts<'a>, refund_id: &'a str, amount: &str) -> RefundRequest<'a> {
    RefundRequest {
        payment,
        refund_id,
        amount: Money::parse(amount, "EUR").unwrap(),
        reason: None,
        first_sent_at: None,
        now: chrono::Utc::now(),
    }
}

#[actix_web::test]
async fn refunds_in_part_then_in_full_through_the_simulators_recredit_and_its_page_shows_them() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (recredit_url, sim_server) = serve_simulator(&sim).await;

    // The buyer pays 12.50 EUR; the merchant records what the accepted return says.
    let form = payment_form(&gw, &merchant.urls, None, "en");
    let (_, html) = open!(app, &form);
    let (status, _, _) = submit!(app, pay_path(&html), &card(ACCEPTED));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let notification = verified(&gw, merchant.last_return()).await;
    let created_at = chrono::NaiveDateTime::parse_from_str(&field(&form, "date"), "%d/%m/%Y:%H:%M:%S")
        .unwrap()
        .and_utc();
    let paid = Paid {
        id: PaymentId::parse(&field(&form, "reference")).unwrap(),
        created_at,
        details: notification.details.clone(),
        numauto: notification.gateway_reference.clone(),
    };

    let refunds = CmcicRefunds::new(gw.config().clone(), recredit_url.clone(), Duration::from_secs(10)).unwrap();
    assert_eq!(refunds.check(&paid.facts("0.00")), Ok(()));

    let partial = refunds
        .refund(&refund_request(paid.facts("0.00"), "rf_part", "5.00"))
        .await;
    assert_eq!(
        partial.answer,
        RefundAnswer::Succeeded {
            gateway_refund_id: None,
            idempotency_key: "recredit:rf_part".into()
        }
    );
    assert_eq!(partial.calls.len(), 1);
    assert!(String::from_utf8_lossy(&partial.calls[0].body).contains("cdr=0"));

    // Claiming nothing was refunded yet: the bank knows better (montant_possible is wrong).
    let stale = refunds
        .refund(&refund_request(paid.facts("0.00"), "rf_stale", "7.50"))
        .await;
    assert!(
        matches!(&stale.answer, RefundAnswer::Failed { reason } if reason.contains("cdr=-52")),
        "{:?}",
        stale.answer
    );

    let rest = refunds
        .refund(&refund_request(paid.facts("5.00"), "rf_rest", "7.50"))
        .await;
    assert!(
        matches!(rest.answer, RefundAnswer::Succeeded { .. }),
        "{:?}",
        rest.answer
    );

    // Nothing is left: the bank refuses even a form that our own checks would not have sent.
    let again = refunds
        .refund(&refund_request(paid.facts("0.00"), "rf_again", "1.00"))
        .await;
    assert!(
        matches!(&again.answer, RefundAnswer::Failed { reason } if reason.contains("cdr=-46")),
        "{:?}",
        again.answer
    );

    let page = atest::call_service(
        &app,
        atest::TestRequest::get().uri("/simulator/cmcic/payments").to_request(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = String::from_utf8(atest::read_body(page).await.to_vec()).unwrap();
    assert!(html.contains(&field(&form, "reference")), "{html}");
    assert!(html.contains("12.5 EUR") || html.contains("12.50 EUR"), "{html}");
    assert!(
        html.contains("5.00 EUR") && html.contains("7.50 EUR"),
        "both refunds are listed: {html}"
    );
    assert!(html.contains("rf_part") && html.contains("rf_rest"), "{html}");
    assert!(html.contains(r#"<td class="left">0.00 EUR</td>"#), "{html}");
    sim_server.stop(true).await;
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn the_simulators_recredit_refuses_more_than_is_left_and_a_bad_seal() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (recredit_url, sim_server) = serve_simulator(&sim).await;
    let form = payment_form(&gw, &merchant.urls, None, "en");
    let (_, html) = open!(app, &form);
    submit!(app, pay_path(&html), &card(ACCEPTED));
    let notification = verified(&gw, merchant.last_return()).await;
    let paid = Paid {
        id: PaymentId::parse(&field(&form, "reference")).unwrap(),
        created_at: chrono::NaiveDateTime::parse_from_str(&field(&form, "date"), "%d/%m/%Y:%H:%M:%S")
            .unwrap()
            .and_utc(),
        details: notification.details.clone(),
        numauto: notification.gateway_reference.clone(),
    };
    let sealed = simulator::request_fields(gw.config(), &refund_request(paid.facts("0.00"), "rf_1", "12.50")).unwrap();
    let client = reqwest::Client::new();
    let post = |fields: Vec<(String, String)>| {
        let client = client.clone();
        let url = recredit_url.clone();
        async move {
            let response = client.post(url).form(&fields).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap().to_vec();
            simulator::interpret(status, &body, paid_reference(&fields), "rf_1")
        }
    };
    fn paid_reference(fields: &[(String, String)]) -> &str {
        &fields.iter().find(|(n, _)| n == "reference").unwrap().1
    }
    let with = |name: &str, value: &str, reseal: bool| {
        let mut fields: Vec<(String, String)> = sealed
            .iter()
            .filter(|(n, _)| n != "MAC")
            .map(|(n, v)| (n.clone(), if n == name { value.to_owned() } else { v.clone() }))
            .collect();
        let mac = if reseal {
            simulator::recredit_seal(gw.config(), &fields)
        } else {
            sealed.last().unwrap().1.clone()
        };
        fields.push(("MAC".into(), mac));
        fields
    };

    // A sealed request for more than the payment: refused, nothing recorded.
    let too_much = post(with("montant_recredit", "12.51EUR", true)).await;
    assert!(
        matches!(&too_much, RefundAnswer::Failed { reason } if reason.contains("cdr=-48")),
        "{too_much:?}"
    );
    // Tampered after sealing (someone between us and the bank): the seal no longer matches.
    let tampered = post(with("montant_recredit", "1.00EUR", false)).await;
    assert!(
        matches!(&tampered, RefundAnswer::Failed { reason } if reason.contains("cdr=-1")),
        "{tampered:?}"
    );
    // Sealed with another merchant's key.
    let mut foreign = with("montant_recredit", "1.00EUR", false);
    foreign.pop();
    foreign.push((
        "MAC".into(),
        simulator::recredit_seal(gateway(OTHER_KEY, CmcicProtocol::Monetico).config(), &foreign),
    ));
    assert!(matches!(post(foreign).await, RefundAnswer::Failed { .. }));
    // Another authorisation number: no such payment.
    let unknown = post(with("num_autorisation", "999999x", true)).await;
    assert!(
        matches!(&unknown, RefundAnswer::Failed { reason } if reason.contains("cdr=-3")),
        "{unknown:?}"
    );
    // Nothing above was recorded: the whole amount can still be refunded.
    let full = post(sealed.clone()).await;
    assert!(matches!(full, RefundAnswer::Succeeded { .. }), "{full:?}");
    sim_server.stop(true).await;
    merchant.handle.stop(true).await;
}

#[actix_web::test]
async fn parallel_full_refunds_of_one_payment_are_taken_once_by_the_simulator() {
    let gw = gateway(KEY, CmcicProtocol::Monetico);
    let merchant = merchant(gw.clone()).await;
    let sim = simulator(gw.clone(), &merchant);
    let app = app!(sim);
    let (recredit_url, sim_server) = serve_simulator(&sim).await;
    let form = payment_form(&gw, &merchant.urls, None, "en");
    let (_, html) = open!(app, &form);
    submit!(app, pay_path(&html), &card(ACCEPTED));
    let notification = verified(&gw, merchant.last_return()).await;
    let paid = Arc::new(Paid {
        id: PaymentId::parse(&field(&form, "reference")).unwrap(),
        created_at: chrono::NaiveDateTime::parse_from_str(&field(&form, "date"), "%d/%m/%Y:%H:%M:%S")
            .unwrap()
            .and_utc(),
        details: notification.details.clone(),
        numauto: notification.gateway_reference.clone(),
    });
    let refunds = Arc::new(CmcicRefunds::new(gw.config().clone(), recredit_url, Duration::from_secs(10)).unwrap());

    // Eight refunds of everything at once, as two operators (or a retrying client) might send them.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (paid, refunds) = (paid.clone(), refunds.clone());
            tokio::spawn(async move {
                let id = format!("rf_{i}");
                refunds
                    .refund(&refund_request(paid.facts("0.00"), &id, "12.50"))
                    .await
                    .answer
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            RefundAnswer::Succeeded { .. } => succeeded += 1,
            RefundAnswer::Failed { reason } => assert!(reason.contains("cdr=-46"), "{reason}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(succeeded, 1, "the payment is refunded once");
    sim_server.stop(true).await;
    merchant.handle.stop(true).await;
}
