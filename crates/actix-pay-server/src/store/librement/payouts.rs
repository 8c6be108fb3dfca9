//! Payouts ([`Payouts`]): requested and held in one transaction with the user's account locked, decided
//! in one transaction with the payout row locked, each decision e-mailed in the same transaction.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use librement_pay::ledger::{Account, LedgerError, NewTransaction, TransactionKind, UserId};
use librement_pay::mail::payout_decided;
use librement_pay::payout::{
    Decision, Payout, PayoutError, PayoutFilter, PayoutId, PayoutState, Payouts, Withdrawable, checked_note, hold_key,
    paid_key, rejected_key,
};
use payment_buttons::money::{Currency, Money};

use super::super::DieselStore;
use super::super::connection::{AnyConnection, write_transaction};
use super::super::models::{db_time, utc};
use super::earnings::user_email;
use super::mail_queue::enqueue_in;
use super::schema::librement_payouts as payouts;
use super::{LFail, Total, balance_of, ensure_account, lock_account, post_in};
use diesel::sql_types::{Text, Timestamp};

impl From<LFail> for PayoutError {
    fn from(e: LFail) -> Self {
        match e {
            LFail::Payout(p) => p,
            other => PayoutError::Ledger(LedgerError::from(other)),
        }
    }
}

/// The sum of the entries on `account` in `currency` of transactions of `kinds` posted after `since`
/// (only the credits when `credits_only`).
fn sum(
    conn: &mut AnyConnection,
    account: &str,
    currency: &str,
    kinds: &[TransactionKind],
    since: Option<NaiveDateTime>,
    credits_only: bool,
) -> Result<i64, LFail> {
    // The kinds are our own constants, never input: written into the SQL as literals.
    let kinds: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    let sql = |p: [&str; 3]| {
        format!(
            "SELECT CAST(COALESCE(SUM(e.amount_minor), 0) AS BIGINT) AS total FROM librement_entries e \
             JOIN librement_transactions t ON t.id = e.transaction_id \
             WHERE e.account = {} AND e.currency = {} AND t.created_at > {} AND t.kind IN ({}){}",
            p[0],
            p[1],
            p[2],
            kinds.join(", "),
            if credits_only { " AND e.amount_minor > 0" } else { "" }
        )
    };
    let since = since.unwrap_or(chrono::DateTime::<Utc>::UNIX_EPOCH.naive_utc());
    let total: Total = match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(sql(["$1", "$2", "$3"]))
            .bind::<Text, _>(account)
            .bind::<Text, _>(currency)
            .bind::<Timestamp, _>(since)
            .get_result(c)?,
        AnyConnection::Sqlite(c) => diesel::sql_query(sql(["?", "?", "?"]))
            .bind::<Text, _>(account)
            .bind::<Text, _>(currency)
            .bind::<Timestamp, _>(since)
            .get_result(c)?,
    };
    Ok(total.total)
}

/// What `user` can withdraw, read inside the caller's transaction (see [`Withdrawable`]).
fn withdrawable_in(
    conn: &mut AnyConnection,
    user: UserId,
    currency: Currency,
    hold: Duration,
    now: DateTime<Utc>,
) -> Result<Money, LFail> {
    let account = Account::User(user).key();
    let code = currency.code();
    let earning = [
        TransactionKind::Purchase,
        TransactionKind::GuestPurchase,
        TransactionKind::Earnings,
    ];
    let earnings = sum(conn, &account, code, &earning, None, true)?;
    let on_hold = sum(conn, &account, code, &earning, Some(db_time(now - hold)), true)?;
    let payouts = sum(
        conn,
        &account,
        code,
        &[TransactionKind::Payout, TransactionKind::PayoutRejected],
        None,
        false,
    )?;
    let m = |minor| Money::from_minor(minor, currency);
    Ok(Withdrawable {
        balance: m(balance_of(conn, &account, code)?),
        earnings: m(earnings),
        earnings_on_hold: m(on_hold),
        paid_out: m(-payouts),
    }
    .amount())
}

type PayoutRow = (
    i64,
    i64,
    String,
    i64,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    String,
);

fn load(conn: &mut AnyConnection, filter: &PayoutFilter, id: Option<PayoutId>) -> Result<Vec<(Payout, String)>, LFail> {
    let all = [PayoutState::Requested, PayoutState::Paid, PayoutState::Rejected];
    let states: Vec<&str> = match filter.state {
        Some(s) => vec![s.as_str()],
        None => all.iter().map(PayoutState::as_str).collect(),
    };
    // Bounds rather than boxed queries (which cannot run on both backends): one id, or those before one.
    let (low, high) = match id {
        Some(id) => (id, id),
        None => (i64::MIN, filter.before.map_or(i64::MAX, |b| b.saturating_sub(1))),
    };
    let (first_user, last_user) = filter.user.map_or((i64::MIN, i64::MAX), |u| (u, u));
    let limit = i64::try_from(filter.limit.clamp(1, 500)).unwrap_or(500);
    let rows: Vec<PayoutRow> = payouts::table
        .filter(payouts::state.eq_any(states))
        .filter(payouts::id.between(low, high))
        .filter(payouts::user_id.between(first_user, last_user))
        .select((
            payouts::id,
            payouts::user_id,
            payouts::currency,
            payouts::amount_minor,
            payouts::state,
            payouts::requested_at,
            payouts::decided_at,
            payouts::decided_by,
            payouts::note,
            payouts::language,
        ))
        .order(payouts::id.desc())
        .limit(limit)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, user, currency, minor, state, requested_at, decided_at, decided_by, note, language)| {
                let email = user_email(conn, user)?
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default();
                let currency: Currency = currency
                    .parse()
                    .map_err(|_| LFail::Db(format!("corrupt currency of payout {id}")))?;
                let state =
                    PayoutState::parse(&state).ok_or_else(|| LFail::Db(format!("corrupt state of payout {id}")))?;
                Ok((
                    Payout {
                        id,
                        user,
                        email,
                        amount: Money::from_minor(minor, currency),
                        state,
                        requested_at: utc(requested_at),
                        decided_at: decided_at.map(utc),
                        decided_by,
                        note,
                    },
                    language,
                ))
            },
        )
        .collect()
}

fn one(conn: &mut AnyConnection, id: PayoutId) -> Result<Option<(Payout, String)>, LFail> {
    let filter = PayoutFilter {
        limit: 1,
        ..PayoutFilter::default()
    };
    Ok(load(conn, &filter, Some(id))?.into_iter().next())
}

/// Decides payout `id` (paid when `paid`), in the caller's write transaction.
fn decide(
    conn: &mut AnyConnection,
    id: PayoutId,
    paid: bool,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<Payout, LFail> {
    let note = checked_note(decision.note.as_deref()).map_err(LFail::Payout)?;
    // Locked: a second decision, on this instance or another, waits here and then finds it decided.
    if let AnyConnection::Postgresql(c) = conn {
        payouts::table
            .find(id)
            .select(payouts::id)
            .for_update()
            .first::<i64>(c)
            .optional()?;
    }
    let (payout, language) = one(conn, id)?.ok_or(LFail::Payout(PayoutError::NotFound))?;
    if payout.state != PayoutState::Requested {
        return Err(LFail::Payout(PayoutError::AlreadyDecided(payout.state)));
    }
    let state = if paid { PayoutState::Paid } else { PayoutState::Rejected };
    diesel::update(payouts::table.find(id))
        .set((
            payouts::state.eq(state.as_str()),
            payouts::decided_at.eq(Some(db_time(now))),
            payouts::decided_by.eq(Some(decision.operator.chars().take(200).collect::<String>())),
            payouts::note.eq(note.clone()),
        ))
        .execute(conn)?;
    let transaction = if paid {
        NewTransaction::payout_paid(paid_key(id), payout.amount)?
    } else {
        NewTransaction::payout_rejected(rejected_key(id), payout.user, payout.amount)?
    };
    post_in(conn, &transaction, db_time(now))?;
    if let Some(to) = user_email(conn, payout.user)? {
        enqueue_in(
            conn,
            &payout_decided(&to, id, payout.amount, paid, note.as_deref(), &language),
            now,
        )?;
    }
    Ok(one(conn, id)?.ok_or(LFail::Payout(PayoutError::NotFound))?.0)
}

#[async_trait::async_trait]
impl Payouts for DieselStore {
    async fn withdrawable(
        &self,
        user: UserId,
        currency: Currency,
        hold: Duration,
        now: DateTime<Utc>,
    ) -> Result<Money, PayoutError> {
        Ok(self
            .run_librement(move |conn| withdrawable_in(conn, user, currency, hold, now))
            .await?)
    }

    async fn request_payout(
        &self,
        user: UserId,
        amount: Money,
        hold: Duration,
        language: &str,
        now: DateTime<Utc>,
    ) -> Result<Payout, PayoutError> {
        if amount.minor_units() <= 0 {
            return Err(PayoutError::NotPositive);
        }
        let language = if language == "fr" { "fr" } else { "en" };
        Ok(self
            .run_librement(move |conn| {
                write_transaction(conn, |conn| {
                    // Locked before reading: a second request waits, then sees this one's hold.
                    let account = Account::User(user).key();
                    ensure_account(conn, &account, db_time(now))?;
                    lock_account(conn, &account)?;
                    let withdrawable = withdrawable_in(conn, user, amount.currency(), hold, now)?;
                    if amount.minor_units() > withdrawable.minor_units() {
                        return Err(LFail::Payout(PayoutError::AboveWithdrawable { withdrawable }));
                    }
                    let currency = amount.currency();
                    let row = (
                        payouts::user_id.eq(user),
                        payouts::currency.eq(currency.code()),
                        payouts::amount_minor.eq(amount.minor_units()),
                        payouts::state.eq(PayoutState::Requested.as_str()),
                        payouts::requested_at.eq(db_time(now)),
                        payouts::language.eq(language),
                    );
                    let id: i64 = match conn {
                        AnyConnection::Postgresql(c) => diesel::insert_into(payouts::table)
                            .values(row)
                            .returning(payouts::id)
                            .get_result(c)?,
                        AnyConnection::Sqlite(c) => diesel::insert_into(payouts::table)
                            .values(row)
                            .returning(payouts::id)
                            .get_result(c)?,
                    };
                    post_in(conn, &NewTransaction::payout(hold_key(id), user, amount)?, db_time(now))?;
                    Ok(one(conn, id)?.ok_or(LFail::Payout(PayoutError::NotFound))?.0)
                })
            })
            .await?)
    }

    async fn payout(&self, id: PayoutId) -> Result<Option<Payout>, PayoutError> {
        Ok(self
            .run_librement(move |conn| Ok(one(conn, id)?.map(|(p, _)| p)))
            .await?)
    }

    async fn payouts(&self, filter: PayoutFilter) -> Result<Vec<Payout>, PayoutError> {
        Ok(self
            .run_librement(move |conn| Ok(load(conn, &filter, None)?.into_iter().map(|(p, _)| p).collect()))
            .await?)
    }

    async fn mark_payout_paid(
        &self,
        id: PayoutId,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<Payout, PayoutError> {
        Ok(self
            .run_librement(move |conn| write_transaction(conn, |conn| decide(conn, id, true, &decision, now)))
            .await?)
    }

    async fn reject_payout(&self, id: PayoutId, decision: Decision, now: DateTime<Utc>) -> Result<Payout, PayoutError> {
        Ok(self
            .run_librement(move |conn| write_transaction(conn, |conn| decide(conn, id, false, &decision, now)))
            .await?)
    }
}
