//! Refunds of Librement purchases through the payments API of the assembled app
//! (`POST /api/payments/{id}/refunds`, docs/librement.md "Refunds of purchases"): a purchase paid from the
//! balance, in full and in part, replayed and in parallel, with a seller whose earnings left (on SQLite, and
//! PostgreSQL with `TEST_DATABASE_URL`); a guest purchase and a split purchase refunded through the PayPal
//! simulator of the same server, whose later IPN `Refunded` counts nothing twice (SQLite).

#[path = "common/store.rs"]
mod common;

use actix_pay_server::config::Config;
use actix_pay_server::serve::{Assembled, assemble};
use actix_pay_server::store::ServerStore;
use actix_web::{App, HttpServer, test};
use chrono::Utc;
use common::*;
use librement_pay::accounts::{Email, NewUser, UserStore};
use librement_pay::ledger::{Account, Audit, Entry, LedgerStore, NewTransaction, TransactionKind};
use librement_pay::purchase::{BalancePayment, BalancePayments};
use librement_pay::topup::TopUps;
use payment_buttons::button::ButtonConfig;
use payment_buttons::event::EventKind;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;
use serde_json::{Value, json};

const KEY: &str = "test-api-key-librement-refunds";
const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

fn config() -> Config {
    Config::load(None, [("PAY_SERVER_API_KEYS".to_owned(), KEY.to_owned())]).unwrap()
}

/// The app as `librement-server serve` assembles it (zero configuration plus an API key) on `store`.
fn app_on(store: ServerStore, public: &str) -> Assembled {
    assemble(&config(), &url::Url::parse(public).unwrap(), SECRET, store).unwrap()
}

async fn ledger_is_sound(store: &ServerStore) {
    let audit = Audit::of(&store.all_entries().await.unwrap());
    assert!(audit.is_healthy(), "{audit:?}");
}

async fn refunded_events(store: &ServerStore, id: &PaymentId) -> usize {
    store
        .events_for_payment(id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::PaymentRefunded)
        .count()
}

async fn paid_from_balance(db: &TestDb, amount: &str, user: i64) -> PaymentId {
    let p = purchase(db, amount).await;
    let paid = db.store.pay_from_balance(&p, user, Utc::now()).await.unwrap();
    assert!(matches!(paid, BalancePayment::Paid { .. }));
    p
}

fn refund_request(id: &PaymentId, key: &str, body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(&format!("/api/payments/{id}/refunds"))
        .insert_header(("Authorization", format!("Bearer {KEY}")))
        .insert_header(("Idempotency-Key", key))
        .set_json(body)
}

fn ann() -> Account {
    Account::User(1)
}

#[actix_web::test]
async fn a_purchase_paid_from_the_balance_is_refunded_to_the_balance_in_part_then_in_full() {
    on_every_backend(|db| async move {
        let ann_id = user(&db, Some("50.00")).await;
        assert_eq!(Account::User(ann_id), ann());
        let p = paid_from_balance(&db, "42.00", ann_id).await;
        let assembled = app_on(db.store.clone(), "http://pay.test");
        let app = test::init_service(App::new().configure(assembled.configure())).await;

        // A part: 10.00 back to Ann, from the seller; the purchase stays accepted.
        let resp = test::call_service(&app, refund_request(&p, "k-1", json!({"amount": "10.00"})).to_request()).await;
        assert_eq!(resp.status(), 201);
        let first: Value = test::read_body_json(resp).await;
        assert_eq!(first["state"], "succeeded", "{first}");
        assert_eq!(first["amount"], "10.00");
        assert_eq!(first["payment_id"], p.as_str());
        assert_eq!(first["parts"].as_array().unwrap().len(), 1, "{first}");
        let stored = db.store.payment(&p).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Accepted);
        assert_eq!(stored.refunded, eur("10.00"));
        assert_eq!(balance(&db, ann()).await, eur("18.00"));
        assert_eq!(balance(&db, seller()).await, eur("32.00"));
        assert_eq!(refunded_events(&db.store, &p).await, 1);
        ledger_is_sound(&db.store).await;

        // The same key and body: the same refund, nothing moves again.
        let resp = test::call_service(&app, refund_request(&p, "k-1", json!({"amount": "10.00"})).to_request()).await;
        assert_eq!(resp.status(), 201);
        let again: Value = test::read_body_json(resp).await;
        assert_eq!(again["id"], first["id"]);
        assert_eq!(balance(&db, ann()).await, eur("18.00"));
        assert_eq!(refunded_events(&db.store, &p).await, 1);
        // The same key, another body: refused.
        let resp = test::call_service(&app, refund_request(&p, "k-1", json!({"amount": "5.00"})).to_request()).await;
        assert_eq!(resp.status(), 422);
        // More than is left: refused, nothing moves.
        let resp = test::call_service(&app, refund_request(&p, "k-2", json!({"amount": "33.00"})).to_request()).await;
        assert_eq!(resp.status(), 400);

        // The rest: the purchase is refunded, Ann has her 50.00 back, the seller nothing.
        let resp = test::call_service(&app, refund_request(&p, "k-3", json!({})).to_request()).await;
        assert_eq!(resp.status(), 201);
        let rest: Value = test::read_body_json(resp).await;
        assert_eq!(rest["amount"], "32.00", "{rest}");
        let stored = db.store.payment(&p).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Refunded);
        assert_eq!(stored.refunded, eur("42.00"));
        assert_eq!(balance(&db, ann()).await, eur("50.00"));
        assert_eq!(balance(&db, seller()).await, eur("0.00"));
        assert_eq!(refunded_events(&db.store, &p).await, 2);
        ledger_is_sound(&db.store).await;

        // The API shows it: refunded_amount, both refunds.
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/payments/{p}"))
                .insert_header(("Authorization", format!("Bearer {KEY}")))
                .to_request(),
        )
        .await;
        let view: Value = test::read_body_json(resp).await;
        assert_eq!(view["refunded_amount"], "42.00");
        assert_eq!(view["refunds"].as_array().unwrap().len(), 2);
        // Nothing left: 409.
        let resp = test::call_service(&app, refund_request(&p, "k-4", json!({})).to_request()).await;
        assert_eq!(resp.status(), 409);
    })
    .await;
}

#[actix_web::test]
async fn parallel_refunds_of_one_balance_purchase_give_back_the_price_once() {
    on_every_backend(|db| async move {
        let ann_id = user(&db, Some("42.00")).await;
        let p = paid_from_balance(&db, "42.00", ann_id).await;
        let assembled = app_on(db.store.clone(), "http://pay.test");
        let app = test::init_service(App::new().configure(assembled.configure())).await;

        // Eight full refunds with keys of their own, and eight with one key, all at once.
        let mut calls = Vec::new();
        for i in 0..8 {
            calls.push(test::call_service(
                &app,
                refund_request(&p, &format!("own-{i}"), json!({})).to_request(),
            ));
            calls.push(test::call_service(&app, refund_request(&p, "shared", json!({})).to_request()));
        }
        let answers = futures_util::future::join_all(calls).await;
        let created: Vec<_> = answers.iter().filter(|r| r.status() == 201).collect();
        assert!(!created.is_empty());
        assert!(
            answers.iter().all(|r| r.status() == 201 || r.status() == 409),
            "{:?}",
            answers.iter().map(|r| r.status()).collect::<Vec<_>>()
        );
        let refunds = db.store.refunds_for_payment(&p).await.unwrap();
        assert_eq!(refunds.len(), 1, "one refund recorded: {refunds:?}");
        let stored = db.store.payment(&p).await.unwrap().unwrap();
        assert_eq!(stored.state, PaymentState::Refunded);
        assert_eq!(stored.refunded, eur("42.00"));
        assert_eq!(balance(&db, ann()).await, eur("42.00"));
        assert_eq!(balance(&db, seller()).await, eur("0.00"));
        assert_eq!(refunded_events(&db.store, &p).await, 1);
        ledger_is_sound(&db.store).await;
    })
    .await;
}

#[actix_web::test]
async fn earnings_that_left_the_sellers_balance_are_carried_by_disputes() {
    on_every_backend(|db| async move {
        let ann_id = user(&db, Some("42.00")).await;
        let p = paid_from_balance(&db, "42.00", ann_id).await;
        // The seller's money left (paid out): 30.00 of the 42.00 are gone.
        db.store
            .post(
                NewTransaction::new(
                    "test:paid-out",
                    TransactionKind::PayoutPaid,
                    vec![
                        Entry {
                            account: seller(),
                            amount: eur("-30.00"),
                        },
                        Entry {
                            account: Account::PaidOut,
                            amount: eur("30.00"),
                        },
                    ],
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let assembled = app_on(db.store.clone(), "http://pay.test");
        let app = test::init_service(App::new().configure(assembled.configure())).await;
        let resp = test::call_service(&app, refund_request(&p, "k", json!({})).to_request()).await;
        assert_eq!(resp.status(), 201);
        // Ann gets everything back; the seller gives what it holds; disputes carries the rest.
        assert_eq!(balance(&db, ann()).await, eur("42.00"));
        assert_eq!(balance(&db, seller()).await, eur("0.00"));
        assert_eq!(balance(&db, Account::Disputes).await, eur("-30.00"));
        ledger_is_sound(&db.store).await;
    })
    .await;
}

fn seller() -> Account {
    Account::Seller(SELLER.into())
}
