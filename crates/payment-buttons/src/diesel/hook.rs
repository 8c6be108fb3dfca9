//! Work an application adds to [`Store::apply`](crate::store::Store::apply)'s transaction: the declared
//! extension point of [`DieselStore`](super::DieselStore). A payment that pays for something of the
//! application's own (a balance top-up, a ledger entry) completes it here, so that the payment and what it
//! pays for commit together or not at all.

use crate::event::Event;
use crate::payment::{PaymentId, PaymentState};
use crate::store::StoreError;
use crate::transition::ApplyRequest;

use super::tx::Tx;

/// What a notification just changed, as an [`ApplyHook`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct AppliedChange<'a> {
    /// The payment written: the one the notification names, or the new cycle of a subscription it
    /// started.
    pub payment_id: &'a PaymentId,
    /// Its state before this notification (`created` for a new cycle).
    pub previous: PaymentState,
    /// Its new state, or `None` when the state stays (facts recorded, no outcome).
    pub new_state: Option<PaymentState>,
    /// The events the core is about to write to the outbox.
    pub events: &'a [Event],
    /// The verified, checked notification, its log row ([`ApplyRequest::message_id`]) and the time.
    pub request: &'a ApplyRequest,
}

/// What an [`ApplyHook`] decided about the events.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    /// Write the core's events, as planned.
    KeepEvents,
    /// Write these instead (an application that turns a payment into something else it announces; empty
    /// for none). [`Applied`](crate::store::Applied) reports them.
    ReplaceEvents(Vec<Event>),
}

/// Work run inside the apply transaction of [`DieselStore`](super::DieselStore), registered with
/// [`StoreOptions::apply_hook`](super::StoreOptions::apply_hook). The core never knows what it does.
///
/// # Guarantees
/// - **When**: for every notification that changes a payment (its state, details, or a new cycle), after
///   the idempotency key is recorded and the payment row written, before the events go to the outbox and
///   the log row is updated. Never for a duplicate (its key was applied before), never for a notification
///   that changes nothing, never for one that was refused.
/// - **Atomic**: the hook's writes through [`Tx`] commit with the payment change, or not at all. An `Err`
///   rolls the whole apply back: no key, no payment change, no events; the message stays queued and is
///   processed again (so a hook may run more than once for one message, but commits at most once per
///   idempotency key). Do nothing in a hook that a rollback cannot undo (no HTTP call, no e-mail): leave
///   that to a listener of the events, which runs after the commit.
/// - **Locks**: the payment written is locked (PostgreSQL: `FOR UPDATE`; SQLite: the transaction holds
///   the database's write lock), so notifications about one payment run their hooks one after the other.
///   Lock other payments with [`Tx::lock_payment`], always in the same order.
/// - **Batches**: the worker applies the messages that are ready together in one transaction
///   ([`Store::apply_batch`](crate::store::Store::apply_batch)), so one transaction may run the hook for
///   several payments, one after the other, each seeing what the earlier ones wrote. An `Err` rolls the
///   whole batch back; every message of it is then applied again in a transaction of its own, so only the
///   failing one stays queued (the hook runs again for the others).
/// - **One connection**: do all of the work through `tx`. Using the store (or another connection) from
///   inside the hook would not see this transaction's writes and, on SQLite, would wait forever for the
///   write lock this transaction holds.
pub trait ApplyHook: Send + Sync + 'static {
    /// Runs the application's part of applying `change`. See the trait documentation.
    fn after_change(&self, tx: &mut Tx<'_>, change: &AppliedChange<'_>) -> Result<HookOutcome, StoreError>;
}
