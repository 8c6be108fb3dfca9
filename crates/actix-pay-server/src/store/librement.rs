//! The Diesel implementation of Librement's storage traits: the ledger ([`LedgerStore`]), users
//! ([`UserStore`]) and paying a purchase from a balance ([`BalancePayments`]) in one transaction with the
//! payment's state and its outbox events.
//!
//! A posting locks every account it debits that must stay non-negative before summing its entries: on
//! PostgreSQL with `SELECT ... FOR UPDATE` on the account row (in key order, so two postings never wait
//! for each other in a cycle); on SQLite the `BEGIN IMMEDIATE` of the core's write transaction
//! ([`DieselStore::write`](payment_buttons::diesel::DieselStore::write)) already holds the database's only
//! write lock.
//!
//! [`LibrementHook`] is the server's [`ApplyHook`]: when the core applies an outcome to a top-up (or a
//! guest's payment, or money added to an account), it completes, refunds or reinstates what the payment
//! paid for, in the same transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use librement_pay::accounts::{
    AccountError, Attempt, AttemptId, Email, NewUser, Reservation, Throttle, User, UserStore,
};
use librement_pay::ledger::{Account, LedgerError, LedgerStore, NewTransaction, Posted, StoredEntry, UserId};
use librement_pay::purchase::{
    BalancePayment, BalancePayments, METHOD, PurchaseError, plan_balance_payment, purchase_key, seller,
};
use librement_pay::topup::{TopUps, plan_completion};
use payment_buttons::diesel::{AnyConnection, AppliedChange, ApplyHook, HookOutcome, PaymentChange, Tx, db_time};
use payment_buttons::event::Event;
use payment_buttons::money::{Currency, Money};
use payment_buttons::notification::Outcome;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{StoreError, StoredPayment};

use super::schema::{
    librement_accounts, librement_entries, librement_top_ups, librement_transactions, librement_users,
};
use super::{ServerStore, sign_in_attempts};

mod account_top_ups;
mod earnings;
mod mail_queue;
mod payouts;
mod refunds;
pub use refunds::RefundRequestRecord;
mod reversal;
mod schema;
mod statement;
mod tokens;

/// A failure inside a Librement transaction: the database's, or a refusal that rolls it back.
#[derive(Debug)]
enum LFail {
    Db(String),
    Ledger(LedgerError),
    Purchase(PurchaseError),
    Payout(librement_pay::payout::PayoutError),
}

impl From<diesel::result::Error> for LFail {
    fn from(e: diesel::result::Error) -> Self {
        // Diesel's messages hold the database's message, never bound values.
        LFail::Db(e.to_string())
    }
}
impl From<LedgerError> for LFail {
    fn from(e: LedgerError) -> Self {
        LFail::Ledger(e)
    }
}
impl From<StoreError> for LFail {
    fn from(e: StoreError) -> Self {
        LFail::Db(e.to_string())
    }
}
impl From<LFail> for LedgerError {
    fn from(e: LFail) -> Self {
        match e {
            LFail::Db(s) => LedgerError::Store(s),
            LFail::Ledger(l) => l,
            LFail::Purchase(p) => LedgerError::Store(p.to_string()),
            LFail::Payout(p) => LedgerError::Store(p.to_string()),
        }
    }
}
impl From<LFail> for PurchaseError {
    fn from(e: LFail) -> Self {
        match e {
            LFail::Db(s) => PurchaseError::Ledger(LedgerError::Store(s)),
            LFail::Ledger(l) => PurchaseError::Ledger(l),
            LFail::Purchase(p) => p,
            LFail::Payout(p) => PurchaseError::Ledger(LedgerError::Store(p.to_string())),
        }
    }
}
impl From<LFail> for AccountError {
    fn from(e: LFail) -> Self {
        AccountError::Store(LedgerError::from(e).to_string())
    }
}

impl ServerStore {
    /// Runs Librement work with a pooled connection on the blocking pool.
    async fn run_librement<T, F>(&self, work: F) -> Result<T, LFail>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, LFail> + Send + 'static,
    {
        self.with_connection(work).await
    }

    /// Runs Librement work in one write transaction.
    async fn write_librement<T, F>(&self, work: F) -> Result<T, LFail>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, LFail> + Send + 'static,
    {
        self.write(work).await
    }
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The sum of an account's entries in one currency, as an exact integer on both backends.
fn balance_of(conn: &mut AnyConnection, account: &str, currency: &str) -> Result<i64, LFail> {
    let total: Total = match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM librement_entries \
             WHERE account = $1 AND currency = $2",
        )
        .bind::<Text, _>(account)
        .bind::<Text, _>(currency)
        .get_result(c)?,
        AnyConnection::Sqlite(c) => diesel::sql_query(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM librement_entries \
             WHERE account = ? AND currency = ?",
        )
        .bind::<Text, _>(account)
        .bind::<Text, _>(currency)
        .get_result(c)?,
    };
    Ok(total.total)
}

/// Creates the account row when missing.
fn ensure_account(conn: &mut AnyConnection, key: &str, now: NaiveDateTime) -> Result<(), LFail> {
    let row = (librement_accounts::key.eq(key), librement_accounts::created_at.eq(now));
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(librement_accounts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(librement_accounts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(())
}

/// Locks an account row until the end of the transaction (PostgreSQL; see the module documentation).
fn lock_account(conn: &mut AnyConnection, key: &str) -> Result<(), LFail> {
    if let AnyConnection::Postgresql(c) = conn {
        librement_accounts::table
            .find(key)
            .select(librement_accounts::key)
            .for_update()
            .first::<String>(c)?;
    }
    Ok(())
}

/// Records the transaction's key; `Some(id)` of the earlier transaction when the key was posted before.
/// On PostgreSQL a concurrent posting of the same key makes this wait for that transaction's outcome.
fn insert_key(conn: &mut AnyConnection, tx: &NewTransaction, now: NaiveDateTime) -> Result<Result<i64, i64>, LFail> {
    let row = (
        librement_transactions::idempotency_key.eq(tx.key()),
        librement_transactions::kind.eq(tx.kind().as_str()),
        librement_transactions::created_at.eq(now),
    );
    let inserted: Option<i64> = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(librement_transactions::table)
            .values(row)
            .on_conflict_do_nothing()
            .returning(librement_transactions::id)
            .get_result(c)
            .optional()?,
        AnyConnection::Sqlite(c) => diesel::insert_into(librement_transactions::table)
            .values(row)
            .on_conflict_do_nothing()
            .returning(librement_transactions::id)
            .get_result(c)
            .optional()?,
    };
    match inserted {
        Some(id) => Ok(Ok(id)),
        None => {
            let earlier: i64 = librement_transactions::table
                .filter(librement_transactions::idempotency_key.eq(tx.key()))
                .select(librement_transactions::id)
                .first(conn)?;
            Ok(Err(earlier))
        }
    }
}

/// Posts `tx` inside the caller's write transaction. See [`LedgerStore`].
fn post_in(conn: &mut AnyConnection, tx: &NewTransaction, now: NaiveDateTime) -> Result<Posted, LFail> {
    let id = match insert_key(conn, tx, now)? {
        Ok(id) => id,
        Err(earlier) => return Ok(Posted::AlreadyPosted(earlier)),
    };
    let mut keys: Vec<String> = tx.entries().iter().map(|e| e.account.key()).collect();
    keys.sort();
    keys.dedup();
    for key in &keys {
        ensure_account(conn, key, now)?;
    }
    // Sorted by account: two postings lock shared accounts in the same order.
    for (account, needed) in tx.debits_to_check() {
        let key = account.key();
        lock_account(conn, &key)?;
        let currency = needed.currency();
        let balance = balance_of(conn, &key, currency.code())?;
        if balance < needed.minor_units() {
            return Err(LedgerError::InsufficientFunds {
                account,
                balance: Money::from_minor(balance, currency),
                needed,
                currency,
            }
            .into());
        }
    }
    for entry in tx.entries() {
        diesel::insert_into(librement_entries::table)
            .values((
                librement_entries::transaction_id.eq(id),
                librement_entries::account.eq(entry.account.key()),
                librement_entries::currency.eq(entry.amount.currency().code()),
                librement_entries::amount_minor.eq(entry.amount.minor_units()),
            ))
            .execute(conn)?;
    }
    Ok(Posted::Recorded(id))
}

#[async_trait::async_trait]
impl LedgerStore for ServerStore {
    async fn post(&self, transaction: NewTransaction) -> Result<Posted, LedgerError> {
        let now = db_time(Utc::now());
        Ok(self
            .write_librement(move |tx| post_in(tx.conn(), &transaction, now))
            .await?)
    }

    async fn balance(&self, account: &Account, currency: Currency) -> Result<Money, LedgerError> {
        let key = account.key();
        let minor = self
            .run_librement(move |conn| balance_of(conn, &key, currency.code()))
            .await?;
        Ok(Money::from_minor(minor, currency))
    }

    async fn all_entries(&self) -> Result<Vec<StoredEntry>, LedgerError> {
        let rows: Vec<(i64, String, String, i64)> = self
            .run_librement(|conn| {
                Ok(librement_entries::table
                    .order(librement_entries::id.asc())
                    .select((
                        librement_entries::transaction_id,
                        librement_entries::account,
                        librement_entries::currency,
                        librement_entries::amount_minor,
                    ))
                    .load(conn)?)
            })
            .await?;
        rows.into_iter()
            .map(|(transaction_id, account, currency, minor)| {
                let currency: Currency = currency
                    .parse()
                    .map_err(|_| LedgerError::Store(format!("corrupt currency in an entry of {account}")))?;
                Ok(StoredEntry {
                    transaction_id,
                    account: account.parse()?,
                    amount: Money::from_minor(minor, currency),
                })
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl BalancePayments for ServerStore {
    async fn pay_from_balance(
        &self,
        payment: &PaymentId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<BalancePayment, PurchaseError> {
        let id = payment.clone();
        Ok(self
            .write_librement(move |tx| {
                // Locked first: a double submit or a second tab waits here, then finds it paid.
                let stored = tx.lock_payment(&id)?.ok_or(LFail::Purchase(PurchaseError::NotFound))?;
                let conn = tx.conn();
                let already: i64 = librement_transactions::table
                    .filter(librement_transactions::idempotency_key.eq(purchase_key(&id)))
                    .count()
                    .get_result(conn)?;
                if already > 0 {
                    return Ok(BalancePayment::AlreadyPaid);
                }
                let seller =
                    seller(&stored.button).map_err(|e| LFail::Purchase(PurchaseError::Button(e.to_string())))?;
                let payee = earnings::payee_for(conn, seller.as_str(), now)?;
                let mut plan = plan_balance_payment(&stored, user, payee, now).map_err(LFail::Purchase)?;
                post_in(conn, &plan.transaction, db_time(now))?;
                if let Some(to) = earnings::user_email(conn, user)? {
                    send_receipt(conn, &to, &stored, Some(stored.amount), None, now)?;
                }
                tx.update_payment(
                    &stored,
                    &PaymentChange {
                        state: Some(plan.new_state),
                        gateway_reference: None,
                        details: &plan.details,
                        refunded: None,
                        at: now,
                    },
                )?;
                tx.insert_events(&mut plan.events)?;
                Ok(BalancePayment::Paid { events: plan.events })
            })
            .await?)
    }
}

#[derive(Queryable)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    password_hash: String,
    session_epoch: i64,
}

impl UserRow {
    fn into_user(self, email_verified: bool) -> Result<User, AccountError> {
        Ok(User {
            id: self.id,
            email: Email::parse(&self.email)
                .map_err(|_| AccountError::Store(format!("corrupt e-mail of user {}", self.id)))?,
            display_name: self.display_name,
            password_hash: self.password_hash,
            session_epoch: self.session_epoch,
            email_verified,
        })
    }
}

const USER_COLUMNS: (
    librement_users::id,
    librement_users::email,
    librement_users::display_name,
    librement_users::password_hash,
    librement_users::session_epoch,
) = (
    librement_users::id,
    librement_users::email,
    librement_users::display_name,
    librement_users::password_hash,
    librement_users::session_epoch,
);

/// A user row with whether its address is verified.
fn with_verification(conn: &mut AnyConnection, row: Option<UserRow>) -> Result<Option<(UserRow, bool)>, LFail> {
    match row {
        Some(r) => {
            let verified = earnings::is_verified(conn, r.id)?;
            Ok(Some((r, verified)))
        }
        None => Ok(None),
    }
}

/// Queues the buyer's receipt for `purchase`, paid `from_balance` and/or `by_gateway`.
fn send_receipt(
    conn: &mut AnyConnection,
    to: &Email,
    purchase: &StoredPayment,
    from_balance: Option<Money>,
    by_gateway: Option<(&str, Money)>,
    now: DateTime<Utc>,
) -> Result<(), LFail> {
    let seller = seller(&purchase.button).ok();
    let mail = librement_pay::mail::receipt(
        to,
        &librement_pay::mail::Receipt {
            payment_id: purchase.id.as_str(),
            description: purchase
                .button
                .options()
                .get(purchase.option_index)
                .map(|o| o.description()),
            order_reference: Some(purchase.button.order_reference()),
            seller: seller.as_ref().map(Email::as_str),
            amount: purchase.amount,
            from_balance,
            by_gateway,
            language: purchase.button.language().as_str(),
        },
    );
    mail_queue::enqueue_in(conn, &mail, now)?;
    Ok(())
}

#[async_trait::async_trait]
impl UserStore for ServerStore {
    async fn create_user(&self, user: NewUser) -> Result<UserId, AccountError> {
        let result = self
            .run_librement(move |conn| {
                let row = (
                    librement_users::email.eq(user.email.as_str().to_owned()),
                    librement_users::display_name.eq(user.display_name),
                    librement_users::password_hash.eq(user.password_hash),
                    librement_users::created_at.eq(db_time(user.created_at)),
                );
                let id: Option<i64> = match conn {
                    AnyConnection::Postgresql(c) => diesel::insert_into(librement_users::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .returning(librement_users::id)
                        .get_result(c)
                        .optional()?,
                    AnyConnection::Sqlite(c) => diesel::insert_into(librement_users::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .returning(librement_users::id)
                        .get_result(c)
                        .optional()?,
                };
                Ok(id)
            })
            .await?;
        result.ok_or(AccountError::EmailTaken)
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, AccountError> {
        let email = email.as_str().to_owned();
        let row: Option<(UserRow, bool)> = self
            .run_librement(move |conn| {
                let row: Option<UserRow> = librement_users::table
                    .filter(librement_users::email.eq(email))
                    .select(USER_COLUMNS)
                    .first(conn)
                    .optional()?;
                with_verification(conn, row)
            })
            .await?;
        row.map(|(r, v)| r.into_user(v)).transpose()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, AccountError> {
        let row: Option<(UserRow, bool)> = self
            .run_librement(move |conn| {
                let row: Option<UserRow> = librement_users::table
                    .find(id)
                    .select(USER_COLUMNS)
                    .first(conn)
                    .optional()?;
                with_verification(conn, row)
            })
            .await?;
        row.map(|(r, v)| r.into_user(v)).transpose()
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), AccountError> {
        let hash = hash.to_owned();
        self.run_librement(move |conn| {
            diesel::update(librement_users::table.find(id))
                .set(librement_users::password_hash.eq(hash))
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn end_sessions(&self, id: UserId) -> Result<(), AccountError> {
        self.run_librement(move |conn| {
            diesel::update(librement_users::table.find(id))
                .set(librement_users::session_epoch.eq(librement_users::session_epoch + 1))
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn reserve_attempt(
        &self,
        attempt: Attempt,
        throttle: Throttle,
        now: DateTime<Utc>,
    ) -> Result<Reservation, AccountError> {
        Ok(self
            .write_librement(move |tx| Ok(sign_in_attempts::reserve(tx.conn(), &attempt, throttle, now)?))
            .await?)
    }

    async fn release_attempt(&self, id: AttemptId) -> Result<(), AccountError> {
        Ok(self
            .run_librement(move |conn| Ok(sign_in_attempts::release(conn, id)?))
            .await?)
    }
}

/// Links a gateway payment to the Librement purchase it pays (a top-up of `user`, or a guest's payment).
fn link_top_up(
    conn: &mut AnyConnection,
    top_up: &str,
    purchase: &str,
    user: Option<UserId>,
    now: NaiveDateTime,
) -> Result<(), LFail> {
    diesel::insert_into(librement_top_ups::table)
        .values((
            librement_top_ups::payment_id.eq(top_up),
            librement_top_ups::purchase_id.eq(purchase),
            librement_top_ups::user_id.eq(user),
            librement_top_ups::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The server's part of applying a notification (see [`ApplyHook`]): when the payment changed is money
/// added to a Librement account, posts it (or takes it back); when it is a Librement top-up (or a guest's
/// payment), completes its purchase (ledger, state, events), or takes back a refund or reversal of it, or
/// undoes that reversal when the gateway gave the money back (`store/librement/reversal.rs`); the
/// purchase's events replace the top-up's. Every other payment keeps the core's events.
#[derive(Debug, Clone, Copy, Default)]
pub struct LibrementHook;

impl ApplyHook for LibrementHook {
    fn after_change(&self, tx: &mut Tx<'_>, change: &AppliedChange<'_>) -> Result<HookOutcome, StoreError> {
        let request = change.request;
        // A refund of a Librement purchase to the balance (the only refunds `librement` makes: it receives
        // no gateway messages): the ledger moves with the purchase's state and the core's events.
        if request.gateway() == METHOD
            && let (Some(Outcome::Refunded { amount }), Some(link)) =
                (&request.notification().outcome, request.refund_link())
        {
            let amount = amount.ok_or_else(|| StoreError::Database("a balance refund without an amount".into()))?;
            refunds::credit_back(tx, change.payment_id, &link.refund_id, amount, request.now()).map_err(|e| {
                StoreError::Database(format!(
                    "librement refund of {}: {}",
                    change.payment_id,
                    LedgerError::from(e)
                ))
            })?;
            return Ok(HookOutcome::KeepEvents);
        }
        let Some(state) = change.new_state else {
            return Ok(HookOutcome::KeepEvents);
        };
        let payment_id = change.payment_id;
        let failed =
            |e: LFail| StoreError::Database(format!("librement top-up {payment_id}: {}", LedgerError::from(e)));
        let previous = change.previous;
        let (purchase_id, user) = match top_up_link(tx.conn(), payment_id.as_str())? {
            None => return Ok(HookOutcome::KeepEvents),
            Some(TopUpLink::Account(user)) => {
                return account_top_ups::applied(tx, payment_id, user, previous, state, request)
                    .map(HookOutcome::ReplaceEvents)
                    .map_err(failed);
            }
            Some(TopUpLink::Purchase { purchase_id, user }) => (purchase_id, user),
        };
        let purchase_id = PaymentId::parse(&purchase_id)
            .map_err(|e| StoreError::Corrupt(format!("librement_top_ups.purchase_id: {e}")))?;
        let (message_id, now) = (request.message_id(), request.now());
        // Decided by what the message says: a partial refund or reversal leaves the top-up `accepted`.
        let done = match &request.notification().outcome {
            Some(Outcome::Refunded { amount }) => {
                reversal::take_back(tx, payment_id, Some(&purchase_id), user, *amount, message_id, now)
            }
            Some(Outcome::ReversalCancelled { .. }) => {
                reversal::give_back(tx, payment_id, Some(&purchase_id), message_id, now)
            }
            _ => complete_purchase(tx, payment_id, state, &purchase_id, user, message_id, now),
        };
        done.map(HookOutcome::ReplaceEvents).map_err(failed)
    }
}

/// What a gateway payment adds money to, when it is a Librement top-up.
enum TopUpLink {
    /// Money added to this user's account (`librement_account_top_ups`).
    Account(UserId),
    /// The part of a purchase its buyer (a user, or a guest) pays through the gateway (`librement_top_ups`).
    Purchase { purchase_id: String, user: Option<UserId> },
}

/// Looks `payment` up in both link tables at once: the hook runs for every payment the core applies a
/// message to, nearly all of them no top-up, and one statement instead of two is a round trip less per
/// message on PostgreSQL. An account top-up has no purchase id; a payment is in at most one table.
fn top_up_link(conn: &mut AnyConnection, payment: &str) -> Result<Option<TopUpLink>, StoreError> {
    use self::schema::librement_account_top_ups as accounts;
    // Written with Diesel's query builder, not as SQL text: Diesel keeps a prepared statement only for the
    // former, and PostgreSQL would otherwise parse and plan it again for every message.
    let account = accounts::table.filter(accounts::payment_id.eq(payment)).select((
        None::<String>.into_sql::<Nullable<Text>>(),
        accounts::user_id.nullable(),
    ));
    let purchase = librement_top_ups::table
        .filter(librement_top_ups::payment_id.eq(payment))
        .select((librement_top_ups::purchase_id.nullable(), librement_top_ups::user_id));
    let row: Option<(Option<String>, Option<i64>)> = match conn {
        AnyConnection::Postgresql(c) => account.union_all(purchase).get_result(c).optional()?,
        AnyConnection::Sqlite(c) => account.union_all(purchase).get_result(c).optional()?,
    };
    row.map(|row| match row {
        (None, Some(user)) => Ok(TopUpLink::Account(user)),
        (None, None) => Err(StoreError::Corrupt(format!(
            "librement_account_top_ups.user_id of {payment} is missing"
        ))),
        (Some(purchase_id), user) => Ok(TopUpLink::Purchase { purchase_id, user }),
    })
    .transpose()
}

/// Sets the purchase's state and merges `extra` into its details.
fn set_purchase_state(
    tx: &mut Tx<'_>,
    purchase: &StoredPayment,
    state: PaymentState,
    refunded: Option<Money>,
    extra: &serde_json::Map<String, serde_json::Value>,
    at: DateTime<Utc>,
) -> Result<(), LFail> {
    tx.update_payment(
        purchase,
        &PaymentChange {
            state: Some(state),
            gateway_reference: None,
            details: extra,
            refunded,
            at,
        },
    )?;
    Ok(())
}

fn complete_purchase(
    tx: &mut Tx<'_>,
    top_up_id: &PaymentId,
    state: PaymentState,
    purchase_id: &PaymentId,
    user: Option<UserId>,
    message_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, LFail> {
    let missing = |what: &str| LFail::Db(format!("{what} is missing"));
    let purchase = tx.lock_payment(purchase_id)?.ok_or_else(|| missing("the purchase"))?;
    let top_up = tx.payment(top_up_id)?.ok_or_else(|| missing("the top-up"))?;
    let seller = seller(&purchase.button).map_err(|e| LFail::Db(format!("the purchase's button: {e}")))?;
    let payee = earnings::payee_for(tx.conn(), seller.as_str(), now)?;
    let plan = plan_completion(&top_up, state, &purchase, user, payee, Some(message_id), now)
        .map_err(|e| LFail::Db(e.to_string()))?;
    let at = db_time(now);
    if let Some(posting) = &plan.top_up {
        post_in(tx.conn(), posting, at)?;
    }
    if let Some(posting) = &plan.purchase {
        // In a savepoint: if the balance was spent meanwhile, the purchase stays unpaid but the top-up
        // stays in the user's account.
        match tx.savepoint(|tx| post_in(tx.conn(), posting, at)) {
            Ok(_) => {}
            Err(LFail::Ledger(LedgerError::InsufficientFunds { .. })) => {
                tracing::warn!(
                    purchase = %purchase_id,
                    "librement: top-up accepted but the balance was spent meanwhile"
                );
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        }
        // The buyer's receipt: the whole purchase, what came from the balance and what through the gateway.
        let to = match user {
            Some(u) => earnings::user_email(tx.conn(), u)?,
            None => purchase.button.email().and_then(|e| Email::parse(e.as_str()).ok()),
        };
        if let Some(to) = to {
            let from_balance = user.and_then(|_| account_top_ups::from_balance(purchase.amount, top_up.amount));
            send_receipt(
                tx.conn(),
                &to,
                &purchase,
                from_balance,
                Some((&top_up.gateway, top_up.amount)),
                now,
            )?;
        }
    } else if let (Some(_), Some(u)) = (&plan.top_up, user) {
        // The purchase was paid otherwise (another tab): the money stays on the account; say so.
        if let Some(to) = earnings::user_email(tx.conn(), u)? {
            let mail = librement_pay::mail::receipt(
                &to,
                &librement_pay::mail::Receipt {
                    payment_id: top_up.id.as_str(),
                    description: None,
                    order_reference: None,
                    seller: None,
                    amount: top_up.amount,
                    from_balance: None,
                    by_gateway: Some((&top_up.gateway, top_up.amount)),
                    language: top_up.button.language().as_str(),
                },
            );
            mail_queue::enqueue_in(tx.conn(), &mail, now)?;
        }
    }
    if let Some(new_state) = plan.purchase_state {
        set_purchase_state(tx, &purchase, new_state, None, &plan.details, now)?;
    }
    Ok(plan.events)
}

#[async_trait::async_trait]
impl TopUps for ServerStore {
    async fn link_top_up(
        &self,
        top_up: &PaymentId,
        purchase: &PaymentId,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let (top_up, purchase) = (top_up.as_str().to_owned(), purchase.as_str().to_owned());
        Ok(self
            .run_librement(move |conn| link_top_up(conn, &top_up, &purchase, user, db_time(now)))
            .await?)
    }

    async fn link_account_top_up(
        &self,
        top_up: &PaymentId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let top_up = top_up.as_str().to_owned();
        Ok(self
            .run_librement(move |conn| account_top_ups::link(conn, &top_up, user, db_time(now)))
            .await?)
    }
}
