//! A button too large to be paid is refused when it is signed (issue 11, item 15): `/pay` refuses a token
//! longer than 64 KiB, so signing one would give the shop a button that can never be paid. Each way of
//! signing says so, naming the limit.
#![cfg(feature = "tera")]

use std::time::Duration;

use payment_buttons::button::ButtonConfig;
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::{ButtonSigner, MAX_TOKEN_LEN};

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

/// A valid configuration: `options` buying options, each with `custom` custom fields of 256 characters.
/// 20 options of 10 fields make a token of about 70 KB.
fn config(options: usize, custom: usize) -> serde_json::Value {
    let option = |i: usize| {
        let custom: serde_json::Map<String, serde_json::Value> = (0..custom)
            .map(|k| (format!("field{k}"), serde_json::Value::String("v".repeat(256))))
            .collect();
        serde_json::json!({ "description": format!("Option {i}"), "amount": "1.00", "currency": "EUR", "custom": custom })
    };
    serde_json::json!({
        "order_reference": "ORDER-15",
        "options": (0..options).map(option).collect::<Vec<_>>(),
        "payment_options": { "paypal": {} },
        "urls": { "back": "https://shop.example/", "accepted": "https://shop.example/ok", "declined": "https://shop.example/ko" }
    })
}

fn button(options: usize, custom: usize) -> ButtonConfig {
    serde_json::from_value(config(options, custom)).expect("a valid configuration")
}

fn names_the_limit(text: &str) {
    assert!(
        text.contains(&MAX_TOKEN_LEN.to_string()) && text.contains("64 KiB"),
        "the error names the limit: {text}"
    );
}

#[test]
fn the_rust_api_refuses_to_sign_a_button_whose_token_pay_would_refuse() {
    let signer = ButtonSigner::new(SECRET);
    let now = chrono::Utc::now();
    let error = signer
        .sign(&button(20, 10), Duration::from_secs(60), now)
        .expect_err("too large to be paid");
    names_the_limit(&error.to_string());

    // Below the limit, the token is signed and `/pay`'s check accepts it.
    let smaller = button(20, 5);
    let token = signer
        .sign(&smaller, Duration::from_secs(60), now)
        .expect("small enough");
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert_eq!(signer.verify(&token, now).unwrap(), smaller);
}

#[test]
fn the_tera_function_refuses_to_render_a_button_too_large_to_be_paid() {
    let mut tera = tera::Tera::default();
    tera.register_function(
        "payment_button",
        ButtonFunction::new(ButtonSigner::new(SECRET), "https://pay.example/pay"),
    );
    tera.add_raw_template("shop.html", "{{ payment_button(config=button) }}")
        .unwrap();
    let mut ctx = tera::Context::new();
    ctx.insert("button", &config(20, 10));
    let error = tera.render("shop.html", &ctx).expect_err("refused");
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    names_the_limit(&text);
}
