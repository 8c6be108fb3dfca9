//! The CPU a notification costs in the core, without a database or a network: receive (decode + log),
//! verify (an instant postback), check, apply (the transition planner and the events with the whole button),
//! and dispatch, over the in-memory store. The database's share is measured by `pay-bench`; this one isolates
//! ours, and is what to run under callgrind (see docs/benchmarks.md):
//! `cargo bench -p payment-buttons --bench pipeline`.

use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::gateway::{Gateways, IncomingMessage, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::token::ButtonSigner;

struct Instant;
#[async_trait::async_trait]
impl Postback for Instant {
    async fn validate(&self, _: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Verified
    }
}

fn engine() -> Engine<MemoryStore> {
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/postback".into()),
            ..Default::default()
        },
    )
    .expect("a valid simulator configuration");
    Engine::new(
        Arc::new(MemoryStore::new()),
        Gateways::new().with(Arc::new(PaypalGateway::new(config, Arc::new(Instant)))),
        ButtonSigner::new(b"bench secret, at least 32 bytes long"),
        ServiceUrls::new("https://pay.example").expect("a valid URL"),
    )
}

fn body() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/paypal-ipn/c-07-web_accept-completed-utf8.txt"
    ))
    .expect("the fixture")
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let engine = engine();
    let button = ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-1042", "email": "buyer@example.org",
        "options": [{"description": "Blue widget", "amount": "25.00", "currency": "EUR", "custom": {"sku": "BW-01"}}],
        "payment_options": {"paypal": {"paypal_email": "merchant@example.com"}},
        "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .expect("a valid button");
    let token = engine.sign_button(&button, Utc::now()).expect("signed");
    let template = String::from_utf8(body()).expect("ASCII fixture");
    let mut n = 0u64;
    c.bench_function("pipeline/ipn_receive_verify_apply_dispatch", |b| {
        b.iter(|| {
            runtime.block_on(async {
                n += 1;
                let id = engine
                    .start_payment(&token, None, None, None, None, Utc::now())
                    .await
                    .expect("a payment")
                    .payment_id;
                let body = template
                    .replace("invoice=INV-1042", &format!("invoice={id}"))
                    .replace("txn_id=4RT73920XK118345L", &format!("txn_id=BENCH{n:012}"));
                let message = IncomingMessage {
                    received_at: Utc::now(),
                    remote_addr: None,
                    method: "POST".into(),
                    content_type: None,
                    body: body.into_bytes(),
                    headers: Default::default(),
                };
                engine.receive("paypal", message).await.expect("logged");
                assert_eq!(engine.process_due(Utc::now(), 16).await.expect("processed"), 1);
                engine.dispatch_events(16).await.expect("dispatched");
            })
        })
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
