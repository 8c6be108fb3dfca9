//! The rendered button, pinned: rendering is a pure function of the configuration and the token.
#![cfg(feature = "tera")]

use std::sync::Arc;

use payment_buttons::button::{ButtonConfig, ButtonError};
use payment_buttons::gateway::{
    DecodedFields, Gateway, GatewayError, Gateways, HandOff, IncomingMessage, PaymentRequest, Reply,
};
use payment_buttons::notification::{Verification, VerificationStatus};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

struct Never;
#[async_trait::async_trait]
impl Postback for Never {
    async fn validate(&self, _: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Invalid
    }
}

/// A second payment method, as an application adds its own (librement-pay's balance is one): a gateway
/// that only names itself and its label. Rendering never hands off or verifies.
struct Librement;
#[async_trait::async_trait]
impl Gateway for Librement {
    fn name(&self) -> &'static str {
        "librement"
    }
    fn check_button(&self, _: &ButtonConfig) -> Result<(), ButtonError> {
        Ok(())
    }
    fn receiver(&self, _: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        Ok(None)
    }
    fn hand_off(&self, _: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        Err(GatewayError::Unsupported("rendering only".into()))
    }
    fn decode(&self, _: &IncomingMessage) -> DecodedFields {
        DecodedFields::default()
    }
    fn acknowledge(&self, _: &IncomingMessage) -> Reply {
        Reply::empty_ok()
    }
    async fn verify(&self, _: &IncomingMessage) -> Verification {
        Verification::Rejected {
            status: VerificationStatus::Error,
            reason: "rendering only".into(),
            flags: Vec::new(),
        }
    }
    fn label(&self, _language: &str) -> String {
        "Librement".to_owned()
    }
}

fn function() -> ButtonFunction {
    let paypal = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let gateways = Gateways::new()
        .with(Arc::new(PaypalGateway::new(paypal, Arc::new(Never))))
        .with(Arc::new(Librement));
    ButtonFunction::new(
        ButtonSigner::new(b"snapshot secret, thirty-two bytes"),
        "https://pay.example/pay",
    )
    .with_gateways(gateways)
}

fn config(extra: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_date": "2026-11-26T10:00:00Z", "order_reference": "ORDER-1042",
        "options": [
          {{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR"}},
          {{"description": "Supporter <monthly>", "amount": "1234.00", "currency": "EUR", "recurrence_months": 1}},
          {{"description": "Patron", "amount": "50.00", "currency": "EUR", "recurrence_months": 3}}
        ],
        "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                 "declined": "https://shop.example/sorry"}}, {extra}}}"#
    ))
    .unwrap()
}

#[test]
fn three_options_two_methods_in_english() {
    let html = function()
        .render_with_token(
            &config(r#""payment_options": {"paypal": {}, "librement": {"seller": "a@example.org"}}"#),
            "TOKEN",
        )
        .unwrap();
    insta::assert_snapshot!(html);
}

#[test]
fn one_option_one_method_in_french_with_custom_text() {
    let c = ButtonConfig::from_json(
        r#"{"order_reference": "R", "language": "fr", "text": "Acheter \"maintenant\"",
        "options": [{"description": "Livre", "amount": "9.9", "currency": "EUR"}],
        "payment_options": {"paypal": {}},
        "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .unwrap();
    insta::assert_snapshot!(function().render_with_token(&c, "TOKEN").unwrap());
}

#[test]
fn an_image_button_keeps_the_gateway_value_and_the_alt_text() {
    let html = function()
        .render_with_token(
            &config(
                r#""payment_options": {"paypal": {}, "librement": {}}, "image_url": "https://shop.example/pay.png",
                "text": "Pay with us""#,
            ),
            "TOKEN",
        )
        .unwrap();
    assert!(
        !html.contains("type=\"image\""),
        "an image input would not submit the gateway"
    );
    insta::assert_snapshot!(html);
}

#[test]
fn signing_then_rendering_puts_a_verifiable_token_in_the_form() {
    let f = function();
    let c = config(r#""payment_options": {"paypal": {"paypal_email": "seller@example.com"}}"#);
    let rendered = f.render(&c, chrono::Utc::now()).unwrap();
    assert!(rendered.html.contains(&rendered.token));
    let back = ButtonSigner::new(b"snapshot secret, thirty-two bytes").verify(&rendered.token, chrono::Utc::now());
    assert_eq!(back.unwrap(), c);
}

#[test]
fn a_configuration_the_gateways_refuse_is_not_rendered() {
    let c = config(r#""payment_options": {"bitcoin": {}}"#);
    assert!(function().render(&c, chrono::Utc::now()).is_err());
}
