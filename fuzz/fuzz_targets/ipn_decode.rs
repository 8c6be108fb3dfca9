//! PayPal IPN bodies: form decoding in every charset PayPal names, then the meaning of a verified message.
//!
//! Input: one selector byte, then the body. Selector 0 posts the body as it is (its own `charset`, or none);
//! any other value puts `charset=<label>` first, for a label from PayPal's list and every WHATWG encoding,
//! so that each decoder is reached whatever the mutations do to the body.
//!
//! Invariants: decoding never panics; the decoded fields, re-encoded as PayPal does (UTF-8), decode to
//! the same fields; verification (with a postback that always answers VERIFIED, live and sandbox) never
//! panics and never yields a negative refund.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use payment_buttons::gateway::Gateway;
use payment_buttons::notification::{Outcome, Verification};
use payment_buttons::paypal::simulator::{decode_ipn, encode_ipn, overlong_fields};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};

/// PayPal's documented `charset` values, then encoding_rs's canonical names (one per WHATWG encoding).
const LABELS: &[&str] = &[
    "Big5",
    "EUC-JP",
    "EUC-KR",
    "EUC-TW",
    "gb2312",
    "gbk",
    "HZ-GB-2312",
    "IBM-862",
    "ISO-2022-CN",
    "ISO-2022-JP",
    "ISO-2022-KR",
    "ISO-8859-1",
    "ISO-8859-2",
    "ISO-8859-3",
    "ISO-8859-4",
    "ISO-8859-5",
    "ISO-8859-6",
    "ISO-8859-7",
    "ISO-8859-8",
    "ISO-8859-9",
    "ISO-8859-13",
    "ISO-8859-15",
    "KOI8-R",
    "Shift_JIS",
    "UTF-7",
    "UTF-8",
    "UTF-16",
    "UTF-16BE",
    "UTF-16LE",
    "UTF16_PlatformEndian",
    "UTF16_OppositeEndian",
    "UTF-32",
    "UTF-32BE",
    "UTF-32LE",
    "UTF32_PlatformEndian",
    "UTF32_OppositeEndian",
    "US-ASCII",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "windows-874",
    "windows-949",
    "x-mac-greek",
    "x-mac-turkish",
    "x-mac-centraleurroman",
    "x-mac-cyrillic",
    "x-mac-roman",
    "IBM866",
    "ISO-8859-8-I",
    "ISO-8859-10",
    "ISO-8859-14",
    "ISO-8859-16",
    "KOI8-U",
    "macintosh",
    "GB18030",
    "replacement",
    "x-user-defined",
    "",
];

struct AlwaysVerified;

#[async_trait::async_trait]
impl Postback for AlwaysVerified {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Verified
    }
}

static GATEWAYS: LazyLock<[PaypalGateway; 2]> = LazyLock::new(|| {
    [PaypalMode::Live, PaypalMode::Sandbox].map(|mode| {
        let overrides = PaypalOverrides {
            business: Some("merchant@example.com".into()),
            ..PaypalOverrides::default()
        };
        let config = PaypalConfig::new(mode, overrides).expect("a valid PayPal configuration");
        PaypalGateway::new(config, Arc::new(AlwaysVerified))
    })
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let body = match usize::from(selector) % (LABELS.len() + 1) {
        0 => rest.to_vec(),
        n => [b"charset=", LABELS[n - 1].as_bytes(), b"&", rest].concat(),
    };

    let decoded = decode_ipn(&body);
    let _ = overlong_fields(&decoded.fields);

    // What we decoded, posted again as PayPal would (UTF-8), reads back the same.
    let mut utf8 = decoded.fields.clone();
    utf8.insert("charset".into(), "UTF-8".into());
    let again = decode_ipn(&encode_ipn(&utf8));
    assert_eq!(again.fields, utf8, "re-encoded fields differ");

    let message = librement_pay_fuzz::form_post(body);
    for gateway in GATEWAYS.iter() {
        assert_eq!(gateway.decode(&message), decoded);
        let _ = gateway.acknowledge(&message);
        if let Verification::Verified(verified) = librement_pay_fuzz::block_on(gateway.verify(&message)) {
            let notification = verified.get();
            if let Some(Outcome::Refunded { amount: Some(amount) }) = notification.outcome {
                assert!(amount.minor_units() >= 0, "negative refund {amount:?}");
            }
            let _ = serde_json::to_string(&notification.details).expect("details serialize");
        }
    }
});
