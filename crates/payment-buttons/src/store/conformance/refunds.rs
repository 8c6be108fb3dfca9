//! The refund part of the store contract: refund rows, their settlement inside the apply transaction, the
//! answers of gateways in the log, events numbered per payment, and the payments of an order.

use std::collections::BTreeSet;

use chrono::Duration;

use super::{StoreUnderTest, create_payment, log, new_payment, notification, paid, request, row, t0};
use crate::event::EventKind;
use crate::gateway::GatewayCall;
use crate::money::Money;
use crate::notification::{Outcome, Target, VerificationStatus};
use crate::payment::{PaymentId, PaymentState};
use crate::refund::{
    NewRefund, RecordedRefund, RefundId, RefundLink, RefundOrigin, RefundRefusal, RefundState, RefundUpdate,
    request_hash,
};
use crate::store::{Applied, Store};

fn eur(amount: &str) -> Money {
    Money::parse(amount, "EUR").expect("valid amount")
}

/// A refund of `amount` (or what is left) of `payment` asked through the API under `key`.
pub fn new_refund(payment: &PaymentId, amount: Option<&str>, key: &str) -> NewRefund {
    NewRefund {
        id: RefundId::generate(),
        payment_id: payment.clone(),
        amount: amount.map(eur),
        reason: Some("damaged".into()),
        origin: RefundOrigin::Api,
        idempotency_key: key.into(),
        request_hash: request_hash(amount, Some("damaged")),
        now: t0() + Duration::seconds(10),
    }
}

async fn record<S: Store>(store: &S, refund: NewRefund) -> RecordedRefund {
    store.record_refund(refund).await.expect("record refund")
}

/// An IPN-like notification refunding `amount` of `payment`, keyed `key`.
fn refunded(payment: &PaymentId, amount: &str, key: &str) -> crate::notification::Notification {
    let mut n = notification(
        payment,
        Target::Payment,
        Some(Outcome::Refunded {
            amount: Some(eur(amount)),
        }),
        key,
        "4RT73920XK118345L",
    );
    n.amount = Some(eur(&format!("-{amount}")));
    n
}

/// A gateway's raw answer to a refund call.
fn answer(body: &str) -> GatewayCall {
    GatewayCall {
        received_at: t0() + Duration::seconds(11),
        request: "POST https://api.example/v2/payments/captures/4RT/refund".into(),
        status: 201,
        content_type: Some("application/json".into()),
        body: body.as_bytes().to_vec(),
    }
}

/// The same idempotency key on a payment gives back the refund recorded first; a second refund while one
/// is pending is refused; only an accepted payment with something left can be refunded, and never more
/// than is left.
pub async fn refunds_are_recorded_once_per_key<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let unpaid = create_payment(&*store, false).await;
    assert_eq!(
        record(&*store, new_refund(&unpaid, None, "k0")).await,
        RecordedRefund::Refused(RefundRefusal::NotAccepted(PaymentState::Created))
    );
    let payment = create_payment(&*store, false).await;
    paid(&*store, &payment, "T1:Completed").await;
    assert_eq!(
        record(&*store, new_refund(&payment, Some("12.51"), "k1")).await,
        RecordedRefund::Refused(RefundRefusal::ExceedsLeft { left: "12.50".into() })
    );
    assert!(matches!(
        record(&*store, new_refund(&payment, Some("0.00"), "k1")).await,
        RecordedRefund::Refused(RefundRefusal::BadAmount(_))
    ));
    let RecordedRefund::New(first) = record(&*store, new_refund(&payment, Some("5.00"), "k1")).await else {
        panic!("a new refund")
    };
    assert_eq!(
        (first.state, first.amount, first.attempts),
        (RefundState::Pending, eur("5.00"), 0)
    );
    let RecordedRefund::Existing(again) = record(&*store, new_refund(&payment, Some("5.00"), "k1")).await else {
        panic!("the same key gives the same refund")
    };
    assert_eq!(again.id, first.id);
    assert_eq!(again.request_hash, first.request_hash);
    assert_eq!(
        record(&*store, new_refund(&payment, Some("1.00"), "k2")).await,
        RecordedRefund::Refused(RefundRefusal::RefundPending(first.id.clone())),
        "one pending refund per payment at a time"
    );
    let listed = store.refunds_for_payment(&payment).await.expect("refunds");
    assert_eq!(listed.len(), 1);
    assert_eq!(store.refund(&first.id).await.expect("refund"), Some(first));
}

/// Parallel requests, from two instances: one key records one refund; different keys, one pending refund.
pub async fn parallel_refund_requests<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let other = subject.another_instance(&store).await;
    let payment = create_payment(&*store, false).await;
    paid(&*store, &payment, "T1:Completed").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { store.clone() } else { other.clone() };
        let p = payment.clone();
        tasks.push(tokio::spawn(async move {
            s.record_refund(new_refund(&p, Some("5.00"), "same")).await
        }));
    }
    let mut ids = BTreeSet::new();
    let mut new = 0;
    for t in tasks {
        match t.await.expect("task").expect("record") {
            RecordedRefund::New(r) => {
                new += 1;
                ids.insert(r.id);
            }
            RecordedRefund::Existing(r) => {
                ids.insert(r.id);
            }
            RecordedRefund::Refused(why) => panic!("refused: {why}"),
        }
    }
    assert_eq!((new, ids.len()), (1, 1), "one refund for one key");

    let second = create_payment(&*store, false).await;
    paid(&*store, &second, "T2:Completed").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { store.clone() } else { other.clone() };
        let p = second.clone();
        tasks.push(tokio::spawn(async move {
            s.record_refund(new_refund(&p, Some("1.00"), &format!("key-{i}"))).await
        }));
    }
    let mut new = 0;
    for t in tasks {
        match t.await.expect("task").expect("record") {
            RecordedRefund::New(_) => new += 1,
            RecordedRefund::Refused(RefundRefusal::RefundPending(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(new, 1, "at most one pending refund, whatever the keys");
}

/// Our refund's answer is logged as an answer and applied once: the refund row succeeds in the same
/// transaction, and the gateway's own later notification of it (same key) is a duplicate.
pub async fn an_answer_then_its_notification_count_once<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = create_payment(&*store, false).await;
    paid(&*store, &payment, "T1:Completed").await;
    let RecordedRefund::New(refund) = record(&*store, new_refund(&payment, Some("5.00"), "k")).await else {
        panic!("new")
    };
    let now = t0() + Duration::seconds(10);
    let before = store.begin_refund_attempt(&refund.id, now).await.expect("begin");
    assert_eq!(before.map(|r| r.first_sent_at), Some(None), "first attempt");
    assert_eq!(
        store.begin_refund_attempt(&refund.id, now).await.expect("begin"),
        None,
        "held by the attempt in flight"
    );
    let ids = store
        .log_answers(
            "paypal",
            Some(&payment),
            &[answer(r#"{"id":"R1","status":"COMPLETED"}"#)],
        )
        .await
        .expect("log answers");
    assert_eq!(ids.len(), 1);
    let logged = row(subject, &store, ids[0]).await;
    assert_eq!(logged.body, br#"{"id":"R1","status":"COMPLETED"}"#);
    assert_eq!(logged.payment_id.as_deref(), Some(payment.as_str()));
    assert_eq!(logged.verification, VerificationStatus::Verified);
    assert!(
        store
            .claim_messages(t0() + Duration::days(1), 10)
            .await
            .expect("claim")
            .is_empty(),
        "an answer is never queued"
    );

    let settle = request(ids[0], &payment, refunded(&payment, "5.00", "R1:Refunded"), vec![]).settling(RefundLink {
        refund_id: refund.id.clone(),
        gateway_refund_id: Some("R1".into()),
    });
    let Applied::Applied { events, .. } = store.apply(settle).await.expect("apply") else {
        panic!("applied")
    };
    assert_eq!(events[1].kind, EventKind::PaymentRefunded);
    assert_eq!(events[1].details["refund_amount"], "5.00");
    assert_eq!(events[1].payment.state, PaymentState::Accepted, "partly refunded");
    let settled = store.refund(&refund.id).await.expect("refund").expect("exists");
    assert_eq!(settled.state, RefundState::Succeeded);
    assert_eq!(settled.gateway_refund_id.as_deref(), Some("R1"));

    let ipn = log(&*store, b"ipn R1 Refunded").await;
    let again = store
        .apply(request(
            ipn,
            &payment,
            refunded(&payment, "5.00", "R1:Refunded"),
            vec![],
        ))
        .await
        .expect("apply");
    assert_eq!(again, Applied::Duplicate, "the notification of our refund counts once");
    let stored = store.payment(&payment).await.expect("payment").expect("exists");
    assert_eq!((stored.refunded, stored.state), (eur("5.00"), PaymentState::Accepted));
    let refunds = store.refunds_for_payment(&payment).await.expect("refunds");
    assert_eq!(refunds.len(), 1, "no second row: {refunds:?}");
}

/// The gateway's notification of our pending refund comes first: it settles the pending row; our answer
/// afterwards is a duplicate that changes nothing but the row's gateway id. A refund made on the gateway's
/// own site gets a row of origin `gateway`.
pub async fn a_notification_first_settles_the_pending_refund<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = create_payment(&*store, false).await;
    paid(&*store, &payment, "T1:Completed").await;
    let RecordedRefund::New(refund) = record(&*store, new_refund(&payment, Some("5.00"), "k")).await else {
        panic!("new")
    };
    let ipn = log(&*store, b"ipn R2 Refunded").await;
    let applied = store
        .apply(request(
            ipn,
            &payment,
            refunded(&payment, "5.00", "R2:Refunded"),
            vec![],
        ))
        .await
        .expect("apply");
    assert!(matches!(applied, Applied::Applied { .. }), "{applied:?}");
    assert_eq!(
        store.refund(&refund.id).await.expect("refund").map(|r| r.state),
        Some(RefundState::Succeeded),
        "the pending refund of the same amount is the one the gateway reports"
    );
    let ids = store
        .log_answers(
            "paypal",
            Some(&payment),
            &[answer(r#"{"id":"R2","status":"COMPLETED"}"#)],
        )
        .await
        .expect("log");
    let settle = request(ids[0], &payment, refunded(&payment, "5.00", "R2:Refunded"), vec![]).settling(RefundLink {
        refund_id: refund.id.clone(),
        gateway_refund_id: Some("R2".into()),
    });
    assert_eq!(store.apply(settle).await.expect("apply"), Applied::Duplicate);
    let settled = store.refund(&refund.id).await.expect("refund").expect("exists");
    assert_eq!(
        (settled.state, settled.gateway_refund_id.as_deref()),
        (RefundState::Succeeded, Some("R2"))
    );
    let refunded_events = store
        .events_for_payment(&payment)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::PaymentRefunded)
        .count();
    assert_eq!(refunded_events, 1, "one payment_refunded, whatever the order");

    // Made at the gateway: no pending refund of ours.
    let ipn = log(&*store, b"ipn R3 Refunded").await;
    store
        .apply(request(
            ipn,
            &payment,
            refunded(&payment, "7.50", "R3:Refunded"),
            vec![],
        ))
        .await
        .expect("apply");
    let rows = store.refunds_for_payment(&payment).await.expect("refunds");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let at_gateway = rows.iter().find(|r| r.id != refund.id).expect("the gateway's refund");
    assert_eq!(
        (at_gateway.origin, at_gateway.state, at_gateway.amount),
        (RefundOrigin::Gateway, RefundState::Succeeded, eur("7.50"))
    );
    let stored = store.payment(&payment).await.expect("payment").expect("exists");
    assert_eq!((stored.state, stored.refunded), (PaymentState::Refunded, eur("12.50")));
}

/// Attempts: a retry waits until its time, keeps the first sending time, and an unknown or failed refund
/// is never due again; an update of a refund settled meanwhile changes nothing.
pub async fn refund_attempts_and_retries<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = create_payment(&*store, false).await;
    paid(&*store, &payment, "T1:Completed").await;
    let RecordedRefund::New(refund) = record(&*store, new_refund(&payment, None, "k")).await else {
        panic!("new")
    };
    assert_eq!(refund.amount, eur("12.50"), "no amount: what is left");
    let sent = t0() + Duration::seconds(10);
    store
        .begin_refund_attempt(&refund.id, sent)
        .await
        .expect("begin")
        .expect("claimed");
    let retry_at = sent + Duration::seconds(60);
    let after = store
        .update_refund(
            &refund.id,
            RefundUpdate::Retry {
                reason: "timeout".into(),
                next_attempt_at: retry_at,
            },
            None,
            "retry",
            sent,
        )
        .await
        .expect("update");
    assert_eq!((after.state, after.attempts), (RefundState::Pending, 1));
    assert!(
        store
            .due_refunds(retry_at - Duration::seconds(1), 10)
            .await
            .expect("due")
            .is_empty()
    );
    let due = store.due_refunds(retry_at, 10).await.expect("due");
    assert_eq!(due.iter().map(|r| &r.id).collect::<Vec<_>>(), [&refund.id]);
    let before = store
        .begin_refund_attempt(&refund.id, retry_at)
        .await
        .expect("begin")
        .expect("due");
    assert_eq!(before.first_sent_at, Some(sent), "kept from the first attempt");
    let unknown = store
        .update_refund(
            &refund.id,
            RefundUpdate::Unknown {
                reason: "timeout, no idempotency".into(),
            },
            None,
            "unknown",
            retry_at,
        )
        .await
        .expect("update");
    assert_eq!((unknown.state, unknown.attempts), (RefundState::Unknown, 2));
    let much_later = retry_at + Duration::days(30);
    assert!(
        store.due_refunds(much_later, 10).await.expect("due").is_empty(),
        "never retried"
    );
    assert_eq!(
        store.begin_refund_attempt(&refund.id, much_later).await.expect("begin"),
        None
    );
    let unchanged = store
        .update_refund(
            &refund.id,
            RefundUpdate::Failed { reason: "late".into() },
            None,
            "late",
            much_later,
        )
        .await
        .expect("update");
    assert_eq!(unchanged.state, RefundState::Unknown, "only a pending refund changes");
}

/// Events are numbered 1, 2, 3... per payment, in the order written, whatever other payments do.
pub async fn events_are_numbered_per_payment<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let a = create_payment(&*store, false).await;
    let b = create_payment(&*store, false).await;
    paid(&*store, &a, "A:Completed").await;
    paid(&*store, &b, "B:Completed").await;
    let ipn = log(&*store, b"refund a").await;
    store
        .apply(request(ipn, &a, refunded(&a, "2.00", "RA:Refunded"), vec![]))
        .await
        .expect("apply");
    for (id, n) in [(&a, 4), (&b, 2)] {
        let sequences: Vec<u64> = store
            .events_for_payment(id)
            .await
            .expect("events")
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(sequences, (1..=n).collect::<Vec<u64>>(), "{id}");
    }
    let outbox: Vec<u64> = store
        .undispatched_events(100)
        .await
        .expect("outbox")
        .iter()
        .filter(|o| o.event.payment.id == a)
        .map(|o| o.event.sequence)
        .collect();
    assert_eq!(outbox, [1, 2, 3, 4], "the payload carries it");
}

/// The payments of one order, newest first; another order's are not among them.
pub async fn payments_of_an_order_newest_first<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let mut older = new_payment(false);
    older.created_at = t0();
    let mut newer = new_payment(false);
    newer.created_at = t0() + Duration::seconds(5);
    let (older_id, newer_id) = (older.id.clone(), newer.id.clone());
    store.create_payment(older).await.expect("create");
    store.create_payment(newer).await.expect("create");
    let found: Vec<PaymentId> = store
        .payments_for_order("ORDER-1042")
        .await
        .expect("payments")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(found, [newer_id, older_id]);
    assert!(store.payments_for_order("ORDER-9").await.expect("payments").is_empty());
}
