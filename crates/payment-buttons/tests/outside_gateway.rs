//! A gateway written outside the crate (docs/gateways.md) goes through the engine and the in-memory store
//! like the crate's own: its button is signed, the buyer is handed to it, its notification is logged,
//! acknowledged, verified by its own `verify`, checked against the stored payment and applied once. Nothing
//! here touches the engine or the store: only the public `Gateway` trait.

use std::sync::Arc;

use chrono::Utc;
use payment_buttons::engine::Processed;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{
    DecodedFields, GatewayError, HandOff, IncomingMessage, PaymentRequest, Reply, ServiceUrls,
};
use payment_buttons::notification::{Flag, Notification, Outcome, Target, Verification, VerificationStatus, Verified};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::token::ButtonSigner;
use payment_buttons::urlencoded::FormFields;
use payment_buttons::{ButtonConfig, Engine, Gateway, Gateways, MemoryStore, Money, Store};

/// "Acme Pay": the buyer posts a form to Acme; Acme posts back `ref`, `amount`, `status` and `sig`, where
/// `sig` is the shop's shared secret (a stand-in for a real signature: what matters here is that only
/// `verify` decides).
struct AcmePay;

const NAME: &str = "acme";
const SECRET: &str = "acme-shared-secret";
const SHOP: &str = "acme-shop-42";

#[async_trait::async_trait]
impl Gateway for AcmePay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_button(&self, _button: &ButtonConfig) -> Result<(), payment_buttons::button::ButtonError> {
        Ok(())
    }

    fn receiver(&self, _button: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        Ok(Some(SHOP.to_owned()))
    }

    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        Ok(HandOff::Form {
            action: "https://acme.example/pay".into(),
            fields: vec![
                ("ref".into(), request.payment_id.to_string()),
                ("amount".into(), request.option().amount().to_string()),
                ("notify".into(), request.urls.notify(NAME)),
            ],
        })
    }

    fn decode(&self, message: &IncomingMessage) -> DecodedFields {
        let (fields, not_utf8) = FormFields::parse(&message.body).decoded();
        DecodedFields {
            fields,
            flags: if not_utf8 {
                vec![Flag::UnknownCharset]
            } else {
                Vec::new()
            },
        }
    }

    fn acknowledge(&self, _message: &IncomingMessage) -> Reply {
        Reply::text("OK")
    }

    async fn verify(&self, message: &IncomingMessage) -> Verification {
        let form = FormFields::parse(&message.body);
        if form.get_str("sig") != Some(SECRET) {
            return Verification::Rejected {
                status: VerificationStatus::BadMac,
                reason: "the signature does not match".into(),
                flags: vec![Flag::BadMac],
            };
        }
        let amount = form
            .get_str("amount")
            .and_then(|a| a.split_once(' '))
            .and_then(|(number, currency)| Money::parse(number, currency).ok());
        let reference = form.non_empty("ref").map(str::to_owned);
        // The gateway checked the message: it vouches for it (docs/gateways.md, "Verified").
        Verification::Verified(Verified::vouched_by_gateway(Notification {
            idempotency_key: format!("{}:{}", reference.as_deref().unwrap_or_default(), "paid"),
            payment_ref: reference,
            target: Target::Payment,
            outcome: (form.get_str("status") == Some("paid")).then_some(Outcome::Accepted),
            gateway_reference: form.non_empty("txn").map(str::to_owned),
            subscription: None,
            amount,
            receiver: Some(SHOP.to_owned()),
            test: false,
            details: serde_json::Map::new(),
            flags: Vec::new(),
            summary: "paid".into(),
        }))
    }
}

fn engine() -> Engine<MemoryStore> {
    Engine::new(
        Arc::new(MemoryStore::new()),
        Gateways::new().with(Arc::new(AcmePay)),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    )
}

fn button() -> ButtonConfig {
    ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-7",
        "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR"}],
        "payment_options": {"acme": {}},
        "urls": {"back": "https://shop.example/", "accepted": "https://shop.example/ok",
                 "declined": "https://shop.example/ko"}}"#,
    )
    .unwrap()
}

async fn start(engine: &Engine<MemoryStore>) -> (PaymentId, Vec<(String, String)>) {
    let token = engine.sign_button(&button(), Utc::now()).unwrap();
    let started = engine
        .start_payment(&token, None, None, None, None, Utc::now())
        .await
        .unwrap();
    assert_eq!(started.gateway, NAME);
    let HandOff::Form { action, fields } = started.hand_off else {
        panic!("Acme hands off with a form");
    };
    assert_eq!(action, "https://acme.example/pay");
    (started.payment_id, fields)
}

async fn notify(engine: &Engine<MemoryStore>, body: String) -> Vec<Processed> {
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: body.into_bytes(),
        headers: Default::default(),
    };
    let reply = engine.receive(NAME, message).await.unwrap();
    assert_eq!(reply.body, b"OK", "the gateway's own acknowledgement is sent");
    let mut out = Vec::new();
    for queued in engine.store().claim_messages(Utc::now(), 10).await.unwrap() {
        out.push(engine.process(queued, Utc::now()).await.unwrap());
    }
    out
}

async fn kinds(engine: &Engine<MemoryStore>, id: &PaymentId) -> Vec<EventKind> {
    let events = engine.store().events_for_payment(id).await.unwrap();
    events.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn an_outside_gateway_takes_a_payment_from_the_button_to_its_event_once() {
    let engine = engine();
    let (id, fields) = start(&engine).await;
    assert!(fields.contains(&("notify".to_owned(), "https://pay.example/notify/acme".to_owned())));

    let body = format!("ref={id}&amount=12.50+EUR&status=paid&txn=T-1&sig={SECRET}");
    notify(&engine, body.clone()).await;
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    // Resent: logged again, never a second payment_accepted.
    notify(&engine, body).await;
    let accepted = kinds(&engine, &id)
        .await
        .into_iter()
        .filter(|k| *k == EventKind::PaymentAccepted)
        .count();
    assert_eq!(accepted, 1);
    assert_eq!(engine.store().messages().len(), 2, "both messages are in the log");
}

#[tokio::test]
async fn a_forged_message_to_an_outside_gateway_is_logged_and_changes_nothing() {
    let engine = engine();
    let (id, _) = start(&engine).await;
    notify(&engine, format!("ref={id}&amount=12.50+EUR&status=paid&sig=guessed")).await;
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Created
    );
    assert!(!kinds(&engine, &id).await.contains(&EventKind::PaymentAccepted));
    assert_eq!(engine.store().messages().len(), 1, "the forgery is in the log");
}

#[tokio::test]
async fn an_outside_gateway_is_still_checked_against_the_stored_amount() {
    let engine = engine();
    let (id, _) = start(&engine).await;
    // Genuinely signed, but for less than the payment: the engine's check, not the gateway's, refuses it.
    notify(&engine, format!("ref={id}&amount=1.00+EUR&status=paid&sig={SECRET}")).await;
    assert_ne!(
        engine.store().payment(&id).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
}
