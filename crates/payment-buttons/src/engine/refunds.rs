//! Refunds and subscription cancellations the service asks of a gateway: record, call, log every answer
//! raw, then apply what it means through the same idempotent path as a notification.
//!
//! ```text
//! refund(): checks -> store.record_refund() (pending; same key -> same refund) -> send()
//! send():   store.begin_refund_attempt() -> Refunds::refund() -> store.log_answers() (direction answer)
//!           Succeeded -> store.apply() with the answer's idempotency key, the refund row settled inside
//!           Pending / Retry -> stays pending, asked again later by retry_due_refunds()
//!           Failed / Unknown -> final (Unknown: an operator checks; never sent again)
//! ```

use chrono::{DateTime, Utc};

use super::{Engine, retry_delay, truncate};
use crate::gateway::{CancelAnswer, CancelRequest, GatewayCall, RefundAnswer, RefundRequest, Refunds};
use crate::money::Money;
use crate::notification::{Notification, Outcome, Target, Verified};
use crate::payment::{PaymentId, PaymentState};
use crate::refund::{
    NewRefund, PENDING_RECHECK, RecordedRefund, RefundId, RefundLink, RefundOrigin, RefundRefusal, RefundUpdate,
    StoredRefund, check_new, request_hash,
};
use crate::store::{MessageId, Store, StoreError, StoredPayment};
use crate::transition::ApplyRequest;

/// Why a refund or a cancellation was not made. Display texts are safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such payment.
    #[error("no payment {0}")]
    UnknownPayment(PaymentId),
    /// The payment's gateway cannot do it here (no such capability, or its configuration cannot serve
    /// this payment), with the reason.
    #[error("{0}")]
    NotPossible(String),
    /// The payment, as it stands, cannot be refunded (see [`RefundRefusal`]).
    #[error(transparent)]
    Refused(#[from] RefundRefusal),
    /// The idempotency key was used for another request on this payment.
    #[error("this Idempotency-Key was used for another request on this payment")]
    KeyReused,
    /// Not a subscription that can be cancelled (not one, a later cycle, cancelled already, never paid).
    #[error("{0}")]
    NotAnActiveSubscription(String),
    /// The gateway refused the cancellation, with its reason.
    #[error("the gateway refused: {0}")]
    GatewayRefused(String),
    /// The gateway gave no usable answer: try again later.
    #[error("the gateway did not answer; try again later")]
    GatewayUnavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a shop or an operator asks to refund.
#[derive(Debug, Clone)]
pub struct RefundOrder<'a> {
    /// The payment.
    pub payment_id: &'a PaymentId,
    /// How much, in the payment's currency; `None` is what is left.
    pub amount: Option<Money>,
    /// Why (the gateway may show it to the buyer).
    pub reason: Option<&'a str>,
    /// The caller's idempotency key: the same key and the same request give the same refund.
    pub idempotency_key: &'a str,
    /// Who asks.
    pub origin: RefundOrigin,
}

impl<S: Store> Engine<S> {
    /// Refunds a payment, in full (`amount: None`) or in part, through its gateway.
    ///
    /// The same idempotency key with the same amount and reason gives back the refund recorded first
    /// (whatever it became), without calling the gateway again; with another amount or reason,
    /// [`RefundError::KeyReused`]. Otherwise the payment must be accepted with something left, the amount
    /// more than zero and at most what is left, no other refund of it pending, and its gateway able to
    /// refund it ([`crate::gateway::Gateway::refunds`] and [`Refunds::check`]). The refund is recorded
    /// `pending`, sent, every answer logged, and the answer applied; the refund comes back as it then
    /// stands (`pending` while the gateway has not confirmed it).
    pub async fn refund(&self, order: RefundOrder<'_>, now: DateTime<Utc>) -> Result<StoredRefund, RefundError> {
        let payment = self
            .store
            .payment(order.payment_id)
            .await?
            .ok_or_else(|| RefundError::UnknownPayment(order.payment_id.clone()))?;
        let hash = request_hash(order.amount.map(|m| m.to_string()).as_deref(), order.reason);
        // A replay is answered first: the same request, the same refund, whatever happened since.
        if let Some(existing) = self
            .store
            .refunds_for_payment(&payment.id)
            .await?
            .into_iter()
            .find(|r| r.idempotency_key.as_deref() == Some(order.idempotency_key))
        {
            return replay(existing, &hash);
        }
        // What the payment itself forbids comes first (not paid, nothing left, a bad amount); the store
        // checks again, with the payment locked, when it records the refund.
        check_new(&payment, None, order.amount)?;
        let refunds = self.refunds_of(&payment)?;
        refunds.check(&payment.facts()).map_err(RefundError::NotPossible)?;
        let recorded = self
            .store
            .record_refund(NewRefund {
                id: RefundId::generate(),
                payment_id: payment.id.clone(),
                amount: order.amount,
                reason: order.reason.map(str::to_owned),
                origin: order.origin,
                idempotency_key: order.idempotency_key.to_owned(),
                request_hash: hash.clone(),
                now,
            })
            .await?;
        let refund = match recorded {
            RecordedRefund::New(refund) => refund,
            // A parallel request with the same key recorded it first.
            RecordedRefund::Existing(existing) => return replay(existing, &hash),
            RecordedRefund::Refused(refusal) => return Err(refusal.into()),
        };
        tracing::info!(payment = %payment.id, refund = %refund.id, amount = %refund.amount, origin = refund.origin.as_str(), "refund recorded");
        self.send_refund(&refund.id, now).await?;
        self.store
            .refund(&refund.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("refund {}", refund.id)).into())
    }

    /// Sends again the pending refunds that are due (no usable answer before, or a gateway still
    /// processing them), with the same refund id; returns how many were sent. The background workers
    /// (`actix::spawn_workers`) call it.
    pub async fn retry_due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        let due = self.store.due_refunds(now, limit).await?;
        let mut sent = 0;
        for refund in due {
            if self.send_refund(&refund.id, now).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// The gateway's refund capability for a payment, or why there is none.
    fn refunds_of(&self, payment: &StoredPayment) -> Result<&dyn Refunds, RefundError> {
        self.gateways
            .get(&payment.gateway)
            .and_then(|g| g.refunds())
            .ok_or_else(|| {
                RefundError::NotPossible(format!(
                    "payments through {} cannot be refunded by this service",
                    payment.gateway
                ))
            })
    }

    /// One attempt at a refund, when it is pending, due and not held by another attempt: calls the
    /// gateway, logs the answers, applies what they mean. False when there was nothing to send.
    async fn send_refund(&self, id: &RefundId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(refund) = self.store.begin_refund_attempt(id, now).await? else {
            return Ok(false);
        };
        let payment = self
            .store
            .payment(&refund.payment_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", refund.payment_id)))?;
        let Ok(refunds) = self.refunds_of(&payment) else {
            // The gateway was configured when the refund was asked, and is not any more.
            let reason = format!("no gateway {:?} can refund any more", payment.gateway);
            self.store
                .update_refund(id, RefundUpdate::Unknown { reason: reason.clone() }, None, &reason, now)
                .await?;
            return Ok(true);
        };
        let request = RefundRequest {
            payment: payment.facts(),
            refund_id: refund.id.as_str(),
            amount: refund.amount,
            reason: refund.reason.as_deref(),
            first_sent_at: refund.first_sent_at,
            now,
        };
        let attempt = refunds.refund(&request).await;
        // Nothing is decided before the answers are in the log.
        let log_id = self.log_answers(&payment, attempt.calls, now).await?;
        let summary = |what: &str| format!("refund {}: {what}", refund.id);
        let update = match attempt.answer {
            RefundAnswer::Succeeded {
                gateway_refund_id,
                idempotency_key,
            } => {
                let mut details = serde_json::Map::new();
                details.insert("refund_id".into(), refund.id.as_str().into());
                if let Some(gid) = &gateway_refund_id {
                    details.insert("gateway_refund_id".into(), gid.clone().into());
                }
                let notification = Notification {
                    payment_ref: Some(payment.id.to_string()),
                    target: Target::Payment,
                    outcome: Some(Outcome::Refunded {
                        amount: Some(refund.amount),
                    }),
                    idempotency_key,
                    gateway_reference: None,
                    subscription: None,
                    amount: Some(refund.amount),
                    receiver: None,
                    test: false,
                    details,
                    flags: Vec::new(),
                    summary: summary("succeeded"),
                };
                // Our own call's answer, over our own connection: as trusted as a verified notification.
                let apply = ApplyRequest::new(
                    log_id,
                    &payment.gateway,
                    payment.id.clone(),
                    Verified::new(notification),
                    Vec::new(),
                    now,
                )
                .settling(RefundLink {
                    refund_id: refund.id.clone(),
                    gateway_refund_id,
                });
                let applied = self.store.apply(apply).await?;
                self.report_move(&payment.gateway, payment.state, log_id, &applied);
                tracing::info!(payment = %payment.id, refund = %refund.id, applied = ?matches!(applied, crate::store::Applied::Applied { .. }), "refund succeeded");
                return Ok(true);
            }
            RefundAnswer::Pending { gateway_refund_id } => RefundUpdate::Pending {
                gateway_refund_id,
                recheck_at: now + PENDING_RECHECK,
            },
            RefundAnswer::Retry { reason } => {
                let delay =
                    chrono::Duration::from_std(retry_delay(refund.attempts + 1)).unwrap_or(chrono::Duration::hours(1));
                RefundUpdate::Retry {
                    reason: truncate(&reason, 500),
                    next_attempt_at: now + delay,
                }
            }
            RefundAnswer::Failed { reason } => RefundUpdate::Failed {
                reason: truncate(&reason, 500),
            },
            RefundAnswer::Unknown { reason } => RefundUpdate::Unknown {
                reason: truncate(&reason, 500),
            },
        };
        let outcome = match &update {
            RefundUpdate::Pending { .. } => summary("pending at the gateway"),
            RefundUpdate::Retry { reason, .. } => summary(&format!("no usable answer, will retry: {reason}")),
            RefundUpdate::Failed { reason } => summary(&format!("refused: {reason}")),
            RefundUpdate::Unknown { reason } => summary(&format!("state unknown, an operator checks: {reason}")),
        };
        tracing::warn!(payment = %payment.id, refund = %refund.id, outcome = %outcome, "refund not completed");
        self.store
            .update_refund(id, update, Some(log_id), &outcome, now)
            .await?;
        Ok(true)
    }

    /// Logs a gateway's answers (direction `answer`) and returns the row the outcome goes on: the last
    /// answer, or, when the gateway gave none to log (no connection), a row saying so, so that whatever
    /// is decided points at the log.
    async fn log_answers(
        &self,
        payment: &StoredPayment,
        mut calls: Vec<GatewayCall>,
        now: DateTime<Utc>,
    ) -> Result<MessageId, StoreError> {
        if calls.is_empty() {
            calls.push(GatewayCall {
                received_at: now,
                request: "- (no answer received)".into(),
                status: 0,
                content_type: None,
                body: Vec::new(),
            });
        }
        let ids = self
            .store
            .log_answers(&payment.gateway, Some(&payment.id), &calls)
            .await?;
        ids.last()
            .copied()
            .ok_or_else(|| StoreError::Database("no log row was written for the gateway's answer".into()))
    }

    /// Cancels the subscription a payment started, at its gateway: the answers are logged (direction
    /// `answer`), and a cancellation is applied with the gateway's idempotency key, so that
    /// `subscription_cancelled` is emitted once, whether the answer or the gateway's own notification
    /// comes first. Returns the payment as it then stands.
    pub async fn cancel_subscription(
        &self,
        payment_id: &PaymentId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<StoredPayment, RefundError> {
        let payment = self
            .store
            .payment(payment_id)
            .await?
            .ok_or_else(|| RefundError::UnknownPayment(payment_id.clone()))?;
        if !payment.starts_subscription() {
            return Err(RefundError::NotAnActiveSubscription(
                "this payment did not start a subscription".into(),
            ));
        }
        if !matches!(payment.state, PaymentState::Accepted | PaymentState::Pending) {
            return Err(RefundError::NotAnActiveSubscription(format!(
                "the subscription is not active (its payment is {})",
                payment.state
            )));
        }
        let cancels = self
            .gateways
            .get(&payment.gateway)
            .and_then(|g| g.subscription_cancels())
            .ok_or_else(|| {
                RefundError::NotPossible(format!(
                    "subscriptions through {} cannot be cancelled by this service",
                    payment.gateway
                ))
            })?;
        cancels.check(&payment.facts()).map_err(RefundError::NotPossible)?;
        let attempt = cancels
            .cancel(&CancelRequest {
                payment: payment.facts(),
                reason,
            })
            .await;
        let log_id = self.log_answers(&payment, attempt.calls, now).await?;
        match attempt.answer {
            CancelAnswer::Cancelled { idempotency_key } => {
                let notification = Notification {
                    payment_ref: Some(payment.id.to_string()),
                    target: Target::Payment,
                    outcome: Some(Outcome::SubscriptionCancelled),
                    idempotency_key,
                    gateway_reference: None,
                    subscription: None,
                    amount: None,
                    receiver: None,
                    test: false,
                    details: serde_json::Map::new(),
                    flags: Vec::new(),
                    summary: "subscription cancelled at our request".into(),
                };
                let apply = ApplyRequest::new(
                    log_id,
                    &payment.gateway,
                    payment.id.clone(),
                    Verified::new(notification),
                    Vec::new(),
                    now,
                );
                let applied = self.store.apply(apply).await?;
                self.report_move(&payment.gateway, payment.state, log_id, &applied);
            }
            CancelAnswer::Failed { reason } => {
                let reason = truncate(&reason, 500);
                self.store
                    .note_answer(log_id, &format!("cancellation refused: {reason}"))
                    .await?;
                return Err(RefundError::GatewayRefused(reason));
            }
            CancelAnswer::Retry { reason } => {
                let reason = truncate(&reason, 500);
                self.store
                    .note_answer(log_id, &format!("cancellation: no usable answer: {reason}"))
                    .await?;
                return Err(RefundError::GatewayUnavailable(reason));
            }
        }
        self.store
            .payment(payment_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("payment {payment_id}")).into())
    }
}

/// The answer to a request whose idempotency key was used before on the payment.
fn replay(existing: StoredRefund, hash: &str) -> Result<StoredRefund, RefundError> {
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(existing)
    } else {
        Err(RefundError::KeyReused)
    }
}
