//! Refunds of Librement purchases asked by a shop or an operator (docs/librement.md, "Refunds of
//! purchases"): the balance part posted inside the core's apply transaction, and the callers' requests
//! with the parts they were split into ([`librement_pay::refund`] decides).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use librement_pay::ledger::{Entry, LedgerError};
use librement_pay::purchase::{purchase_key, seller};
use librement_pay::refund::{BalanceRefund, buyer_of, ledger_key, ledger_prefix, paying_top_up};
use payment_buttons::diesel::{AnyConnection, Tx, db_time};
use payment_buttons::money::{Currency, Money};
use payment_buttons::payment::PaymentId;
use payment_buttons::refund::RefundId;
use payment_buttons::store::StoreError;

use super::super::ServerStore;
use super::super::schema::{librement_entries, librement_transactions};
use super::schema::librement_refund_requests;
use super::{LFail, earnings, post_in};

/// The entries of the ledger transactions whose key is `key` (`exact`) or starts with it.
fn entries_of(conn: &mut AnyConnection, key: &str, exact: bool) -> Result<Vec<Entry>, LFail> {
    let ids: Vec<i64> = if exact {
        librement_transactions::table
            .filter(librement_transactions::idempotency_key.eq(key))
            .select(librement_transactions::id)
            .load(conn)?
    } else {
        librement_transactions::table
            .filter(librement_transactions::idempotency_key.like(format!("{key}%")))
            .select(librement_transactions::id)
            .load(conn)?
    };
    let rows: Vec<(String, String, i64)> = librement_entries::table
        .filter(librement_entries::transaction_id.eq_any(ids))
        .order(librement_entries::id.asc())
        .select((
            librement_entries::account,
            librement_entries::currency,
            librement_entries::amount_minor,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(account, currency, minor)| {
            let currency: Currency = currency
                .parse()
                .map_err(|_| LFail::Db(format!("corrupt currency in an entry of {account}")))?;
            Ok(Entry {
                account: account.parse()?,
                amount: Money::from_minor(minor, currency),
            })
        })
        .collect()
}

/// The balance refund `refund` of `amount` of the purchase `purchase_id` (a Librement payment whose refund
/// the core is applying, the purchase locked): from the seller back to the buyer's balance, the rest carried
/// by `disputes`, posted once (its ledger key). Refused (the apply rolls back) when the purchase was not
/// paid from a balance, or when this would give back more than the balance paid.
pub(super) fn credit_back(
    tx: &mut Tx<'_>,
    purchase_id: &PaymentId,
    refund: &RefundId,
    amount: Money,
    now: DateTime<Utc>,
) -> Result<(), LFail> {
    let purchase = tx
        .payment(purchase_id)?
        .ok_or_else(|| LFail::Db("the purchase is missing".into()))?;
    let currency = purchase.amount.currency();
    let conn = tx.conn();
    let buyer = buyer_of(&entries_of(conn, &purchase_key(purchase_id), true)?).ok_or_else(|| {
        LFail::Db("this purchase was not paid from a Librement balance: nothing can go back to one".into())
    })?;
    // What the balance paid: the price, less the top-up that paid the rest through a gateway.
    let by_gateway = match paying_top_up(&purchase) {
        Some(top_up) => tx
            .payment(&top_up)?
            .map_or(0, |t| t.amount.minor_units().min(purchase.amount.minor_units())),
        None => 0,
    };
    let conn = tx.conn();
    let buyer_account = librement_pay::ledger::Account::User(buyer);
    let before: i64 = entries_of(conn, &ledger_prefix(purchase_id), false)?
        .iter()
        .filter(|e| e.account == buyer_account && e.amount.currency() == currency)
        .map(|e| e.amount.minor_units())
        .sum();
    let paid_from_balance = purchase.amount.minor_units() - by_gateway;
    if before + amount.minor_units() > paid_from_balance {
        return Err(LFail::Db(format!(
            "a refund of {amount} to the balance after {} would give back more than the {} paid from it",
            Money::from_minor(before, currency),
            Money::from_minor(paid_from_balance, currency)
        )));
    }
    let email = seller(&purchase.button).map_err(|e| LFail::Db(format!("the purchase's button: {e}")))?;
    // Where the sale's money is now, locked: the seller's verified account, else `seller:{email}`.
    let payee = earnings::payee_for(conn, email.as_str(), now)?;
    super::ensure_account(conn, &payee.key(), db_time(now))?;
    super::lock_account(conn, &payee.key())?;
    let payee_balance = Money::from_minor(super::balance_of(conn, &payee.key(), currency.code())?, currency);
    let (transaction, split) = BalanceRefund {
        buyer,
        payee,
        payee_balance,
        amount,
    }
    .transaction(ledger_key(purchase_id, refund.as_str()))
    .map_err(LFail::Ledger)?;
    post_in(conn, &transaction, db_time(now))?;
    if split.to_disputes > 0 {
        tracing::warn!(
            purchase = %purchase_id,
            refund = %refund,
            disputes = %Money::from_minor(split.to_disputes, currency),
            "librement: a balance refund the seller's balance does not cover; carried by the disputes account"
        );
    }
    Ok(())
}

/// A caller's refund request of a Librement purchase, as first recorded: the parts it was split into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequestRecord {
    /// The hash of the caller's amount and reason ([`payment_buttons::refund::request_hash`]).
    pub request_hash: String,
    /// The top-up (or guest payment) refunded through its gateway for the gateway part.
    pub top_up: Option<PaymentId>,
    /// The gateway part, in minor units of the purchase's currency.
    pub gateway_part: i64,
    /// The balance part, in minor units.
    pub balance_part: i64,
}

type RequestRow = (String, Option<String>, i64, i64);

fn record_of(row: RequestRow) -> Result<RefundRequestRecord, LFail> {
    let top_up = row
        .1
        .map(|t| PaymentId::parse(&t))
        .transpose()
        .map_err(|e| LFail::Db(format!("librement_refund_requests.top_up_id: {e}")))?;
    Ok(RefundRequestRecord {
        request_hash: row.0,
        top_up,
        gateway_part: row.2,
        balance_part: row.3,
    })
}

fn find_request(conn: &mut AnyConnection, payment: &str, key: &str) -> Result<Option<RefundRequestRecord>, LFail> {
    let row: Option<RequestRow> = librement_refund_requests::table
        .find((payment, key))
        .select((
            librement_refund_requests::request_hash,
            librement_refund_requests::top_up_id,
            librement_refund_requests::gateway_part_minor,
            librement_refund_requests::balance_part_minor,
        ))
        .first(conn)
        .optional()?;
    row.map(record_of).transpose()
}

fn store_error(e: LFail) -> StoreError {
    StoreError::Database(LedgerError::from(e).to_string())
}

impl ServerStore {
    /// The refund request recorded under `key` for the Librement purchase `payment`, if any.
    pub async fn librement_refund_request(
        &self,
        payment: &PaymentId,
        key: &str,
    ) -> Result<Option<RefundRequestRecord>, StoreError> {
        let (payment, key) = (payment.as_str().to_owned(), key.to_owned());
        self.run_librement(move |conn| find_request(conn, &payment, &key))
            .await
            .map_err(store_error)
    }

    /// Records a refund request of the Librement purchase `payment` under `key`, unless one was recorded
    /// first (a parallel request with the same key): returns the record that stands.
    pub async fn record_librement_refund_request(
        &self,
        payment: &PaymentId,
        key: &str,
        record: RefundRequestRecord,
        now: DateTime<Utc>,
    ) -> Result<RefundRequestRecord, StoreError> {
        let (payment, key) = (payment.as_str().to_owned(), key.to_owned());
        self.write_librement(move |tx| {
            let conn = tx.conn();
            let row = (
                librement_refund_requests::payment_id.eq(&payment),
                librement_refund_requests::idempotency_key.eq(&key),
                librement_refund_requests::request_hash.eq(&record.request_hash),
                librement_refund_requests::top_up_id.eq(record.top_up.as_ref().map(PaymentId::as_str)),
                librement_refund_requests::gateway_part_minor.eq(record.gateway_part),
                librement_refund_requests::balance_part_minor.eq(record.balance_part),
                librement_refund_requests::created_at.eq(db_time(now)),
            );
            // A parallel request with the same key waits here (PostgreSQL) and finds the first one's.
            match conn {
                AnyConnection::Postgresql(c) => diesel::insert_into(librement_refund_requests::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?,
                AnyConnection::Sqlite(c) => diesel::insert_into(librement_refund_requests::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?,
            };
            find_request(conn, &payment, &key)?.ok_or_else(|| LFail::Db("the refund request vanished".into()))
        })
        .await
        .map_err(store_error)
    }
}
