//! The server's storage: the core's durable store ([`payment_buttons::diesel::DieselStore`], MIT: payments,
//! the gateway log and its queue, idempotency keys, the outbox) with the server's own tables on the same
//! database and pool: Librement (accounts, ledger, top-ups, sign-in attempts) and webhook deliveries.
//!
//! The server adds three things to the core's store, each through the core's public API:
//! - its migrations ([`MIGRATIONS`], the repository's `migrations/`), run after the core's;
//! - its part of applying a notification, [`LibrementHook`], run inside the core's apply transaction;
//! - its queries, on the core's pool ([`DieselStore::with_connection`], [`DieselStore::write`]).
//!
//! [`ServerStore`] dereferences to the core's [`DieselStore`] (log rows, counts, the pool) and implements
//! [`Store`] by handing every call to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use actix_pay_server::store::ServerStore;
//! use payment_buttons::store::Store;
//! let store = ServerStore::open("sqlite://data/librement.sqlite3").await?;
//! assert!(store.healthy().await);
//! # Ok(()) }
//! ```

pub mod console;
mod librement;
mod operators;
pub mod schema;
mod sign_in_attempts;
mod webhook_deliveries;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_migrations::embed_migrations;
use payment_buttons::diesel::migrations::{self, MigrationSet};
use payment_buttons::diesel::{DieselStore, StoreOptions};
use payment_buttons::event::Event;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{
    Applied, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store, StoreError,
    StoredPayment, VerificationAnswers,
};
use payment_buttons::transition::ApplyRequest;

pub use librement::{LibrementHook, RefundRequestRecord};
pub use operators::{AuditRow, Operator, Role};
pub use payment_buttons::diesel::{AnyConnection, DatabaseUrl, LogRow, OpenError, PostgresUrl};
pub use webhook_deliveries::{AttemptRecord, AttemptResult, AttemptRow, ClaimedDelivery, DeliveryRow, DeliveryStatus};

/// The server's own migrations (the repository's `migrations/`; paths are relative to this crate's
/// manifest directory). They run after the core's, in the same database; their versions never repeat a
/// core version (`docs/schema.md`, "Migrations").
pub static MIGRATIONS: MigrationSet = MigrationSet::new(
    "librement-server",
    embed_migrations!("../../migrations/sqlite"),
    embed_migrations!("../../migrations/postgres"),
);

/// The core's store with the server's migrations and [`LibrementHook`]. See the module documentation.
#[derive(Clone, Debug)]
pub struct ServerStore {
    core: DieselStore,
}

impl std::ops::Deref for ServerStore {
    type Target = DieselStore;
    fn deref(&self) -> &DieselStore {
        &self.core
    }
}

/// How the server opens the core's store: its migrations after the core's, Librement's hook.
fn options() -> StoreOptions {
    StoreOptions::new()
        .migrations(&MIGRATIONS)
        .apply_hook(Arc::new(LibrementHook))
}

impl ServerStore {
    /// Connects to `url`, applies pending migrations (the core's, then the server's) and builds the pool.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        Ok(ServerStore {
            core: options().open(url).await?,
        })
    }

    /// [`ServerStore::open`] for callers outside an async runtime.
    pub fn open_blocking(url: &DatabaseUrl) -> Result<Self, OpenError> {
        Ok(ServerStore {
            core: options().open_blocking(url)?,
        })
    }

    /// Applies pending migrations (the core's, then the server's) to `url` and returns: the `migrate`
    /// subcommand.
    pub async fn migrate_only(url: &str) -> Result<(), OpenError> {
        let url = DatabaseUrl::parse(url)?;
        tokio::task::spawn_blocking(move || options().migrate_blocking(&url))
            .await
            .map_err(|e| OpenError::Task(e.to_string()))?
    }

    /// The core's store.
    pub fn core(&self) -> &DieselStore {
        &self.core
    }
}

#[derive(diesel::QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// How many migrations of the two sets (the core's and the server's) this binary knows but the database
/// has not applied: 0 once start-up migrated it, more when another instance rolled it back (`/readyz`).
pub async fn pending_migrations(store: &ServerStore) -> Result<usize, StoreError> {
    store
        .with_connection(|conn: &mut AnyConnection| {
            use diesel::RunQueryDsl;
            let applied: Vec<AppliedVersion> =
                diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
            let applied: std::collections::HashSet<String> = applied.into_iter().map(|v| v.version).collect();
            Ok(migrations::versions(&migrations::CORE)
                .into_iter()
                .chain(migrations::versions(&MIGRATIONS))
                .filter(|v| !applied.contains(v))
                .count())
        })
        .await
}

/// Connects to `url` and applies pending migrations, the core's then the server's.
pub fn run_migrations(url: &str) -> Result<(), OpenError> {
    options().migrate_blocking(&DatabaseUrl::parse(url)?)
}

/// Connects to `url` and reverts every migration: the server's set, then the core's.
pub fn revert_all_migrations(url: &str) -> Result<(), OpenError> {
    migrations::revert_all(&mut DatabaseUrl::parse(url)?.connect()?, Some(&MIGRATIONS))
}

/// Connects to `url` and reverts, per set (the server's first), every applied migration newer than
/// `version` (a migration's folder date, `2026-01-04-000001`): rolling back a release, and the upgrade
/// tests, which make a database as an earlier release left it.
pub fn revert_migrations_after(url: &str, version: &str) -> Result<(), OpenError> {
    let mut conn = DatabaseUrl::parse(url)?.connect()?;
    migrations::revert(&mut conn, &MIGRATIONS, Some(version))?;
    migrations::revert(&mut conn, &migrations::CORE, Some(version))?;
    Ok(())
}

use payment_buttons::gateway::GatewayCall;
use payment_buttons::refund::{NewRefund, RecordedRefund, RefundId, RefundUpdate, StoredRefund};

#[async_trait::async_trait]
impl Store for ServerStore {
    async fn log_message(&self, message: NewMessage) -> Result<MessageId, StoreError> {
        self.core.log_message(message).await
    }

    async fn create_payment(&self, payment: NewPayment) -> Result<(), StoreError> {
        self.core.create_payment(payment).await
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        self.core.payment(id).await
    }

    async fn payments(&self, ids: &[PaymentId]) -> Result<Vec<StoredPayment>, StoreError> {
        self.core.payments(ids).await
    }

    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        self.core.claim_messages(now, limit).await
    }

    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.core
            .reschedule_message(id, attempts, next_attempt_at, reason)
            .await
    }

    async fn settle_message(&self, id: MessageId, settlement: Settlement) -> Result<(), StoreError> {
        self.core.settle_message(id, settlement).await
    }

    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError> {
        self.core.apply(request).await
    }

    async fn apply_batch(&self, requests: Vec<ApplyRequest>) -> Vec<Result<Applied, StoreError>> {
        self.core.apply_batch(requests).await
    }

    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.core.undispatched_events(limit).await
    }

    async fn claim_undispatched_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.core.claim_undispatched_events(now, limit).await
    }

    async fn release_events(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.core.release_events(seqs).await
    }

    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError> {
        self.core.mark_dispatched(seq).await
    }

    async fn mark_all_dispatched(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.core.mark_all_dispatched(seqs).await
    }

    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError> {
        self.core.events_for_payment(id).await
    }

    async fn healthy(&self) -> bool {
        self.core.healthy().await
    }

    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.core.abandon_created_before(cutoff, now).await
    }

    async fn payments_for_order(&self, order_reference: &str) -> Result<Vec<StoredPayment>, StoreError> {
        self.core.payments_for_order(order_reference).await
    }

    async fn log_answers(
        &self,
        gateway: &str,
        payment_id: Option<&PaymentId>,
        calls: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError> {
        self.core.log_answers(gateway, payment_id, calls).await
    }

    async fn log_verification_answers(
        &self,
        gateway: &str,
        answers: &VerificationAnswers,
    ) -> Result<Vec<MessageId>, StoreError> {
        self.core.log_verification_answers(gateway, answers).await
    }

    async fn record_refund(&self, refund: NewRefund) -> Result<RecordedRefund, StoreError> {
        self.core.record_refund(refund).await
    }

    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError> {
        self.core.refund(id).await
    }

    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError> {
        self.core.refunds_for_payment(id).await
    }

    async fn begin_refund_attempt(
        &self,
        id: &RefundId,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredRefund>, StoreError> {
        self.core.begin_refund_attempt(id, now).await
    }

    async fn update_refund(
        &self,
        id: &RefundId,
        update: RefundUpdate,
        log_id: Option<MessageId>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError> {
        self.core.update_refund(id, update, log_id, outcome, now).await
    }

    async fn note_answer(&self, id: MessageId, outcome: &str) -> Result<(), StoreError> {
        self.core.note_answer(id, outcome).await
    }

    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError> {
        self.core.due_refunds(now, limit).await
    }
}
