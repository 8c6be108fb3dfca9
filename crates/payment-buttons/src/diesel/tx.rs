//! The write transaction an application (or an [`ApplyHook`](super::ApplyHook)) runs its own work in,
//! with the few operations on the core's tables that such work needs. Everything else about the core's
//! tables stays behind [`Store`](crate::store::Store).

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::money::Money;
use crate::payment::{PaymentId, PaymentState};
use crate::store::{StoreError, StoredPayment};

use super::connection::AnyConnection;
use super::{outbox, payments};

/// An open write transaction on the store's database (see [`DieselStore::write`](super::DieselStore::write)
/// and [`ApplyHook`](super::ApplyHook)). It commits when the work returns `Ok`, and rolls back otherwise.
///
/// On SQLite it began with `BEGIN IMMEDIATE` and holds the database's only write lock; on PostgreSQL it is
/// an ordinary transaction, and [`Tx::lock_payment`] takes row locks where order matters.
pub struct Tx<'c> {
    conn: &'c mut AnyConnection,
}

/// What [`Tx::update_payment`] changes on a payment.
#[derive(Debug, Clone, Copy)]
pub struct PaymentChange<'a> {
    /// The new state, or `None` to keep it (then `updated_at`, the time of the last state change, stays).
    pub state: Option<PaymentState>,
    /// The gateway reference to record, or `None` to keep the stored one.
    pub gateway_reference: Option<&'a str>,
    /// Details merged into the stored ones (latest wins).
    pub details: &'a serde_json::Map<String, serde_json::Value>,
    /// The new refunded sum, or `None` to keep it.
    pub refunded: Option<Money>,
    /// When the change happens.
    pub at: DateTime<Utc>,
}

impl<'c> Tx<'c> {
    /// Wraps a connection on which a write transaction is open.
    pub(crate) fn new(conn: &'c mut AnyConnection) -> Self {
        Tx { conn }
    }

    /// The connection, for queries on the application's own tables (they commit or roll back with the
    /// rest of the transaction). Never commit or roll back through it.
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.conn
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, AnyConnection::Postgresql(_))
    }

    /// Locks a payment until the end of the transaction and reads it; `None` when there is no such
    /// payment. On PostgreSQL a `SELECT ... FOR UPDATE`: another transaction locking it waits until this
    /// one ends, then sees what it wrote. Lock several payments always in the same order.
    pub fn lock_payment(&mut self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        payments::load_locked(self.conn, id.as_str())
    }

    /// Reads a payment without locking it.
    pub fn payment(&mut self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        payments::load(self.conn, id.as_str())
    }

    /// Writes `change` to `current`, a payment as read (and locked) in this transaction.
    pub fn update_payment(&mut self, current: &StoredPayment, change: &PaymentChange<'_>) -> Result<(), StoreError> {
        payments::update(self.conn, current, change)
    }

    /// Appends events to the outbox, in order: they are handed to listeners (and webhooks) once the
    /// transaction has committed, and never if it rolls back. Each gets its payment's next `sequence`
    /// (written into `events` too). Lock the payment first ([`Tx::lock_payment`]).
    pub fn insert_events(&mut self, events: &mut [Event]) -> Result<(), StoreError> {
        outbox::insert(self.conn, events)
    }

    /// Runs `work` in a savepoint: when it fails, only its own writes are undone and the transaction goes
    /// on.
    pub fn savepoint<T, E, F>(&mut self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        use diesel::Connection;
        self.conn.transaction(|conn| work(&mut Tx::new(conn)))
    }
}
