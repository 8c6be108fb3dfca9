//! The PayPal hand-off: the form fields of "Buy Now" and "Subscribe" buttons, and the checks a button
//! must pass before PayPal is offered.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use payment_buttons::button::ButtonConfig;
use payment_buttons::gateway::{Gateway, GatewayError, HandOff, PaymentRequest, ServiceUrls};
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::{
    LIVE_WEBSCR_URL, PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer,
};

struct NeverCalled;

#[async_trait::async_trait]
impl Postback for NeverCalled {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        panic!("building a form must not verify anything")
    }
}

fn gateway(overrides: PaypalOverrides) -> PaypalGateway {
    PaypalGateway::new(
        PaypalConfig::new(PaypalMode::Live, overrides).unwrap(),
        Arc::new(NeverCalled),
    )
}

fn button(language: &str, paypal: &str, options: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{
            "order_reference": "ORDER-1042",
            "language": "{language}",
            "options": {options},
            "payment_options": {{ "paypal": {paypal} }},
            "urls": {{ "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                      "declined": "https://shop.example/sorry" }}
        }}"#
    ))
    .unwrap()
}

const SELLER: &str = r#"{ "paypal_email": "seller@example.com" }"#;
const MANUAL: &str = r#"[{ "description": "Manual, PDF", "amount": "12.5", "currency": "EUR",
                           "custom": { "sku": "MAN-PDF" } }]"#;
const MONTHLY: &str = r#"[{ "description": "Monthly plan", "amount": "9.99", "currency": "EUR", "recurrence_months": 1 },
                          { "description": "Quarterly plan", "amount": "27", "currency": "EUR", "recurrence_months": 3 }]"#;

fn hand_off(gateway: &PaypalGateway, button: &ButtonConfig, option_index: usize) -> Result<HandOff, GatewayError> {
    let payment_id = PaymentId::parse("Xk3f9QpL2mZa").unwrap();
    let urls = ServiceUrls::new("https://pay.example/").unwrap();
    let request = PaymentRequest {
        payment_id: &payment_id,
        button,
        option_index,
        buyer_email: Some("buyer@example.net"),
        identity: None,
        urls: &urls,
        created_at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
    };
    gateway.hand_off(&request)
}

fn form(gateway: &PaypalGateway, button: &ButtonConfig, option_index: usize) -> (String, Vec<(String, String)>) {
    match hand_off(gateway, button, option_index).unwrap() {
        HandOff::Form { action, fields } => (action, fields),
        other => panic!("expected a form, got {other:?}"),
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_buy_now_button_posts_an_xclick_form_to_paypal() {
    let (action, fields) = form(&gateway(PaypalOverrides::default()), &button("en", SELLER, MANUAL), 0);
    assert_eq!(action, LIVE_WEBSCR_URL);
    assert_eq!(
        fields,
        pairs(&[
            ("cmd", "_xclick"),
            ("business", "seller@example.com"),
            ("item_name", "Manual, PDF"),
            ("amount", "12.50"),
            ("currency_code", "EUR"),
            ("invoice", "Xk3f9QpL2mZa"),
            ("custom", "Xk3f9QpL2mZa"),
            ("notify_url", "https://pay.example/notify/paypal"),
            ("return", "https://pay.example/payments/Xk3f9QpL2mZa"),
            ("cancel_return", "https://pay.example/payments/Xk3f9QpL2mZa?cancelled=1"),
            ("rm", "1"),
            ("lc", "US"),
            ("charset", "utf-8"),
            ("no_shipping", "1"),
        ])
    );
}

#[test]
fn a_subscribe_button_posts_a_monthly_subscription() {
    let (_, fields) = form(&gateway(PaypalOverrides::default()), &button("fr", SELLER, MONTHLY), 1);
    assert_eq!(
        fields,
        pairs(&[
            ("cmd", "_xclick-subscriptions"),
            ("business", "seller@example.com"),
            ("item_name", "Quarterly plan"),
            ("a3", "27.00"),
            ("p3", "3"),
            ("t3", "M"),
            ("src", "1"),
            ("sra", "1"),
            ("no_note", "1"),
            ("currency_code", "EUR"),
            ("invoice", "Xk3f9QpL2mZa"),
            ("custom", "Xk3f9QpL2mZa"),
            ("notify_url", "https://pay.example/notify/paypal"),
            ("return", "https://pay.example/payments/Xk3f9QpL2mZa"),
            ("cancel_return", "https://pay.example/payments/Xk3f9QpL2mZa?cancelled=1"),
            ("rm", "1"),
            ("lc", "FR"),
            ("charset", "utf-8"),
            ("no_shipping", "1"),
        ])
    );
}

#[test]
fn the_shops_data_never_reaches_paypal() {
    let (_, fields) = form(&gateway(PaypalOverrides::default()), &button("en", SELLER, MANUAL), 0);
    for (name, value) in &fields {
        assert!(
            !value.contains("MAN-PDF") && !value.contains("ORDER-1042"),
            "{name}={value}"
        );
        assert!(!value.contains("buyer@example.net"), "{name}={value}");
    }
}

#[test]
fn the_configured_business_is_the_default_receiver() {
    let gw = gateway(PaypalOverrides {
        business: Some("default@example.com".into()),
        ..Default::default()
    });
    let (_, fields) = form(&gw, &button("en", "{}", MANUAL), 0);
    assert!(fields.contains(&("business".into(), "default@example.com".into())));
    assert_eq!(
        gw.receiver(&button("en", "{}", MANUAL)).unwrap().as_deref(),
        Some("default@example.com")
    );
    // a button's own address wins over it
    assert_eq!(
        gw.receiver(&button("en", SELLER, MANUAL)).unwrap().as_deref(),
        Some("seller@example.com")
    );
}

#[test]
fn without_any_receiver_the_hand_off_names_both_settings() {
    let err = hand_off(&gateway(PaypalOverrides::default()), &button("en", "{}", MANUAL), 0).unwrap_err();
    let GatewayError::Configuration(message) = err else {
        panic!("expected a configuration error: {err:?}")
    };
    assert!(message.contains("payment_options.paypal.paypal_email"), "{message}");
    assert!(message.contains("paypal.business"), "{message}");
}

#[test]
fn the_checkout_logo_comes_from_the_configuration_only() {
    let gw = gateway(PaypalOverrides {
        logo_url: Some("https://shop.example/logo.png".into()),
        ..Default::default()
    });
    let with_image = ButtonConfig::from_json(
        r#"{ "order_reference": "O-1", "image_url": "https://shop.example/button.png",
             "options": [{ "description": "Manual", "amount": "5", "currency": "EUR" }],
             "payment_options": { "paypal": { "paypal_email": "seller@example.com" } },
             "urls": { "back": "https://shop.example/", "accepted": "https://shop.example/", "declined": "https://shop.example/" } }"#,
    )
    .unwrap();
    let (_, fields) = form(&gw, &with_image, 0);
    let images: Vec<_> = fields.iter().filter(|(name, _)| name == "image_url").collect();
    assert_eq!(
        images,
        vec![&("image_url".to_owned(), "https://shop.example/logo.png".to_owned())]
    );

    let (_, fields) = form(&gateway(PaypalOverrides::default()), &with_image, 0);
    assert!(fields.iter().all(|(name, _)| name != "image_url"));
}

#[test]
fn languages_map_to_paypal_locales() {
    for (language, lc) in [
        ("en", "US"),
        ("fr", "FR"),
        ("de", "DE"),
        ("es", "ES"),
        ("it", "IT"),
        ("nl", "NL"),
        ("eu", "US"),
    ] {
        let (_, fields) = form(
            &gateway(PaypalOverrides::default()),
            &button(language, SELLER, MANUAL),
            0,
        );
        assert!(fields.contains(&("lc".into(), lc.into())), "{language}: {fields:?}");
    }
}

#[test]
fn whole_unit_currencies_are_sent_without_decimals() {
    let yen = r#"[{ "description": "Manual", "amount": "1500", "currency": "JPY" }]"#;
    let (_, fields) = form(&gateway(PaypalOverrides::default()), &button("en", SELLER, yen), 0);
    assert!(fields.contains(&("amount".into(), "1500".into())));
}

#[test]
fn a_well_formed_paypal_block_passes_the_checks() {
    let gw = gateway(PaypalOverrides::default());
    assert_eq!(gw.check_button(&button("en", SELLER, MANUAL)), Ok(()));
    assert_eq!(gw.check_button(&button("en", SELLER, MONTHLY)), Ok(()));
}

#[test]
fn unknown_paypal_settings_are_refused_by_name() {
    let gw = gateway(PaypalOverrides::default());
    let err = gw
        .check_button(&button(
            "en",
            r#"{ "paypal_email": "seller@example.com", "sandbox": true }"#,
            MANUAL,
        ))
        .unwrap_err();
    assert_eq!(err.field, "payment_options.paypal.sandbox");
}

#[test]
fn an_implausible_paypal_email_is_refused() {
    let gw = gateway(PaypalOverrides::default());
    for bad in [r#"{ "paypal_email": "seller" }"#, r#"{ "paypal_email": 42 }"#] {
        let err = gw.check_button(&button("en", bad, MANUAL)).unwrap_err();
        assert_eq!(err.field, "payment_options.paypal.paypal_email", "{bad}");
    }
}

#[test]
fn a_button_without_receiver_is_refused_unless_the_service_has_one() {
    let err = gateway(PaypalOverrides::default())
        .check_button(&button("en", "{}", MANUAL))
        .unwrap_err();
    assert_eq!(err.field, "payment_options.paypal.paypal_email");
    let with_default = gateway(PaypalOverrides {
        business: Some("default@example.com".into()),
        ..Default::default()
    });
    assert_eq!(with_default.check_button(&button("en", "{}", MANUAL)), Ok(()));
}

#[test]
fn currencies_and_amounts_paypal_cannot_take_are_refused() {
    let gw = gateway(PaypalOverrides::default());
    let dinar = r#"[{ "description": "Manual", "amount": "12.500", "currency": "TND" }]"#;
    assert_eq!(
        gw.check_button(&button("en", SELLER, dinar)).unwrap_err().field,
        "options[0].currency"
    );
    let forint = r#"[{ "description": "Manual", "amount": "5", "currency": "EUR" },
                     { "description": "Manual", "amount": "1500.50", "currency": "HUF" }]"#;
    assert_eq!(
        gw.check_button(&button("en", SELLER, forint)).unwrap_err().field,
        "options[1].amount"
    );
}
