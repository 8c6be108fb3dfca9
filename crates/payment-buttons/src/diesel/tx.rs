//! The write transaction an application (or an [`ApplyHook`](super::ApplyHook)) runs its own work in,
//! with the few operations on the core's tables that such work needs. Everything else about the core's
//! tables stays behind [`Store`](crate::store::Store).

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::money::Money;
use crate::payment::{PaymentId, PaymentState};
use crate::store::{StoreError, StoredPayment};

use std::collections::HashMap;

use crate::store::MessageId;

use super::connection::AnyConnection;
use super::messages::{self, DeferredLogUpdate};
use super::models::NewEventRow;
use super::{outbox, payments};

/// An open write transaction on the store's database (see [`DieselStore::write`](super::DieselStore::write)
/// and [`ApplyHook`](super::ApplyHook)). It commits when the work returns `Ok`, and rolls back otherwise.
///
/// On SQLite it began with `BEGIN IMMEDIATE` and holds the database's only write lock; on PostgreSQL it is
/// an ordinary transaction, and [`Tx::lock_payment`] takes row locks where order matters.
pub struct Tx<'c> {
    conn: &'c mut AnyConnection,
    memo: Memo<'c>,
}

/// What a write transaction already knows, so that applying a batch of messages does not ask the database
/// again for each one (on PostgreSQL every question is a round trip and a statement to parse and run).
#[derive(Debug, Clone, Default)]
pub(crate) struct TxMemo {
    /// Payments locked and read together when a batch began: each is handed out once by
    /// [`Tx::lock_payment`] and forgotten when written, so that a later reader reads what was written.
    locked: HashMap<String, StoredPayment>,
    /// Each payment's last event `sequence` in this transaction: read once, then counted on.
    last_sequence: HashMap<String, i64>,
    /// Messages taken off the queue by this transaction's work, deleted together by [`TxMemo::finish`].
    dequeued: Vec<MessageId>,
    /// Log rows to write by [`TxMemo::finish`]: the messages applied without a new flag.
    log_updates: Vec<DeferredLogUpdate>,
    /// Whether events wait for [`TxMemo::finish`] (a transaction that applies messages) or are inserted at
    /// once (any other work).
    defer_events: bool,
    /// Events numbered by this transaction's work, in the order given, inserted together by
    /// [`TxMemo::finish`] (in that order: `seq` follows it, as if each had been inserted at once).
    events: Vec<NewEventRow>,
}

impl TxMemo {
    /// Locks and reads the payments `ids` (in one statement, in id order on PostgreSQL: the order every
    /// batch locks in) and reads their last event sequences (in one more).
    pub(crate) fn prefetch(conn: &mut AnyConnection, ids: &[&PaymentId]) -> Result<Self, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let locked = payments::load_all_locked(conn, &ids)?
            .into_iter()
            .map(|p| (p.id.as_str().to_owned(), p))
            .collect();
        let last_sequence = outbox::last_sequences(conn, &ids)?;
        Ok(TxMemo {
            locked,
            last_sequence,
            ..TxMemo::applying()
        })
    }

    /// The memo of a transaction that applies messages, with nothing read yet: its events and queue
    /// removals wait for [`TxMemo::finish`].
    pub(crate) fn applying() -> Self {
        TxMemo {
            defer_events: true,
            ..TxMemo::default()
        }
    }

    /// Removes a message from the queue when the transaction's work is done (see [`TxMemo::finish`]).
    pub(crate) fn dequeue(&mut self, id: MessageId) {
        self.dequeued.push(id);
    }

    /// Writes a message's log row (verification, outcome, payment; its flags stay) by [`TxMemo::finish`].
    pub(crate) fn update_log(&mut self, update: DeferredLogUpdate) {
        self.log_updates.push(update);
    }

    /// Writes what was kept for the end, in one statement each: the events, the log rows, and the removal
    /// of the queue rows of the messages handled. Call it last in the transaction, on the memo the work was
    /// given.
    pub(crate) fn finish(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        outbox::insert(conn, &self.events)?;
        messages::update_logs(conn, &self.log_updates)?;
        messages::dequeue_all(conn, &self.dequeued)
    }
}

/// The memo a [`Tx`] works with: the batch's, or its own for a transaction of one piece of work.
enum Memo<'c> {
    Borrowed(&'c mut TxMemo),
    Owned(TxMemo),
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
        Tx {
            conn,
            memo: Memo::Owned(TxMemo::default()),
        }
    }

    /// Wraps a connection on which a write transaction is open, with what that transaction knows already.
    pub(crate) fn with_memo(conn: &'c mut AnyConnection, memo: &'c mut TxMemo) -> Self {
        Tx {
            conn,
            memo: Memo::Borrowed(memo),
        }
    }

    pub(crate) fn memo(&mut self) -> &mut TxMemo {
        match &mut self.memo {
            Memo::Borrowed(m) => m,
            Memo::Owned(m) => m,
        }
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
        if let Some(locked) = self.memo().locked.remove(id.as_str()) {
            return Ok(Some(locked));
        }
        payments::load_locked(self.conn, id.as_str())
    }

    /// Reads a payment without locking it.
    pub fn payment(&mut self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        payments::load(self.conn, id.as_str())
    }

    /// Writes `change` to `current`, a payment as read (and locked) in this transaction.
    pub fn update_payment(&mut self, current: &StoredPayment, change: &PaymentChange<'_>) -> Result<(), StoreError> {
        self.memo().locked.remove(current.id.as_str());
        payments::update(self.conn, current, change)
    }

    /// Appends events to the outbox, in order: they are handed to listeners (and webhooks) once the
    /// transaction has committed, and never if it rolls back. Each gets its payment's next `sequence`
    /// (written into `events` too). Lock the payment first ([`Tx::lock_payment`]).
    ///
    /// In a transaction that applies messages, the rows are written with the transaction's last statements
    /// (all its events in one); they cannot be read back before the work returns.
    pub fn insert_events(&mut self, events: &mut [Event]) -> Result<(), StoreError> {
        let memo = match &mut self.memo {
            Memo::Borrowed(memo) => &mut **memo,
            Memo::Owned(memo) => memo,
        };
        let rows = outbox::number(self.conn, events, &mut memo.last_sequence)?;
        if memo.defer_events {
            memo.events.extend(rows);
            Ok(())
        } else {
            outbox::insert(self.conn, &rows)
        }
    }

    /// Runs `work` in a savepoint: when it fails, only its own writes are undone and the transaction goes
    /// on.
    pub fn savepoint<T, E, F>(&mut self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        use diesel::Connection;
        // The savepoint works on a copy of the memo, kept only if the savepoint is: what it counted or
        // forgot must not outlive a rollback of what it wrote.
        let mut inner = self.memo().clone();
        let done = self.conn.transaction(|conn| work(&mut Tx::with_memo(conn, &mut inner)));
        if done.is_ok() {
            *self.memo() = inner;
        }
        done
    }
}
