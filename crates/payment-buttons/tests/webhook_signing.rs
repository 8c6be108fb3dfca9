//! Standard Webhooks signing and verification: the published vector, rotation, refusals, and agreement
//! with the reference implementation (crate `standardwebhooks`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use payment_buttons::webhook::{
    DEFAULT_TOLERANCE, ReceivedHeaders, SignedHeaders, WebhookError, WebhookSecret, sign, verify, verify_request,
};

const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TIMESTAMP: i64 = 1614265330;
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret(text: &str) -> WebhookSecret {
    text.parse().expect("a valid test secret")
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a representable time")
}

fn received(signed: &SignedHeaders) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        id: &signed.id,
        timestamp: &signed.timestamp,
        signature: &signed.signature,
    }
}

fn vector_headers(signature: &str) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        id: VECTOR_ID,
        timestamp: "1614265330",
        signature,
    }
}

// --- The published vector ---

#[test]
fn signing_the_standard_webhooks_vector_gives_its_published_signature() {
    let signed = sign(&[secret(VECTOR_SECRET)], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap();
    assert_eq!(signed.id, VECTOR_ID);
    assert_eq!(signed.timestamp, "1614265330");
    assert_eq!(signed.signature, VECTOR_SIGNATURE);
}

#[test]
fn the_published_vector_verifies_at_its_own_time() {
    let result = verify(
        &[secret(VECTOR_SECRET)],
        &vector_headers(VECTOR_SIGNATURE),
        VECTOR_BODY,
        at(VECTOR_TIMESTAMP),
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn using_the_secret_text_itself_as_the_key_gives_another_signature() {
    // The mistake: HMAC keyed with the characters instead of their base64 decoding.
    for literal in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", VECTOR_SECRET] {
        let mistaken = WebhookSecret::from_bytes(literal.as_bytes().to_vec()).unwrap();
        let signed = sign(
            std::slice::from_ref(&mistaken),
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        )
        .unwrap();
        assert!(signed.signature.starts_with("v1,"));
        assert_ne!(signed.signature, VECTOR_SIGNATURE, "key {literal:?}");
        // And a receiver that made the mistake refuses the genuine request.
        let result = verify(
            &[mistaken],
            &vector_headers(VECTOR_SIGNATURE),
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(WebhookError::NoMatchingSignature));
    }
}

// --- Rotation ---

#[test]
fn during_a_rotation_the_header_lists_both_signatures_and_either_secret_verifies() {
    let (current, previous) = (WebhookSecret::generate(), WebhookSecret::generate());
    let now = Utc::now();
    let body = br#"{"id":"evt_1","type":"payment_accepted"}"#;
    let signed = sign(&[current.clone(), previous.clone()], "evt_1", now.timestamp(), body).unwrap();

    let entries: Vec<&str> = signed.signature.split(' ').collect();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|entry| entry.starts_with("v1,")));

    // A receiver still on the previous secret, one already on the current one, and one holding both.
    for receiver in [vec![previous.clone()], vec![current.clone()], vec![previous, current]] {
        assert_eq!(
            verify(&receiver, &received(&signed), body, now, DEFAULT_TOLERANCE),
            Ok(())
        );
    }
    let stranger = [WebhookSecret::generate()];
    assert_eq!(
        verify(&stranger, &received(&signed), body, now, DEFAULT_TOLERANCE),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn a_receiver_rotating_its_own_secrets_accepts_a_sender_that_has_not_switched_yet() {
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let now = Utc::now();
    let signed = sign(std::slice::from_ref(&old), "evt_2", now.timestamp(), b"{}").unwrap();
    assert_eq!(
        verify(&[new, old], &received(&signed), b"{}", now, DEFAULT_TOLERANCE),
        Ok(())
    );
}

// --- Refusals ---

#[test]
fn a_tampered_body_is_refused() {
    let tampered = br#"{"test": 2432232315}"#;
    let result = verify(
        &[secret(VECTOR_SECRET)],
        &vector_headers(VECTOR_SIGNATURE),
        tampered,
        at(VECTOR_TIMESTAMP),
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Err(WebhookError::NoMatchingSignature));
}

#[test]
fn a_changed_id_or_timestamp_is_refused() {
    let secrets = [secret(VECTOR_SECRET)];
    let other_id = ReceivedHeaders {
        id: "msg_someone_else",
        ..vector_headers(VECTOR_SIGNATURE)
    };
    let other_time = ReceivedHeaders {
        timestamp: "1614265331",
        ..vector_headers(VECTOR_SIGNATURE)
    };
    let now = at(VECTOR_TIMESTAMP);
    assert_eq!(
        verify(&secrets, &other_id, VECTOR_BODY, now, DEFAULT_TOLERANCE),
        Err(WebhookError::NoMatchingSignature)
    );
    assert_eq!(
        verify(&secrets, &other_time, VECTOR_BODY, now, DEFAULT_TOLERANCE),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn a_request_signed_with_another_secret_is_refused() {
    let result = verify(
        &[WebhookSecret::generate()],
        &vector_headers(VECTOR_SIGNATURE),
        VECTOR_BODY,
        at(VECTOR_TIMESTAMP),
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Err(WebhookError::NoMatchingSignature));
}

#[test]
fn a_request_older_than_the_tolerance_is_refused() {
    let secrets = [secret(VECTOR_SECRET)];
    let headers = vector_headers(VECTOR_SIGNATURE);
    let five_minutes = Duration::from_secs(300);
    assert_eq!(
        verify(
            &secrets,
            &headers,
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP + 300),
            five_minutes
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            &secrets,
            &headers,
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP + 301),
            five_minutes
        ),
        Err(WebhookError::TooOld)
    );
    // Through the one-call helper, which uses the real clock: the 2021 vector is long expired.
    let lookup = |name: &str| match name {
        "webhook-id" => Some(VECTOR_ID),
        "webhook-timestamp" => Some("1614265330"),
        "webhook-signature" => Some(VECTOR_SIGNATURE),
        _ => None,
    };
    assert_eq!(verify_request(&secrets, lookup, VECTOR_BODY), Err(WebhookError::TooOld));
}

#[test]
fn a_request_from_further_in_the_future_than_the_tolerance_is_refused() {
    let secrets = [secret(VECTOR_SECRET)];
    let headers = vector_headers(VECTOR_SIGNATURE);
    let five_minutes = Duration::from_secs(300);
    assert_eq!(
        verify(
            &secrets,
            &headers,
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP - 300),
            five_minutes
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            &secrets,
            &headers,
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP - 301),
            five_minutes
        ),
        Err(WebhookError::TooNew)
    );
}

#[test]
fn unknown_signature_versions_are_ignored() {
    let secrets = [secret(VECTOR_SECRET)];
    let now = at(VECTOR_TIMESTAMP);
    let mixed = format!("v1a,c2lnbmF0dXJl v2,{} {VECTOR_SIGNATURE}", "A".repeat(44));
    assert_eq!(
        verify(&secrets, &vector_headers(&mixed), VECTOR_BODY, now, DEFAULT_TOLERANCE),
        Ok(())
    );
    // The same bytes under another version label are not a v1 signature.
    let relabelled = VECTOR_SIGNATURE.replacen("v1,", "v2,", 1);
    assert_eq!(
        verify(
            &secrets,
            &vector_headers(&relabelled),
            VECTOR_BODY,
            now,
            DEFAULT_TOLERANCE
        ),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn malformed_headers_are_refused_without_panicking() {
    let secrets = [secret(VECTOR_SECRET)];
    let now = at(VECTOR_TIMESTAMP);
    let malformed_signatures = [
        "",
        " ",
        "v1",
        "v1,",
        ",",
        "v1,not-base64!",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE==",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA",
        "v1,,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1 g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,é",
    ];
    for signature in malformed_signatures {
        assert_eq!(
            verify(
                &secrets,
                &vector_headers(signature),
                VECTOR_BODY,
                now,
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::NoMatchingSignature),
            "{signature:?}"
        );
    }
    for timestamp in [
        "",
        "now",
        "1614265330.0",
        "+1614265330",
        "１６１４２６５３３０",
        "99999999999999999999999",
    ] {
        let headers = ReceivedHeaders {
            timestamp,
            ..vector_headers(VECTOR_SIGNATURE)
        };
        assert_eq!(
            verify(&secrets, &headers, VECTOR_BODY, now, DEFAULT_TOLERANCE),
            Err(WebhookError::BadTimestamp),
            "{timestamp:?}"
        );
    }
    let no_id = ReceivedHeaders {
        id: "",
        ..vector_headers(VECTOR_SIGNATURE)
    };
    assert_eq!(
        verify(&secrets, &no_id, VECTOR_BODY, now, DEFAULT_TOLERANCE),
        Err(WebhookError::EmptyId)
    );
}

#[test]
fn each_missing_header_is_named() {
    let secrets = [secret(VECTOR_SECRET)];
    for absent in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let lookup = |name: &str| {
            let value = match name {
                "webhook-id" => VECTOR_ID,
                "webhook-timestamp" => "1614265330",
                "webhook-signature" => VECTOR_SIGNATURE,
                _ => return None,
            };
            (name != absent).then_some(value)
        };
        let error = verify_request(&secrets, lookup, VECTOR_BODY).unwrap_err();
        assert_eq!(error, WebhookError::MissingHeader(absent));
        assert_eq!(error.to_string(), format!("missing header {absent}"));
    }
}

#[test]
fn a_receiver_without_secrets_refuses_everything() {
    let result = verify(
        &[],
        &vector_headers(VECTOR_SIGNATURE),
        VECTOR_BODY,
        at(VECTOR_TIMESTAMP),
        DEFAULT_TOLERANCE,
    );
    assert_eq!(result, Err(WebhookError::NoSecret));
}

#[test]
fn error_messages_never_repeat_header_values() {
    let secrets = [secret(VECTOR_SECRET)];
    let hostile = "v1,<script>alert(1)</script>";
    let errors = [
        verify(
            &secrets,
            &vector_headers(hostile),
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP),
            DEFAULT_TOLERANCE,
        ),
        verify(
            &secrets,
            &ReceivedHeaders {
                timestamp: "<script>",
                ..vector_headers(hostile)
            },
            VECTOR_BODY,
            at(VECTOR_TIMESTAMP),
            DEFAULT_TOLERANCE,
        ),
    ];
    for error in errors {
        let error = error.unwrap_err();
        assert!(!error.to_string().contains("script"), "{error}");
    }
}

// --- Receiving through a real header map ---

#[test]
fn a_request_is_checked_in_one_call_from_an_http_header_map() {
    let secrets = [WebhookSecret::generate()];
    let body = br#"{"id":"evt_3"}"#;
    let signed = sign(&secrets, "evt_3", Utc::now().timestamp(), body).unwrap();
    let mut headers = http::HeaderMap::new();
    for (name, value) in signed.pairs() {
        // Header names are case-insensitive: a proxy may have changed their case.
        headers.insert(
            http::HeaderName::from_bytes(name.to_uppercase().as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    assert_eq!(verify_request(&secrets, header, body), Ok(()));
    assert_eq!(
        verify_request(&secrets, header, br#"{"id":"evt_4"}"#),
        Err(WebhookError::NoMatchingSignature)
    );
}

// --- Agreement with the reference implementation ---

fn reference_headers(id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    headers
}

#[test]
fn the_reference_implementation_computes_the_same_vector() {
    let reference = standardwebhooks::Webhook::new(VECTOR_SECRET).unwrap();
    let theirs = reference.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap();
    let ours = sign(&[secret(VECTOR_SECRET)], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap();
    assert_eq!(ours.signature, theirs);
}

#[test]
fn what_we_sign_the_reference_implementation_verifies() {
    let written = WebhookSecret::generate().expose_whsec();
    let now = Utc::now().timestamp();
    let body = br#"{"id":"evt_5","type":"payment_refunded","details":{"refunded_amount":"5.00"}}"#;
    let ours = sign(&[secret(&written)], "evt_5", now, body).unwrap();

    let reference = standardwebhooks::Webhook::new(&written).unwrap();
    assert!(
        reference
            .verify(body, &reference_headers("evt_5", now, &ours.signature))
            .is_ok()
    );
    assert!(
        reference
            .verify(b"{}", &reference_headers("evt_5", now, &ours.signature))
            .is_err()
    );
}

#[test]
fn the_reference_implementation_verifies_each_secret_of_a_rotation_we_sign() {
    let (current, previous) = (WebhookSecret::generate(), WebhookSecret::generate());
    let now = Utc::now().timestamp();
    let ours = sign(&[current.clone(), previous.clone()], "evt_6", now, b"{}").unwrap();
    for secret in [current, previous] {
        let reference = standardwebhooks::Webhook::new(&secret.expose_whsec()).unwrap();
        assert!(
            reference
                .verify(b"{}", &reference_headers("evt_6", now, &ours.signature))
                .is_ok()
        );
    }
}

#[test]
fn what_the_reference_implementation_signs_we_verify() {
    let written = WebhookSecret::generate().expose_whsec();
    let now = Utc::now();
    let body = br#"{"id":"evt_7","type":"payment_declined"}"#;
    let theirs = standardwebhooks::Webhook::new(&written)
        .unwrap()
        .sign("evt_7", now.timestamp(), body)
        .unwrap();

    let timestamp = now.timestamp().to_string();
    let headers = ReceivedHeaders {
        id: "evt_7",
        timestamp: &timestamp,
        signature: &theirs,
    };
    assert_eq!(
        verify(&[secret(&written)], &headers, body, now, DEFAULT_TOLERANCE),
        Ok(())
    );
    assert_eq!(
        verify(&[WebhookSecret::generate()], &headers, body, now, DEFAULT_TOLERANCE),
        Err(WebhookError::NoMatchingSignature)
    );
}
