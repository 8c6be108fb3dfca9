//! Who receives a seller's money: the account whose address is verified, never one that only typed it.
//!
//! A sale credits the user whose verified e-mail is the button's seller, else `seller:{email}`, where the
//! money waits. Verifying an address moves what waits there to the account, in the ledger. Both take the
//! lock of `seller:{email}` first (PostgreSQL: `FOR UPDATE` on its account row; SQLite: the database's write
//! lock), so a sale and a verification of the same address happen one after the other: no sale can credit
//! `seller:{email}` after its balance was moved and strand there.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use librement_pay::accounts::Email;
use librement_pay::ledger::{Account, NewTransaction, UserId, payee};
use payment_buttons::money::{Currency, Money};

use super::super::connection::AnyConnection;
use super::super::models::db_time;
use super::super::schema::{librement_entries, librement_users};
use super::schema::librement_email_verifications as verifications;
use super::{LFail, ensure_account, lock_account, post_in};

/// The user whose verified address is `email`.
pub(super) fn verified_user(conn: &mut AnyConnection, email: &str) -> Result<Option<UserId>, LFail> {
    Ok(verifications::table
        .filter(verifications::email.eq(email))
        .select(verifications::user_id)
        .first(conn)
        .optional()?)
}

/// True when `user`'s address is verified.
pub(super) fn is_verified(conn: &mut AnyConnection, user: UserId) -> Result<bool, LFail> {
    let n: i64 = verifications::table.find(user).count().get_result(conn)?;
    Ok(n > 0)
}

/// `user`'s address.
pub(super) fn user_email(conn: &mut AnyConnection, user: UserId) -> Result<Option<Email>, LFail> {
    let email: Option<String> = librement_users::table
        .find(user)
        .select(librement_users::email)
        .first(conn)
        .optional()?;
    Ok(email.and_then(|e| Email::parse(&e).ok()))
}

/// The account a sale by `seller` credits, inside the caller's write transaction, with `seller:{email}`
/// locked first (see the module documentation).
pub(super) fn payee_for(conn: &mut AnyConnection, seller: &str, now: DateTime<Utc>) -> Result<Account, LFail> {
    let key = Account::Seller(seller.to_owned()).key();
    ensure_account(conn, &key, db_time(now))?;
    lock_account(conn, &key)?;
    Ok(payee(seller, verified_user(conn, seller)?))
}

/// An account's balance in every currency it holds.
pub(super) fn balances(conn: &mut AnyConnection, account: &str) -> Result<Vec<Money>, LFail> {
    let rows: Vec<(String, i64)> = librement_entries::table
        .filter(librement_entries::account.eq(account))
        .select((librement_entries::currency, librement_entries::amount_minor))
        .load(conn)?;
    let mut totals: std::collections::BTreeMap<String, i64> = Default::default();
    for (currency, minor) in rows {
        *totals.entry(currency).or_default() += minor;
    }
    totals
        .into_iter()
        .map(|(code, minor)| {
            let currency: Currency = code
                .parse()
                .map_err(|_| LFail::Db(format!("corrupt currency in an entry of {account}")))?;
            Ok(Money::from_minor(minor, currency))
        })
        .collect()
}

/// Inside the caller's write transaction: records `user`'s address as verified (once) and moves what waits
/// on `seller:{email}` to the account, one transaction per currency keyed `earnings:{user}:{tag}:{currency}`
/// (`tag` names the link that proved the address). Returns what moved.
pub(super) fn verify_and_claim(
    conn: &mut AnyConnection,
    user: UserId,
    tag: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Money>, LFail> {
    let email = user_email(conn, user)?.ok_or_else(|| LFail::Db("the user is missing".into()))?;
    let row = (
        verifications::user_id.eq(user),
        verifications::email.eq(email.as_str()),
        verifications::verified_at.eq(db_time(now)),
    );
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(verifications::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(verifications::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let waiting = Account::Seller(email.as_str().to_owned()).key();
    ensure_account(conn, &waiting, db_time(now))?;
    lock_account(conn, &waiting)?;
    let mut claimed = Vec::new();
    for amount in balances(conn, &waiting)? {
        if amount.minor_units() <= 0 {
            continue;
        }
        let key = format!("earnings:{user}:{tag}:{}", amount.currency().code());
        post_in(
            conn,
            &NewTransaction::earnings(key, email.as_str(), user, amount)?,
            db_time(now),
        )?;
        claimed.push(amount);
    }
    Ok(claimed)
}
