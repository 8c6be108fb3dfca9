//! Claims on the outbox for in-process listeners: one claimant at a time, in order per payment, released
//! on failure, taken over after a crash. Each scenario runs on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

#[path = "common/store.rs"]
mod common;

use actix_pay_server::store::ServerStore;
use common::*;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{OUTBOX_CLAIM_LEASE, Store};

async fn accepted_payment(db: &TestDb) -> PaymentId {
    let p = create_payment(db, false).await;
    let key = format!("{p}:Completed");
    log_and_apply(
        db,
        &p,
        notification(&p, Target::Payment, Some(Outcome::Accepted), &key, &key),
    )
    .await;
    p
}

fn payments_of(events: &[payment_buttons::store::OutboxEvent]) -> Vec<PaymentId> {
    events.iter().map(|e| e.event.payment.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_event_is_not_offered_again_and_a_later_event_of_its_payment_waits_for_it() {
    on_every_backend(|db| async move {
        let p1 = accepted_payment(&db).await;
        let p2 = accepted_payment(&db).await;
        let other = ServerStore::open(&db.url).await.unwrap();
        let now = t0();

        let first = db.store.claim_undispatched_events(now, 1).await.unwrap();
        assert_eq!(payments_of(&first), std::slice::from_ref(&p1), "{}", db.backend);
        // Another instance gets neither the claimed event nor the later event of the same payment.
        let second = other.claim_undispatched_events(now, 10).await.unwrap();
        assert_eq!(payments_of(&second), [p2.clone(), p2.clone()], "{}", db.backend);
        assert!(other.claim_undispatched_events(now, 10).await.unwrap().is_empty());

        // Once the first is dispatched, the rest of p1 can be claimed.
        db.store.mark_dispatched(first[0].seq).await.unwrap();
        let third = other.claim_undispatched_events(now, 10).await.unwrap();
        assert_eq!(payments_of(&third), std::slice::from_ref(&p1), "{}", db.backend);
        assert_eq!(
            db.store.undispatched_events(10).await.unwrap().len(),
            3,
            "claims are not dispatches"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_events_are_offered_at_once_and_abandoned_claims_after_their_lease() {
    on_every_backend(|db| async move {
        let p = accepted_payment(&db).await;
        let now = t0();
        let claimed = db.store.claim_undispatched_events(now, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let seqs: Vec<i64> = claimed.iter().map(|e| e.seq).collect();
        db.store.release_events(&seqs).await.unwrap();
        let again = db.store.claim_undispatched_events(now, 10).await.unwrap();
        assert_eq!(again.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs, "{}", db.backend);

        // The claimant "crashes": nothing is offered until the lease has passed, then everything is.
        let during = now + OUTBOX_CLAIM_LEASE - chrono::Duration::seconds(1);
        assert!(db.store.claim_undispatched_events(during, 10).await.unwrap().is_empty());
        let after = now + OUTBOX_CLAIM_LEASE + chrono::Duration::seconds(1);
        let taken_over = db.store.claim_undispatched_events(after, 10).await.unwrap();
        assert_eq!(payments_of(&taken_over), [p.clone(), p.clone()], "{}", db.backend);
    })
    .await;
}
