//! An in-memory [`Store`]: for tests, examples and prototypes. Not durable: a restart loses everything,
//! which breaks the "nothing is lost" promise. Use a database-backed store in production.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::gateway::IncomingMessage;
use crate::notification::{Flag, VerificationStatus};
use crate::payment::PaymentId;
use crate::store::{
    Applied, MessageId, NewMessage, NewPayment, OutboxEvent, QueuedMessage, Settlement, Store, StoreError,
    StoredPayment,
};
use crate::transition::{ApplyRequest, PlanTarget, plan};

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
}

#[derive(Debug, Default)]
struct Queued {
    attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    claimed: bool,
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
        });
        if m.refused.is_none() {
            inner.queue.insert(id, Queued::default());
        }
        Ok(id)
    }

    async fn create_payment(&self, p: NewPayment) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let id = p.id.clone();
        let stored = StoredPayment::from(p);
        inner.payments.insert(id, stored);
        Ok(())
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<StoredPayment>, StoreError> {
        Ok(self.lock()?.payments.get(id).cloned())
    }

    async fn claim_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut inner = self.lock()?;
        let due: Vec<MessageId> = inner
            .queue
            .iter()
            .filter(|(_, q)| !q.claimed && q.next_attempt_at.is_none_or(|t| t <= now))
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        let mut out = Vec::new();
        for id in due {
            let attempts = inner.queue.get_mut(&id).map(|q| {
                q.claimed = true;
                q.attempts
            });
            if let (Some(attempts), Some(m)) = (attempts, inner.messages.get(id as usize - 1)) {
                out.push(QueuedMessage {
                    id,
                    gateway: m.gateway.clone(),
                    message: m.message.clone(),
                    attempts,
                });
            }
        }
        Ok(out)
    }

    async fn reschedule_message(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        _reason: &str,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let q = inner
            .queue
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound(format!("queued message {id}")))?;
        *q = Queued {
            attempts,
            next_attempt_at: Some(next_attempt_at),
            claimed: false,
        };
        Ok(())
    }

    async fn settle_message(&self, id: MessageId, s: Settlement) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.queue.remove(&id);
        let m = inner
            .messages
            .get_mut(id as usize - 1)
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        m.verification = s.verification;
        merge_flags(&mut m.flags, &s.flags);
        m.payment_id = s.payment_id;
        m.outcome = Some(s.outcome);
        Ok(())
    }

    async fn apply(&self, request: ApplyRequest) -> Result<Applied, StoreError> {
        let mut inner = self.lock()?;
        let id = request.message_id();
        inner.queue.remove(&id);
        let key = (request.gateway().to_owned(), request.idempotency_key().to_owned());
        if let Some(first) = inner.applied.get(&key).copied() {
            let m = inner
                .messages
                .get_mut(id as usize - 1)
                .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
            m.verification = VerificationStatus::Verified;
            merge_flags(&mut m.flags, &[Flag::Duplicate]);
            m.payment_id = Some(request.payment_id().clone());
            m.outcome = Some(format!("duplicate: already applied by message {first}"));
            return Ok(Applied::Duplicate);
        }
        inner.applied.insert(key, id);
        let named = inner
            .payments
            .get(request.payment_id())
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", request.payment_id())))?;
        let cycle = request.cycle_reference().and_then(|r| {
            inner
                .payments
                .values()
                .find(|p| p.subscription_id.as_ref() == Some(&named.id) && p.gateway_reference.as_deref() == Some(r))
                .cloned()
        });
        let plan = plan(&request, &named, cycle.as_ref());
        let target_id = match &plan.target {
            PlanTarget::Existing(id) => id.clone(),
            PlanTarget::NewCycle(new) => {
                let id = new.id.clone();
                let stored = StoredPayment::from((**new).clone());
                inner.payments.insert(id.clone(), stored);
                id
            }
        };
        if !plan.events.is_empty()
            && let Some(p) = inner.payments.get_mut(&target_id)
        {
            if let Some(state) = plan.new_state {
                p.state = state;
            }
            if plan.gateway_reference.is_some() {
                p.gateway_reference = plan.gateway_reference.clone();
            }
            if let Some(refunded) = plan.refunded {
                p.refunded = refunded;
            }
            p.details.extend(plan.details.clone());
            p.updated_at = request.now();
        }
        for e in &plan.events {
            let seq = inner.events.len() as i64 + 1;
            inner.events.push((seq, e.clone(), false));
        }
        let m = inner
            .messages
            .get_mut(id as usize - 1)
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
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
                events: plan.events,
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
        if let Some(e) = inner.events.iter_mut().find(|(s, _, _)| *s == seq) {
            e.2 = true;
        }
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
}
