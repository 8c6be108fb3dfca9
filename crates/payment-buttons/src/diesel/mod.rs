//! Feature `diesel`: [`DieselStore`], the durable [`Store`] of the core's tables, on SQLite or PostgreSQL
//! through one code path.
//!
//! The backend is chosen by the URL ([`DatabaseUrl`]: `sqlite://path`, `sqlite::memory:`, `postgres://...`).
//! The core's migrations are embedded ([`migrations::CORE`]) and run when the store opens. Queries in the
//! common subset of SQL are written once against [`AnyConnection`]; row locks, `SKIP LOCKED` claims,
//! advisory locks and SQLite pragmas live in one small module per backend. Every [`Store`] method runs its
//! database work on tokio's blocking pool with a pooled connection. The tables are described in the
//! project's `docs/schema.md`; [`schema`] is their Diesel description, for read-only queries of your own.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use payment_buttons::diesel::DieselStore;
//! use payment_buttons::store::Store;
//! let store = DieselStore::open("sqlite://data/shop.sqlite3").await?;
//! assert!(store.healthy().await);
//! # Ok(()) }
//! ```
//!
//! # An application's own tables on the same database
//! An application keeps its tables in the same database and pool: its migrations run after the core's
//! ([`StoreOptions::migrations`]), its queries run on a pooled connection ([`DieselStore::with_connection`])
//! or in a write transaction ([`DieselStore::write`], [`Tx`]), and its part of applying a notification runs
//! inside the core's transaction ([`ApplyHook`]).
//!
//! ```no_run
//! # async fn demo(store: &payment_buttons::diesel::DieselStore) -> Result<(), payment_buttons::store::StoreError> {
//! use diesel::prelude::*;
//! use payment_buttons::diesel::schema::payments;
//! let accepted: i64 = store
//!     .with_connection(|conn| {
//!         let n = payments::table.filter(payments::state.eq("accepted")).count().get_result(conn)?;
//!         Ok::<_, payment_buttons::store::StoreError>(n)
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod apply;
mod backend;
mod checkpointer;
mod connection;
mod hook;
mod log_writer;
mod messages;
pub mod migrations;
mod models;
mod outbox;
mod outbox_claims;
mod payments;
mod postgres;
mod refunds;
pub mod schema;
mod sqlite;
mod tx;
mod writer_queue;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::event::Event;
use crate::gateway::GatewayCall;
use crate::payment::PaymentId;
use crate::refund::{NewRefund, RecordedRefund, RefundId, RefundUpdate, StoredRefund};
use crate::store::{
    Applied, MessageId, NewMessage, NewPayment, OUTBOX_CLAIM_LEASE, OutboxEvent, QueuedMessage, Settlement, Store,
    StoreError, StoredPayment, VerificationAnswers,
};
use crate::transition::ApplyRequest;

pub use connection::{AnyConnection, DatabaseUrl, PostgresUrl};
pub use hook::{AppliedChange, ApplyHook, HookOutcome};
pub use migrations::MigrationSet;
pub use models::{LogRow, db_time, utc};
pub use outbox_claims::sqlite_params;
pub use tx::{PaymentChange, Tx};

/// Why the store could not be opened or migrated. Never contains the database password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database URL is not one this store understands.
    #[error("database.url: {0}")]
    Url(String),
    /// The database could not be reached or created.
    #[error("database: cannot connect: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database: migration failed: {0}")]
    Migrate(String),
    /// The blocking task running the work failed.
    #[error("database: {0}")]
    Task(String),
}

/// How to open a [`DieselStore`]: the application's own migrations and its [`ApplyHook`].
///
/// ```no_run
/// # async fn demo() -> Result<(), payment_buttons::diesel::OpenError> {
/// use payment_buttons::diesel::StoreOptions;
/// let store = StoreOptions::new().open("sqlite::memory:").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct StoreOptions {
    migrations: Option<&'static MigrationSet>,
    hook: Option<Arc<dyn ApplyHook>>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("migrations", &self.migrations)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl StoreOptions {
    /// The core's migrations only, no hook.
    pub fn new() -> Self {
        Self::default()
    }

    /// The application's own migrations, run after the core's whenever the store opens (see
    /// [`migrations`] for the rules of the shared version table).
    pub fn migrations(mut self, set: &'static MigrationSet) -> Self {
        self.migrations = Some(set);
        self
    }

    /// Work run inside every apply transaction that changes a payment (see [`ApplyHook`]).
    pub fn apply_hook(mut self, hook: Arc<dyn ApplyHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Connects to `url`, applies pending migrations (the core's, then the application's) and builds the
    /// connection pool. A SQLite file and its directory are created when missing.
    pub async fn open(self, url: &str) -> Result<DieselStore, OpenError> {
        let url = DatabaseUrl::parse(url)?;
        tokio::task::spawn_blocking(move || self.open_blocking(&url))
            .await
            .map_err(|e| OpenError::Task(e.to_string()))?
    }

    /// [`StoreOptions::open`] for callers outside an async runtime.
    pub fn open_blocking(self, url: &DatabaseUrl) -> Result<DieselStore, OpenError> {
        // A connection of our own reports a bad URL or a down server at once, where the pool would
        // retry until its timeout.
        drop(url.connect()?);
        let pool = connection::pool(url)?;
        // Migrated through the pool: an in-memory database exists only in the pool's one connection.
        let mut conn = pool
            .get()
            .map_err(|e| OpenError::Connect(format!("connection pool: {e}")))?;
        migrations::run_pending(&mut conn, self.migrations)?;
        drop(conn);
        let log_writer = log_writer::LogWriter::start(pool.clone())
            .map_err(|e| OpenError::Connect(format!("cannot start the gateway log writer: {e}")))?;
        let checkpointer = match url {
            DatabaseUrl::SqliteFile(_) => Some(Arc::new(
                checkpointer::Checkpointer::start(pool.clone())
                    .map_err(|e| OpenError::Connect(format!("cannot start the SQLite checkpointer: {e}")))?,
            )),
            DatabaseUrl::SqliteMemory | DatabaseUrl::Postgres(_) => None,
        };
        Ok(DieselStore {
            pool,
            url: url.clone(),
            log_writer,
            _checkpointer: checkpointer,
            hook: self.hook,
        })
    }

    /// Connects to `url` and applies pending migrations (the core's, then the application's), without
    /// opening a store: a `migrate` command.
    pub fn migrate_blocking(&self, url: &DatabaseUrl) -> Result<(), OpenError> {
        migrations::run_pending(&mut url.connect()?, self.migrations)
    }
}

/// Payments, the gateway log, its queue, applied notifications and the event outbox, in a SQLite or
/// PostgreSQL database. Cloning shares the pool.
#[derive(Clone)]
pub struct DieselStore {
    pool: connection::Pool,
    url: DatabaseUrl,
    log_writer: log_writer::LogWriter,
    /// A SQLite file's checkpoints; they stop with the last clone of the store.
    _checkpointer: Option<Arc<checkpointer::Checkpointer>>,
    hook: Option<Arc<dyn ApplyHook>>,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("url", &self.url)
            .field("apply_hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl DieselStore {
    /// Opens the store at `url` with the core's migrations only: `StoreOptions::new().open(url)`.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        StoreOptions::new().open(url).await
    }

    /// True on PostgreSQL, false on SQLite.
    pub fn is_postgres(&self) -> bool {
        self.url.is_postgres()
    }

    /// The database it was opened on (its `Debug` and [`DatabaseUrl::redacted`] hide any password).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `work` with a pooled connection on tokio's blocking pool: reads, and single statements on the
    /// application's own tables (each statement commits by itself).
    pub async fn with_connection<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| StoreError::Database(format!("no database connection: {e}")))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Runs `work` in one write transaction ([`Tx`]) on a pooled connection: it commits when `work` returns
    /// `Ok` and rolls back otherwise. On SQLite writers of this process queue for the database's one
    /// write lock (`BEGIN IMMEDIATE`). Never call the store from inside `work`.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        self.with_connection(move |conn| connection::write_transaction(conn, |conn| work(&mut Tx::new(conn))))
            .await
    }

    /// One row of the gateway log.
    pub async fn message(&self, id: MessageId) -> Result<Option<LogRow>, StoreError> {
        self.with_connection(move |conn| messages::message(conn, id)).await
    }

    /// The gateway log rows about one payment, oldest first.
    pub async fn messages_for_payment(&self, id: &PaymentId) -> Result<Vec<LogRow>, StoreError> {
        let id = id.as_str().to_owned();
        self.with_connection(move |conn| messages::for_payment(conn, &id)).await
    }

    /// How many payments are recorded.
    pub async fn payment_count(&self) -> Result<i64, StoreError> {
        self.with_connection(payments::count).await
    }

    /// How many messages wait in the queue, claimed or not.
    pub async fn queued_count(&self) -> Result<i64, StoreError> {
        self.with_connection(messages::queued_count).await
    }

    /// Writes log rows (answers to our calls: never queued) in one transaction; returns their ids, in order.
    async fn insert_log_rows(&self, rows: Vec<models::NewLogRow>) -> Result<Vec<MessageId>, StoreError> {
        self.with_connection(move |conn| {
            connection::write_transaction(conn, |conn| {
                rows.iter()
                    .map(|row| Ok(backend::insert_log_row(conn, row)?))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl Store for DieselStore {
    async fn log_message(&self, message: NewMessage) -> Result<MessageId, StoreError> {
        self.log_writer.log(message).await
    }

    async fn create_payment(&self, payment: NewPayment) -> Result<(), StoreError> {
        self.with_connection(move |conn| payments::create(conn, &payment)).await
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        let id = id.as_str().to_owned();
        self.with_connection(move |conn| payments::load(conn, &id)).await
    }

    async fn payments(&self, ids: &[PaymentId]) -> Result<Vec<StoredPayment>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.with_connection(move |conn| payments::load_all(conn, &ids)).await
    }

    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        self.with_connection(move |conn| messages::claim(conn, now, limit))
            .await
    }

    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let reason = reason.to_owned();
        self.with_connection(move |conn| messages::reschedule(conn, id, attempts, next_attempt_at, &reason))
            .await
    }

    async fn settle_message(&self, id: MessageId, settlement: Settlement) -> Result<(), StoreError> {
        self.with_connection(move |conn| messages::settle(conn, id, &settlement))
            .await
    }

    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError> {
        let hook = self.hook.clone();
        self.with_connection(move |conn| apply::apply(conn, &request, hook.as_deref()))
            .await
    }

    async fn apply_batch(&self, requests: Vec<ApplyRequest>) -> Vec<Result<Applied, StoreError>> {
        let n = requests.len();
        if n == 0 {
            return Vec::new();
        }
        let hook = self.hook.clone();
        self.with_connection(move |conn| Ok::<_, StoreError>(apply::apply_batch(conn, &requests, hook.as_deref())))
            .await
            .unwrap_or_else(|e| vec![Err(e); n])
    }

    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_connection(move |conn| outbox::undispatched(conn, limit))
            .await
    }

    async fn claim_undispatched_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let lease_until = db_time(now + OUTBOX_CLAIM_LEASE);
        let now = db_time(now);
        self.with_connection(move |conn| outbox_claims::claim(conn, now, lease_until, limit))
            .await
    }

    async fn release_events(&self, seqs: &[i64]) -> Result<(), StoreError> {
        let seqs = seqs.to_vec();
        self.with_connection(move |conn| outbox_claims::release_all(conn, &seqs))
            .await
    }

    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError> {
        let now = db_time(Utc::now());
        self.with_connection(move |conn| {
            connection::write_transaction(conn, |conn| {
                outbox::mark_dispatched(conn, seq, now)?;
                outbox_claims::release(conn, seq)
            })
        })
        .await
    }

    async fn mark_all_dispatched(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let seqs = seqs.to_vec();
        let now = db_time(Utc::now());
        self.with_connection(move |conn| {
            connection::write_transaction(conn, |conn| {
                outbox::mark_all_dispatched(conn, &seqs, now)?;
                outbox_claims::release_all(conn, &seqs)
            })
        })
        .await
    }

    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError> {
        let id = id.as_str().to_owned();
        self.with_connection(move |conn| outbox::for_payment(conn, &id)).await
    }

    async fn healthy(&self) -> bool {
        self.with_connection(|conn| Ok::<_, StoreError>(diesel::sql_query("SELECT 1").execute(conn)?))
            .await
            .is_ok()
    }

    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let (cutoff, now) = (db_time(cutoff), db_time(now));
        self.with_connection(move |conn| payments::abandon_created_before(conn, cutoff, now))
            .await
    }

    async fn payments_for_order(&self, order_reference: &str) -> Result<Vec<StoredPayment>, StoreError> {
        let order_reference = order_reference.to_owned();
        self.with_connection(move |conn| payments::for_order(conn, &order_reference))
            .await
    }

    async fn log_answers(
        &self,
        gateway: &str,
        payment_id: Option<&PaymentId>,
        calls: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError> {
        let rows = calls
            .iter()
            .map(|call| models::NewLogRow::answer(gateway, payment_id.map(PaymentId::as_str), call))
            .collect::<Result<Vec<_>, _>>()?;
        self.insert_log_rows(rows).await
    }

    async fn log_verification_answers(
        &self,
        gateway: &str,
        answers: &VerificationAnswers,
    ) -> Result<Vec<MessageId>, StoreError> {
        // Rows and outcomes in one transaction, not one per row plus one per outcome.
        let rows = models::NewLogRow::verification_answers(gateway, answers)?;
        self.insert_log_rows(rows).await
    }

    async fn record_refund(&self, refund: NewRefund) -> Result<RecordedRefund, StoreError> {
        self.with_connection(move |conn| refunds::record(conn, refund)).await
    }

    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError> {
        let id = id.as_str().to_owned();
        self.with_connection(move |conn| refunds::load(conn, &id)).await
    }

    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError> {
        let id = id.as_str().to_owned();
        self.with_connection(move |conn| refunds::for_payment(conn, &id)).await
    }

    async fn begin_refund_attempt(
        &self,
        id: &RefundId,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredRefund>, StoreError> {
        let id = id.clone();
        self.with_connection(move |conn| refunds::begin_attempt(conn, &id, now))
            .await
    }

    async fn update_refund(
        &self,
        id: &RefundId,
        update: RefundUpdate,
        log_id: Option<MessageId>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError> {
        let (id, outcome) = (id.clone(), outcome.to_owned());
        self.with_connection(move |conn| refunds::update(conn, &id, update, log_id, &outcome, now))
            .await
    }

    async fn note_answer(&self, id: MessageId, outcome: &str) -> Result<(), StoreError> {
        let outcome = outcome.to_owned();
        self.with_connection(move |conn| {
            let n = diesel::update(schema::gateway_messages::table.find(id))
                .set(schema::gateway_messages::outcome.eq(Some(outcome)))
                .execute(conn)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(format!("gateway message {id}")))
            }
        })
        .await
    }

    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_connection(move |conn| refunds::due(conn, now, limit)).await
    }
}
