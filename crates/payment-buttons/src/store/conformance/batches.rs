//! The group-commit part of the store contract ([`Store::apply_batch`]): each request of a batch keeps every
//! guarantee of [`Store::apply`] — applied once per idempotency key, in order per payment, events numbered
//! in that order, all or nothing each — and one failing request neither undoes nor loses the others.

use chrono::Duration;

use super::{StoreUnderTest, accepted, claimed_ids, create_payment, log, notification, request, row, t0};
use crate::event::EventKind;
use crate::notification::{Outcome, Target, VerificationStatus};
use crate::payment::{PaymentId, PaymentState};
use crate::store::{Applied, MESSAGE_CLAIM_LEASE, MessageId, Store, StoreError};

/// A pending PayPal notification about `payment` (an e-check on its way), keyed `key`.
fn pending(payment: &PaymentId, key: &str) -> crate::notification::Notification {
    notification(
        payment,
        Target::Payment,
        Some(Outcome::Pending),
        key,
        "4RT73920XK118345L",
    )
}

/// The kinds and sequence numbers of a payment's events, in order.
async fn events<S: Store>(store: &S, payment: &PaymentId) -> Vec<(EventKind, u64)> {
    store
        .events_for_payment(payment)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.kind, e.sequence))
        .collect()
}

fn is_applied(result: &Result<Applied, StoreError>) -> bool {
    matches!(result, Ok(Applied::Applied { .. }))
}

/// Two messages of one payment in one batch are applied in the order given, the second seeing what the
/// first wrote (the Pending, then the Completed that accepts it), and their events are numbered in that
/// order; another payment's message in the same batch, given between them, is applied too; the results
/// come back in the order of the requests; nothing stays queued.
pub async fn a_batch_applies_a_payments_messages_in_order<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let a = create_payment(&*store, false).await;
    let b = create_payment(&*store, false).await;
    let a_pending = log(&*store, b"a pending").await;
    let b_completed = log(&*store, b"b completed").await;
    let a_completed = log(&*store, b"a completed").await;
    assert_eq!(claimed_ids(&*store, t0(), 10).await.len(), 3);

    let results = store
        .apply_batch(vec![
            request(a_pending, &a, pending(&a, "A:Pending"), vec![]),
            request(b_completed, &b, accepted(&b, "B:Completed"), vec![]),
            request(a_completed, &a, accepted(&a, "A:Completed"), vec![]),
        ])
        .await;
    assert_eq!(results.len(), 3, "one result per request: {results:?}");
    assert!(results.iter().all(is_applied), "{results:?}");
    let payment_of = |r: &Result<Applied, StoreError>| match r {
        Ok(Applied::Applied { payment_id, events }) => {
            (payment_id.clone(), events.iter().map(|e| e.kind).collect::<Vec<_>>())
        }
        other => panic!("applied: {other:?}"),
    };
    assert_eq!(
        payment_of(&results[0]),
        (a.clone(), vec![EventKind::PaymentProcessed, EventKind::PaymentPending]),
        "the results come back in the order of the requests"
    );
    assert_eq!(
        payment_of(&results[1]),
        (b.clone(), vec![EventKind::PaymentProcessed, EventKind::PaymentAccepted])
    );
    assert_eq!(
        payment_of(&results[2]),
        (a.clone(), vec![EventKind::PaymentProcessed, EventKind::PaymentAccepted])
    );

    assert_eq!(
        events(&*store, &a).await,
        [
            (EventKind::PaymentProcessed, 1),
            (EventKind::PaymentPending, 2),
            (EventKind::PaymentProcessed, 3),
            (EventKind::PaymentAccepted, 4)
        ],
        "the Pending given first is applied first, and the events are numbered in that order"
    );
    assert_eq!(
        events(&*store, &b).await,
        [(EventKind::PaymentProcessed, 1), (EventKind::PaymentAccepted, 2)]
    );
    for id in [&a, &b] {
        let stored = store.payment(id).await.expect("read").expect("exists");
        assert_eq!(stored.state, PaymentState::Accepted, "{id}");
    }
    let pending_row = row(subject, &store, a_pending).await;
    assert_eq!(pending_row.verification, VerificationStatus::Verified);
    assert_eq!(pending_row.payment_id.as_deref(), Some(a.as_str()));
    assert!(
        claimed_ids(&*store, t0() + Duration::days(1), 10).await.is_empty(),
        "every message of the batch left the queue"
    );
}

/// A resent notification in the same batch as the first is a duplicate (its key was applied just before,
/// in the same batch), and so is one in a later batch: the payment's events are written once, and the
/// resends' log rows say `duplicate`.
pub async fn a_key_is_applied_once_within_and_across_batches<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let a = create_payment(&*store, false).await;
    let first = log(&*store, b"K1").await;
    let resend = log(&*store, b"K1 again").await;
    let results = store
        .apply_batch(vec![
            request(first, &a, accepted(&a, "K1"), vec![]),
            request(resend, &a, accepted(&a, "K1"), vec![]),
        ])
        .await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(is_applied(&results[0]), "{results:?}");
    assert!(
        matches!(results[1], Ok(Applied::Duplicate)),
        "the same key, later in the same batch: {results:?}"
    );

    let later = log(&*store, b"K1 once more").await;
    let b = create_payment(&*store, false).await;
    let other = log(&*store, b"K2").await;
    let results = store
        .apply_batch(vec![
            request(later, &a, accepted(&a, "K1"), vec![]),
            request(other, &b, accepted(&b, "K2"), vec![]),
        ])
        .await;
    assert!(
        matches!(results[0], Ok(Applied::Duplicate)),
        "the key of an earlier batch: {results:?}"
    );
    assert!(is_applied(&results[1]), "{results:?}");

    assert_eq!(
        events(&*store, &a).await,
        [(EventKind::PaymentProcessed, 1), (EventKind::PaymentAccepted, 2)],
        "once"
    );
    for id in [resend, later] {
        let logged = row(subject, &store, id).await;
        assert!(logged.flags.contains(&"duplicate".to_owned()), "{logged:?}");
        assert_eq!(logged.verification, VerificationStatus::Verified);
    }
    assert!(claimed_ids(&*store, t0() + Duration::days(1), 10).await.is_empty());
}

/// One failing request (here: it names a log row that does not exist) fails alone: the other payments'
/// requests of the batch are applied, the failed one wrote nothing (its idempotency key included), and the
/// same payment's later request in the batch is not applied either — it stays queued rather than overtake
/// the failed one — and applies once it comes again.
pub async fn a_failing_request_fails_alone_and_holds_back_only_its_payment<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let a = create_payment(&*store, false).await;
    let b = create_payment(&*store, false).await;
    let a_ok = log(&*store, b"a completed").await;
    let b_pending = log(&*store, b"b pending").await;
    let b_completed = log(&*store, b"b completed").await;
    let missing: MessageId = b_completed + 1000;
    assert_eq!(claimed_ids(&*store, t0(), 10).await.len(), 3);

    let results = store
        .apply_batch(vec![
            request(missing, &b, pending(&b, "B:Pending"), vec![]),
            request(a_ok, &a, accepted(&a, "A:Completed"), vec![]),
            request(b_completed, &b, accepted(&b, "B:Completed"), vec![]),
        ])
        .await;
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].is_err(), "no such log row: {results:?}");
    assert!(
        is_applied(&results[1]),
        "another payment's request is applied: {results:?}"
    );
    assert!(
        results[2].is_err(),
        "the failed request's payment: its later request is not applied: {results:?}"
    );

    assert_eq!(
        events(&*store, &a).await,
        [(EventKind::PaymentProcessed, 1), (EventKind::PaymentAccepted, 2)]
    );
    assert!(events(&*store, &b).await.is_empty(), "nothing of payment b was written");
    let stored = store.payment(&b).await.expect("read").expect("exists");
    assert_eq!(stored.state, PaymentState::Created);
    let held = row(subject, &store, b_completed).await;
    assert_eq!(held.verification, VerificationStatus::Pending, "{held:?}");
    assert_eq!(
        claimed_ids(&*store, t0() + MESSAGE_CLAIM_LEASE + Duration::seconds(1), 10).await,
        vec![b_pending, b_completed],
        "payment b's messages are still queued; payment a's left the queue"
    );

    let results = store
        .apply_batch(vec![
            request(b_pending, &b, pending(&b, "B:Pending"), vec![]),
            request(b_completed, &b, accepted(&b, "B:Completed"), vec![]),
        ])
        .await;
    assert!(
        results.iter().all(is_applied),
        "the failed attempt recorded no idempotency key: {results:?}"
    );
    assert_eq!(
        events(&*store, &b)
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentPending,
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted
        ]
    );
}

/// An empty batch does nothing and answers nothing.
pub async fn an_empty_batch_does_nothing<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    assert!(store.apply_batch(Vec::new()).await.is_empty());
}

/// The payments of a batch are read at once: those that exist among the ids asked, each as
/// [`Store::payment`] reads it; an unknown id is left out, and no id reads nothing.
pub async fn payments_are_read_together<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let a = create_payment(&*store, false).await;
    let b = create_payment(&*store, true).await;
    let unknown = PaymentId::generate();
    let mut found = store
        .payments(&[b.clone(), unknown, a.clone()])
        .await
        .expect("read payments");
    found.sort_by(|x, y| x.id.cmp(&y.id));
    let mut expected = vec![
        store.payment(&a).await.expect("read").expect("exists"),
        store.payment(&b).await.expect("read").expect("exists"),
    ];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(found, expected);
    assert!(store.payments(&[]).await.expect("read nothing").is_empty());
}
