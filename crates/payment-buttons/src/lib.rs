//! Payment buttons for web services.
//!
//! A shop describes what it sells in a [`button::ButtonConfig`]; this crate signs it into a token, renders
//! the button (feature `tera`), hands the buyer to a payment gateway, receives the gateway's
//! server-to-server messages, verifies them and turns them into events.
//!
//! Gateways: CM-CIC paiement / Monetico ([`cmcic`]) and PayPal Payments Standard with IPN ([`paypal`]).
//!
//! Features: `actix` (handlers mountable in any actix-web app), `tera` (the `payment_button` function),
//! `reqwest` (the PayPal postback client). The default build has no web framework and no database:
//! storage is the [`store::Store`] trait.
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
pub mod status;
pub mod store;
pub mod token;
pub mod transition;
pub mod webhook;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "diesel")]
pub mod diesel;
#[cfg(feature = "tera")]
pub mod tera;
#[cfg(feature = "testing")]
pub mod testing;
