//! The account statement ([`Statements`]): the transactions that touched an account, newest first, each
//! with the balance after it, read by keyset (transaction ids only grow).

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use librement_pay::ledger::{Account, LedgerError, TransactionKind, UserId};
use librement_pay::statement::{RawLine, Statements};
use payment_buttons::money::{Currency, Money};
use payment_buttons::payment::PaymentId;

use super::super::DieselStore;
use super::super::connection::AnyConnection;
use super::super::models::utc;
use super::super::schema::{librement_entries, librement_top_ups, librement_transactions};
use super::earnings::balances;
use super::{LFail, Total};

/// `account`'s balance in `currency` after transaction `upto`.
fn balance_after(conn: &mut AnyConnection, account: &str, currency: &str, upto: i64) -> Result<i64, LFail> {
    let sql = |p: [&str; 3]| {
        format!(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM librement_entries \
             WHERE account = {} AND currency = {} AND transaction_id <= {}",
            p[0], p[1], p[2]
        )
    };
    let total: Total = match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(sql(["$1", "$2", "$3"]))
            .bind::<Text, _>(account)
            .bind::<Text, _>(currency)
            .bind::<BigInt, _>(upto)
            .get_result(c)?,
        AnyConnection::Sqlite(c) => diesel::sql_query(sql(["?", "?", "?"]))
            .bind::<Text, _>(account)
            .bind::<Text, _>(currency)
            .bind::<BigInt, _>(upto)
            .get_result(c)?,
    };
    Ok(total.total)
}

fn lines(conn: &mut AnyConnection, user: UserId, before: Option<i64>, limit: usize) -> Result<Vec<RawLine>, LFail> {
    let account = Account::User(user).key();
    let limit = i64::try_from(limit.clamp(1, 100_001)).unwrap_or(100);
    let ids: Vec<i64> = librement_entries::table
        .filter(librement_entries::account.eq(&account))
        .filter(librement_entries::transaction_id.lt(before.unwrap_or(i64::MAX)))
        .select(librement_entries::transaction_id)
        .distinct()
        .order(librement_entries::transaction_id.desc())
        .limit(limit)
        .load(conn)?;
    let Some(&newest) = ids.first() else {
        return Ok(Vec::new());
    };
    let transactions: Vec<(i64, String, String, chrono::NaiveDateTime)> = librement_transactions::table
        .filter(librement_transactions::id.eq_any(&ids))
        .select((
            librement_transactions::id,
            librement_transactions::idempotency_key,
            librement_transactions::kind,
            librement_transactions::created_at,
        ))
        .load(conn)?;
    let transactions: BTreeMap<i64, (String, String, chrono::NaiveDateTime)> = transactions
        .into_iter()
        .map(|(id, key, kind, at)| (id, (key, kind, at)))
        .collect();
    let entries: Vec<(i64, String, i64)> = librement_entries::table
        .filter(librement_entries::account.eq(&account))
        .filter(librement_entries::transaction_id.eq_any(&ids))
        .select((
            librement_entries::transaction_id,
            librement_entries::currency,
            librement_entries::amount_minor,
        ))
        .load(conn)?;
    // One line per transaction and currency: what it did to the account.
    let mut per_line: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for (id, currency, minor) in entries {
        *per_line.entry((id, currency)).or_default() += minor;
    }
    let mut after: BTreeMap<String, i64> = BTreeMap::new();
    let mut out = Vec::with_capacity(per_line.len());
    for ((id, code), minor) in per_line.into_iter().rev() {
        if !after.contains_key(&code) {
            let b = balance_after(conn, &account, &code, newest)?;
            after.insert(code.clone(), b);
        }
        let balance = after.get_mut(&code).expect("inserted above");
        let currency: Currency = code
            .parse()
            .map_err(|_| LFail::Db(format!("corrupt currency in an entry of {account}")))?;
        let (key, kind, at) = transactions
            .get(&id)
            .cloned()
            .ok_or_else(|| LFail::Db(format!("transaction {id} is missing")))?;
        let kind: TransactionKind = kind.parse()?;
        out.push(RawLine {
            transaction_id: id,
            key,
            kind,
            at: utc(at),
            amount: Money::from_minor(minor, currency),
            balance_after: Money::from_minor(*balance, currency),
        });
        *balance -= minor;
    }
    Ok(out)
}

#[async_trait::async_trait]
impl Statements for DieselStore {
    async fn balances(&self, user: UserId) -> Result<Vec<Money>, LedgerError> {
        Ok(self
            .run_librement(move |conn| balances(conn, &Account::User(user).key()))
            .await?)
    }

    async fn statement_lines(
        &self,
        user: UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RawLine>, LedgerError> {
        Ok(self.run_librement(move |conn| lines(conn, user, before, limit)).await?)
    }

    async fn purchase_of_top_up(&self, top_up: &PaymentId) -> Result<Option<PaymentId>, LedgerError> {
        let id = top_up.as_str().to_owned();
        let found: Option<String> = self
            .run_librement(move |conn| {
                Ok(librement_top_ups::table
                    .find(id)
                    .select(librement_top_ups::purchase_id)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(found.and_then(|p| PaymentId::parse(&p).ok()))
    }
}
