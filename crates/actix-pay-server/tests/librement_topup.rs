//! The top-up hook: when the core applies an outcome to a gateway payment linked to a Librement
//! purchase, the purchase is completed in the same transaction. On SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;

use chrono::Utc;
use common::*;
use librement_pay::ledger::{Account, Audit, LedgerStore};
use librement_pay::topup::TopUps;
use payment_buttons::event::EventKind;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::PaymentState;
use payment_buttons::store::{Applied, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_top_up_pays_the_whole_purchase_from_the_account_with_the_purchase_events() {
    on_every_backend(|db| async move {
        let ann = user(&db, Some("30.00")).await;
        let purchase = purchase(&db, "42.50").await;
        // The common fixture: a 12.50 EUR PayPal payment, the missing part.
        let top_up = create_payment(&db.store, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        let (message, applied) = log_and_apply(&db.store, &top_up, n.clone()).await;

        let Applied::Applied { events, .. } = applied else {
            panic!("{}: {applied:?}", db.backend)
        };
        assert!(
            events.iter().all(|e| e.payment.id == purchase),
            "{}: the purchase's events",
            db.backend
        );
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
        assert_eq!(events[0].gateway_message_id, Some(message));
        assert_eq!(events[0].payment.gateway, "librement");
        assert!(
            db.store.events_for_payment(&top_up).await.unwrap().is_empty(),
            "top-ups emit no events"
        );
        assert_eq!(db.store.events_for_payment(&purchase).await.unwrap().len(), 2);
        assert_eq!(
            db.store.payment(&purchase).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );
        assert_eq!(
            db.store.payment(&top_up).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );

        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::Seller("author@example.org".into())).await,
            eur("42.50")
        );
        assert_eq!(
            balance(&db, Account::GatewayClearing("paypal".into())).await,
            eur("-12.50")
        );

        // The same notification again changes nothing.
        let (_, again) = log_and_apply(&db.store, &top_up, n).await;
        assert_eq!(again, Applied::Duplicate);
        assert_eq!(
            balance(&db, Account::Seller("author@example.org".into())).await,
            eur("42.50")
        );
        assert!(Audit::of(&db.store.all_entries().await.unwrap()).is_healthy());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_top_up_declines_the_purchase_and_leaves_the_balance() {
    on_every_backend(|db| async move {
        let ann = user(&db, Some("30.00")).await;
        let purchase = purchase(&db, "42.50").await;
        let top_up = create_payment(&db.store, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Declined), "k1", "4RT7");
        log_and_apply(&db.store, &top_up, n).await;

        assert_eq!(
            db.store.payment(&purchase).await.unwrap().unwrap().state,
            PaymentState::Declined
        );
        let kinds: Vec<_> = db
            .store
            .events_for_payment(&purchase)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![EventKind::PaymentProcessed, EventKind::PaymentDeclined],
            "{}",
            db.backend
        );
        assert_eq!(balance(&db, Account::User(ann)).await, eur("30.00"));
        assert_eq!(db.store.all_entries().await.unwrap().len(), 2, "only the seed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_payment_goes_through_the_guest_clearing_account_to_the_seller() {
    on_every_backend(|db| async move {
        let purchase = purchase(&db, "12.50").await;
        let top_up = create_payment(&db.store, false).await;
        db.store
            .link_top_up(&top_up, &purchase, None, Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        log_and_apply(&db.store, &top_up, n).await;

        assert_eq!(
            db.store.payment(&purchase).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );
        assert_eq!(
            balance(&db, Account::Seller("author@example.org".into())).await,
            eur("12.50")
        );
        assert_eq!(balance(&db, Account::GuestClearing).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::GatewayClearing("paypal".into())).await,
            eur("-12.50")
        );
        let entries = db.store.all_entries().await.unwrap();
        assert!(
            entries.iter().any(|e| e.account == Account::GuestClearing),
            "{}",
            db.backend
        );
        assert!(Audit::of(&entries).is_healthy());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_up_for_a_purchase_paid_meanwhile_stays_in_the_account() {
    on_every_backend(|db| async move {
        use librement_pay::purchase::BalancePayments;
        let ann = user(&db, Some("50.00")).await;
        let purchase = purchase(&db, "42.50").await;
        let top_up = create_payment(&db.store, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();
        // Another tab paid it from the balance first.
        db.store.pay_from_balance(&purchase, ann, Utc::now()).await.unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        log_and_apply(&db.store, &top_up, n).await;

        assert_eq!(
            db.store.events_for_payment(&purchase).await.unwrap().len(),
            2,
            "paid once"
        );
        assert_eq!(
            balance(&db, Account::User(ann)).await,
            eur("20.00"),
            "7.50 left + the 12.50 top-up"
        );
        assert_eq!(
            balance(&db, Account::Seller("author@example.org".into())).await,
            eur("42.50")
        );
        assert!(Audit::of(&db.store.all_entries().await.unwrap()).is_healthy());
    })
    .await;
}
