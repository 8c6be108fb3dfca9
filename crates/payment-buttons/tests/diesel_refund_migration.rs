//! The core migration of issue 14 (`2026-12-04-140000`) on data the earlier rules wrote: a partly
//! refunded payment stored `refunded` becomes `accepted` again, stored events get `details.refund_amount`
//! and their `sequence` per payment; and it reverts to the earlier shape. On SQLite, and on PostgreSQL
//! when `TEST_DATABASE_URL` is set.
#![cfg(all(feature = "diesel", feature = "test-support"))]

#[path = "common/diesel.rs"]
mod common;

use common::*;
use diesel::prelude::*;
use payment_buttons::diesel::migrations::{self, CORE};
use payment_buttons::diesel::schema::{events, payments};
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{Store, StoreError};

/// The version before issue 14's core migration.
const BEFORE: &str = "2026-12-03-120000";

fn eur(amount: &str) -> Money {
    Money::parse(amount, "EUR").unwrap()
}

async fn state_and_payloads(db: &TestDb, id: &PaymentId) -> (String, Vec<serde_json::Value>) {
    let id = id.as_str().to_owned();
    db.store
        .with_connection(move |conn| {
            let state: String = payments::table.find(&id).select(payments::state).first(conn)?;
            let payloads: Vec<String> = events::table
                .filter(events::payment_id.eq(&id))
                .order(events::seq.asc())
                .select(events::payload)
                .load(conn)?;
            let payloads = payloads.iter().map(|p| serde_json::from_str(p).unwrap()).collect();
            Ok::<_, StoreError>((state, payloads))
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_refunded_payments_and_stored_events_move_to_the_new_rules_and_back() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let paid = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db.store, &payment, paid).await;
        let refund = Some(Outcome::Refunded {
            amount: Some(eur("5.00")),
        });
        log_and_apply(
            &db.store,
            &payment,
            notification(&payment, Target::Payment, refund, "R1:Refunded", "T1"),
        )
        .await;

        // Back to the earlier release's shape: what the earlier rules had stored.
        db.store
            .with_connection(|conn| {
                migrations::revert(conn, &CORE, Some(BEFORE)).map_err(|e| StoreError::Database(e.to_string()))
            })
            .await
            .unwrap();
        let (state, payloads) = state_and_payloads(&db, &payment).await;
        assert_eq!(state, "refunded", "{}: the earlier rules' state", db.backend);
        assert_eq!(payloads[3]["details"]["refunded_amount"], "5.00", "{}", db.backend);
        assert!(payloads[3]["details"].get("refund_amount").is_none());
        assert!(payloads.iter().all(|p| p.get("sequence").is_none()), "{}", db.backend);

        db.store
            .with_connection(|conn| {
                migrations::run_pending(conn, None).map_err(|e| StoreError::Database(e.to_string()))
            })
            .await
            .unwrap();
        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(
            (stored.state, stored.refunded),
            (PaymentState::Accepted, eur("5.00")),
            "{}: partly refunded stays accepted",
            db.backend
        );
        let (_, payloads) = state_and_payloads(&db, &payment).await;
        assert_eq!(payloads[3]["details"]["refund_amount"], "5.00", "{}", db.backend);
        assert!(
            payloads[3]["details"].get("refunded_amount").is_none(),
            "{}",
            db.backend
        );
        let events = db.store.events_for_payment(&payment).await.unwrap();
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 4], "{}: numbered in the order written", db.backend);

        // The next event continues the numbering.
        let rest = Some(Outcome::Refunded {
            amount: Some(eur("7.50")),
        });
        log_and_apply(
            &db.store,
            &payment,
            notification(&payment, Target::Payment, rest, "R2:Refunded", "T1"),
        )
        .await;
        let events = db.store.events_for_payment(&payment).await.unwrap();
        assert_eq!(events.last().unwrap().sequence, 6, "{}", db.backend);
        assert_eq!(
            db.store.payment(&payment).await.unwrap().unwrap().state,
            PaymentState::Refunded
        );
    })
    .await;
}
