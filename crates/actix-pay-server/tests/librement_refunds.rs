//! Refunds of Librement purchases through the payments API of the assembled app
//! (`POST /api/payments/{id}/refunds`, docs/librement.md "Refunds of purchases"): a purchase paid from the
//! balance, in full and in part, replayed and in parallel, with a seller whose earnings left (on SQLite, and
//! PostgreSQL with `TEST_DATABASE_URL`); a guest purchase and a split purchase refunded through the PayPal
//! simulator of the same server, whose later IPN `Refunded` counts nothing twice, and a card part that
//! PayPal refuses or leaves pending until its IPN (a scripted PayPal) (SQLite).

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
        // Ann's statement: the two refunds, newest first, naming the purchase, with the balance after each.
        let page = librement_pay::statement::statement(&db.store, ann_id, None, 10)
            .await
            .unwrap();
        let refunds: Vec<_> = page
            .lines
            .iter()
            .filter(|l| l.kind == librement_pay::statement::LineKind::Refund)
            .map(|l| (l.amount, l.balance_after, l.order_reference.clone()))
            .collect();
        assert_eq!(
            refunds,
            vec![
                (eur("32.00"), eur("50.00"), Some("ORDER-9".to_owned())),
                (eur("10.00"), eur("18.00"), Some("ORDER-9".to_owned())),
            ]
        );

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
            calls.push(test::call_service(
                &app,
                refund_request(&p, "shared", json!({})).to_request(),
            ));
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

// Through the PayPal simulator of a served app: the gateway part of a refund is a real refund call.

/// A served app (zero configuration: every gateway simulated) on a fresh SQLite database.
struct Served {
    public: String,
    assembled: Assembled,
    business: String,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start() -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let public = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let store = ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
            .await
            .unwrap();
        let assembled = app_on(store, &public);
        let routes = assembled.configure();
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(2)
            .listen(listener)
            .unwrap()
            .run();
        actix_web::rt::spawn(server);
        let business = config().paypal.and_then(|p| p.business).expect("simulated business");
        Served {
            public,
            assembled,
            business,
            _dir: dir,
        }
    }

    fn store(&self) -> &ServerStore {
        &self.assembled.store
    }

    async fn balance(&self, account: Account) -> payment_buttons::money::Money {
        self.store().balance(&account, "EUR".parse().unwrap()).await.unwrap()
    }

    /// A Librement purchase of `amount` from [`SELLER`], recorded as `/pay` records it.
    async fn purchase(&self, amount: &str) -> PaymentId {
        let button = ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "ORDER-R",
              "options": [{{"description": "Book", "amount": "{amount}", "currency": "EUR"}}],
              "payment_options": {{"librement": {{"seller": "{SELLER}"}}}},
              "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
        ))
        .unwrap();
        self.assembled
            .state
            .engine
            .start_payment_of(button, "librement", None, None, Utc::now())
            .await
            .unwrap()
            .payment_id
    }

    /// The PayPal payment of `amount` that pays `purchase` (for `user`; `None`: a guest), paid at the
    /// simulator, whose IPN the engine then verifies and applies.
    async fn pay_by_paypal(&self, purchase: &PaymentId, user: Option<i64>, amount: &str) -> PaymentId {
        let button = ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "librement-{purchase}",
              "options": [{{"description": "Book", "amount": "{amount}", "currency": "EUR"}}],
              "payment_options": {{"paypal": {{"paypal_email": "{}"}}}},
              "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#,
            self.business
        ))
        .unwrap();
        let engine = &self.assembled.state.engine;
        let top_up = engine
            .start_payment_of(button, "paypal", None, None, Utc::now())
            .await
            .unwrap()
            .payment_id;
        self.store()
            .link_top_up(&top_up, purchase, user, Utc::now())
            .await
            .unwrap();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("cmd", "_xclick")
            .append_pair("business", &self.business)
            .append_pair("item_name", "Book")
            .append_pair("amount", amount)
            .append_pair("currency_code", "EUR")
            .append_pair("invoice", top_up.as_str())
            .append_pair("custom", top_up.as_str())
            .append_pair("notify_url", &format!("{}/notify/paypal", self.public))
            .finish();
        let sim = self.assembled.paypal_simulator.clone().expect("simulator mode");
        let (checkout, _) = sim.open_checkout(form.as_bytes()).unwrap();
        sim.pay(&checkout, false).await.unwrap();
        assert_eq!(self.drain().await, 1, "the IPN of the payment");
        assert_eq!(
            self.store().payment(&top_up).await.unwrap().unwrap().state,
            PaymentState::Accepted
        );
        top_up
    }

    /// Processes the gateway messages waiting; returns how many.
    async fn drain(&self) -> usize {
        self.assembled.state.engine.process_due(Utc::now(), 10).await.unwrap()
    }

    /// Waits (at most 10 s) for the simulator's IPN of a refund, and processes it.
    async fn refund_ipn(&self) {
        for _ in 0..100 {
            if self.drain().await > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the simulator sent no IPN for the refund");
    }

    async fn refund(&self, purchase: &PaymentId, key: &str, body: Value) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/payments/{purchase}/refunds", self.public))
            .bearer_auth(KEY)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn make_user(&self, balance: &str) -> i64 {
        let id = self
            .store()
            .create_user(NewUser {
                email: Email::parse("ann@example.org").unwrap(),
                display_name: "Ann".into(),
                password_hash: "$argon2id$unused".into(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
        self.store()
            .post(NewTransaction::top_up("seed", id, "cmcic", eur(balance)).unwrap())
            .await
            .unwrap();
        id
    }
}

#[actix_web::test]
async fn a_guest_purchase_is_refunded_through_paypal_and_the_later_ipn_counts_nothing_twice() {
    let s = Served::start().await;
    let p = s.purchase("42.00").await;
    let t = s.pay_by_paypal(&p, None, "42.00").await;
    assert_eq!(
        s.store().payment(&p).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    assert_eq!(s.balance(seller()).await, eur("42.00"));

    let (status, answer) = s.refund(&p, "guest-1", json!({"reason": "out of stock"})).await;
    assert_eq!(status, 201, "{answer}");
    // One part, through PayPal: a refund of the guest's payment.
    assert_eq!(answer["payment_id"], t.as_str(), "{answer}");
    assert_eq!(answer["state"], "succeeded", "{answer}");
    assert_eq!(answer["amount"], "42.00");
    assert_eq!(answer["parts"].as_array().unwrap().len(), 1);
    let stored = s.store().payment(&p).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Refunded);
    assert_eq!(stored.refunded, eur("42.00"));
    assert_eq!(s.balance(seller()).await, eur("0.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 1);
    ledger_is_sound(s.store()).await;

    // PayPal's own IPN of the same refund, later: a duplicate.
    s.refund_ipn().await;
    let stored = s.store().payment(&p).await.unwrap().unwrap();
    assert_eq!(stored.refunded, eur("42.00"));
    assert_eq!(s.store().payment(&t).await.unwrap().unwrap().refunded, eur("42.00"));
    assert_eq!(s.balance(seller()).await, eur("0.00"));
    assert_eq!(s.balance(Account::Disputes).await, eur("0.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 1);
    ledger_is_sound(s.store()).await;

    // A replay answers the same refund and calls nobody.
    let (status, again) = s.refund(&p, "guest-1", json!({"reason": "out of stock"})).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], answer["id"]);
    assert_eq!(s.store().refunds_for_payment(&t).await.unwrap().len(), 1);
}

#[actix_web::test]
async fn a_split_purchase_refunds_the_card_part_through_paypal_then_the_balance_part_to_the_balance() {
    let s = Served::start().await;
    let ann = s.make_user("30.00").await;
    let p = s.purchase("42.00").await;
    // 30.00 from the balance, 12.00 by PayPal.
    let t = s.pay_by_paypal(&p, Some(ann), "12.00").await;
    assert_eq!(
        s.store().payment(&p).await.unwrap().unwrap().state,
        PaymentState::Accepted
    );
    assert_eq!(s.balance(Account::User(ann)).await, eur("0.00"));
    assert_eq!(s.balance(seller()).await, eur("42.00"));

    // 20.00: the 12.00 of the card part back to PayPal first, then 8.00 to the balance.
    let (status, answer) = s.refund(&p, "split-1", json!({"amount": "20.00"})).await;
    assert_eq!(status, 201, "{answer}");
    let parts = answer["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{answer}");
    assert_eq!(
        (parts[0]["payment_id"].as_str(), parts[0]["amount"].as_str()),
        (Some(t.as_str()), Some("12.00"))
    );
    assert_eq!(
        (parts[1]["payment_id"].as_str(), parts[1]["amount"].as_str()),
        (Some(p.as_str()), Some("8.00"))
    );
    assert!(parts.iter().all(|r| r["state"] == "succeeded"), "{answer}");
    let stored = s.store().payment(&p).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Accepted);
    assert_eq!(stored.refunded, eur("20.00"));
    assert_eq!(s.balance(Account::User(ann)).await, eur("8.00"));
    assert_eq!(s.balance(seller()).await, eur("22.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 2);
    ledger_is_sound(s.store()).await;

    // PayPal's IPN of the card part: nothing twice.
    s.refund_ipn().await;
    assert_eq!(s.store().payment(&p).await.unwrap().unwrap().refunded, eur("20.00"));
    assert_eq!(s.balance(seller()).await, eur("22.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 2);

    // A replay of the request replays both parts.
    let (status, again) = s.refund(&p, "split-1", json!({"amount": "20.00"})).await;
    assert_eq!(status, 201);
    assert_eq!(again["parts"], answer["parts"]);
    assert_eq!(s.balance(Account::User(ann)).await, eur("8.00"));

    // The rest: the card part is spent, all 22.00 go to the balance.
    let (status, rest) = s.refund(&p, "split-2", json!({})).await;
    assert_eq!(status, 201, "{rest}");
    assert_eq!(rest["payment_id"], p.as_str());
    assert_eq!(rest["amount"], "22.00");
    let stored = s.store().payment(&p).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Refunded);
    assert_eq!(stored.refunded, eur("42.00"));
    assert_eq!(s.balance(Account::User(ann)).await, eur("30.00"));
    assert_eq!(s.balance(seller()).await, eur("0.00"));
    assert_eq!(s.balance(Account::Disputes).await, eur("0.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 3);
    ledger_is_sound(s.store()).await;

    // The payment's view lists every part: the card part (a refund of the top-up) and both balance parts.
    let view: Value = reqwest::Client::new()
        .get(format!("{}/api/payments/{p}", s.public))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["state"], "refunded");
    assert_eq!(view["refunded_amount"], "42.00");
    let mut listed: Vec<(String, String)> = view["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["payment_id"].as_str().unwrap().to_owned(),
                r["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (t.to_string(), "12.00".to_owned()),
        (p.to_string(), "8.00".to_owned()),
        (p.to_string(), "22.00".to_owned()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
}

#[actix_web::test]
async fn a_balance_refund_asked_of_the_engine_for_a_guest_purchase_moves_nothing() {
    // The API and the console split a purchase by its parts; an application calling the engine itself on
    // a purchase no balance paid gets an error, and the apply transaction writes nothing.
    let s = Served::start().await;
    let p = s.purchase("42.00").await;
    s.pay_by_paypal(&p, None, "42.00").await;
    let asked = s
        .assembled
        .state
        .engine
        .refund(
            payment_buttons::engine::RefundOrder {
                payment_id: &p,
                amount: None,
                reason: None,
                idempotency_key: "direct",
                origin: payment_buttons::refund::RefundOrigin::Api,
            },
            Utc::now(),
        )
        .await;
    assert!(asked.is_err(), "{asked:?}");
    let stored = s.store().payment(&p).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Accepted);
    assert_eq!(stored.refunded, eur("0.00"));
    assert_eq!(s.balance(seller()).await, eur("42.00"));
    assert_eq!(s.balance(Account::GuestClearing).await, eur("0.00"));
    assert_eq!(refunded_events(s.store(), &p).await, 0);
    ledger_is_sound(s.store()).await;
    // The refund the engine recorded stays pending (never applied), for an operator to see.
    let recorded = s.store().refunds_for_payment(&p).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].state, payment_buttons::refund::RefundState::Pending);
}

// With a PayPal whose refund answers each test scripts (`testing::scripted::Scripted`): a card part that
// the gateway refuses, or that stays pending until PayPal's IPN.

mod scripted {
    use std::sync::Arc;

    use actix_pay_server::app::{ApiKeys, AppState};
    use actix_pay_server::refunds::LibrementRefunds;
    use actix_web::{App, test};
    use chrono::Utc;
    use librement_pay::gateway::LibrementGateway;
    use librement_pay::ledger::{Account, LedgerStore};
    use librement_pay::topup::TopUps;
    use payment_buttons::button::ButtonConfig;
    use payment_buttons::engine::Engine;
    use payment_buttons::gateway::{Gateway, Gateways, IncomingMessage, RefundAnswer};
    use payment_buttons::payment::PaymentState;
    use payment_buttons::paypal::simulator::encode_ipn;
    use payment_buttons::paypal::testing::ScriptedPostback;
    use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
    use payment_buttons::store::Store;
    use payment_buttons::testing::scripted::Scripted;
    use serde_json::{Value, json};

    use super::{KEY, SELLER, Served, eur, ledger_is_sound, refund_request, refunded_events, seller};

    const BUSINESS: &str = "seller@example.com";

    async fn ipn(engine: &Engine<actix_pay_server::store::ServerStore>, fields: &[(&str, &str)]) -> usize {
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: Some("192.0.2.7".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: encode_ipn(fields.iter().copied()),
            headers: Default::default(),
        };
        engine.receive("paypal", message).await.unwrap();
        engine.process_due(Utc::now(), 10).await.unwrap()
    }

    #[actix_web::test]
    async fn a_refused_card_part_stops_the_request_and_a_pending_one_is_settled_once_by_the_ipn() {
        // The served app only lends its store and templates; its engine is replaced by one whose PayPal
        // is scripted (verified postbacks, scripted refund answers) beside Librement.
        let s = Served::start().await;
        let config = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                business: Some(BUSINESS.into()),
                webscr_url: Some("http://127.0.0.1:1/simulator/paypal/webscr".into()),
                postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let paypal = Arc::new(Scripted::new(Arc::new(PaypalGateway::new(
            config,
            ScriptedPostback::verified().shared(),
        ))));
        let core = &s.assembled.state.engine;
        let engine = Arc::new(Engine::new(
            Arc::new(s.store().clone()),
            Gateways::new()
                .with(paypal.clone() as Arc<dyn Gateway>)
                .with(Arc::new(LibrementGateway)),
            core.signer().clone(),
            core.urls().clone(),
        ));
        let state = Arc::new(AppState {
            engine: engine.clone(),
            templates: s.assembled.state.templates.clone(),
            buttons: s.assembled.state.buttons.clone(),
            api_keys: ApiKeys::new([KEY.to_owned()]),
            simulator: true,
            trusted_proxies: s.assembled.state.trusted_proxies.clone(),
            refunds: Arc::new(LibrementRefunds(engine.clone())),
        });
        let app = test::init_service(App::new().configure(actix_pay_server::app::configure(state))).await;
        let store = s.store();

        // Ann pays 42.00: 30.00 from her balance, 12.00 by PayPal.
        let ann = s.make_user("30.00").await;
        let librement = ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "ORDER-S", "options": [{{"description": "Book", "amount": "42.00", "currency": "EUR"}}],
              "payment_options": {{"librement": {{"seller": "{SELLER}"}}}},
              "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
        ))
        .unwrap();
        let p = engine
            .start_payment_of(librement, "librement", None, None, Utc::now())
            .await
            .unwrap()
            .payment_id;
        let by_paypal = ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "librement-{p}", "options": [{{"description": "Book", "amount": "12.00", "currency": "EUR"}}],
              "payment_options": {{"paypal": {{"paypal_email": "{BUSINESS}"}}}},
              "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
        ))
        .unwrap();
        let t = engine
            .start_payment_of(by_paypal, "paypal", None, None, Utc::now())
            .await
            .unwrap()
            .payment_id;
        store.link_top_up(&t, &p, Some(ann), Utc::now()).await.unwrap();
        let about = |fields: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
            let mut all: Vec<(&'static str, String)> = fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            all.extend([
                ("invoice", t.to_string()),
                ("mc_currency", "EUR".to_owned()),
                ("receiver_email", BUSINESS.to_owned()),
                ("business", BUSINESS.to_owned()),
            ]);
            all
        };
        let send = |v: Vec<(&'static str, String)>| {
            let engine = engine.clone();
            async move {
                let fields: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
                ipn(&engine, &fields).await
            }
        };
        let completed = about(&[
            ("txn_type", "web_accept"),
            ("payment_status", "Completed"),
            ("txn_id", "TXN-T1"),
            ("mc_gross", "12.00"),
        ]);
        assert_eq!(send(completed.clone()).await, 1);
        let balance = |account: Account| async move { store.balance(&account, "EUR".parse().unwrap()).await.unwrap() };
        assert_eq!(store.payment(&p).await.unwrap().unwrap().state, PaymentState::Accepted);
        assert_eq!(balance(Account::User(ann)).await, eur("0.00"));
        assert_eq!(balance(seller()).await, eur("42.00"));

        // PayPal refuses the card part: the request stops there, the balance part is not made.
        paypal.answer_refund(RefundAnswer::Failed {
            reason: "REFUND_FAILED_INSUFFICIENT_FUNDS".into(),
        });
        let resp = test::call_service(&app, refund_request(&p, "r-1", json!({})).to_request()).await;
        assert_eq!(resp.status(), 201);
        let refused: Value = test::read_body_json(resp).await;
        assert_eq!(refused["state"], "failed", "{refused}");
        assert_eq!(refused["payment_id"], t.as_str());
        assert_eq!(refused["parts"].as_array().unwrap().len(), 1);
        let stored = store.payment(&p).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.refunded), (PaymentState::Accepted, eur("0.00")));
        assert_eq!(balance(Account::User(ann)).await, eur("0.00"));
        assert_eq!(balance(seller()).await, eur("42.00"));
        assert_eq!(refunded_events(store, &p).await, 0);

        // PayPal takes the card part but leaves it pending; the balance part goes back at once.
        paypal.answer_refund(RefundAnswer::Pending {
            gateway_refund_id: Some("RF-T1".into()),
        });
        let resp = test::call_service(&app, refund_request(&p, "r-2", json!({})).to_request()).await;
        assert_eq!(resp.status(), 201);
        let answer: Value = test::read_body_json(resp).await;
        let parts = answer["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 2, "{answer}");
        assert_eq!(
            (parts[0]["state"].as_str(), parts[0]["amount"].as_str()),
            (Some("pending"), Some("12.00"))
        );
        assert_eq!(
            (parts[1]["state"].as_str(), parts[1]["amount"].as_str()),
            (Some("succeeded"), Some("30.00"))
        );
        let stored = store.payment(&p).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.refunded), (PaymentState::Accepted, eur("30.00")));
        assert_eq!(balance(Account::User(ann)).await, eur("30.00"));
        assert_eq!(balance(seller()).await, eur("12.00"));
        assert_eq!(refunded_events(store, &p).await, 1);

        // PayPal's IPN completes the card part: the purchase is refunded; sent again, it changes nothing.
        let refunded = about(&[
            ("payment_status", "Refunded"),
            ("reason_code", "refund"),
            ("txn_id", "RF-T1"),
            ("parent_txn_id", "TXN-T1"),
            ("mc_gross", "-12.00"),
        ]);
        for _ in 0..2 {
            send(refunded.clone()).await;
            let stored = store.payment(&p).await.unwrap().unwrap();
            assert_eq!((stored.state, stored.refunded), (PaymentState::Refunded, eur("42.00")));
            assert_eq!(balance(Account::User(ann)).await, eur("30.00"));
            assert_eq!(balance(seller()).await, eur("0.00"));
            assert_eq!(balance(Account::Disputes).await, eur("0.00"));
            assert_eq!(refunded_events(store, &p).await, 2);
            ledger_is_sound(store).await;
        }
        let card_part = store.refunds_for_payment(&t).await.unwrap();
        assert_eq!(card_part.len(), 2, "the failed one and the one the IPN settled");
        assert_eq!(card_part[1].state, payment_buttons::refund::RefundState::Succeeded);
    }
}
