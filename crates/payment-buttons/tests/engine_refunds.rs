//! `Engine::refund` and `Engine::cancel_subscription` with a gateway whose answers the test scripts
//! (`testing::scripted::Scripted` around PayPal): what is recorded, what is logged, what is applied, and
//! that a refund is counted once whichever of our answer and PayPal's IPN comes first.
#![cfg(all(feature = "testing", feature = "test-support"))]

#[path = "common/shop.rs"]
mod shop;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use payment_buttons::engine::{Engine, RefundError, RefundOrder};
use payment_buttons::event::EventKind;
use payment_buttons::gateway::{CancelAnswer, Gateway, Gateways, RefundAnswer, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::testing::ScriptedPostback;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use payment_buttons::refund::{RefundOrigin, RefundRefusal, RefundState};
use payment_buttons::store::{Direction, Store};
use payment_buttons::testing::scripted::Scripted;
use payment_buttons::token::ButtonSigner;
use shop::{SELLER, Shop, web_accept};

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

/// A shop whose PayPal refunds and cancellations answer as scripted.
fn scripted_shop() -> (Shop, Arc<Scripted>) {
    let postback = ScriptedPostback::verified().shared();
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let scripted = Arc::new(Scripted::new(Arc::new(PaypalGateway::new(config, postback.clone()))));
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        Gateways::new().with(scripted.clone() as Arc<dyn Gateway>),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    );
    (Shop { engine, postback }, scripted)
}

async fn paid(shop: &Shop) -> PaymentId {
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN1", "Completed", "12.50")).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);
    id
}

fn order<'a>(id: &'a PaymentId, amount: Option<&str>, key: &'a str) -> RefundOrder<'a> {
    RefundOrder {
        payment_id: id,
        amount: amount.map(eur),
        reason: Some("damaged in transit"),
        idempotency_key: key,
        origin: RefundOrigin::Api,
    }
}

/// PayPal's IPN of a refund of `amount` with its own transaction id.
fn refund_ipn<'a>(id: &'a str, txn: &'a str, gross: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut ipn = web_accept(id, txn, "Refunded", gross);
    ipn.push(("parent_txn_id", "TXN1"));
    ipn
}

fn refunded_events(shop: &Shop, id: &PaymentId) -> usize {
    shop.engine
        .store()
        .events()
        .iter()
        .filter(|e| &e.payment.id == id && e.kind == EventKind::PaymentRefunded)
        .count()
}

#[tokio::test]
async fn a_partial_refund_succeeds_its_answer_is_logged_first_and_the_later_ipn_counts_nothing() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.answer_refund(Scripted::succeeded("RF1:Refunded"));

    let refund = shop
        .engine
        .refund(order(&id, Some("5.00"), "k1"), Utc::now())
        .await
        .unwrap();

    assert_eq!((refund.state, refund.amount), (RefundState::Succeeded, eur("5.00")));
    assert_eq!(refund.gateway_refund_id.as_deref(), Some("RF1"));
    let asked = gw.refund_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].refund_id.as_str(), asked[0].first_sent_at),
        (refund.id.as_str(), None)
    );
    let answer = shop.last_log();
    assert_eq!(answer.direction, Direction::Answer);
    assert_eq!(answer.payment_id.as_ref(), Some(&id));
    assert!(
        String::from_utf8_lossy(&answer.message.body).contains("COMPLETED"),
        "the raw answer"
    );
    assert!(
        answer.outcome.unwrap().contains("applied"),
        "what it did is on its log row"
    );
    let payment = shop.engine.store().payment(&id).await.unwrap().unwrap();
    assert_eq!((payment.state, payment.refunded), (PaymentState::Accepted, eur("5.00")));
    let last = shop
        .engine
        .store()
        .events_for_payment(&id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, EventKind::PaymentRefunded);
    assert_eq!(last.details["refund_amount"], "5.00");
    assert_eq!(last.details["refund_id"], refund.id.as_str());
    assert_eq!(last.sequence, 4);

    // PayPal's IPN of the same refund: its key is the answer's, so nothing more happens.
    shop.ipn(&refund_ipn(id.as_str(), "RF1", "-5.00")).await;
    assert_eq!(refunded_events(&shop, &id), 1, "one payment_refunded, not two");
    let payment = shop.engine.store().payment(&id).await.unwrap().unwrap();
    assert_eq!(payment.refunded, eur("5.00"));
    assert_eq!(shop.engine.store().refunds_for_payment(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_ipn_before_the_answer_settles_the_pending_refund_and_the_answer_counts_nothing() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.answer_refund(RefundAnswer::Pending {
        gateway_refund_id: Some("RF2".into()),
    });
    let refund = shop.engine.refund(order(&id, None, "k1"), Utc::now()).await.unwrap();
    assert_eq!(
        (refund.state, refund.amount),
        (RefundState::Pending, eur("12.50")),
        "no amount: all that is left"
    );

    shop.ipn(&refund_ipn(id.as_str(), "RF2", "-12.50")).await;
    let settled = shop.engine.store().refund(&refund.id).await.unwrap().unwrap();
    assert_eq!(
        settled.state,
        RefundState::Succeeded,
        "the IPN settled our pending refund"
    );
    assert_eq!(shop.state(&id).await, PaymentState::Refunded, "everything went back");

    // The recheck asks PayPal again (same refund id): completed, with the IPN's key.
    gw.answer_refund(Scripted::succeeded("RF2:Refunded"));
    let later = Utc::now() + chrono::Duration::hours(2);
    assert_eq!(
        shop.engine.retry_due_refunds(later, 10).await.unwrap(),
        0,
        "settled: nothing is due"
    );
    assert_eq!(refunded_events(&shop, &id), 1);
    assert_eq!(shop.engine.store().refunds_for_payment(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_timeout_leaves_the_refund_pending_and_the_worker_sends_it_again_with_the_same_id() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.answer_refund(RefundAnswer::Retry {
        reason: "timeout after 30 s".into(),
    });
    let now = Utc::now();
    let refund = shop.engine.refund(order(&id, Some("2.50"), "k1"), now).await.unwrap();
    assert_eq!(refund.state, RefundState::Pending);
    assert!(refund.failure_reason.unwrap().contains("timeout"));
    let next = refund.next_attempt_at.expect("a retry is planned");
    assert!(next > now);
    assert_eq!(shop.engine.retry_due_refunds(now, 10).await.unwrap(), 0, "not yet");

    gw.answer_refund(Scripted::succeeded("RF3:Refunded"));
    assert_eq!(shop.engine.retry_due_refunds(next, 10).await.unwrap(), 1);
    let asked = gw.refund_requests();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1].refund_id, asked[0].refund_id, "the same idempotency key");
    assert_eq!(
        asked[1].first_sent_at,
        Some(now),
        "the gateway knows when it was first sent"
    );
    let done = shop.engine.store().refund(&refund.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.attempts), (RefundState::Succeeded, 2));
    assert_eq!(
        shop.engine.store().payment(&id).await.unwrap().unwrap().refunded,
        eur("2.50")
    );
}

#[tokio::test]
async fn a_refusal_fails_with_the_gateways_reason_and_an_unknown_state_is_never_retried() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.answer_refund(RefundAnswer::Failed {
        reason: "TRANSACTION_REFUSED".into(),
    });
    let failed = shop
        .engine
        .refund(order(&id, Some("1.00"), "k1"), Utc::now())
        .await
        .unwrap();
    assert_eq!(failed.state, RefundState::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("TRANSACTION_REFUSED"));
    assert!(shop.last_log().outcome.unwrap().contains("TRANSACTION_REFUSED"));

    gw.answer_refund(RefundAnswer::Unknown {
        reason: "no answer; recredit has no idempotency key".into(),
    });
    let unknown = shop
        .engine
        .refund(order(&id, Some("1.00"), "k2"), Utc::now())
        .await
        .unwrap();
    assert_eq!(unknown.state, RefundState::Unknown);
    let much_later = Utc::now() + chrono::Duration::days(30);
    assert_eq!(shop.engine.retry_due_refunds(much_later, 10).await.unwrap(), 0);
    assert_eq!(gw.refund_requests().len(), 2, "sent once each");
    let payment = shop.engine.store().payment(&id).await.unwrap().unwrap();
    assert_eq!((payment.state, payment.refunded), (PaymentState::Accepted, eur("0.00")));
}

#[tokio::test]
async fn the_same_key_gives_the_same_refund_and_another_body_under_it_is_refused() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.answer_refund(Scripted::succeeded("RF4:Refunded"));
    let first = shop
        .engine
        .refund(order(&id, Some("5.00"), "k1"), Utc::now())
        .await
        .unwrap();
    let again = shop
        .engine
        .refund(order(&id, Some("5.00"), "k1"), Utc::now())
        .await
        .unwrap();
    assert_eq!(again, first, "a replay, answered without calling the gateway");
    assert_eq!(gw.refund_requests().len(), 1);
    let other = shop.engine.refund(order(&id, Some("6.00"), "k1"), Utc::now()).await;
    assert!(matches!(other, Err(RefundError::KeyReused)), "{other:?}");
}

#[tokio::test]
async fn bad_requests_are_typed_errors_and_nothing_is_sent() {
    let (shop, gw) = scripted_shop();
    let unpaid = shop.buy(0).await;
    let refused = shop.engine.refund(order(&unpaid, None, "k"), Utc::now()).await;
    assert!(
        matches!(
            refused,
            Err(RefundError::Refused(RefundRefusal::NotAccepted(PaymentState::Created)))
        ),
        "{refused:?}"
    );
    let id = paid(&shop).await;
    let too_much = shop.engine.refund(order(&id, Some("12.51"), "k"), Utc::now()).await;
    assert!(
        matches!(too_much, Err(RefundError::Refused(RefundRefusal::ExceedsLeft { .. }))),
        "{too_much:?}"
    );
    let zero = shop.engine.refund(order(&id, Some("0.00"), "k"), Utc::now()).await;
    assert!(
        matches!(zero, Err(RefundError::Refused(RefundRefusal::BadAmount(_)))),
        "{zero:?}"
    );
    let unknown = PaymentId::generate();
    assert!(matches!(
        shop.engine.refund(order(&unknown, None, "k"), Utc::now()).await,
        Err(RefundError::UnknownPayment(_))
    ));
    gw.refuse_all("these REST credentials only refund payments to another account");
    let other_account = shop.engine.refund(order(&id, None, "k"), Utc::now()).await;
    assert!(matches!(other_account, Err(RefundError::NotPossible(ref r)) if r.contains("another account")));
    assert!(gw.refund_requests().is_empty(), "nothing reached the gateway");
    assert!(shop.engine.store().refunds_for_payment(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_gateway_that_cannot_refund_says_so() {
    // The shop's plain PayPal: no REST credentials (and, without feature `reqwest`, no refund capability
    // at all). Either way the caller learns why, and nothing is recorded or sent.
    let shop = shop::shop(PaypalMode::Simulator);
    let id = shop.buy(0).await;
    shop.ipn(&web_accept(id.as_str(), "TXN1", "Completed", "12.50")).await;
    let err = shop.engine.refund(order(&id, None, "k"), Utc::now()).await.unwrap_err();
    assert!(matches!(err, RefundError::NotPossible(_)), "{err:?}");
    let reason = err.to_string();
    assert!(
        reason.contains("cannot be refunded") || reason.contains("paypal.client_id"),
        "{reason}"
    );
    assert!(shop.engine.store().refunds_for_payment(&id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_make_one_refund_per_key_and_one_pending_at_a_time() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    gw.delay(Duration::from_millis(50));
    gw.answer_refund(RefundAnswer::Pending {
        gateway_refund_id: None,
    });
    let engine = Arc::new(shop.engine);
    let same: Vec<_> = (0..8)
        .map(|_| {
            let (engine, id) = (engine.clone(), id.clone());
            tokio::spawn(async move { engine.refund(order(&id, Some("5.00"), "same"), Utc::now()).await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for t in same {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "one refund for one key");
    assert_eq!(gw.refund_requests().len(), 1, "sent once");

    let different: Vec<_> = (0..8)
        .map(|i| {
            let (engine, id) = (engine.clone(), id.clone());
            tokio::spawn(async move {
                engine
                    .refund(order(&id, Some("1.00"), &format!("k{i}")), Utc::now())
                    .await
            })
        })
        .collect();
    for t in different {
        let r = t.await.unwrap();
        assert!(
            matches!(r, Err(RefundError::Refused(RefundRefusal::RefundPending(_)))),
            "the first is still pending: {r:?}"
        );
    }
    assert_eq!(engine.store().refunds_for_payment(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn cancelling_a_subscription_emits_subscription_cancelled_once_with_the_ipn() {
    let (shop, gw) = scripted_shop();
    let id = shop.buy(1).await;
    let signup = [
        ("txn_type", "subscr_signup"),
        ("subscr_id", "I-SUB1"),
        ("invoice", id.as_str()),
        ("mc_amount3", "5.00"),
        ("mc_currency", "EUR"),
        ("period3", "1 M"),
        ("receiver_email", SELLER),
        ("business", SELLER),
    ];
    shop.ipn(&signup).await;
    let mut payment = vec![("txn_type", "subscr_payment"), ("subscr_id", "I-SUB1")];
    payment.extend(
        web_accept(id.as_str(), "TXNS1", "Completed", "5.00")
            .into_iter()
            .skip(1),
    );
    shop.ipn(&payment).await;
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);

    let one_off = paid(&shop).await;
    let not_sub = shop.engine.cancel_subscription(&one_off, None, Utc::now()).await;
    assert!(
        matches!(not_sub, Err(RefundError::NotAnActiveSubscription(_))),
        "{not_sub:?}"
    );

    gw.answer_cancel(CancelAnswer::Retry {
        reason: "timeout".into(),
    });
    let busy = shop.engine.cancel_subscription(&id, None, Utc::now()).await;
    assert!(matches!(busy, Err(RefundError::GatewayUnavailable(_))), "{busy:?}");
    assert_eq!(shop.state(&id).await, PaymentState::Accepted);

    gw.answer_cancel(CancelAnswer::Cancelled {
        idempotency_key: "subscr_cancel:I-SUB1".into(),
    });
    let cancelled = shop
        .engine
        .cancel_subscription(&id, Some("customer asked"), Utc::now())
        .await
        .unwrap();
    assert_eq!(cancelled.state, PaymentState::Cancelled);
    assert_eq!(shop.last_log().direction, Direction::Answer);

    let ipn = [
        ("txn_type", "subscr_cancel"),
        ("subscr_id", "I-SUB1"),
        ("invoice", id.as_str()),
        ("receiver_email", SELLER),
        ("business", SELLER),
    ];
    shop.ipn(&ipn).await;
    let cancels = shop
        .kinds(&id)
        .await
        .into_iter()
        .filter(|k| *k == EventKind::SubscriptionCancelled)
        .count();
    assert_eq!(cancels, 1, "once, whichever came first");
    let again = shop.engine.cancel_subscription(&id, None, Utc::now()).await;
    assert!(
        matches!(again, Err(RefundError::NotAnActiveSubscription(_))),
        "{again:?}"
    );
    assert_eq!(gw.cancel_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_workers_send_a_refund_that_is_due() {
    let (shop, gw) = scripted_shop();
    let id = paid(&shop).await;
    // Recorded, then the process stopped before sending it: it is due at once.
    let recorded = shop
        .engine
        .store()
        .record_refund(payment_buttons::store::conformance::new_refund(&id, Some("5.00"), "k"))
        .await
        .unwrap();
    let payment_buttons::refund::RecordedRefund::New(refund) = recorded else {
        panic!("{recorded:?}")
    };
    gw.answer_refund(Scripted::succeeded("RF5:Refunded"));
    let engine = Arc::new(shop.engine);
    let workers = payment_buttons::actix::spawn_workers(
        engine.clone(),
        Arc::new(tokio::sync::Notify::new()),
        Duration::from_millis(50),
    );
    let mut state = RefundState::Pending;
    for _ in 0..100 {
        state = engine.store().refund(&refund.id).await.unwrap().unwrap().state;
        if state != RefundState::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workers.abort();
    assert_eq!(state, RefundState::Succeeded);
    assert_eq!(gw.refund_requests().len(), 1);
    assert_eq!(
        engine.store().payment(&id).await.unwrap().unwrap().refunded,
        eur("5.00")
    );
}
