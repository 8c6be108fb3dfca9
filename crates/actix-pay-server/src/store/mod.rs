//! The Diesel implementation of [`Store`], on SQLite or PostgreSQL through one code path.
//!
//! The backend is chosen by `database.url` (`sqlite://path`, `postgres://...`). Queries in the common
//! subset of SQL are written once against [`AnyConnection`]; row locks, `SKIP LOCKED` claims, advisory
//! locks and SQLite pragmas live in one small module per backend. Every [`Store`] method runs its
//! database work on tokio's blocking pool with a pooled connection. See `docs/schema.md` for the tables.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use actix_pay_server::store::DieselStore;
//! use payment_buttons::store::Store;
//! let store = DieselStore::open("sqlite://data/librement.sqlite3").await?;
//! assert!(store.healthy().await);
//! # Ok(()) }
//! ```

mod apply;
mod backend;
mod connection;
mod librement;
mod log_writer;
mod messages;
mod migrate;
mod models;
mod outbox;
mod outbox_claims;
mod payments;
mod postgres;
mod schema;
mod sqlite;
mod webhook_deliveries;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payment_buttons::event::Event;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{
    Applied, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store, StoreError,
    StoredPayment,
};
use payment_buttons::transition::ApplyRequest;

pub use connection::{AnyConnection, DatabaseUrl, PostgresUrl};
pub use messages::CLAIM_LEASE;
pub use migrate::{revert_all_migrations, revert_last_migration, run_migrations};
pub use models::LogRow;
pub use webhook_deliveries::{AttemptRecord, AttemptResult, AttemptRow, ClaimedDelivery, DeliveryRow, DeliveryStatus};

/// Why the store could not be opened or migrated. Never contains the database password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `database.url` is not one this server understands.
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

/// An error inside the store: Diesel's, or one of the core's [`StoreError`]s. Lets `?` work on both
/// inside transactions; callers only ever see a [`StoreError`].
#[derive(Debug)]
struct Fail(StoreError);

impl From<diesel::result::Error> for Fail {
    fn from(e: diesel::result::Error) -> Self {
        Fail(match e {
            diesel::result::Error::NotFound => StoreError::NotFound("row".into()),
            // Diesel's messages hold the database's message, never bound values.
            other => StoreError::Database(other.to_string()),
        })
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail(e)
    }
}

/// Payments, the gateway log, its queue, applied notifications and the event outbox, in a SQLite or
/// PostgreSQL database.
#[derive(Clone)]
pub struct DieselStore {
    pool: connection::Pool,
    postgres: bool,
    log_writer: log_writer::LogWriter,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("backend", &if self.postgres { "postgresql" } else { "sqlite" })
            .finish_non_exhaustive()
    }
}

impl DieselStore {
    /// Connects to `url`, applies pending migrations and builds the connection pool. A SQLite file and its
    /// directory are created when missing.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let url = DatabaseUrl::parse(url)?;
        tokio::task::spawn_blocking(move || Self::open_blocking(&url))
            .await
            .map_err(|e| OpenError::Task(e.to_string()))?
    }

    /// [`DieselStore::open`] for callers outside an async runtime.
    pub fn open_blocking(url: &DatabaseUrl) -> Result<Self, OpenError> {
        // A connection of our own reports a bad URL or a down server at once, where the pool would
        // retry until its timeout.
        drop(url.connect()?);
        let pool = connection::pool(url)?;
        // Migrated through the pool: an in-memory database exists only in the pool's one connection.
        let mut conn = pool
            .get()
            .map_err(|e| OpenError::Connect(format!("connection pool: {e}")))?;
        migrate::run_pending(&mut conn)?;
        drop(conn);
        let log_writer = log_writer::LogWriter::start(pool.clone())
            .map_err(|e| OpenError::Connect(format!("cannot start the gateway log writer: {e}")))?;
        Ok(DieselStore {
            pool,
            postgres: url.is_postgres(),
            log_writer,
        })
    }

    /// Applies pending migrations to `url` and returns: the `migrate` subcommand.
    pub async fn migrate_only(url: &str) -> Result<(), OpenError> {
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || run_migrations(&url))
            .await
            .map_err(|e| OpenError::Task(e.to_string()))?
    }

    /// True on PostgreSQL, false on SQLite.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Runs `work` with a pooled connection on the blocking pool.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, Fail> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| StoreError::Database(format!("no database connection: {e}")))?;
            work(&mut conn).map_err(|Fail(e)| e)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// One row of the gateway log.
    pub async fn message(&self, id: MessageId) -> Result<Option<LogRow>, StoreError> {
        self.run(move |conn| messages::message(conn, id)).await
    }

    /// The gateway log rows about one payment, oldest first.
    pub async fn messages_for_payment(&self, id: &PaymentId) -> Result<Vec<LogRow>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |conn| messages::for_payment(conn, &id)).await
    }

    /// How many payments are recorded.
    pub async fn payment_count(&self) -> Result<i64, StoreError> {
        self.run(payments::count).await
    }

    /// How many messages wait in the queue, claimed or not.
    pub async fn queued_count(&self) -> Result<i64, StoreError> {
        self.run(messages::queued_count).await
    }
}

#[async_trait::async_trait]
impl Store for DieselStore {
    async fn log_message(&self, message: NewMessage) -> Result<MessageId, StoreError> {
        self.log_writer.log(message).await
    }

    async fn create_payment(&self, payment: NewPayment) -> Result<(), StoreError> {
        self.run(move |conn| payments::create(conn, &payment)).await
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |conn| payments::load(conn, &id)).await
    }

    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        self.run(move |conn| messages::claim(conn, now, limit)).await
    }

    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let reason = reason.to_owned();
        self.run(move |conn| messages::reschedule(conn, id, attempts, next_attempt_at, &reason))
            .await
    }

    async fn settle_message(&self, id: MessageId, settlement: Settlement) -> Result<(), StoreError> {
        self.run(move |conn| messages::settle(conn, id, &settlement)).await
    }

    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError> {
        self.run(move |conn| apply::apply(conn, &request)).await
    }

    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| outbox::undispatched(conn, limit)).await
    }

    async fn claim_undispatched_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let lease_until = models::db_time(now + payment_buttons::store::OUTBOX_CLAIM_LEASE);
        let now = models::db_time(now);
        self.run(move |conn| outbox_claims::claim(conn, now, lease_until, limit))
            .await
    }

    async fn release_events(&self, seqs: &[i64]) -> Result<(), StoreError> {
        let seqs = seqs.to_vec();
        self.run(move |conn| seqs.iter().try_for_each(|seq| outbox_claims::release(conn, *seq)))
            .await
    }

    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError> {
        let now = models::db_time(Utc::now());
        self.run(move |conn| {
            outbox::mark_dispatched(conn, seq, now)?;
            outbox_claims::release(conn, seq)
        })
        .await
    }

    async fn mark_all_dispatched(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let seqs = seqs.to_vec();
        let now = models::db_time(Utc::now());
        self.run(move |conn| {
            connection::write_transaction(conn, |conn| {
                outbox::mark_all_dispatched(conn, &seqs, now)?;
                outbox_claims::release_all(conn, &seqs)
            })
        })
        .await
    }

    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |conn| outbox::for_payment(conn, &id)).await
    }

    async fn healthy(&self) -> bool {
        self.run(|conn| Ok(diesel::sql_query("SELECT 1").execute(conn)?))
            .await
            .is_ok()
    }

    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let (cutoff, now) = (models::db_time(cutoff), models::db_time(now));
        self.run(move |conn| payments::abandon_created_before(conn, cutoff, now))
            .await
    }
}
