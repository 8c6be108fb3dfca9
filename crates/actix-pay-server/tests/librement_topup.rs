//! The top-up hook: when the core applies an outcome to a gateway payment linked to a Librement
//! purchase, the purchase is completed in the same transaction. On SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;

use chrono::Utc;
use common::*;
use librement_pay::accounts::{Email, NewUser, UserStore};
use librement_pay::ledger::{Account, Audit, LedgerStore, NewTransaction};
use librement_pay::topup::TopUps;
use payment_buttons::button::ButtonConfig;
use payment_buttons::event::EventKind;
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{Applied, NewPayment, Store};

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

/// A Librement purchase of `amount`.
async fn purchase(db: &TestDb, amount: &str) -> PaymentId {
    let button = ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-9",
          "options": [{{"description": "Book", "amount": "{amount}", "currency": "EUR"}}],
          "payment_options": {{"librement": {{"seller": "author@example.org"}}}},
          "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
    ))
    .unwrap();
    let p = NewPayment {
        id: PaymentId::generate(),
        gateway: "librement".into(),
        button,
        option_index: 0,
        amount: eur(amount),
        receiver: Some("author@example.org".into()),
        subscription_id: None,
        created_at: t0(),
    };
    let id = p.id.clone();
    db.store.create_payment(p).await.unwrap();
    id
}

async fn user(db: &TestDb, balance: Option<&str>) -> i64 {
    let id = db
        .store
        .create_user(NewUser {
            email: Email::parse("ann@example.org").unwrap(),
            display_name: "Ann".into(),
            password_hash: "$argon2id$unused".into(),
            created_at: t0(),
        })
        .await
        .unwrap();
    if let Some(b) = balance {
        db.store
            .post(NewTransaction::top_up("seed", id, "cmcic", eur(b)).unwrap())
            .await
            .unwrap();
    }
    id
}

async fn balance(db: &TestDb, account: Account) -> Money {
    db.store.balance(&account, "EUR".parse().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_top_up_pays_the_whole_purchase_from_the_account_with_the_purchase_events() {
    on_every_backend(|db| async move {
        let ann = user(&db, Some("30.00")).await;
        let purchase = purchase(&db, "42.50").await;
        // The common fixture: a 12.50 EUR PayPal payment, the missing part.
        let top_up = create_payment(&db, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        let (message, applied) = log_and_apply(&db, &top_up, n.clone()).await;

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
        let (_, again) = log_and_apply(&db, &top_up, n).await;
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
        let top_up = create_payment(&db, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Declined), "k1", "4RT7");
        log_and_apply(&db, &top_up, n).await;

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
        let top_up = create_payment(&db, false).await;
        db.store
            .link_top_up(&top_up, &purchase, None, Utc::now())
            .await
            .unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        log_and_apply(&db, &top_up, n).await;

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
        let top_up = create_payment(&db, false).await;
        db.store
            .link_top_up(&top_up, &purchase, Some(ann), Utc::now())
            .await
            .unwrap();
        // Another tab paid it from the balance first.
        db.store.pay_from_balance(&purchase, ann, Utc::now()).await.unwrap();

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        log_and_apply(&db, &top_up, n).await;

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
