//! A shop on the engine with PayPal, for the engine's tests: buttons of our own, IPNs as PayPal sends
//! them, the test kit's postback that answers as told, and the in-memory store.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::{Engine, Processed};
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{Gateways, HandOff, IncomingMessage, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::testing::ScriptedPostback;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback};
use payment_buttons::store::Store;
use payment_buttons::token::ButtonSigner;

pub struct Shop {
    pub engine: Engine<MemoryStore>,
    pub postback: Arc<ScriptedPostback>,
}

pub const SELLER: &str = "seller@example.com";

pub fn shop(mode: PaypalMode) -> Shop {
    let postback = ScriptedPostback::verified().shared();
    Shop {
        engine: engine(mode, postback.clone()),
        postback,
    }
}

/// An engine over the in-memory store with PayPal answering its postbacks through `postback`.
pub fn engine(mode: PaypalMode, postback: Arc<dyn Postback>) -> Engine<MemoryStore> {
    let config = PaypalConfig::new(
        mode,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    Engine::new(
        Arc::new(MemoryStore::new()),
        Gateways::new().with(Arc::new(PaypalGateway::new(config, postback))),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    )
}

/// A shop whose postbacks are answered by `postback`, verifying up to four messages at a time.
pub fn concurrent_shop(postback: Arc<dyn Postback>) -> Shop {
    Shop {
        engine: engine(PaypalMode::Simulator, postback).with_concurrency(4),
        postback: ScriptedPostback::verified().shared(),
    }
}

pub fn button() -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-1042",
        "options": [
          {{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR", "custom": {{"sku": "manual-pdf"}}}},
          {{"description": "Supporter, monthly", "amount": "5.00", "currency": "EUR", "recurrence_months": 1}}
        ],
        "payment_options": {{"paypal": {{"paypal_email": "{SELLER}"}}}},
        "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                 "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

impl Shop {
    pub async fn buy(&self, option: usize) -> PaymentId {
        let token = self.engine.sign_button(&button(), Utc::now()).unwrap();
        let started = self
            .engine
            .start_payment(&token, Some(&option.to_string()), None, None, None, Utc::now())
            .await
            .unwrap();
        assert!(matches!(started.hand_off, HandOff::Form { .. }));
        started.payment_id
    }

    /// Posts an IPN and processes the queue, as the worker would.
    pub async fn ipn(&self, fields: &[(&str, &str)]) -> Vec<Processed> {
        let body = encode_ipn(fields.iter().copied());
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: Some("127.0.0.1".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body,
            headers: Default::default(),
        };
        let reply = self.engine.receive("paypal", message).await.unwrap();
        assert_eq!(
            (reply.status, reply.body.len()),
            (200, 0),
            "an IPN is answered 200 with an empty body"
        );
        let mut out = Vec::new();
        for queued in self.engine.store().claim_messages(Utc::now(), 10).await.unwrap() {
            out.push(self.engine.process(queued, Utc::now()).await.unwrap());
        }
        out
    }

    pub async fn state(&self, id: &PaymentId) -> PaymentState {
        self.engine.store().payment(id).await.unwrap().unwrap().state
    }

    pub async fn kinds(&self, id: &PaymentId) -> Vec<EventKind> {
        self.engine
            .store()
            .events_for_payment(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    pub fn last_log(&self) -> payment_buttons::memory::LoggedMessage {
        self.engine.store().messages().last().cloned().unwrap()
    }
}

pub fn web_accept<'a>(invoice: &'a str, txn: &'a str, status: &'a str, gross: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("txn_type", "web_accept"),
        ("payment_status", status),
        ("txn_id", txn),
        ("invoice", invoice),
        ("mc_gross", gross),
        ("mc_currency", "EUR"),
        ("receiver_email", SELLER),
        ("business", SELLER),
        ("payment_date", "10:41:07 Mar 03, 2025 PST"),
    ]
}
