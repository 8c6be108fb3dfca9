//! The gateway-independent pipeline: sign buttons, start payments, log -> verify -> check -> apply
//! notifications, and hand outbox events to in-process listeners.
//!
//! ```text
//! gateway --POST--> receive(): store.log_message(raw)  -- one short transaction, then the gateway's answer
//! worker ---------> process(): gateway.verify() -> Verified<Notification>
//!                              check against the stored payment (receiver, amount, currency, test mode)
//!                              store.apply(): idempotency key, new state, events -- one transaction
//! worker ---------> dispatch_events(): outbox -> listeners, at least once
//! ```

mod pipeline;
mod refunds;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::button::{ButtonConfig, ButtonError, Language};
use crate::event::Listener;
use crate::gateway::{
    Gateway, GatewayError, Gateways, HandOff, IncomingMessage, PaymentRequest, Reply, ServiceUrls,
    VerificationWithCalls,
};
use crate::identity::VouchedIdentity;
use crate::notification::{Flag, Notification, Outcome, Target, Verification, VerificationStatus, Verified};
use crate::payment::{PaymentId, PaymentState};
use crate::store::{
    Applied, NewMessage, NewPayment, QueuedMessage, Settlement, Store, StoreError, StoredPayment, VerificationAnswers,
};
use crate::token::{ButtonSigner, TokenError};
use crate::transition::ApplyRequest;

pub use refunds::{RefundError, RefundOrder};

/// After this many failed verification attempts a message is given up on (flagged, never applied).
pub const MAX_VERIFICATION_ATTEMPTS: u32 = 25;

/// How many messages are verified at once by default (`engine.verification_concurrency`). A PayPal
/// postback is a round trip to PayPal of a few hundred milliseconds, spent waiting, and a message holds its
/// slot until it is applied: with a 200 ms postback, 512 verified 1,481 messages a second on PostgreSQL in
/// `pay-bench drain` where 256 stopped at 964 (docs/benchmarks.md). At most this many claimed messages are
/// held in memory.
pub const DEFAULT_CONCURRENCY: usize = 512;

/// How often at most [`Engine::drain_messages`] reports progress (wakes the event dispatcher) while busy.
#[cfg(feature = "actix")]
const PROGRESS_EVERY: Duration = Duration::from_millis(25);

/// How many verified messages (of different payments) the worker applies in one store transaction at most
/// by default ([`Store::apply_batch`], see [`Engine::with_apply_batch`]): the messages verified while the
/// previous batch was written go together, so a busy worker commits once per batch instead of once per
/// message, and an idle one applies each message at once. 32 applications take a few milliseconds on
/// SQLite, during which intake waits for the one writer to log a message.
pub const DEFAULT_APPLY_BATCH: usize = 32;

/// How many verified messages are checked and applied at once by default: one, which suits SQLite (one
/// writer at a time); a PostgreSQL store gains from a few (see [`Engine::with_apply_concurrency`]).
pub const DEFAULT_APPLY_CONCURRENCY: usize = 1;

/// How long a payment stays `created` before it is marked `abandoned`, unless configured otherwise.
pub const DEFAULT_ABANDON_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default largest notification body, in bytes (gateway messages are a few kilobytes): see
/// [`Engine::with_notify_body_limit`].
pub const DEFAULT_NOTIFY_BODY_BYTES: usize = 64 * 1024;

/// Why `/pay` refused to start a payment. Display texts are safe to show to the buyer.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The token is bad.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The `option` field is not a valid index.
    #[error("the chosen buying option does not exist")]
    BadOption,
    /// The `gateway` field names no offered gateway, or is missing where several are offered.
    #[error("{0}")]
    BadGateway(String),
    /// The button is no longer acceptable to its gateways (configuration changed since it was signed).
    #[error("{0}")]
    Button(#[from] ButtonError),
    /// The gateway cannot build the hand-off.
    #[error("{0}")]
    Gateway(#[from] GatewayError),
    /// Storage failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Why a gateway message could not be received.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// No such gateway here.
    #[error("no gateway called {0:?}")]
    UnknownGateway(String),
    /// The message could not be logged: the gateway must be told to send it again (503).
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Why [`Engine::buyer_return`] could not take the buyer back.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// No such payment, gateway, or no return step for this gateway: 404.
    #[error("no such payment")]
    NotFound,
    /// Storage failed: the buyer may try again (503).
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A payment that was recorded, and how to hand the buyer over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedPayment {
    /// The new payment.
    pub payment_id: PaymentId,
    /// The gateway's name.
    pub gateway: String,
    /// The hand-off.
    pub hand_off: HandOff,
    /// The button's language: the hand-off page speaks it.
    pub language: Language,
}

/// What the buyer chose on the button (the raw `/pay` fields), and who they are when known.
struct Choice<'a> {
    option: Option<&'a str>,
    gateway: Option<&'a str>,
    buyer_email: Option<&'a str>,
    signed_in: Option<&'a VouchedIdentity>,
}

/// What processing one queued message did (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// Applied (or recognized as a duplicate / no change).
    Applied(Applied),
    /// Ended without being applied.
    Settled(Settlement),
    /// Verification will be tried again.
    Rescheduled {
        /// Attempts so far.
        attempts: u32,
        /// Why.
        reason: String,
    },
}

/// What is left of concluding a message once everything before its application is done.
enum Prepared {
    /// Nothing: it was settled, rescheduled, or acted on otherwise.
    Done(Processed),
    /// It passed the checks: apply it.
    Apply(Box<ToApply>),
}

/// The payments a batch's messages name, read together just before they are checked: `found` are those
/// that exist among the `asked` ones.
struct KnownPayments {
    asked: std::collections::HashSet<PaymentId>,
    found: std::collections::HashMap<PaymentId, StoredPayment>,
}

/// A checked notification to apply, and the state its payment was in when checked (for the counters).
struct ToApply {
    request: ApplyRequest,
    from: PaymentState,
}

/// The pipeline, over a store.
pub struct Engine<S: Store> {
    store: Arc<S>,
    gateways: Gateways,
    signer: ButtonSigner,
    urls: ServiceUrls,
    token_ttl: Duration,
    listeners: Vec<Arc<dyn Listener>>,
    wakeup: Option<Arc<dyn Fn() + Send + Sync>>,
    concurrency: usize,
    apply_concurrency: usize,
    apply_batch: usize,
    abandon_after: Duration,
    notify_body_limit: usize,
    telemetry: crate::telemetry::Telemetry,
}

impl<S: Store> Engine<S> {
    /// An engine with no listeners and a 30-day token lifetime.
    pub fn new(store: Arc<S>, gateways: Gateways, signer: ButtonSigner, urls: ServiceUrls) -> Self {
        Engine {
            store,
            gateways,
            signer,
            urls,
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            listeners: Vec::new(),
            wakeup: None,
            concurrency: DEFAULT_CONCURRENCY,
            apply_concurrency: DEFAULT_APPLY_CONCURRENCY,
            apply_batch: DEFAULT_APPLY_BATCH,
            abandon_after: DEFAULT_ABANDON_AFTER,
            notify_body_limit: DEFAULT_NOTIFY_BODY_BYTES,
            telemetry: crate::telemetry::Telemetry::default(),
        }
    }

    /// The prefix of the engine's metric names (default `payment_buttons`; see the `metrics` feature):
    /// `{prefix}_gateway_messages_total`, `{prefix}_verification_seconds`, `{prefix}_payments_total`.
    pub fn with_metrics_prefix(mut self, prefix: &'static str) -> Self {
        self.telemetry = crate::telemetry::Telemetry::with_prefix(prefix);
        self
    }

    /// How long a payment may stay `created` before [`Engine::abandon_unpaid`] marks it `abandoned`
    /// (default 7 days).
    pub fn with_abandon_after(mut self, after: Duration) -> Self {
        self.abandon_after = after;
        self
    }

    /// Marks the payments still `created` longer than the configured time as `abandoned`: they stay, and
    /// a late notification still applies to them. Returns how many were marked.
    pub async fn abandon_unpaid(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let after = chrono::Duration::from_std(self.abandon_after).unwrap_or(chrono::Duration::MAX);
        let Some(cutoff) = now.checked_sub_signed(after) else {
            return Ok(0);
        };
        self.store.abandon_created_before(cutoff, now).await
    }

    /// How many messages are verified at once (at least 1; default [`DEFAULT_CONCURRENCY`]), which is
    /// also how many claimed messages the worker (`Engine::drain_messages`, feature `actix`) holds in
    /// memory at most.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many messages are verified at once: the natural batch for [`Engine::process_due`].
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// How many verified messages of different payments are checked and applied at once (at least 1;
    /// default [`DEFAULT_APPLY_CONCURRENCY`]). Messages of one payment are always applied one after the
    /// other. More than one helps a store whose transactions run in parallel (PostgreSQL); on SQLite they
    /// would only wait for the one writer.
    pub fn with_apply_concurrency(mut self, n: usize) -> Self {
        self.apply_concurrency = n.max(1);
        self
    }

    /// How many verified messages of different payments go to the store in one [`Store::apply_batch`] at
    /// most (at least 1; default [`DEFAULT_APPLY_BATCH`]); 1 applies each message in a transaction of its
    /// own. Each of the [`Engine::with_apply_concurrency`] application slots takes one batch at a time.
    pub fn with_apply_batch(mut self, n: usize) -> Self {
        self.apply_batch = n.max(1);
        self
    }

    /// Called after each logged message, so that a worker can start processing at once instead of at
    /// its next poll.
    pub fn with_wakeup(mut self, wakeup: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.wakeup = Some(wakeup);
        self
    }

    /// How long a signed button stays valid.
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Registers an in-process listener, called from the outbox.
    pub fn with_listener(mut self, listener: Arc<dyn Listener>) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Sets the largest notification body (default [`DEFAULT_NOTIFY_BODY_BYTES`]). A larger one is logged
    /// truncated to this size, flagged `oversize`, answered 413 and never verified: a flood of large posts
    /// cannot fill the log, which is never deleted, and the log still shows that they came.
    pub fn with_notify_body_limit(mut self, bytes: usize) -> Self {
        self.notify_body_limit = bytes;
        self
    }

    /// The largest notification body: a front end reads at most one byte more before calling
    /// [`Engine::receive`].
    pub fn notify_body_limit(&self) -> usize {
        self.notify_body_limit
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }
    /// The gateways.
    pub fn gateways(&self) -> &Gateways {
        &self.gateways
    }
    /// The service URLs.
    pub fn urls(&self) -> &ServiceUrls {
        &self.urls
    }
    /// The token signer.
    pub fn signer(&self) -> &ButtonSigner {
        &self.signer
    }

    /// Checks a button against the offered gateways and signs it.
    pub fn sign_button(&self, config: &ButtonConfig, now: DateTime<Utc>) -> Result<String, ButtonError> {
        self.gateways.check_button(config)?;
        self.signer.sign(config, self.token_ttl, now)
    }

    /// Verifies a `/pay` submission, records the payment and builds the gateway hand-off.
    ///
    /// `option` and `gateway` are the raw form fields (absent = option 0; gateway absent is only allowed
    /// when the button offers exactly one method). `buyer_email` only prefills the gateway's pages;
    /// `signed_in` is an account the calling application signed in itself. A saved card is offered only to
    /// `signed_in` or, without one, to the button's signed `customer_id`.
    pub async fn start_payment(
        &self,
        token: &str,
        option: Option<&str>,
        gateway: Option<&str>,
        buyer_email: Option<&str>,
        signed_in: Option<&VouchedIdentity>,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PayError> {
        let button = self.signer.verify(token, now)?;
        let choice = Choice {
            option,
            gateway,
            buyer_email,
            signed_in,
        };
        self.record_payment(button, choice, now).await
    }

    /// [`Engine::start_payment`] for a button the calling application built itself, on the server (a
    /// Librement top-up, say), paid with its first option through `gateway`, instead of one coming back
    /// signed from a browser: the token only proves that a button is one this service signed, so a button
    /// that never left the server needs none. It is checked against the gateways as
    /// [`Engine::sign_button`] checks a button. Never pass it a button that came from outside.
    pub async fn start_payment_of(
        &self,
        button: ButtonConfig,
        gateway: &str,
        buyer_email: Option<&str>,
        signed_in: Option<&VouchedIdentity>,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PayError> {
        self.gateways.check_button(&button)?;
        let choice = Choice {
            option: None,
            gateway: Some(gateway),
            buyer_email,
            signed_in,
        };
        self.record_payment(button, choice, now).await
    }

    /// Checks the chosen option and gateway, records the payment and builds the hand-off.
    async fn record_payment(
        &self,
        button: ButtonConfig,
        choice: Choice<'_>,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PayError> {
        let Choice {
            option,
            gateway,
            buyer_email,
            signed_in,
        } = choice;
        let option_index = match option.map(str::trim) {
            None | Some("") => 0,
            Some(s) => s.parse::<usize>().map_err(|_| PayError::BadOption)?,
        };
        if option_index >= button.options().len() {
            return Err(PayError::BadOption);
        }
        let offered: Vec<&String> = button.payment_options().keys().collect();
        let name = match gateway.map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) if offered.iter().any(|o| o.as_str() == g) => g.to_owned(),
            Some(g) => {
                return Err(PayError::BadGateway(format!(
                    "this button does not offer {:?}",
                    truncate(g, 32)
                )));
            }
            None if offered.len() == 1 => offered[0].clone(),
            None => return Err(PayError::BadGateway("choose a payment method".into())),
        };
        let gw = self.gateway_for(&name)?;
        gw.check_button(&button)?;
        let payment_id = PaymentId::generate();
        let receiver = gw.receiver(&button)?;
        let customer = button.customer_id().map(VouchedIdentity::customer);
        let request = PaymentRequest {
            payment_id: &payment_id,
            button: &button,
            option_index,
            buyer_email: buyer_email.or(button.email().map(|e| e.as_str())),
            identity: signed_in.or(customer.as_ref()),
            urls: &self.urls,
            created_at: now,
        };
        let amount = button.options()[option_index].amount();
        let language = button.language().clone();
        let new_payment = NewPayment {
            id: payment_id.clone(),
            gateway: name.clone(),
            button: button.clone(),
            option_index,
            amount,
            receiver,
            subscription_id: None,
            created_at: now,
        };
        let hand_off = match gw.api_hand_off() {
            None => {
                // Built before the payment is stored so that a configuration error leaves no orphan row.
                let hand_off = gw.hand_off(&request)?;
                self.store.create_payment(new_payment).await?;
                hand_off
            }
            Some(api) => {
                // Stored first: the gateway's answers are logged against it, and a notification about the
                // payment that overtakes the buyer finds it.
                self.store.create_payment(new_payment).await?;
                let (hand_off, calls) = api.hand_off_via_api(&request).await;
                if !calls.is_empty() {
                    self.store.log_answers(&name, Some(&payment_id), &calls).await?;
                }
                hand_off?
            }
        };
        Ok(StartedPayment {
            payment_id,
            gateway: name,
            hand_off,
            language,
        })
    }

    fn gateway_for(&self, name: &str) -> Result<&Arc<dyn Gateway>, PayError> {
        self.gateways
            .get(name)
            .ok_or_else(|| PayError::BadGateway(format!("{:?} is not a gateway of this service", truncate(name, 32))))
    }

    /// Logs a gateway message (before anything else happens to it) and returns the answer for the gateway.
    /// Verification and application happen later, in [`Engine::process_due`].
    pub async fn receive(&self, gateway: &str, message: IncomingMessage) -> Result<Reply, ReceiveError> {
        let gw = self
            .gateways
            .get(gateway)
            .ok_or_else(|| ReceiveError::UnknownGateway(truncate(gateway, 32)))?;
        if message.body.len() > self.notify_body_limit {
            return self.receive_oversize(gateway, message).await;
        }
        // Decoding only fills the log's `fields` column, written in the same insert as the raw bytes. It is
        // pure parsing; should it ever panic, the raw message is still logged, flagged, with no fields.
        let decoded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gw.decode(&message))).unwrap_or_else(|_| {
                crate::gateway::DecodedFields {
                    fields: Default::default(),
                    flags: vec![Flag::MalformedField],
                }
            });
        let flagged = !decoded.flags.is_empty();
        let log_id = self
            .store
            .log_message(NewMessage {
                gateway: gateway.to_owned(),
                message: message.clone(),
                decoded,
                refused: None,
            })
            .await?;
        // Never the body: it may hold personal data.
        tracing::info!(
            log_id,
            gateway,
            size = message.body.len(),
            remote_addr = message.remote_addr.as_deref().unwrap_or("-"),
            "gateway message received"
        );
        if flagged {
            tracing::warn!(log_id, gateway, "gateway message flagged while decoding");
        }
        // Only now, with the message safely logged, is it looked at (CM-CIC checks its seal here).
        let reply = gw.acknowledge(&message);
        if let Some(wakeup) = &self.wakeup {
            wakeup();
        }
        Ok(reply)
    }

    /// Logs the first [`Engine::notify_body_limit`] bytes of a message that is larger, flagged `oversize`
    /// and settled at once (never queued, so never verified: its seal or postback would be about other
    /// bytes than the gateway sent), and answers 413.
    async fn receive_oversize(&self, gateway: &str, mut message: IncomingMessage) -> Result<Reply, ReceiveError> {
        let limit = self.notify_body_limit;
        message.body.truncate(limit);
        self.store
            .log_message(NewMessage {
                gateway: gateway.to_owned(),
                message,
                decoded: crate::gateway::DecodedFields {
                    fields: Default::default(),
                    flags: vec![Flag::Oversize],
                },
                refused: Some(format!(
                    "refused: the body is larger than {limit} bytes; logged truncated to that size, never verified"
                )),
            })
            .await?;
        Ok(Reply {
            status: 413,
            content_type: Some("text/plain; charset=utf-8"),
            body: format!("notification larger than {limit} bytes\n").into_bytes(),
        })
    }

    /// Processes up to `limit` queued messages that are due; returns how many were handled.
    ///
    /// Verification (for PayPal a network round trip) runs for up to [`Engine::concurrency`] messages at
    /// a time. The messages of one payment are checked and applied one after the other in the order they
    /// were logged, whichever verification ends first (a message put back for another verification attempt
    /// no longer holds the later ones: the transition rules take a late `Pending` as no change): a `subscr_signup` is applied before the
    /// `subscr_payment` that followed it, a `Pending` before its `Completed`, so listeners see every
    /// payment's events in the order the gateway sent the messages. Messages of different payments do not
    /// wait for each other. A store error is returned once every other claimed message is done.
    pub async fn process_due(&self, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        let batch = self.store.claim_messages(now, limit).await?;
        let n = batch.len();
        let mut pipeline = pipeline::Pipeline::new(self, now);
        pipeline.admit(batch, None);
        pipeline.finish().await?;
        Ok(n)
    }

    /// The message worker (feature `actix`, which brings tokio): runs for ever (until its task is dropped), keeping up to
    /// [`Engine::concurrency`] messages in flight. It claims due messages when woken by `wake`, every
    /// `poll` (retries come due), and at once while the queue has more; applies them as
    /// [`Engine::process_due`] does; and calls `progress` when messages were concluded (to wake the event
    /// dispatcher), at most every 25 ms while busy. Unlike repeated `process_due` calls it never waits for a batch: a slot freed by
    /// one verification is taken by the next message. One gateway runs at most its share of the
    /// verifications when several are configured, and one whose postbacks hang gives up its queued
    /// messages to the store so that the others' messages pass (see the `pipeline` module).
    #[cfg(feature = "actix")]
    pub async fn drain_messages(&self, wake: &tokio::sync::Notify, poll: Duration, progress: &(dyn Fn() + Sync)) {
        let gateways = self.gateways.names().count().max(1);
        let share = pipeline::gateway_share(self.concurrency, gateways);
        // Small claims cost a transaction each: wait until an eighth of the slots are free, unless idle.
        let min_claim = (self.concurrency / 8).max(1);
        let mut pipeline = pipeline::Pipeline::new(self, Utc::now());
        let mut more_queued = true;
        let mut next_poll = tokio::time::Instant::now() + poll;
        let (mut reported, mut last_report) = (0, std::time::Instant::now());
        loop {
            pipeline.set_now(Utc::now());
            if more_queued && gateways > 1 {
                pipeline.shed_saturated(share);
            }
            let free = self.concurrency.saturating_sub(pipeline.held());
            if more_queued && free > 0 && (free >= min_claim || pipeline.is_idle()) {
                match self.store.claim_messages(Utc::now(), free).await {
                    Ok(batch) => {
                        more_queued = batch.len() == free;
                        pipeline.admit(batch, Some(share));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "claiming queued messages failed; retrying");
                        more_queued = false;
                    }
                }
            }
            tokio::select! {
                Some(result) = pipeline.step(), if !pipeline.is_idle() => {
                    if let Err(e) = result {
                        tracing::error!(error = %e, "applying a message failed; it stays queued");
                    }
                }
                _ = wake.notified() => more_queued = true,
                _ = tokio::time::sleep_until(next_poll) => {
                    more_queued = true;
                    next_poll = tokio::time::Instant::now() + poll;
                }
            }
            // Woken once per PROGRESS_EVERY at most, not per message: each wake-up of the event dispatcher
            // is a claim and a commit, which on SQLite would queue with the applications for the one writer.
            if pipeline.done != reported && (pipeline.is_idle() || last_report.elapsed() >= PROGRESS_EVERY) {
                reported = pipeline.done;
                last_report = std::time::Instant::now();
                progress();
            }
        }
    }

    /// Verifies, checks and applies one queued message.
    pub async fn process(&self, queued: QueuedMessage, now: DateTime<Utc>) -> Result<Processed, StoreError> {
        let verification = self.verify(&queued).await;
        let (gateway, id) = (queued.gateway.clone(), queued.id);
        let processed = self.conclude(queued, verification, now).await?;
        self.report(&gateway, id, &processed);
        Ok(processed)
    }

    /// Asks the message's gateway whether it is genuine (with the answers of the calls it made for that);
    /// `None` when that gateway is no longer configured.
    async fn verify(&self, queued: &QueuedMessage) -> Option<VerificationWithCalls> {
        let gw = self.gateways.get(&queued.gateway)?;
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let verification = gw.verify_with_calls(&queued.message).await;
        #[cfg(feature = "metrics")]
        self.telemetry.verification_took(&queued.gateway, started.elapsed());
        Some(verification)
    }

    /// Counts and logs how a message's processing ended.
    fn report(&self, gateway: &str, log_id: crate::store::MessageId, processed: &Processed) {
        let (verification, outcome) = match processed {
            Processed::Applied(Applied::Applied { .. }) => ("verified", "applied"),
            Processed::Applied(Applied::Duplicate) => ("verified", "duplicate"),
            Processed::Applied(Applied::Unchanged { .. }) => ("verified", "unchanged"),
            Processed::Settled(s) => (s.verification.as_str(), "settled"),
            Processed::Rescheduled { .. } => ("retry", "rescheduled"),
        };
        self.telemetry.message_verified(gateway, verification);
        tracing::info!(log_id, gateway, verification, outcome, "gateway message verified");
        match processed {
            Processed::Settled(s) if !s.flags.is_empty() => {
                let flags: Vec<&str> = s.flags.iter().map(|f| f.as_str()).collect();
                tracing::warn!(log_id, gateway, flags = ?flags, outcome = %s.outcome, "gateway message flagged");
            }
            Processed::Rescheduled { attempts, reason } => {
                tracing::warn!(log_id, gateway, attempts, reason = %reason, "verification will be retried");
            }
            _ => {}
        }
    }

    /// Everything after verification: log the answers of the calls the verification made (before anything
    /// is decided from it), then settle, reschedule, or check against the payment and apply.
    async fn conclude(
        &self,
        queued: QueuedMessage,
        verification: Option<VerificationWithCalls>,
        now: DateTime<Utc>,
    ) -> Result<Processed, StoreError> {
        match self.prepare(queued, verification, now, None).await? {
            Prepared::Done(processed) => Ok(processed),
            Prepared::Apply(apply) => self.apply_one(*apply).await,
        }
    }

    /// Concludes verified messages of different payments together (the worker's group commit): everything
    /// before the application runs for each message at once (settling, rescheduling, reading and checking
    /// its payment), then the messages to apply go to the store in one [`Store::apply_batch`]. Returns each
    /// message's result, in the order given; a failure is that message's only (it stays queued).
    pub(crate) async fn conclude_all(
        &self,
        group: Vec<(QueuedMessage, Option<VerificationWithCalls>)>,
        now: DateTime<Utc>,
    ) -> Vec<(crate::store::MessageId, Result<Processed, StoreError>)> {
        // The payments the verified messages name, read at once (one query instead of one per message).
        let named: Vec<PaymentId> = group
            .iter()
            .filter_map(
                |(_, verification)| match verification.as_ref().map(|v| &v.verification) {
                    Some(Verification::Verified(n)) => n.get().payment_ref.as_deref(),
                    _ => None,
                },
            )
            .filter_map(|r| PaymentId::parse(r).ok())
            .collect();
        let known: Option<KnownPayments> = if named.len() > 1 {
            match self.store.payments(&named).await {
                Ok(found) => Some(KnownPayments {
                    asked: named.into_iter().collect(),
                    found: found.into_iter().map(|p| (p.id.clone(), p)).collect(),
                }),
                // Each message reads its own payment instead.
                Err(_) => None,
            }
        } else {
            None
        };
        let known = known.as_ref();
        let prepared = futures_util::future::join_all(group.into_iter().map(|(queued, verification)| async move {
            let (id, gateway) = (queued.id, queued.gateway.clone());
            (id, gateway, self.prepare(queued, verification, now, known).await)
        }))
        .await;
        // Each message's id, gateway and result (`None` until its application's result is known).
        type Slot = (crate::store::MessageId, String, Option<Result<Processed, StoreError>>);
        let mut results: Vec<Slot> = Vec::with_capacity(prepared.len());
        let mut to_apply = Vec::new();
        let mut requests = Vec::new();
        for (id, gateway, prepared) in prepared {
            let result = match prepared {
                Ok(Prepared::Apply(apply)) => {
                    to_apply.push((results.len(), apply.from));
                    requests.push(apply.request);
                    None
                }
                Ok(Prepared::Done(processed)) => Some(Ok(processed)),
                Err(e) => Some(Err(e)),
            };
            results.push((id, gateway, result));
        }
        if !requests.is_empty() {
            let asked = requests.len();
            let mut applied = self.store.apply_batch(requests).await.into_iter();
            for (slot, from) in to_apply {
                let (id, gateway, result) = &mut results[slot];
                // A store that answers fewer results than requests leaves the rest queued.
                let one = applied.next().unwrap_or_else(|| {
                    Err(StoreError::Database(format!(
                        "the store answered a batch of {asked} applications with fewer results"
                    )))
                });
                *result = Some(one.map(|applied| {
                    self.report_move(gateway, from, *id, &applied);
                    Processed::Applied(applied)
                }));
            }
        }
        results
            .into_iter()
            .map(|(id, gateway, result)| {
                let result = result.unwrap_or_else(|| Err(StoreError::Database("no result".into())));
                if let Ok(processed) = &result {
                    self.report(&gateway, id, processed);
                }
                (id, result)
            })
            .collect()
    }

    /// Everything after verification but the application: settles or reschedules the message, or checks
    /// it against its payment and returns what to apply.
    async fn prepare(
        &self,
        queued: QueuedMessage,
        verification: Option<VerificationWithCalls>,
        now: DateTime<Utc>,
        known: Option<&KnownPayments>,
    ) -> Result<Prepared, StoreError> {
        // The answers of the calls the verification made are logged before anything is decided from them:
        // in the transaction that applies the message when it is applied (no commit more per message on
        // the drain's path), in one of their own first otherwise.
        let (verification, answers) = match verification {
            Some(VerificationWithCalls { verification, calls }) => (
                Some(verification),
                VerificationAnswers::new(calls, queued.id, queued.attempts + 1),
            ),
            None => (None, VerificationAnswers::default()),
        };
        let gw = self.gateways.get(&queued.gateway);
        if gw.is_none() || !matches!(verification, Some(Verification::Verified(_))) {
            self.log_verification_answers(&queued.gateway, &answers).await?;
        }
        let (Some(gw), Some(verification)) = (gw, verification) else {
            let settlement = Settlement {
                verification: VerificationStatus::Error,
                flags: vec![],
                payment_id: None,
                outcome: format!("no gateway {:?} is configured any more", queued.gateway),
            };
            self.store.settle_message(queued.id, settlement.clone()).await?;
            return Ok(Prepared::Done(Processed::Settled(settlement)));
        };
        let processed = match verification {
            Verification::Verified(notification) => {
                return self
                    .check(queued.id, gw.as_ref(), notification, answers, now, known)
                    .await;
            }
            Verification::Return { payment, query } => {
                self.conclude_return(queued, gw.as_ref(), payment, query, now).await
            }
            Verification::Ignored { reason, flags } => {
                self.settle(
                    queued.id,
                    VerificationStatus::Verified,
                    flags,
                    None,
                    format!("ignored: {reason}"),
                )
                .await
            }
            Verification::Rejected { status, reason, flags } => {
                self.settle(queued.id, status, flags, None, format!("rejected: {reason}"))
                    .await
            }
            Verification::Retry { reason } => {
                let attempts = queued.attempts + 1;
                if attempts >= MAX_VERIFICATION_ATTEMPTS {
                    self.settle(
                        queued.id,
                        VerificationStatus::Error,
                        vec![Flag::VerificationFailed],
                        None,
                        format!("gave up after {attempts} verification attempts: {reason}"),
                    )
                    .await
                } else {
                    let next =
                        now + chrono::Duration::from_std(retry_delay(attempts)).unwrap_or(chrono::Duration::hours(1));
                    self.store
                        .reschedule_message(queued.id, attempts, next, &reason)
                        .await?;
                    Ok(Processed::Rescheduled { attempts, reason })
                }
            }
        };
        processed.map(Prepared::Done)
    }

    /// Writes the answers a gateway gave to the calls made to verify a message that is not applied
    /// (PayPal's postback answer to an IPN; Checkout's verify-webhook-signature, and the OAuth token it
    /// needed, redacted) to the log, about no payment yet (the message is not read before it is
    /// verified), each noted as the answer to that message's verification.
    async fn log_verification_answers(&self, gateway: &str, answers: &VerificationAnswers) -> Result<(), StoreError> {
        if answers.is_empty() {
            return Ok(());
        }
        self.store.log_verification_answers(gateway, answers).await?;
        Ok(())
    }

    async fn settle(
        &self,
        log_id: crate::store::MessageId,
        verification: VerificationStatus,
        flags: Vec<Flag>,
        payment_id: Option<PaymentId>,
        outcome: String,
    ) -> Result<Processed, StoreError> {
        let settlement = Settlement {
            verification,
            flags,
            payment_id,
            outcome,
        };
        self.store.settle_message(log_id, settlement.clone()).await?;
        Ok(Processed::Settled(settlement))
    }

    /// A verified message that asks for the gateway's return step ([`Verification::Return`]): run only for a
    /// stored payment of this gateway (a message naming another system's payment makes no call); the
    /// answers are logged first; the message's row is settled as handled and what the answers say is applied
    /// as the last answer's row. No answer, or a server error, puts the message back in the queue: the step
    /// is made again later (with the gateway's idempotency key, it never acts twice).
    async fn conclude_return(
        &self,
        queued: QueuedMessage,
        gw: &dyn Gateway,
        payment_id: PaymentId,
        query: Vec<(String, String)>,
        now: DateTime<Utc>,
    ) -> Result<Processed, StoreError> {
        let payment = self.store.payment(&payment_id).await?;
        let (payment, step) = match (payment, gw.buyer_return()) {
            (Some(p), Some(step)) if p.gateway == gw.name() => (p, step),
            (Some(p), _) => {
                return self
                    .settle(
                        queued.id,
                        VerificationStatus::Verified,
                        vec![Flag::WrongGateway],
                        Some(p.id.clone()),
                        format!("not acted on: payment {} is not one of {}", p.id, gw.name()),
                    )
                    .await;
            }
            (None, _) => {
                return self
                    .settle(
                        queued.id,
                        VerificationStatus::Verified,
                        vec![Flag::UnknownPayment],
                        None,
                        format!("not acted on: no payment {payment_id:?}"),
                    )
                    .await;
            }
        };
        let returned = step.on_return(&payment.facts(), &query, &self.urls).await;
        let ids = if returned.calls.is_empty() {
            Vec::new()
        } else {
            self.store
                .log_answers(gw.name(), Some(&payment.id), &returned.calls)
                .await?
        };
        let answers = match ids.as_slice() {
            [] => "no answer".to_owned(),
            ids => format!(
                "answers logged as message {}",
                ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
            ),
        };
        match (returned.notification, ids.last()) {
            (Some(notification), Some(&answer_id)) => {
                let summary = notification.get().summary.clone();
                self.settle(
                    queued.id,
                    VerificationStatus::Verified,
                    vec![],
                    Some(payment.id.clone()),
                    format!("acted on: {summary}; {answers}, applied there"),
                )
                .await?;
                self.apply_answer(answer_id, gw, notification, now).await
            }
            _ if returned.calls.last().is_none_or(|c| c.status >= 500) => {
                let reason = format!("the gateway's return step had no usable answer ({answers})");
                Box::pin(self.conclude(queued, Some(Verification::Retry { reason }.into()), now)).await
            }
            _ => {
                self.settle(
                    queued.id,
                    VerificationStatus::Verified,
                    vec![],
                    Some(payment.id.clone()),
                    format!("acted on, nothing to apply ({answers})"),
                )
                .await
            }
        }
    }

    /// Checks and applies what a gateway's answer to our call says, as that answer's log row. An answer is
    /// never queued, so when it is not applied (a payee or amount that does not match) its row gets the
    /// reason and the flags as its outcome: the log says why, as it does for a notification.
    async fn apply_answer(
        &self,
        answer_id: crate::store::MessageId,
        gw: &dyn Gateway,
        notification: Verified<Notification>,
        now: DateTime<Utc>,
    ) -> Result<Processed, StoreError> {
        let processed = self.check_and_apply(answer_id, gw, notification, now).await?;
        if let Processed::Settled(settled) = &processed {
            let flags: Vec<&str> = settled.flags.iter().map(|f| f.as_str()).collect();
            let outcome = format!("{} (flags: {})", settled.outcome, flags.join(", "));
            self.store.note_answer(answer_id, &outcome).await?;
        }
        self.report(gw.name(), answer_id, &processed);
        Ok(processed)
    }

    /// The buyer came back from the gateway's pages to `GET /return/{gateway}/{payment_id}` (PayPal
    /// Checkout): the gateway's server-side step (the capture) runs, its answers are logged (direction
    /// `answer`) before anything is decided from them, what they say is applied like a verified
    /// notification (same checks, same idempotency key as the gateway's own notification of it), and the
    /// buyer is sent on (the status page).
    ///
    /// Errors are [`ReturnError`]: an unknown payment or a gateway without this step is "not found".
    pub async fn buyer_return(
        &self,
        gateway: &str,
        payment_id: &str,
        query: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<HandOff, ReturnError> {
        let gw = self.gateways.get(gateway).ok_or(ReturnError::NotFound)?;
        let step = gw.buyer_return().ok_or(ReturnError::NotFound)?;
        let id = PaymentId::parse(payment_id).map_err(|_| ReturnError::NotFound)?;
        let payment = self.store.payment(&id).await?.ok_or(ReturnError::NotFound)?;
        if payment.gateway != gw.name() {
            return Err(ReturnError::NotFound);
        }
        let returned = step.on_return(&payment.facts(), query, &self.urls).await;
        let ids = if returned.calls.is_empty() {
            Vec::new()
        } else {
            self.store.log_answers(gw.name(), Some(&id), &returned.calls).await?
        };
        if let (Some(notification), Some(&answer_id)) = (returned.notification, ids.last()) {
            self.apply_answer(answer_id, gw.as_ref(), notification, now).await?;
        }
        Ok(returned.hand_off)
    }

    /// Checks a verified notification against its payment and applies it, as the log row `log_id` (a
    /// message the gateway sent, or its answer to a call we made).
    async fn check_and_apply(
        &self,
        log_id: crate::store::MessageId,
        gw: &dyn Gateway,
        verified: Verified<Notification>,
        now: DateTime<Utc>,
    ) -> Result<Processed, StoreError> {
        match self
            .check(log_id, gw, verified, VerificationAnswers::default(), now, None)
            .await?
        {
            Prepared::Done(processed) => Ok(processed),
            Prepared::Apply(apply) => self.apply_one(*apply).await,
        }
    }

    /// Applies one checked notification in its own transaction.
    async fn apply_one(&self, apply: ToApply) -> Result<Processed, StoreError> {
        let ToApply { request, from } = apply;
        let (gateway, log_id) = (request.gateway().to_owned(), request.message_id());
        let applied = self.store.apply(request).await?;
        self.report_move(&gateway, from, log_id, &applied);
        Ok(Processed::Applied(applied))
    }

    /// Checks a verified notification against its payment (read now, or among the `known` ones), as the
    /// log row `log_id`: settles it when it may not change the payment (after logging the `answers` its
    /// verification got), otherwise returns the request that applies it (and logs them).
    async fn check(
        &self,
        log_id: crate::store::MessageId,
        gw: &dyn Gateway,
        verified: Verified<Notification>,
        answers: VerificationAnswers,
        now: DateTime<Utc>,
        known: Option<&KnownPayments>,
    ) -> Result<Prepared, StoreError> {
        let n = verified.get();
        let mut flags = n.flags.clone();
        let verified_status = VerificationStatus::Verified;
        let payment_id = n.payment_ref.as_deref().and_then(|r| PaymentId::parse(r).ok());
        let payment = match (&payment_id, known) {
            (Some(id), Some(known)) if known.asked.contains(id) => known.found.get(id).cloned(),
            (Some(id), _) => self.store.payment(id).await?,
            (None, _) => None,
        };
        let Some(payment) = payment else {
            self.log_verification_answers(gw.name(), &answers).await?;
            flags.push(Flag::UnknownPayment);
            let named = n
                .payment_ref
                .as_deref()
                .map(|r| truncate(r, 64))
                .unwrap_or_else(|| "none".into());
            return self
                .settle(
                    log_id,
                    verified_status,
                    flags,
                    None,
                    format!("not applied: no payment {named:?} ({})", n.summary),
                )
                .await
                .map(Prepared::Done);
        };
        if let Err((flag, reason)) = check_against_payment(n, &payment, gw) {
            self.log_verification_answers(gw.name(), &answers).await?;
            flags.push(flag);
            return self
                .settle(
                    log_id,
                    verified_status,
                    flags,
                    Some(payment.id.clone()),
                    format!("not applied: {reason}"),
                )
                .await
                .map(Prepared::Done);
        }
        let request = ApplyRequest::new(log_id, gw.name(), payment.id.clone(), verified, flags, now)
            .with_verification_answers(answers);
        Ok(Prepared::Apply(Box::new(ToApply {
            request,
            from: payment.state,
        })))
    }

    /// Counts and logs the state a payment moved to when `applied` changed it (`payments_total`), whatever
    /// moved it: a notification, a refund's or a cancellation's answer.
    pub(crate) fn report_move(
        &self,
        gateway: &str,
        from: PaymentState,
        log_id: crate::store::MessageId,
        applied: &Applied,
    ) {
        if let Applied::Applied { payment_id, events } = applied
            && let Some(last) = events.last()
        {
            let to = last.payment.state.as_str();
            self.telemetry.payment_moved(gateway, to);
            tracing::info!(payment = %payment_id, from = from.as_str(), to, log_id, "payment state changed");
        }
    }

    /// Claims up to `limit` outbox events (see [`Store::claim_undispatched_events`]) and hands them to
    /// every registered listener, in order. An event is marked dispatched only when every listener
    /// accepted it; on a failure dispatch stops (keeping per-payment order), the failed event and the rest
    /// of the batch are released, and they are offered again on the next call, here or in another instance.
    pub async fn dispatch_events(&self, limit: usize) -> Result<usize, StoreError> {
        let events = self.store.claim_undispatched_events(Utc::now(), limit).await?;
        // Marked together at the end: one commit per batch. A crash before it only means the batch is
        // offered again, which at-least-once delivery allows.
        let mut done = Vec::with_capacity(events.len());
        for (i, outbox) in events.iter().enumerate() {
            for listener in &self.listeners {
                if let Err(e) = listener.handle(&outbox.event).await {
                    tracing::warn!(event = %outbox.event.id, error = %e, "listener failed; will retry");
                    self.store.mark_all_dispatched(&done).await?;
                    let rest: Vec<i64> = events[i..].iter().map(|o| o.seq).collect();
                    self.store.release_events(&rest).await?;
                    return Ok(done.len());
                }
            }
            tracing::info!(
                event = %outbox.event.id, kind = outbox.event.kind.as_str(), payment = %outbox.event.payment.id,
                "event dispatched"
            );
            done.push(outbox.seq);
        }
        self.store.mark_all_dispatched(&done).await?;
        Ok(done.len())
    }
}

/// The checks every notification passes before it may change a payment: same gateway, receiver, amount
/// and currency, and no test message on a live gateway.
fn check_against_payment(n: &Notification, payment: &StoredPayment, gw: &dyn Gateway) -> Result<(), (Flag, String)> {
    if payment.gateway != gw.name() {
        return Err((
            Flag::WrongGateway,
            format!("payment {} was made through {}", payment.id, payment.gateway),
        ));
    }
    // Each gateway knows which of its modes refuse test messages (PayPal's sandbox sends test_ipn=1 on
    // every message), so it raises the flag and the engine enforces it.
    if n.flags.contains(&Flag::TestInLive) {
        return Err((Flag::TestInLive, "a test message reached a live gateway".into()));
    }
    if let (Some(expected), Some(got)) = (&payment.receiver, &n.receiver)
        && !expected.trim().eq_ignore_ascii_case(got.trim())
    {
        return Err((
            Flag::ReceiverMismatch,
            format!("paid to {got:?}, expected {expected:?}"),
        ));
    }
    if payment.receiver.is_some() && n.receiver.is_none() && n.outcome.is_some() {
        return Err((Flag::ReceiverMismatch, "the message names no receiver".into()));
    }
    match (&n.outcome, &n.amount) {
        (None | Some(Outcome::SubscriptionCancelled), _) => Ok(()),
        (Some(Outcome::Refunded { amount } | Outcome::ReversalCancelled { amount }), stated) => {
            let refunded = amount.or(stated.map(|m| m.abs()));
            match refunded {
                Some(r) if r.currency() != payment.amount.currency() => Err((
                    Flag::AmountMismatch,
                    format!("refund in {}, payment in {}", r.currency(), payment.amount.currency()),
                )),
                Some(r) if r.abs().minor_units() > payment.amount.minor_units() => Err((
                    Flag::AmountMismatch,
                    format!("refund of {} is more than the payment's {}", r.abs(), payment.amount),
                )),
                _ => Ok(()),
            }
        }
        (Some(Outcome::Accepted), None) => Err((Flag::AmountMismatch, "an accepted payment without an amount".into())),
        (Some(_), None) => Ok(()),
        (Some(_), Some(got)) => {
            let expected = payment.amount;
            if got.currency() != expected.currency() || got.minor_units() != expected.minor_units() {
                let what = if n.target == Target::SubscriptionCycle {
                    "recurring amount"
                } else {
                    "amount"
                };
                Err((
                    Flag::AmountMismatch,
                    format!(
                        "{what} {got} {} differs from the stored {expected} {}",
                        got.currency(),
                        expected.currency()
                    ),
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// Delay before verification attempt `attempts + 1`: 10 s doubling up to an hour, with ±20 % jitter so
/// that a burst of failures does not retry in lockstep.
pub fn retry_delay(attempts: u32) -> Duration {
    let base = 10u64
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(12))
        .min(3600);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_millis((base as f64 * 1000.0 * jitter) as u64)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
