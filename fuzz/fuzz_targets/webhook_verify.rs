//! The Standard Webhooks verifier that shops run on the events we post (`webhook::verify`), and the
//! `whsec_` secrets they configure.
//!
//! Input: one selector byte, then four parts separated by the first three newlines: `webhook-id`,
//! `webhook-timestamp`, `webhook-signature`, body. Selector bit 0: check at the header's own time (when it
//! is a number) rather than at a fixed clock, so that the signature comparison is reached. Bit 1: sign the
//! id, timestamp and body with the test secret first (what our sender does), and add the fuzzed signature
//! line as one more entry, as during a secret rotation.
//!
//! Invariants: nothing panics; a request signed by `sign` verifies at its own time, even next to other
//! entries, and no longer verifies once its body changes; secrets read back from their written form.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use payment_buttons::webhook::{ReceivedHeaders, WebhookError, WebhookSecret, sign, verify};

/// The secret of the Standard Webhooks reference examples.
static SECRETS: LazyLock<[WebhookSecret; 1]> = LazyLock::new(|| {
    ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        .parse()
        .expect("the reference secret")]
});

const TOLERANCE: Duration = Duration::from_secs(300);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let parts = librement_pay_fuzz::split_lines(rest, 4);
    let (Ok(id), Ok(timestamp), Ok(signature)) = (
        std::str::from_utf8(parts[0]),
        std::str::from_utf8(parts[1]),
        std::str::from_utf8(parts[2]),
    ) else {
        return;
    };
    let body = parts[3];

    if let Ok(secret) = WebhookSecret::parse(id) {
        assert!(
            WebhookSecret::parse(&secret.expose_whsec()) == Ok(secret),
            "a secret reads back different"
        );
    }

    let header_time = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    let now = match header_time {
        Some(time) if selector & 1 == 1 => time,
        _ => librement_pay_fuzz::now(),
    };

    if selector & 2 == 0 {
        let headers = ReceivedHeaders {
            id,
            timestamp,
            signature,
        };
        let _ = verify(&SECRETS[..], &headers, body, now, TOLERANCE);
        return;
    }

    let Some(time) = header_time else {
        return;
    };
    let Ok(signed) = sign(&SECRETS[..], id, time.timestamp(), body) else {
        return;
    };
    let with_rotation = format!("{signature} {}", signed.signature);
    let headers = ReceivedHeaders {
        id: &signed.id,
        timestamp: &signed.timestamp,
        signature: &with_rotation,
    };
    assert_eq!(
        verify(&SECRETS[..], &headers, body, time, TOLERANCE),
        Ok(()),
        "our own signature refused"
    );
    let changed = [body, b"x"].concat();
    assert_eq!(
        verify(&SECRETS[..], &headers, &changed, time, TOLERANCE),
        Err(WebhookError::NoMatchingSignature),
        "a changed body verified"
    );
});
