//! The Librement ledger on the Diesel store, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;

use std::sync::Arc;

use common::*;
use diesel::{Connection, RunQueryDsl};
use librement_pay::ledger::{Account, Audit, LedgerError, LedgerStore, NewTransaction, Posted};
use payment_buttons::money::Money;

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_purchases_never_take_a_balance_below_zero() {
    on_every_backend(|db| async move {
        let store = Arc::new(db.store.clone());
        store
            .post(NewTransaction::top_up("topup:1", 1, "cmcic", eur("100.00")).unwrap())
            .await
            .unwrap();
        // 40 purchases of 3.00 against 100.00: exactly 33 can be paid, 1.00 stays.
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let seller = if i % 2 == 0 { "a@example.org" } else { "b@example.org" };
                    store
                        .post(NewTransaction::purchase(format!("purchase:{i}"), 1, seller, eur("3.00")).unwrap())
                        .await
                })
            })
            .collect();
        let mut paid = 0;
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Posted::Recorded(_)) => paid += 1,
                Err(LedgerError::InsufficientFunds { account, .. }) => {
                    assert_eq!(account, Account::User(1));
                    refused += 1
                }
                other => panic!("{}: unexpected {other:?}", db.backend),
            }
        }
        assert_eq!((paid, refused), (33, 7), "{}", db.backend);
        let currency = "EUR".parse().unwrap();
        assert_eq!(store.balance(&Account::User(1), currency).await.unwrap(), eur("1.00"));
        let sellers = store
            .balance(&Account::Seller("a@example.org".into()), currency)
            .await
            .unwrap()
            .minor_units()
            + store
                .balance(&Account::Seller("b@example.org".into()), currency)
                .await
                .unwrap()
                .minor_units();
        assert_eq!(sellers, 9900);
        assert_eq!(
            store
                .balance(&Account::GatewayClearing("cmcic".into()), currency)
                .await
                .unwrap(),
            eur("-100.00")
        );

        let entries = store.all_entries().await.unwrap();
        let audit = Audit::of(&entries);
        assert!(audit.is_healthy(), "{}: {audit:?}", db.backend);
        assert_eq!(audit.entries, 2 + 2 * 33);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_key_is_posted_once() {
    on_every_backend(|db| async move {
        let tx = NewTransaction::top_up("topup:same", 2, "paypal", eur("10.00")).unwrap();
        let first = db.store.post(tx.clone()).await.unwrap();
        let Posted::Recorded(id) = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            db.store.post(tx).await.unwrap(),
            Posted::AlreadyPosted(id),
            "{}",
            db.backend
        );
        let currency = "EUR".parse().unwrap();
        assert_eq!(
            db.store.balance(&Account::User(2), currency).await.unwrap(),
            eur("10.00")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_purchase_writes_nothing() {
    on_every_backend(|db| async move {
        let err = db
            .store
            .post(NewTransaction::purchase("purchase:x", 3, "s@example.org", eur("0.01")).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::InsufficientFunds { .. }), "{err:?}");
        assert!(db.store.all_entries().await.unwrap().is_empty());
        // The key was rolled back with the rest: the same purchase can be paid once funded.
        db.store
            .post(NewTransaction::top_up("topup:3", 3, "paypal", eur("0.01")).unwrap())
            .await
            .unwrap();
        let again = db
            .store
            .post(NewTransaction::purchase("purchase:x", 3, "s@example.org", eur("0.01")).unwrap())
            .await
            .unwrap();
        assert!(matches!(again, Posted::Recorded(_)), "{}", db.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_rows_cannot_be_updated_or_deleted() {
    on_every_backend(|db| async move {
        db.store
            .post(NewTransaction::top_up("topup:4", 4, "paypal", eur("5.00")).unwrap())
            .await
            .unwrap();
        let url = db.url.clone();
        let backend = db.backend;
        tokio::task::spawn_blocking(move || {
            let statements = [
                "UPDATE librement_entries SET amount_minor = 1",
                "DELETE FROM librement_entries",
                "UPDATE librement_transactions SET kind = 'purchase'",
                "DELETE FROM librement_transactions",
            ];
            for sql in statements {
                let result = if backend == "postgresql" {
                    let mut c = diesel::PgConnection::establish(&url).unwrap();
                    diesel::sql_query(sql).execute(&mut c)
                } else {
                    let path = url.trim_start_matches("sqlite://");
                    let mut c = diesel::SqliteConnection::establish(path).unwrap();
                    diesel::sql_query(sql).execute(&mut c)
                };
                let err = result.expect_err(sql).to_string();
                assert!(err.contains("append-only"), "{backend}: {sql}: {err}");
            }
        })
        .await
        .unwrap();
        assert_eq!(db.store.all_entries().await.unwrap().len(), 2);
    })
    .await;
}
