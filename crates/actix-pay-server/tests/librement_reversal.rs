//! Chargebacks (PayPal `Reversed`) and cancelled reversals (`Canceled_Reversal`) of the gateway money that
//! paid a Librement purchase: a top-up of the whole price, the card part of a split payment, a guest's
//! payment, and a top-up left on the balance. Driven through the engine with verified PayPal IPNs, as the
//! worker processes them, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;

use std::sync::Arc;

use actix_pay_server::store::ServerStore;
use chrono::Utc;
use common::*;
use librement_pay::ledger::{Account, Audit, Entry, LedgerStore, NewTransaction, TransactionKind};
use librement_pay::purchase::BalancePayments;
use librement_pay::topup::TopUps;
use payment_buttons::engine::{Engine, Processed};
use payment_buttons::event::{Event, EventKind};
use payment_buttons::gateway::{Gateways, IncomingMessage, ServiceUrls};
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::store::{Applied, Store};
use payment_buttons::token::ButtonSigner;

const ORIGINAL_TXN: &str = "4RT73920XK118345L";

/// PayPal's postback: every IPN these tests send is genuine.
struct Genuine;

#[async_trait::async_trait]
impl Postback for Genuine {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Verified
    }
}

fn engine(db: &TestDb) -> Engine<ServerStore> {
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            business: Some("seller@example.com".into()),
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal/webscr".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            logo_url: None,
            ..Default::default()
        },
    )
    .unwrap();
    Engine::new(
        Arc::new(db.store.clone()),
        Gateways::new().with(Arc::new(PaypalGateway::new(config, Arc::new(Genuine)))),
        ButtonSigner::new(b"a test secret that is long enough"),
        ServiceUrls::new("https://pay.example").unwrap(),
    )
}

/// An IPN about the 12.50 EUR top-up: `fields` and what every message about it carries.
fn about(top_up: &PaymentId, fields: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut ipn: Vec<_> = fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    ipn.extend([
        ("mc_currency", "EUR".to_owned()),
        ("invoice", top_up.to_string()),
        ("receiver_email", "seller@example.com".to_owned()),
    ]);
    ipn
}

/// The IPN PayPal sends when the top-up is paid.
fn completed(top_up: &PaymentId) -> Vec<(&'static str, String)> {
    let fields = [
        ("txn_type", "web_accept"),
        ("payment_status", "Completed"),
        ("txn_id", ORIGINAL_TXN),
        ("mc_gross", "12.50"),
    ];
    about(top_up, &fields)
}

/// The IPN of a chargeback of the top-up: no `txn_type`, its own `txn_id`, the original as parent.
fn reversed(top_up: &PaymentId) -> Vec<(&'static str, String)> {
    let fields = [
        ("payment_status", "Reversed"),
        ("reason_code", "chargeback"),
        ("txn_id", "9CB06241TX2210345"),
        ("parent_txn_id", ORIGINAL_TXN),
        ("mc_gross", "-12.50"),
    ];
    about(top_up, &fields)
}

/// The IPN of PayPal deciding the chargeback for the seller: the money comes back.
fn canceled_reversal(top_up: &PaymentId) -> Vec<(&'static str, String)> {
    let fields = [
        ("payment_status", "Canceled_Reversal"),
        ("reason_code", "other"),
        ("txn_id", "3JN77519WB4461206"),
        ("parent_txn_id", ORIGINAL_TXN),
        ("mc_gross", "12.50"),
    ];
    about(top_up, &fields)
}

/// Posts an IPN to the engine and processes the queue, as the worker does; returns what applying did.
async fn ipn(engine: &Engine<ServerStore>, fields: &[(&'static str, String)]) -> Applied {
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: Some("192.0.2.7".into()),
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: encode_ipn(fields.iter().map(|(k, v)| (*k, v.as_str()))),
        headers: Default::default(),
    };
    engine.receive("paypal", message).await.unwrap();
    let mut queued = engine.store().claim_messages(Utc::now(), 10).await.unwrap();
    assert_eq!(queued.len(), 1, "one message queued");
    match engine.process(queued.remove(0), Utc::now()).await.unwrap() {
        Processed::Applied(applied) => applied,
        other => panic!("the IPN was not applied: {other:?}"),
    }
}

/// The 12.50 EUR PayPal payment that pays (part of) `purchase` for `user` (`None`: a guest).
async fn top_up(db: &TestDb, purchase: &PaymentId, user: Option<i64>) -> PaymentId {
    let top_up = create_payment(&db.store, false).await;
    db.store.link_top_up(&top_up, purchase, user, Utc::now()).await.unwrap();
    top_up
}

fn seller() -> Account {
    Account::Seller(SELLER.into())
}

async fn state(db: &TestDb, id: &PaymentId) -> PaymentState {
    db.store.payment(id).await.unwrap().unwrap().state
}

async fn kinds(db: &TestDb, id: &PaymentId) -> Vec<EventKind> {
    db.store
        .events_for_payment(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect()
}

/// The events an IPN wrote, which must be the purchase's.
fn events_of(applied: Applied, purchase: &PaymentId) -> Vec<Event> {
    let Applied::Applied { events, .. } = applied else {
        panic!("expected events, got {applied:?}")
    };
    assert!(
        events.iter().all(|e| &e.payment.id == purchase),
        "the purchase's events"
    );
    events
}

async fn assert_healthy(db: &TestDb) {
    let audit = Audit::of(&db.store.all_entries().await.unwrap());
    assert!(audit.is_healthy(), "{}: {audit:?}", db.backend);
}

/// The seller's money moved on since the purchase (a stand-in for a payout, which is not built yet).
async fn pay_out(db: &TestDb, amount: &str) {
    let amount = eur(amount);
    let out = NewTransaction::new(
        "payout:seed",
        TransactionKind::Purchase,
        vec![
            Entry {
                account: seller(),
                amount: Money::from_minor(-amount.minor_units(), amount.currency()),
            },
            Entry {
                account: Account::GatewayClearing("bank".into()),
                amount,
            },
        ],
    )
    .unwrap();
    db.store.post(out).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chargeback_of_a_top_up_that_paid_the_whole_purchase_refunds_it_and_takes_the_sellers_credit_back() {
    on_every_backend(|db| async move {
        let engine = engine(&db);
        let ann = user(&db, None).await;
        let purchase = purchase(&db, "12.50").await;
        let top_up = top_up(&db, &purchase, Some(ann)).await;
        ipn(&engine, &completed(&top_up)).await;
        assert_eq!(state(&db, &purchase).await, PaymentState::Accepted, "{}", db.backend);
        assert_eq!(balance(&db, seller()).await, eur("12.50"));

        let events = events_of(ipn(&engine, &reversed(&top_up)).await, &purchase);

        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::PaymentProcessed, EventKind::PaymentRefunded],
            "{}",
            db.backend
        );
        assert_eq!(events[1].payment.state, PaymentState::Refunded);
        assert_eq!(events[1].payment.gateway, "librement");
        assert_eq!(events[1].details["refund_amount"], "12.50");
        assert_eq!(events[1].details["payment_status"], "Reversed");
        assert_eq!(events[1].details["reason_code"], "chargeback");
        assert_eq!(state(&db, &purchase).await, PaymentState::Refunded);
        assert_eq!(state(&db, &top_up).await, PaymentState::Refunded);
        assert!(
            db.store.events_for_payment(&top_up).await.unwrap().is_empty(),
            "top-ups emit no events"
        );
        assert_eq!(
            balance(&db, seller()).await,
            eur("0.00"),
            "the seller's credit is taken back"
        );
        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::Disputes).await,
            eur("0.00"),
            "the seller covered it all"
        );
        assert_eq!(
            balance(&db, Account::GatewayClearing("paypal".into())).await,
            eur("0.00")
        );

        // PayPal sends the same IPN again: it never takes twice.
        assert_eq!(ipn(&engine, &reversed(&top_up)).await, Applied::Duplicate);
        assert_eq!(balance(&db, seller()).await, eur("0.00"));
        assert_eq!(balance(&db, Account::Disputes).await, eur("0.00"));
        assert_eq!(
            kinds_len(&db, &purchase).await,
            4,
            "processed+accepted, processed+refunded"
        );
        assert_healthy(&db).await;
    })
    .await;
}

async fn kinds_len(db: &TestDb, id: &PaymentId) -> usize {
    kinds(db, id).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chargeback_of_a_split_payment_takes_the_card_part_back_and_a_cancelled_reversal_restores_it() {
    on_every_backend(|db| async move {
        let engine = engine(&db);
        // 30.00 from the balance and 12.50 by PayPal.
        let ann = user(&db, Some("30.00")).await;
        let purchase = purchase(&db, "42.50").await;
        let top_up = top_up(&db, &purchase, Some(ann)).await;
        ipn(&engine, &completed(&top_up)).await;
        assert_eq!(balance(&db, seller()).await, eur("42.50"), "{}", db.backend);
        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"));

        let events = events_of(ipn(&engine, &reversed(&top_up)).await, &purchase);
        assert_eq!(events[1].kind, EventKind::PaymentRefunded, "{}", db.backend);
        assert_eq!(
            events[1].details["refund_amount"], "12.50",
            "the reversed part, not the price"
        );
        assert_eq!(
            events[1].payment.refunded_amount, "12.50",
            "the purchase's running refunded sum"
        );
        assert_eq!(
            state(&db, &purchase).await,
            PaymentState::Accepted,
            "partly refunded: 12.50 of 42.50"
        );
        assert_eq!(
            balance(&db, seller()).await,
            eur("30.00"),
            "only the card part is taken back"
        );
        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"));
        assert_eq!(balance(&db, Account::Disputes).await, eur("0.00"));

        let events = events_of(ipn(&engine, &canceled_reversal(&top_up)).await, &purchase);
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::PaymentProcessed],
            "{}: the purchase was announced accepted once; processed says it is again",
            db.backend
        );
        assert_eq!(events[0].payment.state, PaymentState::Accepted);
        assert_eq!(events[0].details["reversal_cancelled"], true);
        assert_eq!(state(&db, &purchase).await, PaymentState::Accepted);
        assert_eq!(state(&db, &top_up).await, PaymentState::Accepted);
        assert_eq!(
            balance(&db, seller()).await,
            eur("42.50"),
            "the seller is credited again"
        );
        assert_eq!(balance(&db, Account::Disputes).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::GatewayClearing("paypal".into())).await,
            eur("-12.50")
        );

        // Resent, the cancellation gives nothing twice.
        assert_eq!(ipn(&engine, &canceled_reversal(&top_up)).await, Applied::Duplicate);
        assert_eq!(balance(&db, seller()).await, eur("42.50"));
        assert_eq!(kinds_len(&db, &purchase).await, 5);
        assert_healthy(&db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chargeback_of_a_guest_payment_the_seller_cannot_cover_is_carried_by_disputes_until_cancelled() {
    on_every_backend(|db| async move {
        let engine = engine(&db);
        let purchase = purchase(&db, "12.50").await;
        let top_up = top_up(&db, &purchase, None).await;
        ipn(&engine, &completed(&top_up)).await;
        pay_out(&db, "5.00").await;
        assert_eq!(balance(&db, seller()).await, eur("7.50"), "{}", db.backend);

        let events = events_of(ipn(&engine, &reversed(&top_up)).await, &purchase);
        assert_eq!(events[1].kind, EventKind::PaymentRefunded, "{}", db.backend);
        assert_eq!(events[1].details["refund_amount"], "12.50");
        assert_eq!(state(&db, &purchase).await, PaymentState::Refunded);
        assert_eq!(
            balance(&db, seller()).await,
            eur("0.00"),
            "as far as the seller's balance allows"
        );
        assert_eq!(
            balance(&db, Account::Disputes).await,
            eur("-5.00"),
            "the rest, for an operator"
        );
        assert_eq!(balance(&db, Account::GuestClearing).await, eur("0.00"));
        assert_healthy(&db).await;

        ipn(&engine, &canceled_reversal(&top_up)).await;
        assert_eq!(state(&db, &purchase).await, PaymentState::Accepted);
        assert_eq!(
            balance(&db, seller()).await,
            eur("7.50"),
            "what was taken is given back"
        );
        assert_eq!(
            balance(&db, Account::Disputes).await,
            eur("0.00"),
            "the dispute is settled"
        );
        assert_eq!(
            kinds(&db, &purchase).await,
            [
                EventKind::PaymentProcessed,
                EventKind::PaymentAccepted,
                EventKind::PaymentProcessed,
                EventKind::PaymentRefunded,
                EventKind::PaymentProcessed, // accepted again: announced once, never a second payment_accepted
            ]
        );
        assert_healthy(&db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chargeback_of_a_top_up_left_on_the_balance_takes_what_is_left_and_never_goes_below_zero() {
    on_every_backend(|db| async move {
        let engine = engine(&db);
        let ann = user(&db, Some("50.00")).await;
        let purchase = purchase(&db, "42.50").await;
        let top_up = top_up(&db, &purchase, Some(ann)).await;
        // Another tab paid the purchase from the balance: the top-up stays in the account...
        db.store.pay_from_balance(&purchase, ann, Utc::now()).await.unwrap();
        ipn(&engine, &completed(&top_up)).await;
        assert_eq!(balance(&db, Account::User(ann)).await, eur("20.00"), "{}", db.backend);
        // ...and 16.00 of it is spent elsewhere.
        db.store
            .post(NewTransaction::purchase("purchase:elsewhere", ann, "other@example.org", eur("16.00")).unwrap())
            .await
            .unwrap();

        let applied = ipn(&engine, &reversed(&top_up)).await;

        assert!(
            matches!(&applied, Applied::Applied { events, .. } if events.is_empty()),
            "{}: the purchase was not paid by the top-up: nothing to tell the shop ({applied:?})",
            db.backend
        );
        assert_eq!(state(&db, &purchase).await, PaymentState::Accepted);
        assert_eq!(kinds_len(&db, &purchase).await, 2);
        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"), "never below zero");
        assert_eq!(
            balance(&db, Account::Disputes).await,
            eur("-8.50"),
            "12.50 less the 4.00 left"
        );
        assert_eq!(
            balance(&db, seller()).await,
            eur("42.50"),
            "the seller was paid from the balance"
        );
        assert_healthy(&db).await;
    })
    .await;
}

/// A refund made at PayPal of `amount` of the top-up (its own `txn_id`).
fn refunded(top_up: &PaymentId, txn_id: &'static str, amount: &'static str) -> Vec<(&'static str, String)> {
    let fields = [
        ("payment_status", "Refunded"),
        ("reason_code", "refund"),
        ("txn_id", txn_id),
        ("parent_txn_id", ORIGINAL_TXN),
        ("mc_gross", amount),
    ];
    about(top_up, &fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refunds_of_a_top_up_are_taken_back_and_never_more_than_the_top_up() {
    on_every_backend(|db| async move {
        let engine = engine(&db);
        let ann = user(&db, Some("30.00")).await;
        let purchase = purchase(&db, "42.50").await;
        let top_up = top_up(&db, &purchase, Some(ann)).await;
        ipn(&engine, &completed(&top_up)).await;

        let events = events_of(
            ipn(&engine, &refunded(&top_up, "1RF00000000000001", "-5.00")).await,
            &purchase,
        );
        assert_eq!(events[1].kind, EventKind::PaymentRefunded, "{}", db.backend);
        assert_eq!(events[1].details["refund_amount"], "5.00");
        assert_eq!(balance(&db, seller()).await, eur("37.50"));

        let events = events_of(
            ipn(&engine, &refunded(&top_up, "1RF00000000000002", "-7.50")).await,
            &purchase,
        );
        assert_eq!(events[1].details["refund_amount"], "7.50", "{}", db.backend);
        assert_eq!(
            balance(&db, seller()).await,
            eur("30.00"),
            "the whole card part is back"
        );
        assert_eq!(balance(&db, Account::Disputes).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::GatewayClearing("paypal".into())).await,
            eur("0.00")
        );

        // One more would make more than the top-up: whether the core flags it or applies it to the
        // top-up, the ledger takes nothing more and the shop hears nothing more.
        let applied = ipn(&engine, &refunded(&top_up, "1RF00000000000003", "-1.00")).await;
        assert!(
            matches!(&applied, Applied::Applied { events, .. } if events.is_empty())
                || matches!(applied, Applied::Unchanged { .. }),
            "{}: {applied:?}",
            db.backend
        );
        assert_eq!(balance(&db, seller()).await, eur("30.00"));
        assert_eq!(balance(&db, Account::User(ann)).await, eur("0.00"));
        assert_eq!(balance(&db, Account::Disputes).await, eur("0.00"));
        assert_eq!(kinds_len(&db, &purchase).await, 6);
        assert_healthy(&db).await;
    })
    .await;
}
