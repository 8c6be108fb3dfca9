//! The test kit (feature `testing`) in the routes a library user mounts with `actix::configure`: a payment
//! through each gateway from `/pay` to its events, the buyer's return to a status page the app has, a
//! postback that answers as told.
#![cfg(all(feature = "testing", feature = "tera"))]

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, test};
use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::testing::CmcicReturn;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::engine::Engine;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::notification::VerificationStatus;
use payment_buttons::payment::PaymentState;
use payment_buttons::paypal::testing::{Ipn, ScriptedPostback};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, PostbackAnswer};
use payment_buttons::store::Store;
use payment_buttons::testing::{EventRecorder, pay, run_workers};
use payment_buttons::token::ButtonSigner;

const BASE: &str = "http://shop.test";

fn cmcic() -> CmcicGateway {
    let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
    CmcicGateway::new(CmcicConfig::new(CmcicMode::Test, "1234567", key, "monSite1").unwrap())
}

fn engine(postback: Arc<ScriptedPostback>, recorder: Arc<EventRecorder>) -> Arc<Engine<MemoryStore>> {
    let paypal = PaypalGateway::new(
        PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap(),
        postback,
    );
    Arc::new(
        Engine::new(
            Arc::new(MemoryStore::new()),
            Gateways::new().with(Arc::new(paypal)).with(Arc::new(cmcic())),
            ButtonSigner::new(b"a shop's secret, 32 bytes or more"),
            ServiceUrls::new(BASE).unwrap(),
        )
        .with_listener(recorder),
    )
}

fn button(language: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-7", "language": "{language}",
          "options": [{{"description": "Manual", "amount": "12.50", "currency": "EUR"}}],
          "payment_options": {{"paypal": {{"paypal_email": "seller@example.com"}}, "cmcic": {{}}}},
          "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                   "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

fn path_of(url: &str) -> String {
    url.strip_prefix(BASE).expect("one of our URLs").to_owned()
}

#[actix_web::test]
async fn a_card_payment_is_accepted_and_the_buyer_comes_back_to_a_page_the_app_has() {
    let recorder = Arc::new(EventRecorder::default());
    let engine = engine(ScriptedPostback::verified().shared(), recorder.clone());
    let app = test::init_service(App::new().configure(payment_buttons::actix::configure(engine.clone()))).await;
    let token = engine.sign_button(&button("fr"), Utc::now()).unwrap();
    let gateway = cmcic();

    let paid = pay(&app, &engine, &token, &CmcicReturn::accepted(&gateway)).await;

    assert_eq!(paid.notify_answer, (200, b"version=2\ncdr=0\n".to_vec()));
    let kinds: Vec<EventKind> = paid.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
    assert_eq!(recorder.kinds(&paid.payment_id), kinds, "the listener saw them");
    let back = paid.hand_off.field("url_retour_ok").expect("the bank's return URL");
    let page = test::call_and_read_body(&app, test::TestRequest::get().uri(&path_of(back)).to_request()).await;
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains("Merci : votre paiement a été accepté."), "{page}");
    assert!(page.contains("url=https://shop.example/thanks"), "{page}");
}

#[actix_web::test]
async fn paypal_sends_the_buyer_to_status_pages_that_exist_and_a_refused_card_is_declined() {
    let recorder = Arc::new(EventRecorder::default());
    let engine = engine(ScriptedPostback::verified().shared(), recorder.clone());
    let app = test::init_service(App::new().configure(payment_buttons::actix::configure(engine.clone()))).await;
    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();

    let paid = pay(&app, &engine, &token, &Ipn::completed()).await;
    assert_eq!(paid.notify_answer, (200, Vec::new()));
    for field in ["return", "cancel_return"] {
        let url = paid.hand_off.field(field).unwrap();
        let response = test::call_service(&app, test::TestRequest::get().uri(&path_of(url)).to_request()).await;
        assert_eq!(response.status(), 200, "{field}: {url}");
        assert!(response.headers().contains_key("content-security-policy"), "{field}");
    }
    let unknown = test::call_service(
        &app,
        test::TestRequest::get().uri("/payments/Xk3f9QpL2mZa").to_request(),
    )
    .await;
    assert_eq!(unknown.status(), 404);

    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();
    let gateway = cmcic();
    let refused = pay(&app, &engine, &token, &CmcicReturn::declined(&gateway)).await;
    assert_eq!(
        recorder.kinds(&refused.payment_id),
        [EventKind::PaymentProcessed, EventKind::PaymentDeclined]
    );
}

#[actix_web::test]
async fn the_postback_answers_as_told_and_the_engine_follows() {
    let postback = ScriptedPostback::verified().delayed(Duration::from_millis(50)).shared();
    let recorder = Arc::new(EventRecorder::default());
    let engine = engine(postback.clone(), recorder.clone());
    let app = test::init_service(App::new().configure(payment_buttons::actix::configure(engine.clone()))).await;

    postback.next(PostbackAnswer::Invalid);
    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();
    let forged = pay(&app, &engine, &token, &Ipn::completed()).await;
    assert!(forged.events.is_empty(), "an INVALID message changes nothing");
    let state = engine.store().payment(&forged.payment_id).await.unwrap().unwrap().state;
    assert_eq!(state, PaymentState::Created);
    let logged = engine.store().messages().last().cloned().unwrap();
    assert_eq!(logged.verification, VerificationStatus::Invalid);

    postback.next(PostbackAnswer::Retry("PayPal is down".into()));
    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();
    let later = pay(&app, &engine, &token, &Ipn::completed()).await;
    assert!(later.events.is_empty(), "not verified yet");
    let logged = engine.store().messages().last().cloned().unwrap();
    assert!(logged.outcome.unwrap().contains("PayPal is down"));
    assert_eq!(postback.seen().len(), 2, "every body was posted back");

    // Paid: the retry is due later; the same IPN resent by PayPal is verified now.
    let resend = Ipn::completed();
    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();
    let paid = pay(&app, &engine, &token, &resend).await;
    assert_eq!(
        recorder.kinds(&paid.payment_id),
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted]
    );
    run_workers(&engine).await;
    assert_eq!(recorder.events().len(), 2, "nothing else happened");
}

#[actix_web::test]
async fn an_application_renders_the_status_page_with_its_own_template() {
    let recorder = Arc::new(EventRecorder::default());
    let engine = engine(ScriptedPostback::verified().shared(), recorder);
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        (
            "mine.html",
            "<main class=\"mine\">{{ view.headline }} <a href=\"{{ view.next_url }}\">{{ view.next_label }}</a></main>",
        ),
        ("oops.html", "<main class=\"mine\">{{ title }}: {{ reason }}</main>"),
    ])
    .unwrap();
    let page = payment_buttons::tera::TeraStatusPage::new(Arc::new(tera), "mine.html").with_error_template("oops.html");
    let app = test::init_service(
        App::new().configure(payment_buttons::actix::configure_with(engine.clone(), Arc::new(page))),
    )
    .await;
    let token = engine.sign_button(&button("en"), Utc::now()).unwrap();
    let paid = pay(&app, &engine, &token, &Ipn::completed()).await;
    let status = paid.hand_off.field("return").unwrap();
    let html = test::call_and_read_body(&app, test::TestRequest::get().uri(&path_of(status)).to_request()).await;
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(
        html.starts_with("<main class=\"mine\">Thank you: your payment was accepted."),
        "{html}"
    );
    let missing = test::call_and_read_body(&app, test::TestRequest::get().uri("/payments/nope").to_request()).await;
    assert_eq!(
        String::from_utf8(missing.to_vec()).unwrap(),
        "<main class=\"mine\">Payment not found: There is no payment with this number.</main>"
    );
}
