//! The engine's behaviour with PayPal, without HTTP or a database: buttons of our own, IPNs as PayPal
//! sends them, a postback that answers as told, and the in-memory store.

#[path = "common/shop.rs"]
mod shop;

use std::sync::{Arc, Mutex};

use chrono::Utc;
use payment_buttons::engine::Processed;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::IncomingMessage;
use payment_buttons::notification::{Flag, VerificationStatus};
use payment_buttons::payment::PaymentState;
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::{PaypalMode, Postback, PostbackAnswer};
use payment_buttons::store::{Applied, Store};
use shop::{SELLER, button, concurrent_shop, shop, web_accept};

#[tokio::test]
async fn buy_now_completed_is_accepted_with_processed_then_accepted() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "4RT73920XK118345L", "Completed", "12.50"))
        .await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted]
    );
    let events = shop.engine.store().events_for_payment(&id).await.unwrap();
    assert_eq!(
        events[1].button,
        button()
            .to_json_value()
            .as_object()
            .map(|o| {
                // order_date defaults to "now" at parse time: compare everything else
                let mut o = o.clone();
                o.insert("order_date".into(), events[1].button["order_date"].clone());
                serde_json::Value::Object(o)
            })
            .unwrap()
    );
    assert_eq!(events[1].button["options"][0]["custom"]["sku"], "manual-pdf");
    assert_eq!(
        events[1].payment.gateway_reference.as_deref(),
        Some("4RT73920XK118345L")
    );
    let log = shop.last_log();
    assert_eq!(log.verification, VerificationStatus::Verified);
    assert_eq!(log.payment_id.as_ref(), Some(&id));
    assert_eq!(
        shop.postback.seen()[0],
        log.message.body,
        "the postback gets the body byte for byte"
    );
}

#[tokio::test]
async fn a_completed_resent_fifteen_times_is_accepted_once() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    for _ in 0..15 {
        shop.ipn(&web_accept(id.as_str(), "TXN15", "Completed", "12.50")).await;
    }
    assert_eq!(
        shop.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted]
    );
    let dups = shop
        .engine
        .store()
        .messages()
        .iter()
        .filter(|m| m.flags.contains(&Flag::Duplicate))
        .count();
    assert_eq!(dups, 14, "every resend is logged and flagged");
}

#[tokio::test]
async fn pending_then_completed_emits_pending_then_accepted_and_a_late_pending_changes_nothing() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    let mut pending = web_accept(id.as_str(), "TXNP", "Pending", "12.50");
    pending.push(("pending_reason", "echeck"));
    shop.ipn(&pending).await;
    assert_eq!(shop.state(&id).await, PaymentState::Pending);
    shop.ipn(&web_accept(id.as_str(), "TXNP", "Completed", "12.50")).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    // the Pending arrives again after the Completed: a duplicate of the first, no change
    shop.ipn(&pending).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentPending,
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted
        ]
    );
    let events = shop.engine.store().events_for_payment(&id).await.unwrap();
    assert_eq!(events[1].details["pending_reason"], "echeck");
}

#[tokio::test]
async fn completed_first_then_pending_out_of_order_changes_nothing() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXNO", "Completed", "12.50")).await;
    shop.ipn(&web_accept(id.as_str(), "TXNO", "Pending", "12.50")).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted]
    );
    assert!(shop.last_log().flags.contains(&Flag::StaleStatus));
}

#[tokio::test]
async fn a_tampered_amount_or_currency_is_flagged_and_not_accepted() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXNA", "Completed", "0.01")).await;
    assert!(shop.last_log().flags.contains(&Flag::AmountMismatch));
    let mut usd = web_accept(id.as_str(), "TXNC", "Completed", "12.50");
    usd[5] = ("mc_currency", "USD");
    shop.ipn(&usd).await;
    assert!(shop.last_log().flags.contains(&Flag::AmountMismatch));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
    assert!(shop.kinds(&id).await.is_empty());
    // the genuine message still applies: a forged copy never blocks it
    shop.ipn(&web_accept(id.as_str(), "TXNA", "Completed", "12.50")).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
}

#[tokio::test]
async fn money_paid_to_another_account_is_flagged() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    let mut other = web_accept(id.as_str(), "TXNR", "Completed", "12.50");
    other[6] = ("receiver_email", "someone-else@example.net");
    other[7] = ("business", "someone-else@example.net");
    shop.ipn(&other).await;
    assert!(shop.last_log().flags.contains(&Flag::ReceiverMismatch));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
    // receivers compare case-insensitively
    let mut upper = web_accept(id.as_str(), "TXNR", "Completed", "12.50");
    upper[6] = ("receiver_email", "Seller@Example.COM");
    shop.ipn(&upper).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
}

#[tokio::test]
async fn an_unknown_invoice_is_logged_verified_and_flagged() {
    let shop = shop(PaypalMode::Simulator);
    shop.ipn(&web_accept("INV-1042", "TXNU", "Completed", "12.50")).await;
    let log = shop.last_log();
    assert_eq!(log.verification, VerificationStatus::Verified);
    assert!(log.flags.contains(&Flag::UnknownPayment));
    assert!(shop.engine.store().events().is_empty());
}

#[tokio::test]
async fn an_invalid_postback_is_flagged_and_never_applied() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.postback.next(PostbackAnswer::Invalid);
    shop.ipn(&web_accept(id.as_str(), "TXNI", "Completed", "12.50")).await;
    let log = shop.last_log();
    assert_eq!(log.verification, VerificationStatus::Invalid);
    assert!(log.flags.contains(&Flag::Invalid));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
}

#[tokio::test]
async fn a_postback_error_is_retried_later_then_applied() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.postback.next(PostbackAnswer::Retry("HTTP 503".into()));
    let first = shop.ipn(&web_accept(id.as_str(), "TXNE", "Completed", "12.50")).await;
    assert!(matches!(first[0], Processed::Rescheduled { attempts: 1, .. }));
    assert_eq!(shop.last_log().verification, VerificationStatus::Pending);
    // not due yet
    assert!(
        shop.engine
            .store()
            .claim_messages(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = Utc::now() + chrono::Duration::minutes(5);
    let n = shop.engine.process_due(later, 10).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
}

#[tokio::test]
async fn a_partial_refund_leaves_the_payment_accepted_and_the_rest_makes_it_refunded() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXNF", "Completed", "12.50")).await;
    let mut refund = web_accept(id.as_str(), "TXNF2", "Refunded", "-5.00");
    refund.push(("parent_txn_id", "TXNF"));
    refund.push(("reason_code", "refund"));
    shop.ipn(&refund).await;
    assert_eq!(
        shop.state(&id).await,
        PaymentState::Accepted,
        "a partly refunded payment stays accepted"
    );
    let events = shop.engine.store().events_for_payment(&id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, EventKind::PaymentRefunded);
    assert_eq!(last.details["refund_amount"], "5.00");
    assert_eq!(last.payment.refunded_amount, "5.00");
    assert_eq!(last.payment.state, PaymentState::Accepted);

    let mut rest = web_accept(id.as_str(), "TXNF3", "Refunded", "-7.50");
    rest.push(("parent_txn_id", "TXNF"));
    shop.ipn(&rest).await;
    assert_eq!(shop.state(&id).await, PaymentState::Refunded, "everything went back");
    let events = shop.engine.store().events_for_payment(&id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.details["refund_amount"], "7.50");
    assert_eq!(last.payment.refunded_amount, "12.50");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "numbered in order"
    );
}

#[tokio::test]
async fn a_test_ipn_on_a_live_gateway_is_refused() {
    let shop = shop(PaypalMode::Live);
    let id = shop.buy(0).await;
    let mut test = web_accept(id.as_str(), "TXNT", "Completed", "12.50");
    test.push(("test_ipn", "1"));
    shop.ipn(&test).await;
    assert!(shop.last_log().flags.contains(&Flag::TestInLive));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
}

#[tokio::test]
async fn a_subscription_signup_three_payments_and_a_cancellation() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(1).await;
    let sub = |txn_type: &'static str| {
        vec![
            ("txn_type", txn_type),
            ("subscr_id", "I-SUB123"),
            ("invoice", id.as_str()),
            ("receiver_email", SELLER),
            ("business", SELLER),
            ("mc_currency", "EUR"),
        ]
    };
    let mut signup = sub("subscr_signup");
    signup.extend([("mc_amount3", "5.00"), ("period3", "1 M"), ("recurring", "1")]);
    // the first payment may arrive before the sign-up
    for txn in ["SUBPAY1", "SUBPAY2", "SUBPAY3"] {
        let mut pay = sub("subscr_payment");
        pay.extend([("txn_id", txn), ("payment_status", "Completed"), ("mc_gross", "5.00")]);
        shop.ipn(&pay).await;
        if txn == "SUBPAY1" {
            shop.ipn(&signup).await;
        }
    }
    shop.ipn(&sub("subscr_cancel")).await;

    let payments = shop.engine.store().payments();
    let cycles: Vec<_> = payments
        .iter()
        .filter(|p| p.subscription_id.as_ref() == Some(&id))
        .collect();
    assert_eq!(
        cycles.len(),
        2,
        "the first cycle is the payment itself, the next two are payments of their own"
    );
    assert!(
        cycles
            .iter()
            .all(|c| c.state == PaymentState::Accepted && c.button == payments[0].button)
    );
    assert_eq!(shop.state(&id).await, PaymentState::Cancelled);
    assert_eq!(
        shop.kinds(&id).await,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted,
            EventKind::PaymentProcessed, // the sign-up: no outcome
            EventKind::PaymentProcessed,
            EventKind::SubscriptionCancelled
        ]
    );
}

#[tokio::test]
async fn a_subscription_payment_of_the_wrong_amount_is_flagged() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(1).await;
    shop.ipn(&[
        ("txn_type", "subscr_payment"),
        ("subscr_id", "I-SUB9"),
        ("invoice", id.as_str()),
        ("receiver_email", SELLER),
        ("txn_id", "SUBX"),
        ("payment_status", "Completed"),
        ("mc_gross", "0.50"),
        ("mc_currency", "EUR"),
    ])
    .await;
    assert!(shop.last_log().flags.contains(&Flag::AmountMismatch));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
}

#[tokio::test]
async fn dispatching_hands_every_event_to_listeners_once_in_order() {
    use payment_buttons::event::{Event, Listener, ListenerError};
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>, Mutex<u32>);
    #[async_trait::async_trait]
    impl Listener for Recorder {
        async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
            let mut failures = self.1.lock().unwrap();
            if *failures == 0 {
                *failures += 1;
                return Err(ListenerError("down for a moment".into()));
            }
            self.0.lock().unwrap().push(event.kind.as_str().to_owned());
            Ok(())
        }
    }
    let recorder = Arc::new(Recorder::default());
    let mut shop = shop(PaypalMode::Simulator);
    shop.engine = shop.engine.with_listener(recorder.clone());
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXNL", "Completed", "12.50")).await;
    assert_eq!(
        shop.engine.dispatch_events(10).await.unwrap(),
        0,
        "the failing listener keeps the event"
    );
    assert_eq!(shop.engine.dispatch_events(10).await.unwrap(), 2);
    assert_eq!(shop.engine.dispatch_events(10).await.unwrap(), 0);
    assert_eq!(*recorder.0.lock().unwrap(), ["payment_processed", "payment_accepted"]);
    let _ = Applied::Duplicate;
}

#[tokio::test]
async fn a_refund_of_a_later_subscription_cycle_refunds_that_cycle_only() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(1).await;
    let base = [
        ("subscr_id", "I-SUB77"),
        ("invoice", id.as_str()),
        ("receiver_email", SELLER),
        ("mc_currency", "EUR"),
    ];
    for txn in ["CYCLE1", "CYCLE2"] {
        let mut pay = base.to_vec();
        pay.extend([
            ("txn_type", "subscr_payment"),
            ("txn_id", txn),
            ("payment_status", "Completed"),
            ("mc_gross", "5.00"),
        ]);
        shop.ipn(&pay).await;
    }
    // PayPal sends refunds without txn_type, naming the refunded transaction in parent_txn_id.
    let mut refund = base.to_vec();
    refund.extend([
        ("txn_id", "REFUND2"),
        ("parent_txn_id", "CYCLE2"),
        ("payment_status", "Refunded"),
        ("mc_gross", "-5.00"),
    ]);
    shop.ipn(&refund).await;

    assert_eq!(
        shop.state(&id).await,
        PaymentState::Accepted,
        "the first cycle keeps its money"
    );
    let payments = shop.engine.store().payments();
    let second = payments
        .iter()
        .find(|p| p.subscription_id.as_ref() == Some(&id))
        .unwrap();
    assert_eq!(second.state, PaymentState::Refunded);
    assert_eq!(
        second.gateway_reference.as_deref(),
        Some("CYCLE2"),
        "the cycle keeps its own transaction id"
    );
}

#[tokio::test]
async fn messages_are_verified_concurrently_so_a_slow_postback_does_not_hold_the_queue() {
    /// Answers only once four postbacks are waiting at the same time: a worker verifying one message at a
    /// time would never get an answer.
    struct Together(tokio::sync::Barrier);
    #[async_trait::async_trait]
    impl Postback for Together {
        async fn validate(&self, _: &[u8]) -> PostbackAnswer {
            self.0.wait().await;
            PostbackAnswer::Verified
        }
    }
    let shop = concurrent_shop(Arc::new(Together(tokio::sync::Barrier::new(4))));
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = shop.buy(0).await;
        let txn = format!("TXNC{i}");
        let body = encode_ipn(web_accept(id.as_str(), &txn, "Completed", "12.50"));
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: None,
            method: "POST".into(),
            content_type: None,
            body,
            headers: Default::default(),
        };
        shop.engine.receive("paypal", message).await.unwrap();
        ids.push(id);
    }
    let processed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        shop.engine.process_due(Utc::now(), 4),
    )
    .await
    .expect("four postbacks were in flight together");
    assert_eq!(processed.unwrap(), 4);
    for id in &ids {
        assert_eq!(shop.state(id).await, PaymentState::Accepted);
    }
}

#[tokio::test]
async fn messages_verified_together_are_applied_in_the_order_they_were_logged() {
    /// The postback of the first message (the Pending) answers last.
    struct PendingIsSlow;
    #[async_trait::async_trait]
    impl Postback for PendingIsSlow {
        async fn validate(&self, body: &[u8]) -> PostbackAnswer {
            if String::from_utf8_lossy(body).contains("payment_status=Pending") {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            PostbackAnswer::Verified
        }
    }
    let shop = concurrent_shop(Arc::new(PendingIsSlow));
    let id = shop.buy(0).await;
    let mut pending = web_accept(id.as_str(), "TXNO", "Pending", "12.50");
    pending.push(("pending_reason", "echeck"));
    for fields in [pending, web_accept(id.as_str(), "TXNO", "Completed", "12.50")] {
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: None,
            method: "POST".into(),
            content_type: None,
            body: encode_ipn(fields),
            headers: Default::default(),
        };
        shop.engine.receive("paypal", message).await.unwrap();
    }

    assert_eq!(shop.engine.process_due(Utc::now(), 4).await.unwrap(), 2);

    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentPending,
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted
        ],
        "the Pending was logged first, so it is applied first even though its verification finished last"
    );
}
