//! `DieselStore`, specified scenario by scenario, beyond the contract every store passes
//! (`tests/store_conformance.rs`): the log row's columns, group commit, what applying writes, migrations,
//! URLs. Each runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`).
#![cfg(all(feature = "diesel", feature = "test-support"))]

#[path = "common/diesel.rs"]
mod common;

use common::*;
use payment_buttons::diesel::{DatabaseUrl, DieselStore, StoreOptions, migrations};
use payment_buttons::event::EventKind;
use payment_buttons::gateway::DecodedFields;
use payment_buttons::notification::{Flag, Outcome, Target, VerificationStatus};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{Applied, Store};

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_message_keeps_its_exact_bytes_and_waits_in_the_queue() {
    on_every_backend(|db| async move {
        let body: &[u8] = b"txn_id=4RT7&first_name=Ren\xe9&x=\xff\xfe\x00end";
        let mut message = new_message(body, t0());
        message.decoded = DecodedFields {
            fields: [("first_name".to_owned(), "René".to_owned())].into(),
            flags: vec![Flag::UnknownCharset],
        };
        let id = db.store.log_message(message).await.unwrap();

        let row = db.store.message(id).await.unwrap().expect("log row");
        assert_eq!(row.body, body, "{}", db.backend);
        assert_eq!(row.received_at, t0());
        assert_eq!(row.gateway, "paypal");
        assert_eq!(row.remote_addr.as_deref(), Some("192.0.2.7"));
        assert_eq!(row.method, "POST");
        assert_eq!(row.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(row.fields, serde_json::json!({ "first_name": "René" }));
        assert_eq!(row.verification, VerificationStatus::Pending);
        assert_eq!(row.flags, vec!["unknown_charset"]);
        assert_eq!((row.payment_id, row.outcome), (None, None));
        assert_eq!(db.store.queued_count().await.unwrap(), 1);

        let claimed = db.store.claim_messages(t0(), 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}", db.backend);
        assert_eq!(claimed[0].id, id);
        assert_eq!(claimed[0].message.body, body);
        assert_eq!(claimed[0].attempts, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_logged_at_the_same_moment_each_get_their_own_committed_row() {
    on_every_backend(|db| async move {
        // Many callers at once: the log writer shares commits between them (group commit), and each still
        // learns its own id only once its row is committed.
        let store = std::sync::Arc::new(db.store.clone());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let body = format!("txn_id=GROUP{i}").into_bytes();
                    let id = store.log_message(new_message(&body, t0())).await.unwrap();
                    (id, body)
                })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            let (id, body) = task.await.unwrap();
            assert_eq!(
                db.store.message(id).await.unwrap().expect("committed").body,
                body,
                "{}",
                db.backend
            );
            ids.insert(id);
        }
        assert_eq!(ids.len(), 200, "{}", db.backend);
        assert_eq!(db.store.queued_count().await.unwrap(), 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_payment_reads_back_as_recorded() {
    on_every_backend(|db| async move {
        let new = new_payment(false);
        db.store.create_payment(new.clone()).await.unwrap();
        let stored = db.store.payment(&new.id).await.unwrap().expect("stored");
        assert_eq!(stored.id, new.id);
        assert_eq!(stored.gateway, "paypal");
        assert_eq!(stored.button, new.button, "{}", db.backend);
        assert_eq!(stored.option_index, 0);
        assert_eq!(stored.amount, new.amount);
        assert_eq!(stored.state, PaymentState::Created);
        assert_eq!(stored.receiver, new.receiver);
        assert_eq!((stored.subscription_id, stored.gateway_reference), (None, None));
        assert!(stored.details.is_empty());
        assert_eq!((stored.created_at, stored.updated_at), (t0(), t0()));

        assert_eq!(db.store.payment(&PaymentId::generate()).await.unwrap(), None);
        assert!(db.store.create_payment(new).await.is_err(), "ids are unique");
        assert_eq!(db.store.payment_count().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_notification_changes_the_payment_writes_two_events_and_settles_the_message() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let message = log(&db.store, b"payment_status=Completed").await;
        db.store.claim_messages(t0(), 10).await.unwrap();
        let n = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");

        let applied = db
            .store
            .apply(request(message, &payment, n, vec![Flag::UnknownCharset]))
            .await
            .unwrap();

        let Applied::Applied { payment_id, events } = applied else {
            panic!("{}: expected Applied, got {applied:?}", db.backend)
        };
        assert_eq!(payment_id, payment);
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
        assert_eq!(
            db.store.events_for_payment(&payment).await.unwrap(),
            events,
            "{}",
            db.backend
        );

        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Accepted);
        assert_eq!(stored.gateway_reference.as_deref(), Some("T1"));
        assert_eq!(stored.details.get("payer_status"), Some(&serde_json::json!("verified")));
        assert_eq!(stored.updated_at, t0() + secs(3));

        let row = db.store.message(message).await.unwrap().unwrap();
        assert_eq!(row.verification, VerificationStatus::Verified);
        assert_eq!(row.payment_id.as_deref(), Some(payment.as_str()));
        assert_eq!(row.flags, vec!["unknown_charset"]);
        assert!(row.outcome.unwrap().starts_with("applied: created -> accepted"));
        assert_eq!(db.store.queued_count().await.unwrap(), 0);
        assert_eq!(db.store.messages_for_payment(&payment).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_after_accepted_is_recorded_but_changes_nothing() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let accepted = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db.store, &payment, accepted).await;

        let pending = notification(&payment, Target::Payment, Some(Outcome::Pending), "T1:Pending", "T1");
        let (message, applied) = log_and_apply(&db.store, &payment, pending).await;

        assert!(
            matches!(applied, Applied::Unchanged { ref reason } if reason.contains("already accepted")),
            "{}: {applied:?}",
            db.backend
        );
        assert_eq!(
            db.store.payment(&payment).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );
        assert_eq!(db.store.events_for_payment(&payment).await.unwrap().len(), 2);
        let row = db.store.message(message).await.unwrap().unwrap();
        assert_eq!(row.verification, VerificationStatus::Verified);
        assert_eq!(row.flags, vec!["stale_status"]);
        assert_eq!(db.store.queued_count().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_subscription_cycle_becomes_a_payment_of_its_own() {
    on_every_backend(|db| async move {
        let first = create_payment(&db.store, true).await;
        let cycle = |outcome, key: &str, reference: &str| {
            notification(&first, Target::SubscriptionCycle, Some(outcome), key, reference)
        };
        let (_, applied) = log_and_apply(&db.store, &first, cycle(Outcome::Accepted, "P1:Completed", "P1")).await;
        assert!(
            matches!(applied, Applied::Applied { ref payment_id, .. } if *payment_id == first),
            "{}",
            db.backend
        );

        let (message, applied) = log_and_apply(&db.store, &first, cycle(Outcome::Accepted, "P2:Completed", "P2")).await;
        let Applied::Applied {
            payment_id: second,
            events,
        } = applied
        else {
            panic!("{}: expected a new cycle, got {applied:?}", db.backend)
        };
        assert_ne!(second, first);
        assert_eq!(db.store.payment_count().await.unwrap(), 2);
        let stored = db.store.payment(&second).await.unwrap().unwrap();
        assert_eq!(stored.subscription_id.as_ref(), Some(&first));
        assert_eq!(stored.state, PaymentState::Accepted);
        assert_eq!(stored.gateway_reference.as_deref(), Some("P2"));
        assert_eq!(stored.amount, db.store.payment(&first).await.unwrap().unwrap().amount);
        assert_eq!(db.store.events_for_payment(&second).await.unwrap(), events);
        assert_eq!(
            db.store.message(message).await.unwrap().unwrap().payment_id.as_deref(),
            Some(second.as_str())
        );

        // A refund of that cycle finds it, instead of starting yet another one.
        let (_, applied) = log_and_apply(
            &db.store,
            &first,
            cycle(Outcome::Refunded { amount: None }, "P2:Refunded", "P2"),
        )
        .await;
        assert!(matches!(applied, Applied::Applied { ref payment_id, .. } if *payment_id == second));
        assert_eq!(db.store.payment_count().await.unwrap(), 2);
        assert_eq!(
            db.store.payment(&second).await.unwrap().unwrap().state,
            PaymentState::Refunded
        );
        assert_eq!(
            db.store.payment(&first).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_without_outcome_records_its_facts_and_one_event() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, true).await;
        let n = notification(&payment, Target::Payment, None, "S-1:subscr_signup", "S-1");
        let (_, applied) = log_and_apply(&db.store, &payment, n).await;
        let Applied::Applied { events, .. } = applied else {
            panic!("{}: {applied:?}", db.backend)
        };
        assert_eq!(
            events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventKind::PaymentProcessed]
        );
        let stored = db.store.payment(&payment).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Created);
        assert_eq!(stored.gateway_reference.as_deref(), Some("S-1"));
        assert_eq!(stored.details.get("payer_status"), Some(&serde_json::json!("verified")));
        assert_eq!(stored.updated_at, t0(), "no state change");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_down_and_up_again() {
    on_every_backend(|db| async move {
        create_payment(&db.store, false).await;
        assert!(db.store.healthy().await);

        let url = db.url.clone();
        tokio::task::spawn_blocking(move || migrations::revert_all(&mut DatabaseUrl::parse(&url)?.connect()?, None))
            .await
            .unwrap()
            .unwrap();
        assert!(
            db.store.payment_count().await.is_err(),
            "{}: tables are gone",
            db.backend
        );

        let url = db.url.clone();
        tokio::task::spawn_blocking(move || StoreOptions::new().migrate_blocking(&DatabaseUrl::parse(&url)?))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(db.store.payment_count().await.unwrap(), 0);
        // Running them again finds nothing to do.
        StoreOptions::new()
            .migrate_blocking(&DatabaseUrl::parse(&db.url).unwrap())
            .unwrap();
        create_payment(&db.store, false).await;
        assert_eq!(db.store.payment_count().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_refused_without_repeating_it() {
    let err = DieselStore::open("mysql://root:hunter2@db/pay")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("database.url: unsupported scheme \"mysql\""), "{err}");
    assert!(!err.contains("hunter2"));
    let err = DieselStore::open("sqlite://").await.unwrap_err().to_string();
    assert!(err.starts_with("database.url:"), "{err}");
}

#[tokio::test]
async fn an_in_memory_sqlite_database_works_for_quick_tests() {
    let store = DieselStore::open("sqlite::memory:").await.unwrap();
    assert!(store.healthy().await);
    assert_eq!(store.payment_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_copies_applied_at_the_same_time_are_applied_once() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db.store, false).await;
        let n = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        let first = log(&db.store, b"copy 1").await;
        let second = log(&db.store, b"copy 2").await;

        let (a, b) = tokio::join!(
            tokio::spawn({
                let store = db.store.clone();
                let r = request(first, &payment, n.clone(), vec![]);
                async move { store.apply(r).await }
            }),
            tokio::spawn({
                let store = db.store.clone();
                let r = request(second, &payment, n.clone(), vec![]);
                async move { store.apply(r).await }
            })
        );
        let outcomes = [a.unwrap().unwrap(), b.unwrap().unwrap()];
        let applied = outcomes.iter().filter(|o| matches!(o, Applied::Applied { .. })).count();
        let duplicates = outcomes.iter().filter(|o| **o == Applied::Duplicate).count();
        assert_eq!((applied, duplicates), (1, 1), "{}: {outcomes:?}", db.backend);
        assert_eq!(db.store.events_for_payment(&payment).await.unwrap().len(), 2);
        assert_eq!(db.store.queued_count().await.unwrap(), 0);
    })
    .await;
}

#[test]
fn a_second_connection_waits_for_the_write_lock_instead_of_failing() {
    use diesel::connection::SimpleConnection;
    let database = payment_buttons::store::conformance::TestDatabase::sqlite();
    let url = DatabaseUrl::parse(database.url()).unwrap();
    let mut holder = url.connect().unwrap();
    holder
        .batch_execute("CREATE TABLE t (n INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
        .unwrap();
    // The holder keeps the write lock for a moment, as a store's writer or a migration run does.
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        holder.batch_execute("COMMIT").unwrap();
    });
    let mut waiter = url.connect().unwrap();
    waiter
        .batch_execute("INSERT INTO t VALUES (2)")
        .expect("waits for the lock (busy timeout), not \"database is locked\"");
    release.join().unwrap();
}

/// Logs `n` messages at once (the log writer commits them in shared transactions).
async fn log_many(store: &DieselStore, n: usize) {
    let store = std::sync::Arc::new(store.clone());
    let body = vec![b'x'; 600];
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, body) = (store.clone(), body.clone());
            tokio::spawn(async move { store.log_message(new_message(&body, t0())).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_write_ahead_log_is_checkpointed_off_the_write_path_and_starts_again() {
    // Commits never checkpoint (a checkpoint inside a commit held every other writer, the gateway log
    // among them, for tens of milliseconds); the store's own thread does, so the log does not grow for ever.
    let database = payment_buttons::store::conformance::TestDatabase::sqlite();
    let DatabaseUrl::SqliteFile(path) = DatabaseUrl::parse(database.url()).unwrap() else {
        panic!("a SQLite file");
    };
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let store = DieselStore::open(database.url()).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        wal_autocheckpoint: i32,
    }
    let payment_buttons::diesel::AnyConnection::Sqlite(mut conn) =
        DatabaseUrl::parse(database.url()).unwrap().connect().unwrap()
    else {
        panic!("a SQLite connection");
    };
    let setting: Setting =
        diesel::RunQueryDsl::get_result(diesel::sql_query("PRAGMA wal_autocheckpoint"), &mut conn).unwrap();
    assert_eq!(setting.wal_autocheckpoint, 0, "a commit never checkpoints");

    log_many(&store, 2_000).await;
    let after_first = std::fs::metadata(&wal).unwrap().len();
    assert!(
        after_first > 2_000 * 600,
        "the messages went through the write-ahead log ({after_first} bytes)"
    );
    // A few checkpoint periods: everything written is copied into the database.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    log_many(&store, 2_000).await;
    let after_second = std::fs::metadata(&wal).unwrap().len();

    // Without checkpoints the second round would have been appended (about twice the size).
    assert!(
        after_second < after_first + after_first / 2,
        "the log started again from its beginning: {after_first} then {after_second} bytes"
    );
    assert_eq!(store.queued_count().await.unwrap(), 4_000);
}
