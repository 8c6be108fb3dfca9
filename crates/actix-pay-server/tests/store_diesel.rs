//! The Diesel store, specified scenario by scenario. Each runs on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`).

#[path = "common/store.rs"]
mod common;

use std::collections::HashSet;

use actix_pay_server::store::{ServerStore, revert_all_migrations, run_migrations};
use common::*;
use payment_buttons::event::EventKind;
use payment_buttons::gateway::DecodedFields;
use payment_buttons::notification::{Flag, Outcome, Target, VerificationStatus};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{Applied, Settlement, Store, StoreError};

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
async fn claimed_messages_are_hidden_until_their_lease_expires() {
    on_every_backend(|db| async move {
        let a = log(&db, b"a").await;
        let b = log(&db, b"b").await;
        let c = log(&db, b"c").await;

        let ids =
            |batch: Vec<payment_buttons::store::QueuedMessage>| batch.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(db.store.claim_messages(t0(), 2).await.unwrap()),
            vec![a, b],
            "{}",
            db.backend
        );
        assert_eq!(ids(db.store.claim_messages(t0(), 10).await.unwrap()), vec![c]);
        assert!(db.store.claim_messages(t0() + secs(30), 10).await.unwrap().is_empty());
        // A worker that crashed holding them: after the lease they come back.
        assert_eq!(
            ids(db.store.claim_messages(t0() + secs(61), 10).await.unwrap()),
            vec![a, b, c]
        );
        // Not due yet: a message logged later than `now` is not claimed.
        assert!(db.store.claim_messages(t0() - secs(1), 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescheduled_message_comes_back_when_due_and_settling_ends_it() {
    on_every_backend(|db| async move {
        let id = log(&db, b"retry me").await;
        assert_eq!(db.store.claim_messages(t0(), 10).await.unwrap().len(), 1);

        db.store
            .reschedule_message(id, 1, t0() + secs(300), "postback timed out")
            .await
            .unwrap();
        assert!(
            db.store.claim_messages(t0() + secs(299), 10).await.unwrap().is_empty(),
            "{}",
            db.backend
        );
        let row = db.store.message(id).await.unwrap().unwrap();
        assert_eq!(row.verification, VerificationStatus::Pending);
        assert!(row.outcome.unwrap().contains("postback timed out"));

        let again = db.store.claim_messages(t0() + secs(300), 10).await.unwrap();
        assert_eq!((again.len(), again[0].id, again[0].attempts), (1, id, 1));

        let settlement = Settlement {
            verification: VerificationStatus::Invalid,
            flags: vec![Flag::Invalid],
            payment_id: None,
            outcome: "rejected: INVALID".into(),
        };
        db.store.settle_message(id, settlement.clone()).await.unwrap();
        assert_eq!(db.store.queued_count().await.unwrap(), 0);
        let row = db.store.message(id).await.unwrap().unwrap();
        assert_eq!(row.verification, VerificationStatus::Invalid);
        assert_eq!(row.flags, vec!["invalid"]);
        assert_eq!(row.outcome.as_deref(), Some("rejected: INVALID"));
        assert_eq!(row.body, b"retry me", "the log is never rewritten");

        // A late worker settling or rescheduling it again changes nothing.
        let other = Settlement {
            verification: VerificationStatus::Error,
            ..settlement
        };
        db.store.settle_message(id, other).await.unwrap();
        db.store.reschedule_message(id, 2, t0(), "late").await.unwrap();
        assert_eq!(
            db.store.message(id).await.unwrap().unwrap().verification,
            VerificationStatus::Invalid
        );
        assert_eq!(db.store.queued_count().await.unwrap(), 0);

        let missing = db.store.settle_message(
            id + 1000,
            Settlement {
                verification: VerificationStatus::Error,
                flags: vec![],
                payment_id: None,
                outcome: "x".into(),
            },
        );
        assert!(matches!(missing.await, Err(StoreError::NotFound(_))));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_claimers_never_get_the_same_message() {
    on_every_backend(|db| async move {
        let mut logged = HashSet::new();
        for i in 0..40 {
            logged.insert(log(&db, format!("m{i}").as_bytes()).await);
        }
        let claimer = |store: ServerStore| async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_messages(t0(), 3).await.expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        };
        let (one, two) = tokio::join!(
            tokio::spawn(claimer(db.store.clone())),
            tokio::spawn(claimer(db.store.clone()))
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        let all: Vec<_> = one.iter().chain(&two).copied().collect();
        let distinct: HashSet<_> = all.iter().copied().collect();
        assert_eq!(all.len(), distinct.len(), "{}: a message was claimed twice", db.backend);
        assert_eq!(distinct, logged, "{}", db.backend);
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
        let payment = create_payment(&db, false).await;
        let message = log(&db, b"payment_status=Completed").await;
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
async fn a_resent_notification_is_a_duplicate_that_changes_nothing_but_its_log_row() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db, false).await;
        let n = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        let (first, _) = log_and_apply(&db, &payment, n.clone()).await;
        let before = db.store.payment(&payment).await.unwrap().unwrap();

        let (second, applied) = log_and_apply(&db, &payment, n).await;

        assert_eq!(applied, Applied::Duplicate, "{}", db.backend);
        assert_eq!(db.store.events_for_payment(&payment).await.unwrap().len(), 2);
        assert_eq!(db.store.payment(&payment).await.unwrap().unwrap(), before);
        let row = db.store.message(second).await.unwrap().unwrap();
        assert_eq!(row.verification, VerificationStatus::Verified);
        assert_eq!(row.flags, vec!["duplicate"]);
        assert_eq!(row.payment_id.as_deref(), Some(payment.as_str()));
        assert!(
            row.outcome
                .unwrap()
                .contains(&format!("already applied by message {first}"))
        );
        assert_eq!(db.store.queued_count().await.unwrap(), 0);
        // The first message's row is untouched.
        assert!(db.store.message(first).await.unwrap().unwrap().flags.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_after_accepted_is_recorded_but_changes_nothing() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db, false).await;
        let accepted = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        log_and_apply(&db, &payment, accepted).await;

        let pending = notification(&payment, Target::Payment, Some(Outcome::Pending), "T1:Pending", "T1");
        let (message, applied) = log_and_apply(&db, &payment, pending).await;

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
        let first = create_payment(&db, true).await;
        let cycle = |outcome, key: &str, reference: &str| {
            notification(&first, Target::SubscriptionCycle, Some(outcome), key, reference)
        };
        let (_, applied) = log_and_apply(&db, &first, cycle(Outcome::Accepted, "P1:Completed", "P1")).await;
        assert!(
            matches!(applied, Applied::Applied { ref payment_id, .. } if *payment_id == first),
            "{}",
            db.backend
        );

        let (message, applied) = log_and_apply(&db, &first, cycle(Outcome::Accepted, "P2:Completed", "P2")).await;
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
            &db,
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
        let payment = create_payment(&db, true).await;
        let n = notification(&payment, Target::Payment, None, "S-1:subscr_signup", "S-1");
        let (_, applied) = log_and_apply(&db, &payment, n).await;
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
async fn the_outbox_hands_out_events_in_order_until_marked_dispatched() {
    on_every_backend(|db| async move {
        let p1 = create_payment(&db, false).await;
        let p2 = create_payment(&db, false).await;
        log_and_apply(
            &db,
            &p1,
            notification(&p1, Target::Payment, Some(Outcome::Accepted), "A:Completed", "A"),
        )
        .await;
        log_and_apply(
            &db,
            &p2,
            notification(&p2, Target::Payment, Some(Outcome::Declined), "B:Denied", "B"),
        )
        .await;

        let waiting = db.store.undispatched_events(10).await.unwrap();
        let seqs: Vec<i64> = waiting.iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{}: {seqs:?}", db.backend);
        let order: Vec<_> = waiting
            .iter()
            .map(|e| (e.event.payment.id.clone(), e.event.kind))
            .collect();
        assert_eq!(
            order,
            vec![
                (p1.clone(), EventKind::PaymentProcessed),
                (p1.clone(), EventKind::PaymentAccepted),
                (p2.clone(), EventKind::PaymentProcessed),
                (p2.clone(), EventKind::PaymentDeclined),
            ]
        );
        assert_eq!(db.store.undispatched_events(3).await.unwrap().len(), 3);

        db.store.mark_dispatched(seqs[0]).await.unwrap();
        db.store.mark_dispatched(seqs[0]).await.unwrap();
        let rest = db.store.undispatched_events(10).await.unwrap();
        assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[1..].to_vec());
        assert_eq!(rest[0].event, waiting[1].event);
        assert!(matches!(
            db.store.mark_dispatched(seqs[3] + 100).await,
            Err(StoreError::NotFound(_))
        ));

        let p2_events = db.store.events_for_payment(&p2).await.unwrap();
        assert_eq!(
            p2_events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventKind::PaymentProcessed, EventKind::PaymentDeclined]
        );

        // A whole batch at once, including one already marked: one statement, nothing left.
        let claimed = db
            .store
            .claim_undispatched_events(chrono::Utc::now(), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 3, "{}", db.backend);
        db.store.mark_all_dispatched(&seqs).await.unwrap();
        assert!(db.store.undispatched_events(10).await.unwrap().is_empty());
        assert!(
            db.store
                .claim_undispatched_events(chrono::Utc::now(), 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_to_an_unknown_payment_is_an_error_and_changes_nothing() {
    on_every_backend(|db| async move {
        let ghost = PaymentId::generate();
        let message = log(&db, b"ghost").await;
        let n = notification(&ghost, Target::Payment, Some(Outcome::Accepted), "G:Completed", "G");
        let result = db.store.apply(request(message, &ghost, n, vec![])).await;
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "{}: {result:?}",
            db.backend
        );
        assert_eq!(db.store.queued_count().await.unwrap(), 1);
        assert!(db.store.undispatched_events(10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_down_and_up_again() {
    on_every_backend(|db| async move {
        create_payment(&db, false).await;
        assert!(db.store.healthy().await);

        let url = db.url.clone();
        tokio::task::spawn_blocking(move || revert_all_migrations(&url))
            .await
            .unwrap()
            .unwrap();
        assert!(
            db.store.payment_count().await.is_err(),
            "{}: tables are gone",
            db.backend
        );

        let url = db.url.clone();
        tokio::task::spawn_blocking(move || run_migrations(&url))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(db.store.payment_count().await.unwrap(), 0);
        // Running them again finds nothing to do.
        ServerStore::migrate_only(&db.url).await.unwrap();
        create_payment(&db, false).await;
        assert_eq!(db.store.payment_count().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_refused_without_repeating_it() {
    let err = ServerStore::open("mysql://root:hunter2@db/pay")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("database.url: unsupported scheme \"mysql\""), "{err}");
    assert!(!err.contains("hunter2"));
    let err = ServerStore::open("sqlite://").await.unwrap_err().to_string();
    assert!(err.starts_with("database.url:"), "{err}");
}

#[tokio::test]
async fn an_in_memory_sqlite_database_works_for_quick_tests() {
    let store = ServerStore::open("sqlite::memory:").await.unwrap();
    assert!(store.healthy().await);
    assert_eq!(store.payment_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_copies_applied_at_the_same_time_are_applied_once() {
    on_every_backend(|db| async move {
        let payment = create_payment(&db, false).await;
        let n = notification(&payment, Target::Payment, Some(Outcome::Accepted), "T1:Completed", "T1");
        let first = log(&db, b"copy 1").await;
        let second = log(&db, b"copy 2").await;

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
