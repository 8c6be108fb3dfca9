//! Shared set-up of the server's store tests: a [`ServerStore`] on a database of its own per scenario
//! (SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set; made and dropped by the core's
//! `TestDatabase`), the core's fixtures (`payment_buttons::store::conformance`), and the Librement ledger
//! fixtures (a purchase through `librement`, a user with a balance).
#![allow(dead_code, unused_imports)]

use std::future::Future;

use actix_pay_server::store::ServerStore;
use librement_pay::accounts::{Email, NewUser, UserStore};
use librement_pay::ledger::{Account, LedgerStore, NewTransaction};
use payment_buttons::button::ButtonConfig;
use payment_buttons::money::Money;
use payment_buttons::notification::Notification;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::conformance::TestDatabase;
use payment_buttons::store::{MessageId, NewPayment, Store};

pub use payment_buttons::store::conformance::{button, new_message, new_payment, notification, request, t0};

/// One test database with the server's store on it. The database goes with the value.
pub struct TestDb {
    /// The store, migrated (the core's migrations, then the server's).
    pub store: ServerStore,
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgresql`, for assertion messages.
    pub backend: &'static str,
    _database: TestDatabase,
}

impl Drop for TestDb {
    // Empty, but it makes a scenario's `async move` block capture the value whole, database included,
    // instead of only the fields it reads (which would drop the database at once).
    fn drop(&mut self) {}
}

async fn open(database: TestDatabase) -> TestDb {
    let url = database.url().to_owned();
    let store = ServerStore::open(&url).await.expect("open the server's store");
    TestDb {
        store,
        url,
        backend: database.backend(),
        _database: database,
    }
}

/// Runs `scenario` on a fresh SQLite database, then on a fresh PostgreSQL one when `TEST_DATABASE_URL`
/// is set.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(open(TestDatabase::sqlite()).await).await;
    match TestDatabase::postgres() {
        Some(database) => scenario(open(database).await).await,
        None => eprintln!("TEST_DATABASE_URL is not set: PostgreSQL not tested"),
    }
}

/// Records a new payment of 12.50 EUR through `paypal` and returns its id.
pub async fn create_payment(db: &TestDb, recurring: bool) -> PaymentId {
    let payment = new_payment(recurring);
    let id = payment.id.clone();
    db.store.create_payment(payment).await.expect("create payment");
    id
}

/// Logs a message received at [`t0`].
pub async fn log(db: &TestDb, body: &[u8]) -> MessageId {
    db.store
        .log_message(new_message(body, t0()))
        .await
        .expect("log message")
}

/// Logs a message and applies `n` as its content.
pub async fn log_and_apply(
    db: &TestDb,
    payment: &PaymentId,
    n: Notification,
) -> (MessageId, payment_buttons::store::Applied) {
    let id = log(db, n.idempotency_key.as_bytes()).await;
    let applied = db.store.apply(request(id, payment, n, vec![])).await.expect("apply");
    (id, applied)
}

// Librement ledger fixtures (the top-up hook, reversals).

/// The seller every Librement purchase pays.
pub const SELLER: &str = "author@example.org";

/// An amount in euros.
pub fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

/// A Librement purchase of `amount` from [`SELLER`].
pub async fn purchase(db: &TestDb, amount: &str) -> PaymentId {
    let button = ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-9",
          "options": [{{"description": "Book", "amount": "{amount}", "currency": "EUR"}}],
          "payment_options": {{"librement": {{"seller": "{SELLER}"}}}},
          "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
    ))
    .unwrap();
    let p = NewPayment {
        id: PaymentId::generate(),
        gateway: "librement".into(),
        button,
        option_index: 0,
        amount: eur(amount),
        receiver: Some(SELLER.into()),
        subscription_id: None,
        created_at: t0(),
    };
    let id = p.id.clone();
    db.store.create_payment(p).await.unwrap();
    id
}

/// The user Ann, with `balance` on her account (a top-up through CM-CIC keyed `seed`), or none.
pub async fn user(db: &TestDb, balance: Option<&str>) -> i64 {
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

/// An account's balance in euros.
pub async fn balance(db: &TestDb, account: Account) -> Money {
    db.store.balance(&account, "EUR".parse().unwrap()).await.unwrap()
}
