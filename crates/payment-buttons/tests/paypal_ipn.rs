//! IPN messages through the PayPal gateway: every fixture body as PayPal posts it, verified with a
//! recording postback, decoded and mapped to outcomes.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use payment_buttons::gateway::{Gateway, IncomingMessage, Reply};
use payment_buttons::money::Money;
use payment_buttons::notification::{Flag, Notification, Outcome, Target, Verification, VerificationStatus};
use payment_buttons::paypal::simulator::{decode_ipn, encode_ipn};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};

/// A postback that records every body it is given and answers as told.
struct RecordingPostback {
    answer: PostbackAnswer,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl RecordingPostback {
    fn answering(answer: PostbackAnswer) -> Arc<Self> {
        Arc::new(RecordingPostback {
            answer,
            seen: Mutex::new(Vec::new()),
        })
    }
    fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Postback for RecordingPostback {
    async fn validate(&self, body: &[u8]) -> PostbackAnswer {
        self.seen.lock().unwrap().push(body.to_vec());
        self.answer.clone()
    }
}

fn gateway(mode: PaypalMode, postback: Arc<RecordingPostback>) -> PaypalGateway {
    let overrides = match mode {
        PaypalMode::Simulator => PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:8080/simulator/paypal/webscr".into()),
            postback_url: Some("http://127.0.0.1:8080/simulator/paypal/postback".into()),
            ..Default::default()
        },
        _ => PaypalOverrides::default(),
    };
    PaypalGateway::new(PaypalConfig::new(mode, overrides).unwrap(), postback)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/paypal-ipn/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn message(body: Vec<u8>) -> IncomingMessage {
    IncomingMessage {
        received_at: Utc::now(),
        remote_addr: Some("173.0.82.126".into()),
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    }
}

/// Verifies a body with a gateway whose postback says VERIFIED, checking the postback got the exact bytes.
async fn verify_in(mode: PaypalMode, body: Vec<u8>) -> Verification {
    let postback = RecordingPostback::answering(PostbackAnswer::Verified);
    let verification = gateway(mode, postback.clone()).verify(&message(body.clone())).await;
    assert_eq!(
        postback.seen(),
        vec![body],
        "the postback must get the body byte for byte"
    );
    verification
}

async fn verified(name: &str) -> Notification {
    match verify_in(PaypalMode::Sandbox, fixture(name)).await {
        Verification::Verified(n) => n.into_inner(),
        other => panic!("{name}: expected a verified notification, got {other:?}"),
    }
}

fn money(amount: &str, currency: &str) -> Money {
    Money::parse(amount, currency).unwrap()
}

const ALL_FIXTURES: &[&str] = &[
    "c-07-web_accept-completed-utf8",
    "c-08-web_accept-pending-echeck",
    "c-09-web_accept-completed-after-pending",
    "c-10-web_accept-completed-resend-duplicate",
    "c-11-refunded",
    "c-14-subscr_signup",
    "c-15-subscr_payment-completed",
    "c-16-subscr_failed",
    "c-17-subscr_cancel",
    "c-18-subscr_eot",
    "c-20-web_accept-completed-wrong-receiver",
    "c-22-web_accept-unknown-charset",
    "dp-01-express_checkout-completed-win1252",
    "dp-03-web_accept-completed-simulator-nocharset",
    "dp-04-web_accept-declined-simulator-nocharset",
    "dp-05-express_checkout-invalid-status-Failure",
    "dp-06-express_checkout-bad-date-format",
];

#[test]
fn every_fixture_decodes_with_only_the_expected_flags() {
    for name in ALL_FIXTURES {
        let decoded = decode_ipn(&fixture(name));
        let expected = match *name {
            "c-22-web_accept-unknown-charset" => vec![Flag::UnknownCharset],
            "dp-06-express_checkout-bad-date-format" => vec![Flag::MalformedDate],
            // PayPal's IPN simulator puts the seller's e-mail in receiver_id, documented as 13 characters.
            "dp-03-web_accept-completed-simulator-nocharset" | "dp-04-web_accept-declined-simulator-nocharset" => {
                vec![Flag::OverlongField]
            }
            _ => vec![],
        };
        assert_eq!(decoded.flags, expected, "{name}");
        assert!(decoded.fields.contains_key("verify_sign"), "{name}: fields lost");
    }
}

#[test]
fn utf8_values_are_decoded_as_utf8() {
    let decoded = decode_ipn(&fixture("c-07-web_accept-completed-utf8"));
    assert_eq!(decoded.fields["first_name"], "Zoé");
    assert_eq!(decoded.fields["address_name"], "Zoé Durand");
    assert_eq!(decoded.fields["custom"], "order=1042");
}

#[test]
fn windows_1252_values_are_decoded_as_windows_1252() {
    let decoded = decode_ipn(&fixture("dp-01-express_checkout-completed-win1252"));
    assert_eq!(decoded.fields["first_name"], "Jörg");
    assert_eq!(decoded.fields["custom"], "website_id=13&user_id=21");

    let decoded = decode_ipn(b"charset=windows-1252&first_name=Ren%E9&item_name=Caf%E9+cr%E8me+%80");
    assert_eq!(decoded.fields["first_name"], "René");
    assert_eq!(decoded.fields["item_name"], "Café crème €");
}

#[test]
fn a_message_without_charset_is_windows_1252() {
    let decoded = decode_ipn(b"first_name=Ren%E9&last_name=M%FCller");
    assert_eq!(decoded.fields["first_name"], "René");
    assert_eq!(decoded.fields["last_name"], "Müller");
    assert!(decoded.flags.is_empty());
    // and a simulator message without charset keeps its %20 spaces
    let decoded = decode_ipn(&fixture("dp-03-web_accept-completed-simulator-nocharset"));
    assert_eq!(decoded.fields["address_name"], "John Smith");
}

#[test]
fn an_unknown_charset_decodes_as_windows_1252_and_is_flagged() {
    let decoded = decode_ipn(b"charset=x-no-such-charset&first_name=Ren%E9");
    assert_eq!(decoded.fields["first_name"], "René");
    assert_eq!(decoded.flags, vec![Flag::UnknownCharset]);
}

#[test]
fn overlong_fields_are_flagged_and_kept() {
    let long_name = "x".repeat(130);
    let body = encode_ipn([("item_name", long_name.as_str()), ("txn_id", "4RT73920XK118345L")]);
    let decoded = decode_ipn(&body);
    assert_eq!(decoded.fields["item_name"], long_name);
    assert_eq!(decoded.flags, vec![Flag::OverlongField]);
}

#[tokio::test]
async fn a_completed_buy_now_is_accepted() {
    let n = verified("c-07-web_accept-completed-utf8").await;
    assert_eq!(n.payment_ref.as_deref(), Some("INV-1042"));
    assert_eq!(n.target, Target::Payment);
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.idempotency_key, "4RT73920XK118345L:Completed");
    assert_eq!(n.gateway_reference.as_deref(), Some("4RT73920XK118345L"));
    assert_eq!(n.amount, Some(money("25.00", "EUR")));
    assert_eq!(n.receiver.as_deref(), Some("merchant@example.com"));
    assert!(!n.test);
    assert!(n.flags.is_empty());
    assert_eq!(n.summary, "web_accept Completed");
    assert_eq!(n.details["payment_status"], "Completed");
    assert_eq!(n.details["txn_type"], "web_accept");
    assert_eq!(n.details["payer_id"], "B7XK2L9QW4RTY");
    assert_eq!(n.details["mc_fee"], "1.03");
    assert_eq!(n.details["payment_date"], "2025-03-03T18:41:07+00:00");
    let details = serde_json::to_string(&n.details).unwrap();
    assert!(
        !details.contains("buyer@example.net") && !details.contains("Durand"),
        "personal data in {details}"
    );
}

#[tokio::test]
async fn a_pending_echeck_then_its_completion_are_two_distinct_applications() {
    let pending = verified("c-08-web_accept-pending-echeck").await;
    assert_eq!(pending.outcome, Some(Outcome::Pending));
    assert_eq!(pending.details["pending_reason"], "echeck");
    assert_eq!(pending.idempotency_key, "9HB41187PS502331W:Pending");

    let completed = verified("c-09-web_accept-completed-after-pending").await;
    assert_eq!(completed.outcome, Some(Outcome::Accepted));
    assert_eq!(completed.idempotency_key, "9HB41187PS502331W:Completed");
    assert_eq!(completed.payment_ref, pending.payment_ref);
}

#[tokio::test]
async fn a_resend_has_the_idempotency_key_of_the_original() {
    assert_eq!(
        fixture("c-10-web_accept-completed-resend-duplicate"),
        fixture("c-07-web_accept-completed-utf8"),
        "the fixture is a byte-identical resend"
    );
    let original = verified("c-07-web_accept-completed-utf8").await;
    let resend = verified("c-10-web_accept-completed-resend-duplicate").await;
    assert_eq!(resend.idempotency_key, original.idempotency_key);
}

#[tokio::test]
async fn a_refund_carries_the_refunded_amount_and_its_parent() {
    let n = verified("c-11-refunded").await;
    assert_eq!(n.target, Target::Payment);
    assert_eq!(
        n.outcome,
        Some(Outcome::Refunded {
            amount: Some(money("25.00", "EUR"))
        })
    );
    assert_eq!(
        n.amount,
        Some(money("-25.00", "EUR")),
        "the message's own amount, as PayPal states it"
    );
    assert_eq!(n.idempotency_key, "1KJ90234MN778812A:Refunded");
    assert_eq!(n.details["parent_txn_id"], "4RT73920XK118345L");
    assert_eq!(n.details["reason_code"], "refund");
    assert_eq!(n.summary, "Refunded");
}

#[tokio::test]
async fn a_subscription_sign_up_is_recorded_without_outcome() {
    let n = verified("c-14-subscr_signup").await;
    assert_eq!(n.payment_ref.as_deref(), Some("INV-SUB-0077"));
    assert_eq!(n.target, Target::Payment);
    assert_eq!(n.outcome, None);
    assert_eq!(n.idempotency_key, "subscr_signup:I-4WJ9TNR2KQ7B");
    assert_eq!(n.gateway_reference, None);
    assert_eq!(n.amount, Some(money("9.99", "EUR")), "the recurring amount");
    assert_eq!(n.details["subscr_id"], "I-4WJ9TNR2KQ7B");
}

#[tokio::test]
async fn a_subscription_payment_is_a_cycle() {
    let n = verified("c-15-subscr_payment-completed").await;
    assert_eq!(n.target, Target::SubscriptionCycle);
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.idempotency_key, "8LM44021QR903376K:Completed");
    assert_eq!(n.gateway_reference.as_deref(), Some("8LM44021QR903376K"));
    assert_eq!(n.amount, Some(money("9.99", "EUR")));
    assert_eq!(n.details["subscr_id"], "I-4WJ9TNR2KQ7B");
}

#[tokio::test]
async fn a_failed_subscription_payment_declines_a_cycle() {
    let n = verified("c-16-subscr_failed").await;
    assert_eq!(n.target, Target::SubscriptionCycle);
    assert_eq!(n.outcome, Some(Outcome::Declined));
    assert_eq!(n.idempotency_key, "subscr_failed:e3f4a5b6c7d82");
    assert_eq!(n.amount, Some(money("9.99", "EUR")));
}

#[tokio::test]
async fn cancellation_and_end_of_term_cancel_the_subscription() {
    for (name, key) in [
        ("c-17-subscr_cancel", "subscr_cancel:I-4WJ9TNR2KQ7B"),
        ("c-18-subscr_eot", "subscr_eot:I-4WJ9TNR2KQ7B"),
    ] {
        let n = verified(name).await;
        assert_eq!(n.payment_ref.as_deref(), Some("INV-SUB-0077"), "{name}");
        assert_eq!(n.target, Target::Payment, "{name}");
        assert_eq!(n.outcome, Some(Outcome::SubscriptionCancelled), "{name}");
        assert_eq!(n.idempotency_key, key);
    }
}

#[tokio::test]
async fn a_payment_to_another_account_names_that_account() {
    let n = verified("c-20-web_accept-completed-wrong-receiver").await;
    assert_eq!(n.receiver.as_deref(), Some("someone-else@example.org"));
    assert_eq!(
        n.outcome,
        Some(Outcome::Accepted),
        "the engine, not the gateway, compares receivers"
    );
}

#[tokio::test]
async fn an_unknown_charset_still_verifies_with_its_flag() {
    let n = verified("c-22-web_accept-unknown-charset").await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.flags, vec![Flag::UnknownCharset]);
}

#[tokio::test]
async fn express_checkout_from_django_paypal_is_accepted_as_a_test() {
    let n = verified("dp-01-express_checkout-completed-win1252").await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.payment_ref.as_deref(), Some("0004"));
    assert_eq!(n.idempotency_key, "51403485VH153354B:Completed");
    assert_eq!(n.amount, Some(money("10.00", "USD")));
    assert_eq!(n.receiver.as_deref(), Some("seller@paypalsandbox.com"));
    assert!(n.test);
    assert!(
        n.flags.is_empty(),
        "test messages are expected in the sandbox: {:?}",
        n.flags
    );
}

#[tokio::test]
async fn a_test_message_reaching_a_live_gateway_is_flagged() {
    let Verification::Verified(n) =
        verify_in(PaypalMode::Live, fixture("dp-01-express_checkout-completed-win1252")).await
    else {
        panic!("expected verified");
    };
    assert!(n.get().test);
    assert_eq!(n.get().flags, vec![Flag::TestInLive]);
}

#[tokio::test]
async fn simulator_messages_without_charset_map_like_real_ones() {
    let accepted = verified("dp-03-web_accept-completed-simulator-nocharset").await;
    assert_eq!(accepted.outcome, Some(Outcome::Accepted));
    assert_eq!(accepted.idempotency_key, "593976436:Completed");
    assert_eq!(accepted.amount, Some(money("12.34", "USD")));

    let declined = verified("dp-04-web_accept-declined-simulator-nocharset").await;
    assert_eq!(declined.outcome, Some(Outcome::Declined));
    assert_eq!(declined.idempotency_key, "153826001:Declined");
}

#[tokio::test]
async fn an_unknown_payment_status_is_ignored_and_flagged() {
    match verify_in(
        PaypalMode::Sandbox,
        fixture("dp-05-express_checkout-invalid-status-Failure"),
    )
    .await
    {
        Verification::Ignored { reason, flags } => {
            assert!(reason.contains("Failure"), "{reason}");
            assert_eq!(flags, vec![Flag::UnknownStatus]);
        }
        other => panic!("expected ignored, got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_date_is_flagged_and_the_payment_still_counts() {
    let n = verified("dp-06-express_checkout-bad-date-format").await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.flags, vec![Flag::MalformedDate]);
}

#[tokio::test]
async fn an_unknown_txn_type_is_acknowledged_and_ignored() {
    let body = encode_ipn([
        ("txn_type", "new_case"),
        ("case_id", "PP-D-1234"),
        ("invoice", "Xk3f9QpL2mZa"),
    ]);
    match verify_in(PaypalMode::Live, body).await {
        Verification::Ignored { reason, flags } => {
            assert!(reason.contains("new_case"), "{reason}");
            assert_eq!(flags, vec![Flag::UnknownType]);
        }
        other => panic!("expected ignored, got {other:?}"),
    }
}

#[tokio::test]
async fn an_invalid_postback_rejects_the_message() {
    let postback = RecordingPostback::answering(PostbackAnswer::Invalid);
    let body = fixture("c-07-web_accept-completed-utf8");
    let verification = gateway(PaypalMode::Live, postback.clone())
        .verify(&message(body.clone()))
        .await;
    match verification {
        Verification::Rejected { status, flags, .. } => {
            assert_eq!(status, VerificationStatus::Invalid);
            assert_eq!(flags, vec![Flag::Invalid]);
        }
        other => panic!("expected rejected, got {other:?}"),
    }
    assert_eq!(postback.seen(), vec![body]);
}

#[tokio::test]
async fn no_answer_from_paypal_means_retry() {
    let postback = RecordingPostback::answering(PostbackAnswer::Retry("postback answered HTTP 503".into()));
    let verification = gateway(PaypalMode::Live, postback)
        .verify(&message(fixture("c-07-web_accept-completed-utf8")))
        .await;
    assert_eq!(
        verification,
        Verification::Retry {
            reason: "postback answered HTTP 503".into()
        }
    );
}

#[tokio::test]
async fn a_verified_payment_without_txn_id_is_unusable() {
    let body = encode_ipn([
        ("txn_type", "web_accept"),
        ("payment_status", "Completed"),
        ("mc_gross", "25.00"),
        ("mc_currency", "EUR"),
        ("invoice", "Xk3f9QpL2mZa"),
    ]);
    match verify_in(PaypalMode::Sandbox, body).await {
        Verification::Rejected { status, flags, reason } => {
            assert_eq!(status, VerificationStatus::Error);
            assert_eq!(flags, vec![Flag::MalformedField]);
            assert!(reason.contains("txn_id"), "{reason}");
        }
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_built_for_the_simulator_verifies_like_paypals() {
    let body = encode_ipn([
        ("txn_type", "web_accept"),
        ("payment_status", "Completed"),
        ("txn_id", "SIM0000000000001"),
        ("mc_gross", "12.50"),
        ("mc_currency", "EUR"),
        ("invoice", "Xk3f9QpL2mZa"),
        ("receiver_email", "seller@example.com"),
        ("first_name", "Zoé"),
        ("payment_date", "10:41:07 Mar 03, 2025 PST"),
    ]);
    let Verification::Verified(n) = verify_in(PaypalMode::Simulator, body).await else {
        panic!("expected verified");
    };
    assert_eq!(n.get().outcome, Some(Outcome::Accepted));
    assert_eq!(n.get().amount, Some(money("12.50", "EUR")));
    assert!(n.get().flags.is_empty());
}

#[test]
fn paypal_gets_an_empty_200_and_decode_logs_the_fields() {
    let gateway = gateway(PaypalMode::Live, RecordingPostback::answering(PostbackAnswer::Verified));
    let msg = message(fixture("c-07-web_accept-completed-utf8"));
    assert_eq!(gateway.acknowledge(&msg), Reply::empty_ok());
    let decoded = gateway.decode(&msg);
    assert_eq!(decoded.fields["txn_id"], "4RT73920XK118345L");
    assert!(decoded.flags.is_empty());
}

/// A postback that says VERIFIED and gives the answer it came in, as the HTTP client does.
struct AnsweringPostback;

#[async_trait::async_trait]
impl Postback for AnsweringPostback {
    async fn validate(&self, body: &[u8]) -> PostbackAnswer {
        self.validate_with_call(body).await.0
    }
    async fn validate_with_call(&self, _: &[u8]) -> (PostbackAnswer, Option<payment_buttons::gateway::GatewayCall>) {
        let call = payment_buttons::gateway::GatewayCall {
            received_at: Utc::now(),
            request: "POST https://ipnpb.sandbox.paypal.com/cgi-bin/webscr".into(),
            status: 200,
            content_type: Some("text/html; charset=UTF-8".into()),
            body: b"VERIFIED".to_vec(),
        };
        (PostbackAnswer::Verified, Some(call))
    }
}

#[tokio::test]
async fn the_postback_answer_goes_with_the_verification_for_the_engine_to_log() {
    let gateway = PaypalGateway::new(
        PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap(),
        Arc::new(AnsweringPostback),
    );
    let checked = gateway
        .verify_with_calls(&message(fixture("c-07-web_accept-completed-utf8")))
        .await;
    assert!(matches!(checked.verification, Verification::Verified(_)), "{checked:?}");
    assert_eq!(checked.calls.len(), 1);
    assert_eq!(checked.calls[0].body, b"VERIFIED");
}

#[tokio::test]
async fn a_postback_that_gives_no_answer_leaves_nothing_to_log() {
    let postback = RecordingPostback::answering(PostbackAnswer::Verified);
    let checked = gateway(PaypalMode::Sandbox, postback)
        .verify_with_calls(&message(fixture("c-07-web_accept-completed-utf8")))
        .await;
    assert!(matches!(checked.verification, Verification::Verified(_)));
    assert!(checked.calls.is_empty());
}
