//! What the engine needs from storage: [`Store`]. Two implementations ship with this crate:
//! [`crate::memory::MemoryStore`] (tests, examples) and, with feature `diesel`, `diesel::DieselStore`
//! (SQLite or PostgreSQL, durable). Another application can implement it over its own database; feature
//! `test-support` holds the behavioural tests every implementation must pass (`store::conformance`).
//!
//! Every method that changes several rows does so in one transaction.

use chrono::{DateTime, Utc};

use crate::button::ButtonConfig;
use crate::event::Event;
use crate::gateway::{DecodedFields, GatewayCall, IncomingMessage, StoredPaymentFacts};
use crate::money::Money;
use crate::notification::{Flag, VerificationStatus};
use crate::payment::{PaymentId, PaymentState};
use crate::refund::{NewRefund, RecordedRefund, RefundId, RefundUpdate, StoredRefund};
use crate::transition::ApplyRequest;

#[cfg(feature = "test-support")]
pub mod conformance;

/// A storage failure. The text is for operators' logs; it never holds request data or secrets.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or the query failed.
    #[error("database error: {0}")]
    Database(String),
    /// A row that must exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored value could not be read back (corruption or an incompatible version).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

#[cfg(feature = "diesel")]
impl From<::diesel::result::Error> for StoreError {
    fn from(e: ::diesel::result::Error) -> Self {
        match e {
            ::diesel::result::Error::NotFound => StoreError::NotFound("row".into()),
            // Diesel's messages hold the database's message, never bound values.
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// The id of a row of `gateway_messages`.
pub type MessageId = i64;

/// A payment to record when a buyer presses a button.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    /// Our id.
    pub id: PaymentId,
    /// The gateway or payment method.
    pub gateway: String,
    /// The complete validated configuration.
    pub button: ButtonConfig,
    /// Index of the chosen buying option.
    pub option_index: usize,
    /// The chosen option's amount, denormalized for checks and queries.
    pub amount: Money,
    /// The account that must receive the money (see [`crate::gateway::Gateway::receiver`]).
    pub receiver: Option<String>,
    /// For a later subscription cycle: the first payment.
    pub subscription_id: Option<PaymentId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPayment {
    /// Our id.
    pub id: PaymentId,
    /// The gateway or payment method.
    pub gateway: String,
    /// The complete validated configuration.
    pub button: ButtonConfig,
    /// Index of the chosen buying option.
    pub option_index: usize,
    /// Amount of the chosen option.
    pub amount: Money,
    /// Current state.
    pub state: PaymentState,
    /// Expected receiving account.
    pub receiver: Option<String>,
    /// For a subscription cycle after the first: the first payment.
    pub subscription_id: Option<PaymentId>,
    /// The gateway's transaction reference, once known.
    pub gateway_reference: Option<String>,
    /// Gateway facts accumulated from notifications (merged, latest wins).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The sum of the refunds and reversals applied, never more than [`StoredPayment::amount`].
    pub refunded: Money,
    /// When recorded.
    pub created_at: DateTime<Utc>,
    /// Last state change.
    pub updated_at: DateTime<Utc>,
}

impl From<NewPayment> for StoredPayment {
    /// A payment as it is stored when `new` is recorded: created, nothing refunded, no news yet.
    fn from(new: NewPayment) -> Self {
        StoredPayment {
            refunded: Money::from_minor(0, new.amount.currency()),
            id: new.id,
            gateway: new.gateway,
            button: new.button,
            option_index: new.option_index,
            amount: new.amount,
            state: crate::payment::PaymentState::Created,
            receiver: new.receiver,
            subscription_id: new.subscription_id,
            gateway_reference: None,
            details: serde_json::Map::new(),
            created_at: new.created_at,
            updated_at: new.created_at,
        }
    }
}

impl StoredPayment {
    /// The facts a gateway checks before a refund or a cancellation of this payment.
    pub fn facts(&self) -> StoredPaymentFacts<'_> {
        StoredPaymentFacts {
            payment_id: &self.id,
            gateway_reference: self.gateway_reference.as_deref(),
            receiver: self.receiver.as_deref(),
            amount: self.amount,
            refunded_before: self.refunded,
            created_at: self.created_at,
            details: &self.details,
            gateway_subscription_id: self
                .details
                .get(crate::transition::SUBSCRIPTION_DETAIL)
                .and_then(|v| v.as_str()),
        }
    }

    /// The payment as events describe it (`payment` of a payload), as it stands.
    pub fn snapshot(&self) -> crate::event::PaymentSnapshot {
        crate::transition::snapshot(self, self.state, self.gateway_reference.clone())
    }

    /// What is left to refund (zero when everything was).
    pub fn left_to_refund(&self) -> Money {
        self.amount
            .checked_sub(self.refunded)
            .filter(|m| m.minor_units() >= 0)
            .unwrap_or(Money::from_minor(0, self.amount.currency()))
    }

    /// True for the payment that started a subscription (not a later cycle of it).
    pub fn starts_subscription(&self) -> bool {
        self.recurrence_months().is_some() && self.subscription_id.is_none()
    }

    /// Months between charges when the chosen option is a subscription.
    pub fn recurrence_months(&self) -> Option<u8> {
        self.button
            .options()
            .get(self.option_index)
            .and_then(|o| o.recurrence_months())
    }
}

/// A message to log, before anything else happens to it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The gateway it came to.
    pub gateway: String,
    /// The raw message.
    pub message: IncomingMessage,
    /// Its fields decoded for reading (the raw body stays the reference).
    pub decoded: DecodedFields,
    /// `Some(why)`: the message is logged only, already settled (verification `error`, `why` as its outcome)
    /// and never queued, so it is never verified nor applied (a body over the size limit, logged truncated).
    pub refused: Option<String>,
}

/// Which way a logged message went (`gateway_messages.direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A gateway sent it to us (a notification).
    Incoming,
    /// A gateway's answer to a call we made (a refund, a cancellation).
    Answer,
}

impl Direction {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Answer => "answer",
        }
    }
}

/// A logged message waiting for verification and application.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Its log row.
    pub id: MessageId,
    /// The gateway.
    pub gateway: String,
    /// The raw message, as logged.
    pub message: IncomingMessage,
    /// Verification attempts made so far.
    pub attempts: u32,
}

/// The answers a gateway gave to the calls made to verify a message (PayPal's postback answer to an IPN,
/// Checkout's signature check), to be written to the log (direction `answer`, about no payment) before
/// anything is done on that verification. A message that is applied carries them in its request
/// ([`ApplyRequest::verification_answers`]): the store writes them in the transaction that applies it, so
/// that the drain costs no commit more per message; otherwise [`Store::log_verification_answers`] writes
/// them first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerificationAnswers {
    calls: Vec<GatewayCall>,
    outcome: String,
}

impl VerificationAnswers {
    /// The answers `calls` to the verification of message `message`, at attempt `attempt` (from 1).
    pub(crate) fn new(calls: Vec<GatewayCall>, message: MessageId, attempt: u32) -> Self {
        VerificationAnswers {
            calls,
            outcome: format!("answer to the verification of message {message} (attempt {attempt})"),
        }
    }

    /// The answers, in the order they came.
    pub fn calls(&self) -> &[GatewayCall] {
        &self.calls
    }

    /// What each answer's log row says it was: which message and attempt it answers.
    pub fn outcome(&self) -> &str {
        &self.outcome
    }

    /// True when the verification made no call (or its gateway logs none).
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// How processing a message ended without applying it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The verification result.
    pub verification: VerificationStatus,
    /// Flags to add to the log row.
    pub flags: Vec<Flag>,
    /// The payment it names, when known.
    pub payment_id: Option<PaymentId>,
    /// What happened, in words.
    pub outcome: String,
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The payment changed (or a new cycle was recorded); these events were written to the outbox.
    Applied {
        /// The payment the events are about (a new cycle's id for a later subscription payment).
        payment_id: PaymentId,
        /// The events written, in order.
        events: Vec<Event>,
    },
    /// The idempotency key was already applied: nothing changed.
    Duplicate,
    /// Verified and recorded, but it changes nothing (e.g. pending after accepted).
    Unchanged {
        /// Why, in words.
        reason: String,
    },
}

/// How a gateway's answer to one of our calls is logged: the request's method (`POST`), and as fields the
/// request (method and URL, no credentials) and the answer's HTTP status.
pub(crate) fn answer_fields(call: &GatewayCall) -> (String, std::collections::BTreeMap<String, String>) {
    let method = call.request.split_whitespace().next().unwrap_or("-").to_owned();
    let fields = [
        ("request".to_owned(), call.request.clone()),
        ("status".to_owned(), call.status.to_string()),
    ]
    .into_iter()
    .collect();
    (method, fields)
}

/// The log row's `outcome` of a message put back in the queue by [`Store::reschedule_message`].
pub(crate) fn retry_outcome(attempts: u32, reason: &str) -> String {
    format!("verification attempt {attempts} failed, will retry: {reason}")
}

/// The log row's `outcome` of a resend whose idempotency key message `first` applied before.
pub(crate) fn duplicate_outcome(summary: &str, first: MessageId) -> String {
    format!("duplicate: {summary} already applied by message {first}")
}

/// How long [`Store::claim_messages`] hides a claimed message from other claimers. Longer than any
/// verification (the PayPal postback has a much shorter timeout), short enough that a crashed worker's
/// messages come back soon.
pub const MESSAGE_CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// How long [`Store::claim_undispatched_events`] keeps events for the claiming process. Longer than
/// listeners take for a batch; after a crash, the events are offered again once it has passed.
pub const OUTBOX_CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// The payments of a batch ([`Store::apply_batch`]) with a request that failed: their later requests in the
/// batch are not applied, so that they never overtake the failed one.
#[derive(Debug, Default)]
pub(crate) struct FailedPayments(std::collections::HashMap<PaymentId, MessageId>);

impl FailedPayments {
    /// The error for a request about `payment` when an earlier request about it failed in this batch.
    pub(crate) fn blocks(&self, payment: &PaymentId) -> Option<StoreError> {
        self.0.get(payment).map(|first| {
            StoreError::Database(format!(
                "not applied: message {first} about the same payment failed before it in this batch"
            ))
        })
    }

    /// Remembers `payment` when the result of its request `message` is a failure.
    pub(crate) fn record<T>(&mut self, payment: PaymentId, message: MessageId, result: &Result<T, StoreError>) {
        if result.is_err() {
            self.0.entry(payment).or_insert(message);
        }
    }
}

/// An event waiting in the outbox for in-process listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Row id (the outbox order).
    pub seq: i64,
    /// The event.
    pub event: Event,
}

/// Storage for payments, the gateway log, applied notifications and the event outbox.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Writes the raw message to the log and queues it for processing, in one short transaction.
    /// This happens before the gateway gets any answer; an error means "answer 503".
    async fn log_message(&self, message: NewMessage) -> Result<MessageId, StoreError>;

    /// Records a new payment (state `created`).
    async fn create_payment(&self, payment: NewPayment) -> Result<(), StoreError>;

    /// A payment by id.
    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError>;

    /// The payments among `ids` that exist, in any order: the engine reads a batch's payments at once
    /// before checking its messages. The default reads them one by one with [`Store::payment`]; a store
    /// overrides it to read them in one query.
    async fn payments(&self, ids: &[PaymentId]) -> Result<Vec<StoredPayment>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(payment) = self.payment(id).await? {
                found.push(payment);
            }
        }
        Ok(found)
    }

    /// Up to `limit` queued messages due at `now`, oldest first. A claimed message is invisible to other
    /// callers until it is settled, applied or rescheduled, or until `now + `[`MESSAGE_CLAIM_LEASE`] has
    /// passed (its worker crashed): then the next claim takes it again.
    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError>;

    /// Puts a message back in the queue for another verification attempt at `next_attempt_at` (its log row
    /// says `pending` again, with the reason). A message that is no longer queued (another worker finished
    /// it after this one's lease expired) is left as it is; an unknown message is [`StoreError::NotFound`].
    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// Ends processing of a message that is not applied (invalid, unknown payment, mismatch...): updates
    /// its log row and removes it from the queue. A message that is no longer queued is left as it is; an
    /// unknown message is [`StoreError::NotFound`].
    async fn settle_message(&self, id: MessageId, settlement: Settlement) -> Result<(), StoreError>;

    /// Applies a verified, checked notification in one transaction: writes the answers of the calls made
    /// to verify it to the log ([`ApplyRequest::verification_answers`], as
    /// [`Store::log_verification_answers`] would), records its idempotency key (a duplicate changes
    /// nothing but the log row), plans the change with [`crate::transition::plan`] against the payment as
    /// locked in the transaction, updates or creates the payment, writes the events to the outbox, updates
    /// the log row and removes it from the queue.
    ///
    /// All or nothing: when it fails (an unknown payment, a database error), nothing is written, the
    /// answers and the idempotency key included, and the message stays queued for another attempt (and
    /// another verification, whose answers are written then).
    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError>;

    /// Applies several verified, checked notifications, in the order given, and returns one result per
    /// request, in the same order: the engine's group commit (it hands over the verified messages that are
    /// ready at once, up to [`crate::engine::DEFAULT_APPLY_BATCH`] by default). Each request keeps every
    /// guarantee of [`Store::apply`]:
    ///
    /// - **All or nothing, each**: a request that fails writes nothing, its idempotency key included, and
    ///   its message stays queued; it neither undoes nor holds back the other requests of the batch.
    /// - **In order per payment**: requests about one payment are applied in the order given, each seeing
    ///   what the earlier ones wrote (a key applied earlier in the batch makes a later request with the same
    ///   key a [`Applied::Duplicate`]). Once a request about a payment fails, that payment's later requests
    ///   in the batch are not applied either ([`StoreError::Database`], "not applied": their messages stay
    ///   queued), so that they never overtake it.
    ///
    /// The default applies them one by one with [`Store::apply`] (a store written before this method keeps
    /// working). A store overrides it to apply the whole batch in one transaction, one commit instead of one
    /// per message, and when that transaction fails, falls back to one transaction per request so that one
    /// failing request costs the others nothing (the `diesel` feature's `DieselStore` does).
    async fn apply_batch(&self, requests: Vec<ApplyRequest>) -> Vec<Result<Applied, StoreError>> {
        let mut failed = FailedPayments::default();
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            let (payment, message) = (request.payment_id().clone(), request.message_id());
            let result = match failed.blocks(&payment) {
                Some(held) => Err(held),
                None => self.apply(request).await,
            };
            failed.record(payment, message, &result);
            results.push(result);
        }
        results
    }

    /// Up to `limit` outbox events not yet handed to in-process listeners, oldest first, claimed or not.
    /// A read for status pages and tests; dispatching uses [`Store::claim_undispatched_events`].
    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Claims up to `limit` undispatched outbox events for this process, oldest first, until
    /// `now + `[`OUTBOX_CLAIM_LEASE`]. A claimed event is not offered to another caller until it is marked
    /// dispatched, released, or its lease expires (after a crash). Per-payment order holds across
    /// callers: an event is not claimed while an earlier event of the same payment is claimed elsewhere.
    ///
    /// The default implementation claims nothing and returns [`Store::undispatched_events`]: enough for a
    /// store used by one process at a time. A store shared by several instances must override it.
    async fn claim_undispatched_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let _ = now;
        self.undispatched_events(limit).await
    }

    /// Gives claimed events back before their lease ends (a listener failed: the next claim, by any
    /// instance, offers them again at once). Releasing an event that is not claimed is harmless.
    async fn release_events(&self, seqs: &[i64]) -> Result<(), StoreError> {
        let _ = seqs;
        Ok(())
    }

    /// Marks an outbox event as handed to every in-process listener.
    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError>;

    /// Marks several outbox events as handed to every listener. Stores override it to do so in one
    /// statement (one commit for a whole batch instead of one per event).
    async fn mark_all_dispatched(&self, seqs: &[i64]) -> Result<(), StoreError> {
        for seq in seqs {
            self.mark_dispatched(*seq).await?;
        }
        Ok(())
    }

    /// Events about one payment, in order (for status pages and tests).
    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<Event>, StoreError>;

    /// True when the database answers.
    async fn healthy(&self) -> bool;

    /// Marks every payment still `created` that was recorded before `cutoff` as `abandoned` (never deleted:
    /// a late notification still applies to it). Returns how many were marked.
    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The payments of one order (`order_reference`), newest first.
    async fn payments_for_order(&self, order_reference: &str) -> Result<Vec<StoredPayment>, StoreError>;

    /// Writes a gateway's answers to a call we made to the log (direction `answer`, already `verified`:
    /// they came back on our own connection; never queued), before anything is decided from them.
    /// `payment_id` is the payment the call was about; `None` for a call about no payment known yet (the
    /// verification of a message, before it is read). Returns their row ids, in order.
    async fn log_answers(
        &self,
        gateway: &str,
        payment_id: Option<&PaymentId>,
        calls: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError>;

    /// Writes the answers to the calls made to verify a message that is not applied (it is settled or put
    /// back in the queue; about no payment yet: a message is not read before it is verified), each with
    /// [`VerificationAnswers::outcome`], as [`Store::log_answers`] then [`Store::note_answer`] would;
    /// returns their row ids, in order. The default does exactly that; a store may write rows and outcomes
    /// in one transaction. (A message that is applied carries its answers in its [`ApplyRequest`] instead.)
    async fn log_verification_answers(
        &self,
        gateway: &str,
        answers: &VerificationAnswers,
    ) -> Result<Vec<MessageId>, StoreError> {
        let ids = self.log_answers(gateway, None, answers.calls()).await?;
        for id in &ids {
            self.note_answer(*id, answers.outcome()).await?;
        }
        Ok(ids)
    }

    /// Records a refund in one transaction with its payment locked: the same idempotency key for the same
    /// payment gives back the refund recorded first ([`RecordedRefund::Existing`]); otherwise the refund
    /// passes [`crate::refund::check_new`] (accepted, something left, at most what is left, no other refund
    /// pending) and is written `pending`. Parallel calls with one key record one refund; with different
    /// keys, at most one is pending.
    async fn record_refund(&self, refund: NewRefund) -> Result<RecordedRefund, StoreError>;

    /// A refund by id.
    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError>;

    /// The refunds of a payment, oldest first.
    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError>;

    /// Claims a pending refund for one attempt: when it is `pending` and due (no attempt planned, or
    /// planned at or before `now`), counts the attempt, sets `first_sent_at` if unset and hides it from
    /// other claimers until `now + `[`crate::refund::REFUND_ATTEMPT_LEASE`]. Returns the refund as it was
    /// before the claim, or `None` when it is not pending or someone else holds it.
    async fn begin_refund_attempt(&self, id: &RefundId, now: DateTime<Utc>)
    -> Result<Option<StoredRefund>, StoreError>;

    /// Records what an attempt that did not succeed means for a refund still `pending` (a refund settled
    /// meanwhile, by the gateway's notification, stays as it is), and writes `outcome` on the log row
    /// `log_id` of the gateway's answer. Returns the refund as stored afterwards.
    async fn update_refund(
        &self,
        id: &RefundId,
        update: RefundUpdate,
        log_id: Option<MessageId>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError>;

    /// Writes `outcome` on the log row of a gateway's answer to a call of ours (what it meant), when
    /// nothing else is written with it.
    async fn note_answer(&self, id: MessageId, outcome: &str) -> Result<(), StoreError>;

    /// Pending refunds due for another attempt at `now`, oldest first.
    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError>;
}
