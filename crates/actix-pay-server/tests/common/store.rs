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
use payment_buttons::payment::PaymentId;
use payment_buttons::store::conformance::OnDatabase;
use payment_buttons::store::{NewPayment, Store};

pub use payment_buttons::store::conformance::{
    button, create_payment, log, log_and_apply, new_message, new_payment, notification, request, t0,
};

/// One test database with the server's store on it (the core's migrations, then the server's).
pub type TestDb = OnDatabase<ServerStore>;

/// Runs `scenario` on a fresh SQLite database, then on a fresh PostgreSQL one when `TEST_DATABASE_URL`
/// is set.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    payment_buttons::store::conformance::on_every_backend(
        |url| async move { ServerStore::open(&url).await.expect("open the server's store") },
        scenario,
    )
    .await
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
