//! Feature `testing`: the test kit for an application's own tests. PayPal and the bank are played by
//! [`paypal::testing`](crate::paypal::testing) (a postback that answers as told, the IPN for a hand-off)
//! and [`cmcic::testing`](crate::cmcic::testing) (a sealed return for a hand-off); [`pay`] takes one payment
//! from `/pay` to its events through the application's actix routes, and [`EventRecorder`] is a listener
//! that keeps what it was given.
//!
//! "My shop sells, and my listener sees `payment_accepted`":
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{App, test};
//! use payment_buttons::event::EventKind;
//! use payment_buttons::paypal::testing::{Ipn, ScriptedPostback};
//! use payment_buttons::testing::{EventRecorder, pay};
//! # use payment_buttons::{engine::Engine, gateway::{Gateways, ServiceUrls}, memory::MemoryStore, token::ButtonSigner};
//! # use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
//! # fn my_engine(postback: ScriptedPostback) -> Engine<MemoryStore> {
//! #     let paypal = PaypalGateway::new(PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap(), postback.shared());
//! #     Engine::new(Arc::new(MemoryStore::new()), Gateways::new().with(Arc::new(paypal)),
//! #         ButtonSigner::new(b"a shop's secret, 32 bytes or more"), ServiceUrls::new("http://localhost:8080").unwrap())
//! # }
//! # fn my_button() -> payment_buttons::button::ButtonConfig {
//! #     payment_buttons::button::ButtonConfig::from_json(r#"{"order_reference": "ORDER-1", "options": [{"description": "Book",
//! #       "amount": "12.50", "currency": "EUR"}], "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
//! #       "urls": {"back": "https://shop.example/", "accepted": "https://shop.example/ok", "declined": "https://shop.example/ko"}}"#).unwrap()
//! # }
//! # actix_web::rt::System::new().block_on(async {
//! let recorder = Arc::new(EventRecorder::default());
//! let engine = Arc::new(my_engine(ScriptedPostback::verified()).with_listener(recorder.clone()));
//! let app = test::init_service(App::new().configure(payment_buttons::actix::configure(engine.clone()))).await;
//! let token = engine.sign_button(&my_button(), chrono::Utc::now()).unwrap();
//!
//! let paid = pay(&app, &engine, &token, &Ipn::completed()).await;
//!
//! assert_eq!(recorder.kinds(&paid.payment_id), [EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
//! # });
//! ```

pub mod scripted;

use std::sync::Mutex;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{TestRequest, call_service, read_body};
use chrono::Utc;

use crate::engine::Engine;
use crate::event::{Event, EventKind, Listener, ListenerError};
use crate::payment::PaymentId;
use crate::store::Store;

/// What a gateway posts to `/notify/{gateway}` to confirm a hand-off: built by
/// [`paypal::testing::Ipn`](crate::paypal::testing::Ipn) and
/// [`cmcic::testing::CmcicReturn`](crate::cmcic::testing::CmcicReturn).
pub trait Confirmation {
    /// The gateway that posts it, and the one `/pay` is asked for.
    fn gateway(&self) -> &'static str;
    /// The payment the hand-off is for (`invoice`, `reference`...).
    fn payment_id(&self, hand_off: &HandOffForm) -> Option<PaymentId>;
    /// The raw body the gateway posts about this hand-off.
    fn body_for(&self, hand_off: &HandOffForm) -> Vec<u8>;
}

/// The form a hand-off page takes the buyer's browser to the gateway with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOffForm {
    /// The gateway's URL.
    pub action: String,
    /// The hidden fields, in order.
    pub fields: Vec<(String, String)>,
}

impl HandOffForm {
    /// A form from its parts.
    pub fn from_fields<'a>(action: &str, fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        HandOffForm {
            action: action.to_owned(),
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        }
    }

    /// Reads the form of a hand-off page (as `/pay` answers it); `None` when `html` holds none.
    pub fn parse(html: &str) -> Option<Self> {
        let attribute = |tag: &str, name: &str| -> Option<String> {
            let marker = format!(" {name}=\"");
            let start = tag.find(&marker)? + marker.len();
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        let form_at = html.find("<form ")?;
        let form_tag = &html[form_at..form_at + html[form_at..].find('>')?];
        let action = attribute(form_tag, "action")?;
        let mut fields = Vec::new();
        let mut rest = &html[form_at..];
        while let Some(at) = rest.find("<input ") {
            let end = rest[at..].find('>')? + at;
            let tag = &rest[at..end];
            if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
                fields.push((name, value));
            }
            rest = &rest[end..];
        }
        Some(HandOffForm { action, fields })
    }

    /// The value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reverses [`crate::html::escape_html`].
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A [`Listener`] that keeps every event it is given, in order.
#[derive(Debug, Default)]
pub struct EventRecorder {
    events: Mutex<Vec<Event>>,
}

impl EventRecorder {
    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The kinds of the events about one payment, in order.
    pub fn kinds(&self, payment: &PaymentId) -> Vec<EventKind> {
        self.events()
            .into_iter()
            .filter(|e| &e.payment.id == payment)
            .map(|e| e.kind)
            .collect()
    }
}

#[async_trait::async_trait]
impl Listener for EventRecorder {
    async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
        Ok(())
    }
}

/// One payment taken through the application by [`pay`].
#[derive(Debug, Clone)]
pub struct Paid {
    /// The payment.
    pub payment_id: PaymentId,
    /// The form `/pay` handed the buyer to the gateway with.
    pub hand_off: HandOffForm,
    /// The HTTP status and body the application answered the gateway's notification with.
    pub notify_answer: (u16, Vec<u8>),
    /// The events about the payment in the outbox, in order.
    pub events: Vec<Event>,
}

/// Presses a button: posts `token` (with `gateway` and buying option `option`) to `/pay` of `app`, as the
/// buyer's browser does, and reads the hand-off form of the answer.
///
/// # Panics
/// When `/pay` does not answer 200 with a hand-off form (the test fails, with the answer).
pub async fn press_button<A, B>(app: &A, token: &str, gateway: &str, option: usize) -> HandOffForm
where
    A: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("button", token)
        .append_pair("option", &option.to_string())
        .append_pair("gateway", gateway)
        .finish();
    let request = TestRequest::post()
        .uri("/pay")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request();
    let response = call_service(app, request).await;
    let status = response.status();
    let html = String::from_utf8_lossy(&read_body(response).await).into_owned();
    assert_eq!(status, 200, "/pay answered {status}: {html}");
    HandOffForm::parse(&html).unwrap_or_else(|| panic!("/pay answered no hand-off form: {html}"))
}

/// Posts `body` to `/notify/{gateway}` of `app`, as the gateway does; returns the answer's status and body.
pub async fn notify<A, B>(app: &A, gateway: &str, body: Vec<u8>) -> (u16, Vec<u8>)
where
    A: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let request = TestRequest::post()
        .uri(&format!("/notify/{gateway}"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .peer_addr(([192, 0, 2, 1], 443).into())
        .set_payload(body)
        .to_request();
    let response = call_service(app, request).await;
    let status = response.status().as_u16();
    (status, read_body(response).await.to_vec())
}

/// What the background workers do, once, now: verifies and applies every due message, then hands every
/// outbox event to the listeners. (With [`spawn_workers`](crate::actix::spawn_workers) running too, the
/// store's claims keep them from doing anything twice.)
///
/// # Panics
/// When the store fails.
pub async fn run_workers<S: Store>(engine: &Engine<S>) {
    while engine
        .process_due(Utc::now(), engine.concurrency())
        .await
        .expect("process the queued messages")
        > 0
    {}
    while engine.dispatch_events(100).await.expect("dispatch the outbox") > 0 {}
}

/// Takes one payment through `app`: presses the button `token` for `confirmation`'s gateway, posts the
/// gateway's `confirmation` of the hand-off to `/notify/{gateway}`, runs the workers once
/// ([`run_workers`]) and reads the payment's events.
///
/// # Panics
/// When a step fails: `/pay` answers no hand-off, the hand-off names no payment, the store fails.
pub async fn pay<S, A, B, C>(app: &A, engine: &Engine<S>, token: &str, confirmation: &C) -> Paid
where
    S: Store,
    A: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
    C: Confirmation + ?Sized,
{
    let hand_off = press_button(app, token, confirmation.gateway(), 0).await;
    let payment_id = confirmation
        .payment_id(&hand_off)
        .unwrap_or_else(|| panic!("the hand-off names no payment: {hand_off:?}"));
    let notify_answer = notify(app, confirmation.gateway(), confirmation.body_for(&hand_off)).await;
    run_workers(engine).await;
    let events = engine
        .store()
        .events_for_payment(&payment_id)
        .await
        .expect("read the payment's events");
    Paid {
        payment_id,
        hand_off,
        notify_answer,
        events,
    }
}
