//! `DieselStore` keeps a payment's refunded sum and marks unpaid payments abandoned. Each scenario runs
//! on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.
#![cfg(all(feature = "diesel", feature = "test-support"))]

#[path = "common/diesel.rs"]
mod common;

use common::*;
use payment_buttons::event::EventKind;
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::PaymentState;
use payment_buttons::store::{Applied, Store};

fn eur(amount: &str) -> Money {
    Money::parse(amount, "EUR").unwrap()
}

fn refund(amount: &str) -> Option<Outcome> {
    Some(Outcome::Refunded {
        amount: Some(eur(amount)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_that_would_exceed_the_payment_are_refused_and_the_sum_is_kept() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let paid = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db.store, &payment, paid).await;

        let first = notification(&payment, Target::Payment, refund("10.00"), "R1:Refunded", "T1");
        let (_, applied) = log_and_apply(&db.store, &payment, first).await;
        assert!(matches!(applied, Applied::Applied { .. }), "{}", db.backend);
        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(stored.refunded, eur("10.00"), "{}", db.backend);

        // Two partial refunds of 10.00 on 12.50: the second is flagged and changes nothing.
        let second = notification(&payment, Target::Payment, refund("10.00"), "R2:Refunded", "T1");
        let (message, applied) = log_and_apply(&db.store, &payment, second).await;
        assert!(
            matches!(applied, Applied::Unchanged { .. }),
            "{}: {applied:?}",
            db.backend
        );
        let row = db.store.message(message).await.unwrap().unwrap();
        assert_eq!(row.flags, vec!["refund_exceeds_amount"], "{}", db.backend);
        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(stored.refunded, eur("10.00"), "{}", db.backend);

        let rest = notification(&payment, Target::Payment, refund("2.50"), "R3:Refunded", "T1");
        log_and_apply(&db.store, &payment, rest).await;
        let events = db.store.events_for_payment(&payment).await.unwrap();
        let refunds: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventKind::PaymentRefunded)
            .map(|e| e.payment.refunded_amount.as_str())
            .collect();
        assert_eq!(
            refunds,
            ["10.00", "12.50"],
            "{}: the running total in each event",
            db.backend
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refunds_of_one_payment_are_capped_together() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let paid = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db.store, &payment, paid).await;
        let mut requests = Vec::new();
        for i in 0..6 {
            let key = format!("R{i}:Refunded");
            let message = log(&db.store, key.as_bytes()).await;
            let n = notification(&payment, Target::Payment, refund("5.00"), &key, "T1");
            requests.push(request(message, &payment, n, vec![]));
        }
        let store = std::sync::Arc::new(db.store.clone());
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|r| {
                let store = store.clone();
                tokio::spawn(async move { store.apply(r).await.unwrap() })
            })
            .collect();
        let mut applied = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Applied::Applied { .. }) {
                applied += 1;
            }
        }
        assert_eq!(applied, 2, "{}: 5.00 + 5.00 fit in 12.50, a third does not", db.backend);
        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(stored.refunded, eur("10.00"), "{}", db.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_payments_nobody_paid_become_abandoned_and_still_take_a_late_payment() {
    on_every_backend(|db| async move {
        let unpaid = create_payment(&db.store, false).await;
        let paid = create_payment(&db.store, false).await;
        let n = notification(&paid, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db.store, &paid, n).await;

        let now = t0() + chrono::Duration::days(8);
        let cutoff = now - chrono::Duration::days(7);
        assert_eq!(
            db.store.abandon_created_before(cutoff, now).await.unwrap(),
            1,
            "{}",
            db.backend
        );
        assert_eq!(
            db.store.abandon_created_before(cutoff, now).await.unwrap(),
            0,
            "only once"
        );
        let stored = db.store.payment(&unpaid).await.unwrap().expect("never deleted");
        assert_eq!(stored.state, PaymentState::Abandoned, "{}", db.backend);
        assert_eq!(
            db.store.payment(&paid).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );

        let late = notification(&unpaid, Target::Payment, Some(Outcome::Accepted), "T2:Completed", "T2");
        log_and_apply(&db.store, &unpaid, late).await;
        assert_eq!(
            db.store.payment(&unpaid).await.unwrap().unwrap().state,
            PaymentState::Accepted,
            "{}",
            db.backend
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_release_keeps_every_payment_and_counts_refunded_ones_as_wholly_refunded() {
    use diesel::RunQueryDsl;
    use payment_buttons::diesel::{DatabaseUrl, StoreOptions, migrations};
    on_every_backend(|db| async move {
        let url = db.url.clone();
        tokio::task::spawn_blocking(move || {
            // The schema as the previous release left it, with one refunded and one created payment.
            let url = DatabaseUrl::parse(&url).unwrap();
            let mut conn = url.connect().unwrap();
            migrations::revert(&mut conn, &migrations::CORE, Some("2026-01-04-000001")).unwrap();
            let button = button(false).to_json_value().to_string().replace('\'', "''");
            for (id, state) in [("RefundedPay1", "refunded"), ("CreatedPay01", "created")] {
                diesel::sql_query(format!(
                    "INSERT INTO payments (id, gateway, order_reference, button, option_index, amount_minor, currency, \
                     state, details, created_at, updated_at) VALUES ('{id}', 'paypal', 'ORDER-1042', '{button}', 0, \
                     1250, 'EUR', '{state}', '{{}}', '2026-11-26 09:00:00', '2026-11-26 09:00:00')"
                ))
                .execute(&mut conn)
                .unwrap();
            }
            StoreOptions::new().migrate_blocking(&url).unwrap();
        })
        .await
        .unwrap();
        let id = |s: &str| payment_buttons::payment::PaymentId::parse(s).unwrap();
        let refunded = db.store.payment(&id("RefundedPay1")).await.unwrap().expect("kept");
        assert_eq!(refunded.state, PaymentState::Refunded, "{}", db.backend);
        assert_eq!(
            refunded.refunded,
            eur("12.50"),
            "{}: no further refund can pass",
            db.backend
        );
        let created = db.store.payment(&id("CreatedPay01")).await.unwrap().expect("kept");
        assert_eq!(created.refunded, eur("0.00"), "{}", db.backend);
        assert_eq!(db.store.payment_count().await.unwrap(), 2, "{}", db.backend);
    })
    .await;
}
