//! `ButtonConfig` JSON, as shops send it to the API and to the signer, then the gateways' checks and
//! hand-off forms built from an accepted button.
//!
//! Input: the JSON text.
//!
//! Invariants: nothing panics; an accepted button written as its canonical JSON reads back equal (through
//! `from_json` and through serde); a button the gateways accept gives a hand-off for each of its options,
//! and a CM-CIC hand-off carries a seal the bank would accept.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use payment_buttons::button::ButtonConfig;
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::gateway::{Gateways, HandOff, PaymentRequest, ServiceUrls};
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};

struct NeverAsked;

#[async_trait::async_trait]
impl Postback for NeverAsked {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Retry("not used by this target".into())
    }
}

struct Service {
    gateways: Gateways,
    cmcic: CmcicGateway,
    urls: ServiceUrls,
}

static SERVICE: LazyLock<Service> = LazyLock::new(|| {
    let overrides = PaypalOverrides {
        business: Some("merchant@example.com".into()),
        ..PaypalOverrides::default()
    };
    let paypal = PaypalConfig::new(PaypalMode::Sandbox, overrides).expect("a valid PayPal configuration");
    let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").expect("a valid key");
    let cmcic = CmcicGateway::new(
        CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1").expect("a valid CM-CIC configuration"),
    );
    Service {
        gateways: Gateways::new()
            .with(Arc::new(PaypalGateway::new(paypal, Arc::new(NeverAsked))))
            .with(Arc::new(cmcic.clone()))
            .with(Arc::new(librement_pay::gateway::LibrementGateway)),
        cmcic,
        urls: ServiceUrls::new("https://pay.example").expect("a valid URL"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ButtonConfig::from_json(json);
    let via_serde = serde_json::from_str::<ButtonConfig>(json);
    assert_eq!(parsed.is_ok(), via_serde.is_ok(), "from_json and serde disagree");
    let Ok(button) = parsed else {
        return;
    };

    let canonical = button.to_json_value().to_string();
    assert_eq!(
        ButtonConfig::from_json(&canonical).as_ref(),
        Ok(&button),
        "canonical JSON reads back different"
    );
    assert_eq!(
        serde_json::from_str::<ButtonConfig>(&canonical).ok().as_ref(),
        Some(&button)
    );

    let service = &*SERVICE;
    if service.gateways.check_button(&button).is_err() {
        return;
    }
    let payment_id = PaymentId::parse("Xk3f9QpL2mZa").expect("a valid payment id");
    for name in button.payment_options().keys() {
        let Some(gateway) = service.gateways.get(name) else {
            continue;
        };
        for option_index in 0..button.options().len() {
            let request = PaymentRequest {
                payment_id: &payment_id,
                button: &button,
                option_index,
                buyer_email: button.email().map(|e| e.as_str()),
                identity: None,
                urls: &service.urls,
                created_at: librement_pay_fuzz::now(),
            };
            let hand_off = gateway.hand_off(&request);
            if name == "cmcic"
                && let Ok(HandOff::Form { fields, .. }) = &hand_off
            {
                assert!(
                    service.cmcic.request_seal_matches(fields),
                    "our own seal does not match"
                );
            }
        }
    }
});
