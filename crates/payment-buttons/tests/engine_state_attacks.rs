//! Attacks on the state machine through genuine (PayPal-verified) messages: an attacker's own subscription
//! naming a victim's invoice, refunds that add up to more than was paid, a late `Completed` after a refund,
//! a payment nobody paid. Each test is the attack; each fails without its defence.

#[path = "common/shop.rs"]
mod shop;

use chrono::Utc;
use payment_buttons::event::EventKind;
use payment_buttons::notification::Flag;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::PaypalMode;
use payment_buttons::store::Store;
use shop::{SELLER, Shop, shop, web_accept};

/// A subscription message as PayPal sends it, for `subscr_id`, naming `invoice`.
fn subscription<'a>(txn_type: &'a str, subscr_id: &'a str, invoice: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("txn_type", txn_type),
        ("subscr_id", subscr_id),
        ("invoice", invoice),
        ("receiver_email", SELLER),
        ("business", SELLER),
        ("mc_currency", "EUR"),
        ("ipn_track_id", txn_type),
    ]
}

async fn refunded(shop: &Shop, id: &PaymentId) -> String {
    shop.engine
        .store()
        .payment(id)
        .await
        .unwrap()
        .unwrap()
        .refunded
        .to_string()
}

#[tokio::test]
async fn an_attackers_subscription_cancel_naming_a_one_off_invoice_changes_nothing() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN-VICTIM", "Completed", "12.50"))
        .await;

    for kind in ["subscr_cancel", "subscr_failed", "subscr_eot", "subscr_signup"] {
        shop.ipn(&subscription(kind, "I-ATTACKER", id.as_str())).await;
        assert!(
            shop.last_log().flags.contains(&Flag::NotASubscription),
            "{kind}: {:?}",
            shop.last_log()
        );
    }
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted],
        "no event about the attacker's messages"
    );
}

#[tokio::test]
async fn a_cancel_of_another_subscription_naming_the_victims_subscription_is_flagged() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(1).await;
    let mut signup = subscription("subscr_signup", "I-VICTIM", id.as_str());
    signup.extend([("mc_amount3", "5.00"), ("period3", "1 M")]);
    shop.ipn(&signup).await;
    let mut pay = subscription("subscr_payment", "I-VICTIM", id.as_str());
    pay.extend([
        ("txn_id", "PAY1"),
        ("payment_status", "Completed"),
        ("mc_gross", "5.00"),
    ]);
    shop.ipn(&pay).await;

    shop.ipn(&subscription("subscr_cancel", "I-ATTACKER", id.as_str()))
        .await;
    assert!(shop.last_log().flags.contains(&Flag::SubscriptionMismatch));
    let mut failed = subscription("subscr_failed", "I-ATTACKER", id.as_str());
    failed.push(("mc_gross", "5.00"));
    shop.ipn(&failed).await;
    assert!(shop.last_log().flags.contains(&Flag::SubscriptionMismatch));
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);

    // The victim's own cancellation still works.
    shop.ipn(&subscription("subscr_cancel", "I-VICTIM", id.as_str())).await;
    assert_eq!(shop.state(&id).await, PaymentState::Cancelled);
}

#[tokio::test]
async fn a_cancellation_before_any_sign_up_is_not_applied() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(1).await;
    shop.ipn(&subscription("subscr_cancel", "I-ATTACKER", id.as_str()))
        .await;
    assert!(shop.last_log().flags.contains(&Flag::SubscriptionMismatch));
    assert_eq!(shop.state(&id).await, PaymentState::Created);
    // The genuine sign-up, then, is recorded as usual.
    shop.ipn(&subscription("subscr_signup", "I-VICTIM", id.as_str())).await;
    assert!(!shop.last_log().flags.contains(&Flag::SubscriptionMismatch));
}

#[tokio::test]
async fn two_partial_refunds_never_add_up_to_more_than_was_paid() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN", "Completed", "12.50")).await;
    let refund = |txn: &'static str| {
        let mut r = web_accept(id.as_str(), txn, "Refunded", "-10.00");
        r.push(("parent_txn_id", "TXN"));
        r
    };
    shop.ipn(&refund("REF1")).await;
    assert_eq!(refunded(&shop, &id).await, "10.00");
    shop.ipn(&refund("REF2")).await;
    assert!(shop.last_log().flags.contains(&Flag::RefundExceedsAmount));
    assert_eq!(refunded(&shop, &id).await, "10.00", "the second refund is not counted");

    // What is left can still be refunded, exactly.
    let mut rest = web_accept(id.as_str(), "REF3", "Refunded", "-2.50");
    rest.push(("parent_txn_id", "TXN"));
    shop.ipn(&rest).await;
    assert_eq!(refunded(&shop, &id).await, "12.50");
    let refunds = shop
        .kinds(&id)
        .await
        .into_iter()
        .filter(|k| *k == EventKind::PaymentRefunded)
        .count();
    assert_eq!(refunds, 2);
}

#[tokio::test]
async fn a_refund_and_a_chargeback_of_the_same_payment_are_capped_together() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN", "Completed", "12.50")).await;
    let mut refund = web_accept(id.as_str(), "REF1", "Refunded", "-5.00");
    refund.push(("parent_txn_id", "TXN"));
    shop.ipn(&refund).await;
    let mut reversal = web_accept(id.as_str(), "REV1", "Reversed", "-12.50");
    reversal.extend([("parent_txn_id", "TXN"), ("reason_code", "chargeback")]);
    shop.ipn(&reversal).await;
    assert!(shop.last_log().flags.contains(&Flag::RefundExceedsAmount));
    assert_eq!(refunded(&shop, &id).await, "5.00");
}

#[tokio::test]
async fn a_cancelled_reversal_gives_the_money_back_and_a_late_completed_does_not() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN", "Completed", "12.50")).await;
    let mut reversal = web_accept(id.as_str(), "REV1", "Reversed", "-12.50");
    reversal.extend([("parent_txn_id", "TXN"), ("reason_code", "chargeback")]);
    shop.ipn(&reversal).await;
    assert_eq!(shop.state(&id).await, PaymentState::Refunded);

    // A Completed that was never applied (its postback failed, say) arrives after the reversal: stale.
    shop.ipn(&web_accept(id.as_str(), "TXN-OTHER", "Completed", "12.50"))
        .await;
    assert!(shop.last_log().flags.contains(&Flag::StaleStatus));
    assert_eq!(shop.state(&id).await, PaymentState::Refunded);

    let mut cancelled = web_accept(id.as_str(), "CR1", "Canceled_Reversal", "12.50");
    cancelled.push(("parent_txn_id", "TXN"));
    shop.ipn(&cancelled).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(refunded(&shop, &id).await, "0.00");
    let kinds = shop.kinds(&id).await;
    assert_eq!(
        kinds.last(),
        Some(&EventKind::PaymentProcessed),
        "the shop learns the money is back from the payment's state"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::PaymentAccepted).count(),
        1,
        "never a second payment_accepted"
    );
}

#[tokio::test]
async fn an_abandoned_payment_is_kept_and_still_accepts_a_late_payment() {
    let shop = shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    let fresh = shop.buy(0).await;
    let eight_days_later = Utc::now() + chrono::Duration::days(8);
    // Both are older than the default 7 days by then; only created payments are marked.
    shop.ipn(&web_accept(fresh.as_str(), "TXN-F", "Completed", "12.50"))
        .await;
    assert_eq!(shop.engine.abandon_unpaid(eight_days_later).await.unwrap(), 1);
    assert_eq!(shop.state(&id).await, PaymentState::Abandoned);
    assert_eq!(shop.state(&fresh).await, PaymentState::Accepted);
    assert!(shop.kinds(&id).await.is_empty(), "becoming abandoned is not an event");

    shop.ipn(&web_accept(id.as_str(), "TXN-LATE", "Completed", "12.50"))
        .await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    assert_eq!(
        shop.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentAccepted]
    );
}
