//! The buyer's e-mail in `payments.email` (core migration `2026-12-04-160000`): written when a payment is
//! created, in the one folded form `Email::search_key` gives, and filled in for the payments that existed
//! before the migration — so that the operator console finds a buyer's payments through an index. On
//! SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.
#![cfg(all(feature = "diesel", feature = "test-support"))]

#[path = "common/diesel.rs"]
mod common;

use common::*;
use diesel::prelude::*;
use payment_buttons::ButtonConfig;
use payment_buttons::diesel::migrations::{self, CORE};
use payment_buttons::diesel::schema::payments;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{Store, StoreError};

/// The version before the e-mail column.
const BEFORE: &str = "2026-12-04-140000";

/// The fixture payment, bought by `email` when there is one.
async fn payment_of(db: &TestDb, email: Option<&str>) -> PaymentId {
    let mut payment = new_payment(false);
    if let Some(email) = email {
        let mut json = payment.button.to_json_value();
        json["email"] = email.into();
        payment.button = ButtonConfig::from_json(&json.to_string()).expect("a valid button with an e-mail");
    }
    let id = payment.id.clone();
    db.store.create_payment(payment).await.expect("create the payment");
    id
}

/// Payments by an address in mixed case, by one with a non-ASCII letter, and without an address.
async fn three_buyers(db: &TestDb) -> [PaymentId; 3] {
    [
        payment_of(db, Some("Jeanne.Dupont@Example.ORG")).await,
        payment_of(db, Some("Élodie@Exemple.fr")).await,
        payment_of(db, None).await,
    ]
}

/// The [`three_buyers`] payments' column: the mixed-case address folded, the non-ASCII letter kept (only
/// ASCII letters are folded, by the code and by the migration alike), nothing without an address.
async fn assert_folded(db: &TestDb, [with, unicode, without]: [&PaymentId; 3]) {
    assert_eq!(
        stored_email(db, with).await.as_deref(),
        Some("jeanne.dupont@example.org"),
        "{}",
        db.backend
    );
    assert_eq!(
        stored_email(db, unicode).await.as_deref(),
        Some("Élodie@exemple.fr"),
        "{}",
        db.backend
    );
    assert_eq!(stored_email(db, without).await, None, "{}", db.backend);
}

async fn stored_email(db: &TestDb, id: &PaymentId) -> Option<String> {
    let id = id.as_str().to_owned();
    db.store
        .with_connection(move |conn| {
            payments::table
                .find(&id)
                .select(payments::email)
                .first::<Option<String>>(conn)
                .map_err(StoreError::from)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_payment_stores_its_buyers_email_folded_and_none_without_one() {
    on_every_backend(|db| async move {
        let [with, unicode, without] = three_buyers(&db).await;
        assert_folded(&db, [&with, &unicode, &without]).await;
        // The button itself keeps the address as the shop gave it.
        let stored = db.store.payment(&with).await.unwrap().unwrap();
        assert_eq!(stored.button.email().unwrap().as_str(), "Jeanne.Dupont@Example.ORG");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_fills_the_column_of_existing_payments_as_the_code_writes_it() {
    on_every_backend(|db| async move {
        let [with, unicode, without] = three_buyers(&db).await;

        db.store
            .with_connection(|conn| {
                migrations::revert(conn, &CORE, Some(BEFORE)).map_err(|e| StoreError::Database(e.to_string()))
            })
            .await
            .unwrap();
        db.store
            .with_connection(|conn| {
                migrations::run_pending(conn, None).map_err(|e| StoreError::Database(e.to_string()))
            })
            .await
            .unwrap();

        assert_folded(&db, [&with, &unicode, &without]).await;
    })
    .await;
}
