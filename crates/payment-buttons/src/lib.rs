//! Payment buttons for web services.
//!
//! A shop describes what it sells in a [`button::ButtonConfig`]; this crate signs it into a token, renders
//! the button (feature `tera`), hands the buyer to a payment gateway, receives the gateway's
//! server-to-server messages, logs them raw before anything else, verifies them, applies them once and turns
//! them into [`event::Event`]s for the shop's listeners.
//!
//! Gateways: CM-CIC paiement / Monetico ([`cmcic`]) and PayPal Payments Standard with IPN ([`paypal`]).
//! Both have the same shape, one file per role: `config` (settings and mode), `hand_off` (the form),
//! `message` (decoding what the gateway sends), `verify`, `status` (mapping to a
//! [`Notification`](notification::Notification)); a gateway of your own implements [`Gateway`] and touches
//! neither the engine nor the store (the repository's `docs/gateways.md`). Form bodies go through one
//! byte-exact codec, [`urlencoded`].
//! The [`engine::Engine`] runs the pipeline over a [`store::Store`]; [`transition`] decides, as a pure
//! function, what each verified notification does to a payment; [`status`] decides what the buyer's status
//! page says.
//!
//! Features (the default build has no web framework and no database):
//! - `actix`: `actix::configure` mounts `/pay`, `/notify/{gateway}` and the status page `/payments/{id}`
//!   in any actix-web app; `actix::spawn_workers` runs the background work;
//! - `tera`: the `payment_button` Tera function and a status page from your own template;
//! - `reqwest`: PayPal's verification postback over HTTPS;
//! - `diesel`: `diesel::DieselStore`, the durable store on SQLite or PostgreSQL, migrations embedded;
//! - `testing`: the test kit (PayPal and the bank played in your tests, one call from `/pay` to the events);
//! - `simulator`: each gateway's side of its protocol (`cmcic::simulator`: the bank's seals and answers;
//!   `paypal::simulator`: IPNs encoded as PayPal posts them), for simulated gateways, tests and fuzz targets;
//!   a shop needs none of it;
//! - `test-support`: the conformance suite every [`store::Store`] must pass.
//!
//! The crate's README walks through a complete shop (`examples/shop.rs`). The whole journey in one
//! function — a button, the buyer's `/pay`, PayPal's notification, the shop's events:
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use payment_buttons::button::ButtonConfig;
//! use payment_buttons::engine::Engine;
//! use payment_buttons::event::EventKind;
//! use payment_buttons::gateway::{Gateways, HandOff, IncomingMessage, ServiceUrls};
//! use payment_buttons::memory::MemoryStore;
//! use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
//! use payment_buttons::store::Store;
//! use payment_buttons::token::ButtonSigner;
//!
//! struct Verified; // in production: ReqwestPostback (feature reqwest)
//! #[async_trait::async_trait]
//! impl Postback for Verified { async fn validate(&self, _: &[u8]) -> PostbackAnswer { PostbackAnswer::Verified } }
//!
//! let paypal = PaypalGateway::new(PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default())?, Arc::new(Verified));
//! let engine = Engine::new(
//!     Arc::new(MemoryStore::new()), // durable: diesel::DieselStore (feature diesel)
//!     Gateways::new().with(Arc::new(paypal)),
//!     ButtonSigner::new(b"the shop's secret, 32 bytes or more"),
//!     ServiceUrls::new("https://shop.example")?,
//! );
//! let button = ButtonConfig::from_json(r#"{"order_reference": "ORDER-1",
//!     "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR"}],
//!     "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
//!     "urls": {"back": "https://shop.example/", "accepted": "https://shop.example/ok", "declined": "https://shop.example/ko"}}"#)?;
//! let token = engine.sign_button(&button, chrono::Utc::now())?;
//! // What `/pay` does when the buyer presses the button: record the payment, hand the buyer to PayPal.
//! let started = engine.start_payment(&token, None, None, None, None, chrono::Utc::now()).await?;
//! let HandOff::Form { fields, .. } = &started.hand_off else { unreachable!("PayPal takes a form") };
//! let invoice = &fields.iter().find(|(name, _)| name == "invoice").unwrap().1;
//! assert_eq!(invoice, started.payment_id.as_str());
//!
//! // PayPal's server-to-server notification (IPN) about it: `/notify/paypal` logs it raw and answers...
//! let ipn = format!("txn_type=web_accept&payment_status=Completed&txn_id=4RT73920XK118345L&invoice={invoice}\
//!     &receiver_email=seller%40example.com&mc_gross=12.50&mc_currency=EUR&charset=UTF-8");
//! let message = IncomingMessage {
//!     received_at: chrono::Utc::now(),
//!     remote_addr: None,
//!     method: "POST".into(),
//!     content_type: Some("application/x-www-form-urlencoded".into()),
//!     body: ipn.into_bytes(),
//!     headers: Default::default(),
//! };
//! assert_eq!(engine.receive("paypal", message).await?.status, 200);
//! // ...and the worker (`actix::spawn_workers`, feature actix) verifies it, checks it against the stored
//! // payment and applies it once: the shop's listeners get these events.
//! engine.process_due(chrono::Utc::now(), 10).await?;
//! let events = engine.store().events_for_payment(&started.payment_id).await?;
//! let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
//! assert_eq!(kinds, [EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
#![warn(missing_docs)]

pub mod button;
pub mod cmcic;
pub mod engine;
pub mod event;
pub mod forwarded;
pub mod gateway;
pub mod html;
pub mod i18n;
pub mod identity;
pub mod memory;
pub mod money;
pub mod notification;
pub mod payment;
pub mod paypal;
pub mod refund;
pub mod status;
pub mod store;
mod telemetry;
pub mod token;
pub mod transition;
pub mod urlencoded;
pub mod webhook;

pub use button::ButtonConfig;
pub use cmcic::{CmcicConfig, CmcicGateway, CmcicMode, CmcicProtocol};
pub use engine::Engine;
pub use event::Event;
pub use gateway::{Gateway, Gateways};
pub use memory::MemoryStore;
pub use money::Money;
pub use paypal::{PaypalConfig, PaypalGateway, PaypalIntegration, PaypalMode, PaypalOverrides};
pub use store::Store;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "diesel")]
pub mod diesel;
#[cfg(feature = "tera")]
pub mod tera;
#[cfg(feature = "testing")]
pub mod testing;

/// The gateways' protocol helpers are not public (issue 13): a shop reaches neither CM-CIC's MAC and
/// key-derivation steps nor PayPal's IPN codec; the `simulator` feature gives the gateway's side of each
/// protocol, under `cmcic::simulator` and `paypal::simulator`, to simulators, tests and fuzz targets.
///
/// ```compile_fail,E0603
/// use payment_buttons::cmcic::mac::seal_hex;
/// ```
/// ```compile_fail,E0603
/// use payment_buttons::cmcic::config::CmcicConfig;
/// ```
/// ```compile_fail,E0603
/// use payment_buttons::cmcic::verify::check_seal;
/// ```
/// ```compile_fail,E0432
/// use payment_buttons::paypal::encode_ipn;
/// ```
/// ```compile_fail,E0432
/// use payment_buttons::paypal::postback_body;
/// ```
#[cfg(doctest)]
pub struct NarrowSurface;
