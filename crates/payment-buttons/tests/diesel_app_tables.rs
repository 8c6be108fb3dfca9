//! An application's own tables beside the core's, as `docs/architecture.md` and the `diesel` module
//! promise: its migrations run after the core's (and may not reuse a core version), its queries run on the
//! store's pool, and its `ApplyHook` runs inside the apply transaction, all or nothing. On SQLite, and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.
#![cfg(all(feature = "diesel", feature = "test-support"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::prelude::*;
use diesel_migrations::embed_migrations;
use payment_buttons::diesel::migrations::MigrationSet;
use payment_buttons::diesel::{
    AppliedChange, ApplyHook, DatabaseUrl, DieselStore, HookOutcome, PaymentChange, StoreOptions, Tx, schema,
};
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::conformance::{TestDatabase, new_message, new_payment, notification, request, t0};
use payment_buttons::store::{Applied, MESSAGE_CLAIM_LEASE, Store, StoreError};

static SHOP: MigrationSet = MigrationSet::new(
    "shop",
    embed_migrations!("tests/fixtures/shop-migrations/sqlite"),
    embed_migrations!("tests/fixtures/shop-migrations/postgres"),
);

static COLLIDING: MigrationSet = MigrationSet::new(
    "colliding",
    embed_migrations!("tests/fixtures/colliding-migrations/sqlite"),
    embed_migrations!("tests/fixtures/colliding-migrations/postgres"),
);

diesel::table! {
    shop_orders (payment_id) {
        payment_id -> Text,
        unlocked -> Text,
    }
}

/// Unlocks the order of an accepted payment, in the apply transaction; fails on demand.
#[derive(Default)]
struct UnlockOrder {
    fail: AtomicBool,
}

impl ApplyHook for UnlockOrder {
    fn after_change(&self, tx: &mut Tx<'_>, change: &AppliedChange<'_>) -> Result<HookOutcome, StoreError> {
        if change.new_state != Some(PaymentState::Accepted) {
            return Ok(HookOutcome::KeepEvents);
        }
        diesel::insert_into(shop_orders::table)
            .values((
                shop_orders::payment_id.eq(change.payment_id.as_str()),
                shop_orders::unlocked.eq("manual.pdf"),
            ))
            .execute(tx.conn())?;
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Database("the shop's ledger is closed".into()));
        }
        Ok(HookOutcome::KeepEvents)
    }
}

async fn open(database: &TestDatabase, hook: Arc<UnlockOrder>) -> DieselStore {
    StoreOptions::new()
        .migrations(&SHOP)
        .apply_hook(hook)
        .open(database.url())
        .await
        .expect("open with the shop's migrations")
}

async fn unlocked(store: &DieselStore) -> Vec<String> {
    store
        .with_connection(|conn| {
            let rows = shop_orders::table
                .select(shop_orders::payment_id)
                .load::<String>(conn)?;
            Ok::<_, StoreError>(rows)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_commits_with_the_payment_or_not_at_all() {
    for database in TestDatabase::every_backend() {
        let backend = database.backend();
        let hook = Arc::new(UnlockOrder::default());
        let store = open(&database, hook.clone()).await;
        let payment = new_payment(false);
        let pid = payment.id.clone();
        store.create_payment(payment).await.unwrap();
        let message = store.log_message(new_message(b"accepted", t0())).await.unwrap();
        store.claim_messages(t0(), 1).await.unwrap();
        let accepted = || {
            let n = notification(&pid, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
            request(message, &pid, n, vec![])
        };

        hook.fail.store(true, Ordering::SeqCst);
        let failed = store.apply(accepted()).await;
        assert!(matches!(failed, Err(StoreError::Database(_))), "{backend}: {failed:?}");
        assert!(
            unlocked(&store).await.is_empty(),
            "{backend}: the hook's row is rolled back"
        );
        let stored = store.payment(&pid).await.unwrap().unwrap();
        assert_eq!(
            stored.state,
            PaymentState::Created,
            "{backend}: so is the payment's change"
        );
        assert!(store.events_for_payment(&pid).await.unwrap().is_empty(), "{backend}");
        let again = store.claim_messages(t0() + MESSAGE_CLAIM_LEASE * 2, 10).await.unwrap();
        assert_eq!(again.len(), 1, "{backend}: the message is still queued");

        hook.fail.store(false, Ordering::SeqCst);
        let applied = store.apply(accepted()).await.unwrap();
        assert!(matches!(applied, Applied::Applied { .. }), "{backend}: {applied:?}");
        assert_eq!(unlocked(&store).await, [pid.as_str()], "{backend}");
        assert_eq!(store.apply(accepted()).await.unwrap(), Applied::Duplicate, "{backend}");
        assert_eq!(unlocked(&store).await.len(), 1, "{backend}: never for a duplicate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_writes_payments_and_events_in_one_transaction_of_its_own() {
    for database in TestDatabase::every_backend() {
        let backend = database.backend();
        let store = open(&database, Arc::default()).await;
        let payment = new_payment(false);
        let pid = payment.id.clone();
        store.create_payment(payment).await.unwrap();
        let for_tx = pid.clone();
        // Paid by the application's own means (a voucher, say): lock, change, unlock, one commit.
        store
            .write(move |tx: &mut Tx<'_>| {
                let current = tx.lock_payment(&for_tx)?.expect("exists");
                let details = serde_json::Map::from_iter([("voucher".to_owned(), "SPRING".into())]);
                tx.update_payment(
                    &current,
                    &PaymentChange {
                        state: Some(PaymentState::Accepted),
                        gateway_reference: None,
                        details: &details,
                        refunded: None,
                        at: t0(),
                    },
                )?;
                diesel::insert_into(shop_orders::table)
                    .values((
                        shop_orders::payment_id.eq(for_tx.as_str()),
                        shop_orders::unlocked.eq("manual.pdf"),
                    ))
                    .execute(tx.conn())?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let stored = store.payment(&pid).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Accepted, "{backend}");
        assert_eq!(stored.details["voucher"], "SPRING", "{backend}");
        assert_eq!(unlocked(&store).await, [pid.as_str()], "{backend}");

        // A failure rolls all of it back.
        let other = new_payment(false);
        let oid = other.id.clone();
        store.create_payment(other).await.unwrap();
        let for_tx = oid.clone();
        let failed: Result<(), StoreError> = store
            .write(move |tx: &mut Tx<'_>| {
                let current = tx.lock_payment(&for_tx)?.expect("exists");
                let none = serde_json::Map::new();
                tx.update_payment(
                    &current,
                    &PaymentChange {
                        state: Some(PaymentState::Accepted),
                        gateway_reference: None,
                        details: &none,
                        refunded: None,
                        at: t0(),
                    },
                )?;
                Err(StoreError::Database("out of vouchers".into()))
            })
            .await;
        assert!(failed.is_err());
        let stored = store.payment(&oid).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Created, "{backend}: rolled back");
        let count: i64 = store
            .with_connection(|conn| Ok::<_, StoreError>(schema::payments::table.count().get_result(conn)?))
            .await
            .unwrap();
        assert_eq!(count, 2, "{backend}");
    }
}

#[test]
fn an_application_set_reusing_a_core_version_is_refused() {
    let database = TestDatabase::sqlite();
    let err = StoreOptions::new()
        .migrations(&COLLIDING)
        .migrate_blocking(&DatabaseUrl::parse(database.url()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("version 20260101000001 is also a payment-buttons core migration"),
        "{err}"
    );
}

/// When one payment is applied, notes it on another payment (an order's parent, a purchase paid by a
/// top-up), reading that payment without locking it: the case where a batch's own copy of a payment could
/// be out of date.
struct NotesOnTheOther {
    first: PaymentId,
    other: PaymentId,
}

impl ApplyHook for NotesOnTheOther {
    fn after_change(&self, tx: &mut Tx<'_>, change: &AppliedChange<'_>) -> Result<HookOutcome, StoreError> {
        if change.payment_id != &self.first {
            return Ok(HookOutcome::KeepEvents);
        }
        let other = tx.payment(&self.other)?.expect("the other payment exists");
        let mut note = serde_json::Map::new();
        note.insert("noted_by".into(), self.first.as_str().into());
        tx.update_payment(
            &other,
            &PaymentChange {
                state: None,
                gateway_reference: None,
                details: &note,
                refunded: None,
                at: t0(),
            },
        )?;
        Ok(HookOutcome::KeepEvents)
    }
}

/// A batch locks and reads its payments together before applying any; a hook that writes a payment of the
/// same batch before that payment's own message is applied must not be undone by it (the message is
/// applied to the payment as the hook left it, not as the batch first read it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_write_to_a_payment_later_in_the_same_batch_survives_that_payments_own_message() {
    for database in TestDatabase::every_backend() {
        let backend = database.backend();
        let (x, y) = (new_payment(false), new_payment(false));
        // The batch applies in payment id order: the hook's payment comes first.
        let (first, other) = if x.id < y.id { (x, y) } else { (y, x) };
        let (first_id, other_id) = (first.id.clone(), other.id.clone());
        let store = StoreOptions::new()
            .apply_hook(Arc::new(NotesOnTheOther {
                first: first_id.clone(),
                other: other_id.clone(),
            }))
            .open(database.url())
            .await
            .expect("open");
        store.create_payment(first).await.unwrap();
        store.create_payment(other).await.unwrap();
        let m1 = store.log_message(new_message(b"first", t0())).await.unwrap();
        let m2 = store.log_message(new_message(b"other", t0())).await.unwrap();
        store.claim_messages(t0(), 2).await.unwrap();
        let accepted = |message, id: &PaymentId, txn: &str| {
            let n = notification(
                id,
                Target::Payment,
                Some(Outcome::Accepted),
                &format!("{txn}:Completed"),
                txn,
            );
            request(message, id, n, vec![])
        };

        let results = store
            .apply_batch(vec![accepted(m2, &other_id, "T2"), accepted(m1, &first_id, "T1")])
            .await;
        assert!(
            results.iter().all(|r| matches!(r, Ok(Applied::Applied { .. }))),
            "{backend}: {results:?}"
        );
        let other = store.payment(&other_id).await.unwrap().unwrap();
        assert_eq!(other.state, PaymentState::Accepted, "{backend}");
        assert_eq!(
            other.details.get("noted_by").and_then(|v| v.as_str()),
            Some(first_id.as_str()),
            "{backend}: the hook's note is kept by the other payment's own application"
        );
    }
}
