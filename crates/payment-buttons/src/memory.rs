//! An in-memory [`Store`]: for tests, examples and prototypes. Not durable: a restart loses everything,
//! which breaks the "nothing is lost" promise. Use a database-backed store in production.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::gateway::{GatewayCall, IncomingMessage};
use crate::notification::{Flag, VerificationStatus};
use crate::payment::PaymentId;
use crate::refund::{
    NewRefund, RecordedRefund, RefundId, RefundRowChange, RefundState, RefundUpdate, StoredRefund, check_new,
    row_change,
};
use crate::store::Direction;
use crate::store::{
    Applied, MESSAGE_CLAIM_LEASE, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store,
    StoreError, StoredPayment, VerificationAnswers, answer_fields, duplicate_outcome, retry_outcome,
};
use crate::transition::{ApplyRequest, PlanTarget, payment_before, plan};

/// A logged message as the memory store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage {
    /// Row id.
    pub id: MessageId,
    /// Gateway.
    pub gateway: String,
    /// The raw message.
    pub message: IncomingMessage,
    /// Decoded fields.
    pub fields: BTreeMap<String, String>,
    /// Verification state.
    pub verification: VerificationStatus,
    /// Flags, sorted.
    pub flags: Vec<Flag>,
    /// The payment, when known.
    pub payment_id: Option<PaymentId>,
    /// What applying it did.
    pub outcome: Option<String>,
    /// A notification, or a gateway's answer to a call of ours.
    pub direction: Direction,
}

#[derive(Debug, Default)]
struct Queued {
    attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    /// The end of the current claim's lease, if claimed.
    claimed_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Inner {
    payments: HashMap<PaymentId, StoredPayment>,
    messages: Vec<LoggedMessage>,
    queue: BTreeMap<MessageId, Queued>,
    applied: HashMap<(String, String), MessageId>,
    events: Vec<(i64, Event, bool)>,
    /// Outbox claims: event seq -> end of the lease.
    event_claims: HashMap<i64, DateTime<Utc>>,
    refunds: Vec<StoredRefund>,
}

impl Inner {
    /// Appends the answers `calls` to the log (direction `answer`), with `outcome` when given.
    fn log_answers(
        &mut self,
        gateway: &str,
        payment_id: Option<&PaymentId>,
        calls: &[GatewayCall],
        outcome: Option<&str>,
    ) -> Vec<MessageId> {
        let mut ids = Vec::with_capacity(calls.len());
        for call in calls {
            let id = self.messages.len() as MessageId + 1;
            let (method, fields) = answer_fields(call);
            self.messages.push(LoggedMessage {
                id,
                gateway: gateway.to_owned(),
                message: IncomingMessage {
                    received_at: call.received_at,
                    remote_addr: None,
                    method,
                    content_type: call.content_type.clone(),
                    body: call.body.clone(),
                    headers: Default::default(),
                },
                fields,
                verification: VerificationStatus::Verified,
                flags: Vec::new(),
                payment_id: payment_id.cloned(),
                outcome: outcome.map(str::to_owned),
                direction: Direction::Answer,
            });
            ids.push(id);
        }
        ids
    }

    /// Logs the answers an applied request's verification got (see [`Store::apply`]).
    fn log_verification_answers_of(&mut self, request: &ApplyRequest) {
        let answers = request.verification_answers();
        self.log_answers(request.gateway(), None, answers.calls(), Some(answers.outcome()));
    }

    fn message_mut(&mut self, id: MessageId) -> Result<&mut LoggedMessage, StoreError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.messages.get_mut(i))
            .ok_or_else(|| StoreError::NotFound(format!("gateway message {id}")))
    }

    /// Appends events to the outbox, numbering them per payment.
    fn push_events(&mut self, events: &mut [Event]) {
        for e in events {
            let before = self
                .events
                .iter()
                .filter(|(_, x, _)| x.payment.id == e.payment.id)
                .count();
            e.sequence = before as u64 + 1;
            let seq = self.events.len() as i64 + 1;
            self.events.push((seq, e.clone(), false));
        }
    }

    fn refund_mut(&mut self, id: &RefundId) -> Result<&mut StoredRefund, StoreError> {
        self.refunds
            .iter_mut()
            .find(|r| &r.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("refund {id}")))
    }

    fn pending_refund(&self, payment: &PaymentId) -> Option<&StoredRefund> {
        self.refunds
            .iter()
            .find(|r| &r.payment_id == payment && r.state == RefundState::Pending)
    }

    /// Writes what applying a refund does to the refund rows (see [`crate::refund::row_change`]).
    fn change_refund_row(&mut self, change: RefundRowChange, now: DateTime<Utc>) -> Result<(), StoreError> {
        match change {
            RefundRowChange::None => {}
            RefundRowChange::Succeeded { id, gateway_refund_id } => {
                let r = self.refund_mut(&id)?;
                if r.state != RefundState::Succeeded {
                    r.state = RefundState::Succeeded;
                    r.next_attempt_at = None;
                    r.updated_at = now;
                }
                if gateway_refund_id.is_some() {
                    r.gateway_refund_id = gateway_refund_id;
                }
            }
            RefundRowChange::Insert(row) => self.refunds.push(*row),
        }
        Ok(())
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Database("memory store poisoned".into()))
    }

    /// Every logged message, in order.
    pub fn messages(&self) -> Vec<LoggedMessage> {
        self.lock().map(|i| i.messages.clone()).unwrap_or_default()
    }

    /// Every event, in outbox order.
    pub fn events(&self) -> Vec<Event> {
        self.lock()
            .map(|i| i.events.iter().map(|(_, e, _)| e.clone()).collect())
            .unwrap_or_default()
    }

    /// Every payment.
    pub fn payments(&self) -> Vec<StoredPayment> {
        self.lock()
            .map(|i| i.payments.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn merge_flags(into: &mut Vec<Flag>, more: &[Flag]) {
    into.extend_from_slice(more);
    into.sort();
    into.dedup();
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn log_message(&self, m: NewMessage) -> Result<MessageId, StoreError> {
        let mut inner = self.lock()?;
        let id = inner.messages.len() as MessageId + 1;
        let mut flags = m.decoded.flags.clone();
        merge_flags(&mut flags, &[]);
        inner.messages.push(LoggedMessage {
            id,
            gateway: m.gateway,
            message: m.message,
            fields: m.decoded.fields,
            verification: if m.refused.is_some() {
                VerificationStatus::Error
            } else {
                VerificationStatus::Pending
            },
            flags,
            payment_id: None,
            outcome: m.refused.clone(),
            direction: Direction::Incoming,
        });
        if m.refused.is_none() {
            inner.queue.insert(id, Queued::default());
        }
        Ok(id)
    }

    async fn create_payment(&self, p: NewPayment) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.payments.contains_key(&p.id) {
            return Err(StoreError::Database(format!("payment {} exists already", p.id)));
        }
        inner.payments.insert(p.id.clone(), StoredPayment::from(p));
        Ok(())
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        Ok(self.lock()?.payments.get(id).cloned())
    }

    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut inner = self.lock()?;
        let lease_until = now + MESSAGE_CLAIM_LEASE;
        let due: Vec<MessageId> = inner
            .queue
            .iter()
            .filter(|(_, q)| q.next_attempt_at.is_none_or(|t| t <= now) && q.claimed_until.is_none_or(|t| t < now))
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for id in due {
            let Some(q) = inner.queue.get_mut(&id) else { continue };
            q.claimed_until = Some(lease_until);
            let attempts = q.attempts;
            let m = inner.message_mut(id)?;
            out.push(QueuedMessage {
                id,
                gateway: m.gateway.clone(),
                message: m.message.clone(),
                attempts,
            });
        }
        Ok(out)
    }

    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.message_mut(id)?;
        let Some(q) = inner.queue.get_mut(&id) else {
            // Finished by another worker after this one's lease expired: its log row stays as it is.
            return Ok(());
        };
        *q = Queued {
            attempts,
            next_attempt_at: Some(next_attempt_at),
            claimed_until: None,
        };
        let m = inner.message_mut(id)?;
        m.verification = VerificationStatus::Pending;
        m.outcome = Some(retry_outcome(attempts, reason));
        Ok(())
    }

    async fn settle_message(&self, id: MessageId, s: Settlement) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.message_mut(id)?;
        if inner.queue.remove(&id).is_none() {
            // Finished by another worker after this one's lease expired: its log row stays as it is.
            return Ok(());
        }
        let m = inner.message_mut(id)?;
        m.verification = s.verification;
        merge_flags(&mut m.flags, &s.flags);
        if s.payment_id.is_some() {
            m.payment_id = s.payment_id;
        }
        m.outcome = Some(s.outcome);
        Ok(())
    }

    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError> {
        let mut inner = self.lock()?;
        let id = request.message_id();
        // Everything is checked before anything is written: a failed apply changes nothing, and the message
        // stays queued for another attempt.
        inner.message_mut(id)?;
        let named = inner
            .payments
            .get(request.payment_id())
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", request.payment_id())))?;
        let key = (request.gateway().to_owned(), request.idempotency_key().to_owned());
        if let Some(first) = inner.applied.get(&key).copied() {
            let change = row_change(&request, &named, None, false, || Ok::<_, StoreError>(None))?;
            inner.change_refund_row(change, request.now())?;
            inner.queue.remove(&id);
            // The same message again was applied by a worker whose claim had expired: its row says so.
            if first != id {
                let m = inner.message_mut(id)?;
                m.verification = VerificationStatus::Verified;
                merge_flags(&mut m.flags, &[Flag::Duplicate]);
                m.payment_id = Some(request.payment_id().clone());
                m.outcome = Some(duplicate_outcome(&request.notification().summary, first));
            }
            inner.log_verification_answers_of(&request);
            return Ok(Applied::Duplicate);
        }
        let cycle = request.cycle_reference().and_then(|r| {
            inner
                .payments
                .values()
                .find(|p| p.subscription_id.as_ref() == Some(&named.id) && p.gateway_reference.as_deref() == Some(r))
                .cloned()
        });
        let plan = plan(&request, &named, cycle.as_ref());
        let before = payment_before(&plan, &named, cycle.as_ref());
        let target_id = match &plan.target {
            PlanTarget::Existing(id) => id.clone(),
            PlanTarget::NewCycle(new) => new.id.clone(),
        };
        inner.applied.insert(key, id);
        inner.queue.remove(&id);
        if let PlanTarget::NewCycle(new) = &plan.target {
            inner
                .payments
                .insert(target_id.clone(), StoredPayment::from((**new).clone()));
        }
        if (plan.new_state.is_some() || !plan.events.is_empty())
            && let Some(p) = inner.payments.get_mut(&target_id)
        {
            if let Some(state) = plan.new_state {
                p.state = state;
                p.updated_at = request.now();
            }
            if plan.gateway_reference.is_some() {
                p.gateway_reference = plan.gateway_reference.clone();
            }
            if let Some(refunded) = plan.refunded {
                p.refunded = refunded;
            }
            p.details.extend(plan.details.clone());
        }
        let change = row_change(&request, &before, plan.refunded, !plan.events.is_empty(), || {
            Ok::<_, StoreError>(inner.pending_refund(&target_id).cloned())
        })?;
        inner.change_refund_row(change, request.now())?;
        inner.log_verification_answers_of(&request);
        let mut events = plan.events.clone();
        inner.push_events(&mut events);
        let m = inner.message_mut(id)?;
        m.verification = VerificationStatus::Verified;
        merge_flags(&mut m.flags, request.flags());
        merge_flags(&mut m.flags, &plan.flags);
        m.payment_id = Some(target_id.clone());
        m.outcome = Some(plan.outcome.clone());
        if plan.events.is_empty() {
            Ok(Applied::Unchanged { reason: plan.outcome })
        } else {
            Ok(Applied::Applied {
                payment_id: target_id,
                events,
            })
        }
    }

    async fn undispatched_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .events
            .iter()
            .filter(|(_, _, done)| !done)
            .take(limit)
            .map(|(seq, e, _)| OutboxEvent {
                seq: *seq,
                event: e.clone(),
            })
            .collect())
    }

    async fn claim_undispatched_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut inner = self.lock()?;
        let lease_until = now + crate::store::OUTBOX_CLAIM_LEASE;
        let mut held: Vec<&PaymentId> = Vec::new();
        let mut out = Vec::new();
        for (seq, event, done) in &inner.events {
            if *done {
                continue;
            }
            let claimed = inner.event_claims.get(seq).is_some_and(|until| *until >= now);
            if claimed {
                // A later event of this payment waits for this one.
                held.push(&event.payment.id);
                continue;
            }
            if held.contains(&&event.payment.id) || out.len() >= limit {
                continue;
            }
            out.push(OutboxEvent {
                seq: *seq,
                event: event.clone(),
            });
        }
        for o in &out {
            inner.event_claims.insert(o.seq, lease_until);
        }
        Ok(out)
    }

    async fn release_events(&self, seqs: &[i64]) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        for seq in seqs {
            inner.event_claims.remove(seq);
        }
        Ok(())
    }

    async fn mark_dispatched(&self, seq: i64) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let event = inner
            .events
            .iter_mut()
            .find(|(s, _, _)| *s == seq)
            .ok_or_else(|| StoreError::NotFound(format!("outbox event {seq}")))?;
        event.2 = true;
        inner.event_claims.remove(&seq);
        Ok(())
    }

    async fn events_for_payment(&self, id: &PaymentId) -> Result<Vec<crate::event::Event>, StoreError> {
        Ok(self
            .lock()?
            .events
            .iter()
            .filter(|(_, e, _)| &e.payment.id == id)
            .map(|(_, e, _)| e.clone())
            .collect())
    }

    async fn healthy(&self) -> bool {
        self.inner.lock().is_ok()
    }

    async fn abandon_created_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut inner = self.lock()?;
        let mut marked = 0;
        for p in inner.payments.values_mut() {
            if p.state == crate::payment::PaymentState::Created && p.created_at < cutoff {
                p.state = crate::payment::PaymentState::Abandoned;
                p.updated_at = now;
                marked += 1;
            }
        }
        Ok(marked)
    }

    async fn payments_for_order(&self, order_reference: &str) -> Result<Vec<StoredPayment>, StoreError> {
        let inner = self.lock()?;
        let mut found: Vec<StoredPayment> = inner
            .payments
            .values()
            .filter(|p| p.button.order_reference() == order_reference)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        Ok(found)
    }

    async fn log_answers(
        &self,
        gateway: &str,
        payment_id: Option<&PaymentId>,
        calls: &[GatewayCall],
    ) -> Result<Vec<MessageId>, StoreError> {
        Ok(self.lock()?.log_answers(gateway, payment_id, calls, None))
    }

    async fn log_verification_answers(
        &self,
        gateway: &str,
        answers: &VerificationAnswers,
    ) -> Result<Vec<MessageId>, StoreError> {
        let outcome = Some(answers.outcome());
        Ok(self.lock()?.log_answers(gateway, None, answers.calls(), outcome))
    }

    async fn record_refund(&self, new: NewRefund) -> Result<RecordedRefund, StoreError> {
        let mut inner = self.lock()?;
        let payment = inner
            .payments
            .get(&new.payment_id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", new.payment_id)))?;
        if let Some(existing) = inner
            .refunds
            .iter()
            .find(|r| r.payment_id == new.payment_id && r.idempotency_key.as_deref() == Some(&new.idempotency_key))
        {
            return Ok(RecordedRefund::Existing(existing.clone()));
        }
        let amount = match check_new(&payment, inner.pending_refund(&payment.id), new.amount) {
            Ok(amount) => amount,
            Err(refusal) => return Ok(RecordedRefund::Refused(refusal)),
        };
        let row = new.into_stored(amount);
        inner.refunds.push(row.clone());
        Ok(RecordedRefund::New(row))
    }

    async fn refund(&self, id: &RefundId) -> Result<Option<StoredRefund>, StoreError> {
        Ok(self.lock()?.refunds.iter().find(|r| &r.id == id).cloned())
    }

    async fn refunds_for_payment(&self, id: &PaymentId) -> Result<Vec<StoredRefund>, StoreError> {
        Ok(self
            .lock()?
            .refunds
            .iter()
            .filter(|r| &r.payment_id == id)
            .cloned()
            .collect())
    }

    async fn begin_refund_attempt(
        &self,
        id: &RefundId,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredRefund>, StoreError> {
        let mut inner = self.lock()?;
        let r = inner.refund_mut(id)?;
        if r.state != RefundState::Pending || r.next_attempt_at.is_some_and(|t| t > now) {
            return Ok(None);
        }
        let before = r.clone();
        r.attempts += 1;
        r.first_sent_at.get_or_insert(now);
        r.next_attempt_at = Some(now + crate::refund::REFUND_ATTEMPT_LEASE);
        r.updated_at = now;
        Ok(Some(before))
    }

    async fn update_refund(
        &self,
        id: &RefundId,
        update: RefundUpdate,
        log_id: Option<MessageId>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRefund, StoreError> {
        let mut inner = self.lock()?;
        if let Some(log_id) = log_id {
            inner.message_mut(log_id)?.outcome = Some(outcome.to_owned());
        }
        let r = inner.refund_mut(id)?;
        if r.state == RefundState::Pending {
            crate::refund::apply_update(r, update, now);
        }
        Ok(r.clone())
    }

    async fn note_answer(&self, id: MessageId, outcome: &str) -> Result<(), StoreError> {
        self.lock()?.message_mut(id)?.outcome = Some(outcome.to_owned());
        Ok(())
    }

    async fn due_refunds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredRefund>, StoreError> {
        let inner = self.lock()?;
        let mut due: Vec<StoredRefund> = inner
            .refunds
            .iter()
            .filter(|r| r.state == RefundState::Pending && r.next_attempt_at.is_some_and(|t| t <= now))
            .cloned()
            .collect();
        due.sort_by_key(|r| r.next_attempt_at);
        due.truncate(limit);
        Ok(due)
    }
}
