//! Rendering costs a shop pays per page view and per buyer: one button with three buying options through
//! the Tera function, and one Monetico hand-off form (request fields, MAC and HTML). Run with
//! `cargo bench -p payment-buttons --features tera,actix --bench render`; `pay-bench render` runs it and
//! compares with django-paypal's form (see docs/benchmarks.md).

use std::hint::black_box;

use chrono::TimeZone;
use criterion::{Criterion, criterion_group, criterion_main};
use payment_buttons::button::{ButtonConfig, CustomerId};
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::gateway::{Gateway, HandOff, PaymentRequest, ServiceUrls};
use payment_buttons::identity::VouchedIdentity;
use payment_buttons::payment::PaymentId;
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

/// The bank's published sample key (not a secret).
const SAMPLE_KEY: &str = "0123456789ABCDEF0123456789ABCDEF012345AM";

fn three_options() -> serde_json::Value {
    serde_json::json!({
        "order_reference": "ORDER-1042",
        "email": "buyer@example.org",
        "language": "fr",
        "options": [
            { "description": "Manual, PDF", "amount": "12.50", "currency": "EUR", "custom": { "sku": "manual-pdf" } },
            { "description": "Manual, paper", "amount": "30.00", "currency": "EUR", "custom": { "sku": "manual-paper" } },
            { "description": "Supporter, monthly", "amount": "5.00", "currency": "EUR", "recurrence_months": 1 }
        ],
        "payment_options": { "paypal": { "paypal_email": "seller@example.com" } },
        "text": "Pay",
        "urls": { "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                  "declined": "https://shop.example/sorry" }
    })
}

fn button(c: &mut Criterion) {
    let mut tera = tera::Tera::default();
    let function = ButtonFunction::new(
        ButtonSigner::new(b"service secret, 32 bytes or more."),
        "https://pay.example/pay",
    );
    tera.register_function("payment_button", function);
    tera.add_raw_template("shop.html", "{{ payment_button(config=button) }}")
        .expect("the template parses");
    let mut ctx = tera::Context::new();
    ctx.insert("button", &three_options());
    let html = tera.render("shop.html", &ctx).expect("the button renders");
    assert!(html.contains("Supporter, monthly"), "all three options are rendered");
    c.bench_function("render/button_three_options", |b| {
        b.iter(|| tera.render("shop.html", black_box(&ctx)).expect("the button renders"))
    });
}

fn monetico(c: &mut Criterion) {
    let key = UsableKey::from_merchant_key(SAMPLE_KEY).expect("the sample key is usable");
    let gateway =
        CmcicGateway::new(CmcicConfig::new(CmcicMode::Test, "1234567", key, "monSite1").expect("valid config"));
    let mut config = three_options();
    config["payment_options"] = serde_json::json!({
        "cmcic": { "billing": { "address_line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002",
                                "country": "FR" } }
    });
    config["options"][2]["recurrence_months"] = serde_json::Value::Null;
    let button = ButtonConfig::from_json(&config.to_string()).expect("a valid CM-CIC button");
    let urls = ServiceUrls::new("https://pay.example").expect("a valid base URL");
    let id = PaymentId::parse("Xk3f9QpL2mZa").expect("a valid payment id");
    let created_at = chrono::Utc
        .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
        .single()
        .expect("a valid time");
    let customer = VouchedIdentity::customer(&CustomerId::parse("customer-42").expect("a valid customer id"));
    let render = || {
        let request = PaymentRequest {
            payment_id: &id,
            button: &button,
            option_index: 0,
            buyer_email: Some("buyer@example.org"),
            identity: Some(&customer),
            urls: &urls,
            created_at,
        };
        match gateway.hand_off(&request).expect("the hand-off builds") {
            HandOff::Form { action, fields } => {
                payment_buttons::actix::hand_off_page(&action, &fields, "fr", "/pay/hand-off.js", None)
            }
            other => panic!("a CM-CIC hand-off is a form, got {other:?}"),
        }
    };
    assert!(render().contains("MAC"), "the form carries its MAC");
    c.bench_function("render/monetico_hand_off", |b| b.iter(|| black_box(render())));
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = button, monetico }
criterion_main!(benches);
