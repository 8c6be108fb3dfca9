//! Librement fixtures shared by the ledger-hook suites (`librement_topup.rs`, `librement_reversal.rs`): a
//! purchase through the `librement` method, a user with a balance, balances in euros. Built on
//! `common/store.rs`, which the including file declares as `mod common`.
#![allow(dead_code)]

use librement_pay::accounts::{Email, NewUser, UserStore};
use librement_pay::ledger::{Account, LedgerStore, NewTransaction};
use payment_buttons::button::ButtonConfig;
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{NewPayment, Store};

use crate::common::{TestDb, t0};

/// The seller every purchase pays.
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
