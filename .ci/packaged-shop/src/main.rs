//! What a crates.io user of payment-buttons does first, run by CI on the packaged crate: build with the
//! features actix, tera, reqwest and diesel; migrate an empty SQLite file; take a payment through the
//! test kit; find the payment and its log row again after a restart.

use std::sync::Arc;

use actix_web::{App, test};
use payment_buttons::button::ButtonConfig;
use payment_buttons::diesel::DieselStore;
use payment_buttons::engine::Engine;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::notification::VerificationStatus;
use payment_buttons::payment::PaymentState;
use payment_buttons::paypal::testing::{Ipn, ScriptedPostback};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, ReqwestPostback};
use payment_buttons::store::Store;
use payment_buttons::tera::ButtonFunction;
use payment_buttons::testing::{EventRecorder, pay};
use payment_buttons::token::ButtonSigner;

fn button() -> ButtonConfig {
    ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-1", "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR"}],
            "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
            "urls": {"back": "https://shop.example/", "accepted": "https://shop.example/ok", "declined": "https://shop.example/ko"}}"#,
    )
    .expect("a valid button")
}

#[actix_web::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("packaged-shop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shop.sqlite3");
    std::fs::write(&file, b"").unwrap();
    let url = format!("sqlite://{}", file.display());

    let store = DieselStore::open(&url).await.expect("an empty SQLite file is migrated");
    let config = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap();
    ReqwestPostback::from_config(&config).expect("the reqwest postback builds");
    let paypal = PaypalGateway::new(config, ScriptedPostback::verified().shared());
    let signer = ButtonSigner::new(b"a shop's secret, 32 bytes or more");
    let urls = ServiceUrls::new("http://127.0.0.1:8000").unwrap();
    let recorder = Arc::new(EventRecorder::default());
    let gateways = Gateways::new().with(Arc::new(paypal));
    let engine = Arc::new(
        Engine::new(Arc::new(store), gateways.clone(), signer.clone(), urls.clone()).with_listener(recorder.clone()),
    );

    let mut tera = tera::Tera::default();
    tera.register_function("payment_button", ButtonFunction::new(signer, urls.pay()).with_gateways(gateways));
    tera.add_raw_template("page.html", "{{ payment_button(config=button) }}").unwrap();
    let mut context = tera::Context::new();
    context.insert("button", &button().to_json_value());
    let page = tera.render("page.html", &context).expect("the button renders");
    assert!(page.contains("action=\"http:&#x2F;&#x2F;127.0.0.1:8000&#x2F;pay\""), "{page}");

    let app = test::init_service(App::new().configure(payment_buttons::actix::configure(engine.clone()))).await;
    let token = engine.sign_button(&button(), chrono::Utc::now()).unwrap();
    let paid = pay(&app, &engine, &token, &Ipn::completed()).await;
    assert_eq!(recorder.kinds(&paid.payment_id), [EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
    drop((app, engine));

    // A restart: a new store on the same file.
    let store = DieselStore::open(&url).await.expect("reopen");
    let payment = store.payment(&paid.payment_id).await.unwrap().expect("the payment is still there");
    assert_eq!(payment.state, PaymentState::Accepted);
    let log = store.messages_for_payment(&paid.payment_id).await.unwrap();
    assert_eq!(log.len(), 1, "its log row is still there");
    assert_eq!(log[0].verification, VerificationStatus::Verified);
    assert!(String::from_utf8_lossy(&log[0].body).contains("payment_status=Completed"));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
    println!("packaged payment-buttons: migrated, paid {} and found it again after a restart", paid.payment_id);
}
