//! CM-CIC / Monetico returns (`/notify/cmcic`): the byte-level form reader, the seal check, the
//! acknowledgement and the notification read from a sealed return.
//!
//! Input: one selector byte (bit 0: legacy CM-CIC v3.0 protocol instead of Monetico; bit 1: production
//! mode instead of the simulator), then the body as posted.
//!
//! Invariants: nothing panics; writing the parsed fields and reading them again gives the same fields;
//! the acknowledgement says `cdr=0` exactly when verification accepts the message; the same fields sealed
//! with the merchant key pass the seal check; a verified notification's amount is the `montant` it
//! carried, and no card number reaches its details unmasked.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use payment_buttons::cmcic::simulator::{SealCheck, check_seal, notification, parse_montant};
use payment_buttons::cmcic::{ACK_VALID, CmcicConfig, CmcicGateway, CmcicMode, CmcicProtocol, UsableKey};
use payment_buttons::gateway::{Gateway, IncomingMessage};
use payment_buttons::notification::Verification;
use payment_buttons::urlencoded::FormFields;

/// The key of the published test vectors (`tests/fixtures/monetico/vectors.json`), so that seeds taken
/// from them carry valid seals.
const VECTOR_KEY: &str = "1036DEFD9175F29EE9337A1F284BDF781D5A4048";

static GATEWAYS: LazyLock<Vec<CmcicGateway>> = LazyLock::new(|| {
    let mut gateways = Vec::new();
    for mode in [CmcicMode::Simulator, CmcicMode::Production] {
        for protocol in [CmcicProtocol::Monetico, CmcicProtocol::Legacy] {
            let key = UsableKey::from_merchant_key(VECTOR_KEY).expect("the vectors' key");
            let config = CmcicConfig::new(mode, "1234567", key, "monSite1")
                .expect("a valid CM-CIC configuration")
                .with_protocol(protocol);
            gateways.push(CmcicGateway::new(config));
        }
    }
    gateways
});

/// Verifies `message` and checks that the acknowledgement agrees with the verdict.
fn verify_consistently(gateway: &CmcicGateway, message: &IncomingMessage) -> Verification {
    let _ = gateway.decode(message);
    let acknowledged = gateway.acknowledge(message).body == ACK_VALID.as_bytes();
    let verification = librement_pay_fuzz::block_on(gateway.verify(message));
    let verified = matches!(verification, Verification::Verified(_));
    assert_eq!(acknowledged, verified, "cdr=0 must mean verified: {verification:?}");
    verification
}

fn check_notification(form: &FormFields, verification: &Verification) {
    let Verification::Verified(verified) = verification else {
        return;
    };
    let notification = verified.get();
    let stated = form.non_empty("montant").and_then(parse_montant);
    assert_eq!(notification.amount, stated);
    assert!(notification.summary.chars().count() <= 200);
    if let (Some(sent), Some(shown)) = (
        form.text("cbmasquee"),
        notification.details.get("cbmasquee").and_then(|v| v.as_str()),
    ) && is_card_number(&sent)
    {
        let digits = shown.chars().filter(char::is_ascii_digit).count();
        assert!(digits <= 10, "card number {sent:?} reached the details as {shown:?}");
    }
}

/// 12 digits or more and nothing else but the spaces or dashes that group them (`4970 1012 3456 0000`).
fn is_card_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    digits >= 12
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '-')
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let gateway = &GATEWAYS[usize::from(selector & 3)];
    let form = FormFields::parse(body);
    assert_eq!(
        FormFields::parse(&form.to_body()),
        form,
        "write then read changes the fields"
    );
    let _ = form.decoded();
    let _ = notification(gateway.config(), &form);

    // As received (almost always a bad seal).
    let received = librement_pay_fuzz::form_post(body.to_vec());
    let verification = verify_consistently(gateway, &received);
    check_notification(&form, &verification);

    // The same fields sealed as the bank seals them.
    let sealed = librement_pay_fuzz::form_post(gateway.sealed_return_body(form.clone()));
    let sealed_form = FormFields::parse(&sealed.body);
    assert_eq!(check_seal(gateway.config(), &sealed_form), SealCheck::Valid);
    let verification = verify_consistently(gateway, &sealed);
    check_notification(&sealed_form, &verification);
});
