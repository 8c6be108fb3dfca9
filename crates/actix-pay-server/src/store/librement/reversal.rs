//! Refunds and reversals of top-ups and guest payments, and their cancellation, inside the core's apply
//! transaction: the facts gathered with the accounts locked, [`librement_pay::reversal`] deciding, the
//! ledger and the purchase written here (docs/librement.md, "Chargebacks and refunds of top-ups").

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use librement_pay::ledger::{Account, Entry, UserId};
use librement_pay::purchase::seller;
use librement_pay::reversal::{
    OpenReversal, PurchaseChange, ReversalFacts, cancellation_key, cancellations, paid_by, refund_purchase,
    reinstate_purchase, reversal_key, reversal_prefix,
};
use payment_buttons::event::Event;
use payment_buttons::money::{Currency, Money};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{MessageId, StoredPayment};

use super::super::connection::AnyConnection;
use super::super::models::db_time;
use super::super::schema::{librement_entries, librement_transactions};
use super::super::{backend, payments};
use super::{LFail, balance_of, earnings, ensure_account, lock_account, post_in, set_purchase_state};

/// The top-up and its purchase (none for money added to an account alone), the purchase locked.
fn load_pair(
    conn: &mut AnyConnection,
    top_up: &str,
    purchase: Option<&str>,
) -> Result<(StoredPayment, Option<StoredPayment>), LFail> {
    let missing = |what: &str| LFail::Db(format!("{what} is missing"));
    let Some(purchase) = purchase else {
        let top_up = payments::load(conn, top_up)?.ok_or_else(|| missing("the top-up"))?;
        return Ok((top_up, None));
    };
    if !backend::lock_payment(conn, purchase)? {
        return Err(missing("the purchase"));
    }
    let top_up = payments::load(conn, top_up)?.ok_or_else(|| missing("the top-up"))?;
    let purchase = payments::load(conn, purchase)?.ok_or_else(|| missing("the purchase"))?;
    Ok((top_up, Some(purchase)))
}

/// The reversals of `top_up` posted and not cancelled yet, oldest first, with their entries.
fn open_reversals(conn: &mut AnyConnection, top_up: &PaymentId) -> Result<Vec<OpenReversal>, LFail> {
    let posted: Vec<(i64, String)> = librement_transactions::table
        .filter(librement_transactions::idempotency_key.like(format!("{}%", reversal_prefix(top_up))))
        .order(librement_transactions::id.asc())
        .select((librement_transactions::id, librement_transactions::idempotency_key))
        .load(conn)?;
    let mut open = Vec::new();
    for (id, key) in posted {
        let cancelled: i64 = librement_transactions::table
            .filter(librement_transactions::idempotency_key.eq(cancellation_key(&key)))
            .count()
            .get_result(conn)?;
        if cancelled > 0 {
            continue;
        }
        let rows: Vec<(String, String, i64)> = librement_entries::table
            .filter(librement_entries::transaction_id.eq(id))
            .order(librement_entries::id.asc())
            .select((
                librement_entries::account,
                librement_entries::currency,
                librement_entries::amount_minor,
            ))
            .load(conn)?;
        let entries = rows
            .into_iter()
            .map(|(account, currency, minor)| {
                let currency: Currency = currency
                    .parse()
                    .map_err(|_| LFail::Db(format!("corrupt currency in an entry of {account}")))?;
                Ok(Entry {
                    account: account.parse()?,
                    amount: Money::from_minor(minor, currency),
                })
            })
            .collect::<Result<_, LFail>>()?;
        open.push(OpenReversal { key, entries });
    }
    Ok(open)
}

/// Locks `accounts` (in key order, as every posting does) and reads their balances in `currency`.
fn locked_balances(
    conn: &mut AnyConnection,
    accounts: &[&Account],
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Vec<Money>, LFail> {
    let mut keys: Vec<String> = accounts.iter().map(|a| a.key()).collect();
    keys.sort();
    for key in &keys {
        ensure_account(conn, key, db_time(now))?;
        lock_account(conn, key)?;
    }
    accounts
        .iter()
        .map(|a| {
            Ok(Money::from_minor(
                balance_of(conn, &a.key(), currency.code())?,
                currency,
            ))
        })
        .collect()
}

/// `requested` (or all) of the top-up `top_up_id` went back through its gateway: takes it back from the
/// buyer's balance (what of the top-up is still there), then from the seller if the top-up paid the
/// purchase, the rest to `disputes`; refunds the purchase it paid. Returns the purchase's events. For money
/// added to an account alone (`purchase_id` none) only the buyer's balance and `disputes` are concerned.
pub(in crate::store) fn take_back(
    conn: &mut AnyConnection,
    top_up_id: &str,
    purchase_id: Option<&str>,
    user: Option<UserId>,
    requested: Option<Money>,
    message_id: MessageId,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, LFail> {
    let (top_up, purchase) = load_pair(conn, top_up_id, purchase_id)?;
    let paid = purchase.as_ref().is_some_and(|p| paid_by(p, &top_up.id));
    let source = user.map_or(Account::GuestClearing, Account::User);
    let seller = match (&purchase, paid) {
        (Some(purchase), true) => {
            let email = seller(&purchase.button).map_err(|e| LFail::Db(format!("the purchase's button: {e}")))?;
            // Where the sale's money is now: the seller's verified account, else `seller:{email}`.
            Some(earnings::payee_for(conn, email.as_str(), now)?)
        }
        _ => None,
    };
    let currency = top_up.amount.currency();
    let mut accounts = vec![&source];
    accounts.extend(seller.as_ref());
    let balances = locked_balances(conn, &accounts, currency, now)?;
    let spent = match (&purchase, paid) {
        (Some(purchase), true) => top_up.amount.minor_units().min(purchase.amount.minor_units()),
        _ => 0,
    };
    let facts = ReversalFacts {
        top_up: top_up.id.clone(),
        gateway: top_up.gateway.clone(),
        amount: top_up.amount,
        requested,
        source: source.clone(),
        source_balance: balances[0],
        seller: seller.map(|s| (s, balances[1])),
        spent_on_purchase: Money::from_minor(spent, currency),
        open: open_reversals(conn, &top_up.id)?,
    };
    let Some((transaction, split)) = facts.transaction(reversal_key(&top_up.id, message_id))? else {
        tracing::warn!(
            top_up = top_up_id,
            "librement: a refund or reversal of a top-up that went back in full already; nothing taken"
        );
        return Ok(Vec::new());
    };
    post_in(conn, &transaction, db_time(now))?;
    if split.to_disputes > 0 {
        tracing::warn!(
            top_up = top_up_id,
            purchase = purchase_id.unwrap_or("none"),
            disputes = %Money::from_minor(split.to_disputes, currency),
            "librement: money went back through the gateway that no balance covers; carried by the disputes account"
        );
    }
    let Some(purchase) = purchase.filter(|_| paid) else {
        return Ok(Vec::new());
    };
    let reversed = Money::from_minor(split.reversed, currency);
    write(
        conn,
        &purchase,
        refund_purchase(&purchase, &top_up, reversed, message_id, now),
        now,
    )
}

/// The gateway gave the money of `top_up_id` back (a cancelled reversal): undoes every open reversal of it
/// and brings the purchase it had refunded back to `accepted`. Returns the purchase's events.
pub(in crate::store) fn give_back(
    conn: &mut AnyConnection,
    top_up_id: &str,
    purchase_id: Option<&str>,
    message_id: MessageId,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, LFail> {
    let (top_up, purchase) = load_pair(conn, top_up_id, purchase_id)?;
    for transaction in cancellations(&open_reversals(conn, &top_up.id)?)? {
        post_in(conn, &transaction, db_time(now))?;
    }
    let Some(purchase) = purchase.filter(|p| paid_by(p, &top_up.id)) else {
        return Ok(Vec::new());
    };
    write(
        conn,
        &purchase,
        reinstate_purchase(&purchase, &top_up, message_id, now),
        now,
    )
}

/// Writes the purchase's change, if any; returns its events.
fn write(
    conn: &mut AnyConnection,
    purchase: &StoredPayment,
    change: Option<PurchaseChange>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, LFail> {
    let Some(change) = change else {
        return Ok(Vec::new());
    };
    set_purchase_state(
        conn,
        purchase,
        change.state,
        Some(change.refunded),
        &change.details,
        db_time(now),
    )?;
    Ok(change.events)
}
