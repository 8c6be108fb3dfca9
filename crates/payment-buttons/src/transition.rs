//! The pure decision of what a verified notification does to a payment: new state, events, details.
//!
//! Storage implementations call [`plan`] inside their transaction, with the payment as locked there, so
//! that concurrent notifications about one payment are decided one after the other.

use chrono::{DateTime, Utc};

use crate::event::{Event, EventKind, PaymentSnapshot};
use crate::money::Money;
use crate::notification::{Flag, Notification, Outcome, Target, Verified};
use crate::payment::{PaymentId, PaymentState};
use crate::refund::RefundLink;
use crate::store::{MessageId, NewPayment, StoredPayment, VerificationAnswers};

/// A verified notification that passed the engine's checks, ready to be applied. Only the engine builds
/// one, from a [`Verified`] notification.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyRequest {
    message_id: MessageId,
    gateway: String,
    payment_id: PaymentId,
    notification: Notification,
    flags: Vec<Flag>,
    now: DateTime<Utc>,
    refund: Option<RefundLink>,
    answers: VerificationAnswers,
}

impl ApplyRequest {
    pub(crate) fn new(
        message_id: MessageId,
        gateway: &str,
        payment_id: PaymentId,
        notification: Verified<Notification>,
        flags: Vec<Flag>,
        now: DateTime<Utc>,
    ) -> Self {
        ApplyRequest {
            message_id,
            gateway: gateway.to_owned(),
            payment_id,
            notification: notification.into_inner(),
            flags,
            now,
            refund: None,
            answers: VerificationAnswers::default(),
        }
    }

    /// The answers of the calls made to verify this message, which the store writes to the log in the
    /// transaction that applies it.
    pub(crate) fn with_verification_answers(mut self, answers: VerificationAnswers) -> Self {
        self.answers = answers;
        self
    }

    /// This request applies the gateway's answer to our refund `link` (not a notification): the refund
    /// row is marked succeeded in the same transaction, whether the refund is applied now or its key was
    /// applied before (the gateway's own notification came first).
    pub(crate) fn settling(mut self, link: RefundLink) -> Self {
        self.refund = Some(link);
        self
    }

    /// The refund of ours this request settles, when it applies a gateway's answer to a refund.
    pub fn refund_link(&self) -> Option<&RefundLink> {
        self.refund.as_ref()
    }

    /// The answers the gateway gave to the calls made to verify this message (empty when it made none):
    /// [`crate::Store::apply`] writes them to the log in the transaction that applies the message, whatever
    /// the outcome (a duplicate included), and not at all when the application fails.
    pub fn verification_answers(&self) -> &VerificationAnswers {
        &self.answers
    }

    /// Builds a request from a notification that was not verified by a gateway, for storage tests in
    /// other crates. Only compiled with the `test-support` feature, which production builds never enable.
    #[cfg(feature = "test-support")]
    pub fn for_tests(
        message_id: MessageId,
        gateway: &str,
        payment_id: PaymentId,
        notification: Notification,
        flags: Vec<Flag>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::new(message_id, gateway, payment_id, Verified::new(notification), flags, now)
    }

    /// The log row being applied.
    pub fn message_id(&self) -> MessageId {
        self.message_id
    }
    /// The gateway.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }
    /// The payment the message names.
    pub fn payment_id(&self) -> &PaymentId {
        &self.payment_id
    }
    /// The verified notification.
    pub fn notification(&self) -> &Notification {
        &self.notification
    }
    /// The idempotency key: the same key is applied at most once per gateway.
    pub fn idempotency_key(&self) -> &str {
        &self.notification.idempotency_key
    }
    /// Flags for the log row (non-blocking oddities).
    pub fn flags(&self) -> &[Flag] {
        &self.flags
    }
    /// When the engine decided to apply it.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }
    /// For a subscription cycle, the gateway reference identifying the cycle.
    pub fn cycle_reference(&self) -> Option<&str> {
        match self.notification.target {
            Target::SubscriptionCycle => self.notification.gateway_reference.as_deref(),
            Target::Payment => None,
        }
    }
}

/// Which payment row a plan writes.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanTarget {
    /// Update this existing payment.
    Existing(PaymentId),
    /// Insert this new subscription cycle (then apply the state to it).
    NewCycle(Box<NewPayment>),
}

/// What applying a notification does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The payment row written.
    pub target: PlanTarget,
    /// The new state, or `None` to leave it.
    pub new_state: Option<PaymentState>,
    /// The gateway reference to record, when the message carries one.
    pub gateway_reference: Option<String>,
    /// Details to merge into the payment's details.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The payment's new refunded sum, when the message refunds, reverses or gives back money.
    pub refunded: Option<Money>,
    /// Events to write to the outbox, in order. Empty when nothing changes.
    pub events: Vec<Event>,
    /// What happened, for the log's `outcome` column.
    pub outcome: String,
    /// Extra flags for the log row.
    pub flags: Vec<Flag>,
}

/// The state a payment in `current` moves to on `outcome`, or `None` when the outcome changes nothing
/// (a pending after an accepted, a second accepted). The table is written out in `docs/security.md`.
///
/// ```
/// use payment_buttons::notification::Outcome;
/// use payment_buttons::payment::PaymentState::*;
/// use payment_buttons::transition::next_state;
/// assert_eq!(next_state(Pending, &Outcome::Accepted), Some(Accepted));
/// assert_eq!(next_state(Accepted, &Outcome::Pending), None);
/// assert_eq!(next_state(Declined, &Outcome::Accepted), Some(Accepted)); // CM-CIC may accept later
/// assert_eq!(next_state(Abandoned, &Outcome::Accepted), Some(Accepted)); // a late payment still counts
/// assert_eq!(next_state(Refunded, &Outcome::Accepted), None); // only a cancelled reversal undoes a refund
/// ```
///
/// A refund is planned here as `refunded`; [`plan`] keeps a partly refunded payment `accepted` (it becomes
/// `refunded` only when the total refunded reaches its amount).
pub fn next_state(current: PaymentState, outcome: &Outcome) -> Option<PaymentState> {
    use PaymentState::*;
    match (outcome, current) {
        (Outcome::Accepted, Created | Pending | Declined | Abandoned) => Some(Accepted),
        // A partly refunded payment is still `accepted`: a cancelled reversal may find it so.
        (Outcome::ReversalCancelled { .. }, Accepted | Refunded) => Some(Accepted),
        (Outcome::Pending, Created | Abandoned) => Some(Pending),
        (Outcome::Declined, Created | Pending | Abandoned) => Some(Declined),
        // Only a payment with money left can be refunded; the refunded sum decides the state (see `plan`).
        (Outcome::Refunded { .. }, Accepted) => Some(Refunded),
        (Outcome::SubscriptionCancelled, Created | Pending | Accepted | Declined | Abandoned) => Some(Cancelled),
        _ => None,
    }
}

/// The key of an event's `details` that holds the amount of the refund (or reversal) it reports.
pub const REFUND_AMOUNT_DETAIL: &str = "refund_amount";

/// The key of [`StoredPayment::details`] under which the planner records the gateway's id of the
/// subscription a payment started (written by the first sign-up or payment that names one).
pub const SUBSCRIPTION_DETAIL: &str = "subscription_reference";

/// Why a subscription message may not touch `named`, or `None` when it may. Also says whether it records
/// the subscription's id.
fn subscription_check(named: &StoredPayment, n: &Notification) -> Result<bool, (Flag, String)> {
    let Some(named_sub) = &n.subscription else {
        return Ok(false);
    };
    if named.recurrence_months().is_none() {
        return Err((
            Flag::NotASubscription,
            format!("payment {} started no subscription ({})", named.id, n.summary),
        ));
    }
    match named.details.get(SUBSCRIPTION_DETAIL).and_then(|v| v.as_str()) {
        Some(recorded) if recorded == named_sub.id => Ok(false),
        Some(recorded) => Err((
            Flag::SubscriptionMismatch,
            format!(
                "names subscription {:?}, payment {} has {recorded:?} ({})",
                truncate(&named_sub.id, 64),
                named.id,
                n.summary
            ),
        )),
        None if named_sub.may_record => Ok(true),
        None => Err((
            Flag::SubscriptionMismatch,
            format!("payment {} has no subscription recorded yet ({})", named.id, n.summary),
        )),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The refunded sum after `outcome` on `payment`, or why it is refused; `None` for outcomes that move no
/// refunded money.
fn refunded_after(payment: &StoredPayment, outcome: &Outcome) -> Result<Option<Money>, String> {
    let paid = payment.amount;
    let before = payment.refunded;
    match outcome {
        Outcome::Refunded { amount } => {
            // Without an amount, a refund is of everything that is left.
            let refund = amount.unwrap_or_else(|| paid.checked_sub(before).unwrap_or(paid));
            match before.checked_add(refund) {
                Some(total) if total.minor_units() <= paid.minor_units() && refund.is_positive() => Ok(Some(total)),
                Some(_) if !refund.is_positive() => Err(format!("nothing left to refund of {paid}")),
                _ => Err(format!(
                    "a refund of {refund} after {before} refunded would exceed the {paid} paid"
                )),
            }
        }
        Outcome::ReversalCancelled { amount } => {
            let back = amount.unwrap_or(before);
            if !back.is_positive() {
                return Err(format!("nothing of the {paid} paid was refunded or reversed"));
            }
            match before.checked_sub(back) {
                Some(total) if total.minor_units() >= 0 => Ok(Some(total)),
                _ => Err(format!(
                    "{back} cannot come back: only {before} was refunded or reversed"
                )),
            }
        }
        _ => Ok(None),
    }
}

/// `p` as events describe it, in `state` and with `gateway_reference` (the change's).
pub(crate) fn snapshot(p: &StoredPayment, state: PaymentState, gateway_reference: Option<String>) -> PaymentSnapshot {
    PaymentSnapshot {
        id: p.id.clone(),
        order_reference: p.button.order_reference().to_owned(),
        gateway: p.gateway.clone(),
        state,
        option: p.option_index,
        amount: p.amount.to_string(),
        currency: p.amount.currency().code().to_owned(),
        recurrence_months: p.recurrence_months(),
        subscription_id: p.subscription_id.clone(),
        gateway_reference,
        refunded_amount: p.refunded.to_string(),
    }
}

/// Builds the events of a state change of `payment` (already carrying the change's facts):
/// `payment_processed`, then the outcome event of `new_state` ([`EventKind::for_state`]).
pub fn events_for(
    payment: &StoredPayment,
    new_state: PaymentState,
    gateway_reference: Option<String>,
    details: &serde_json::Map<String, serde_json::Value>,
    gateway_message_id: Option<MessageId>,
    now: DateTime<Utc>,
) -> Vec<Event> {
    let outcome = EventKind::for_state(new_state);
    events_with_outcome(
        payment,
        new_state,
        outcome,
        gateway_reference,
        details,
        gateway_message_id,
        now,
    )
}

/// Builds the events of a refund or a reversal of `payment` (already carrying its new refunded sum):
/// `payment_processed`, then `payment_refunded`, whether the payment stays `accepted` (in part) or
/// becomes `refunded` (in full).
pub fn refund_events(
    payment: &StoredPayment,
    new_state: PaymentState,
    gateway_reference: Option<String>,
    details: &serde_json::Map<String, serde_json::Value>,
    gateway_message_id: Option<MessageId>,
    now: DateTime<Utc>,
) -> Vec<Event> {
    let outcome = Some(EventKind::PaymentRefunded);
    events_with_outcome(
        payment,
        new_state,
        outcome,
        gateway_reference,
        details,
        gateway_message_id,
        now,
    )
}

/// The state of a payment of `amount` once `refunded` of it went back: `refunded` in full, else `accepted`.
pub fn state_after_refund(amount: Money, refunded: Money) -> PaymentState {
    if refunded.minor_units() >= amount.minor_units() {
        PaymentState::Refunded
    } else {
        PaymentState::Accepted
    }
}

fn events_with_outcome(
    payment: &StoredPayment,
    new_state: PaymentState,
    outcome: Option<EventKind>,
    gateway_reference: Option<String>,
    details: &serde_json::Map<String, serde_json::Value>,
    gateway_message_id: Option<MessageId>,
    now: DateTime<Utc>,
) -> Vec<Event> {
    let snap = snapshot(payment, new_state, gateway_reference);
    // Serialized once for both events (callgrind showed it as a tenth of a notification's CPU).
    let button = payment.button.to_json_value();
    let event = |kind| Event {
        id: Event::new_id(),
        kind,
        created_at: now,
        payment: snap.clone(),
        button: button.clone(),
        details: serde_json::Value::Object(details.clone()),
        gateway_message_id,
        sequence: 0,
    };
    let mut events = vec![event(EventKind::PaymentProcessed)];
    events.extend(outcome.map(event));
    events
}

/// Decides what `request` does to `named` (the payment its message names) or, for a subscription cycle,
/// to `existing_cycle` (a later cycle already recorded with the same gateway reference).
pub fn plan(request: &ApplyRequest, named: &StoredPayment, existing_cycle: Option<&StoredPayment>) -> Plan {
    let n = &request.notification;
    // A subscription message touches only the subscription it names (an attacker's own subscription to
    // the same seller may name any invoice).
    let records_subscription = match subscription_check(named, n) {
        Ok(records) => records,
        Err((flag, reason)) => return refused(named, flag, format!("not applied: {reason}")),
    };
    let mut details = n.details.clone();
    if let (true, Some(sub)) = (records_subscription, &n.subscription) {
        details.insert(SUBSCRIPTION_DETAIL.into(), sub.id.clone().into());
    }

    // Which payment row: for a later subscription cycle, a new payment of its own.
    let (target, payment): (PlanTarget, StoredPayment) = match (&n.target, existing_cycle) {
        (Target::SubscriptionCycle, Some(cycle)) => (PlanTarget::Existing(cycle.id.clone()), cycle.clone()),
        (Target::SubscriptionCycle, None) if starts_new_cycle(named, n) => {
            let new = NewPayment {
                id: PaymentId::generate(),
                gateway: named.gateway.clone(),
                button: named.button.clone(),
                option_index: named.option_index,
                amount: named.amount,
                receiver: named.receiver.clone(),
                subscription_id: Some(named.id.clone()),
                created_at: request.now,
            };
            let as_stored = StoredPayment::from(new.clone());
            (PlanTarget::NewCycle(Box::new(new)), as_stored)
        }
        _ => (PlanTarget::Existing(named.id.clone()), named.clone()),
    };

    let gateway_reference = n
        .gateway_reference
        .clone()
        .or_else(|| payment.gateway_reference.clone());
    let Some(outcome) = &n.outcome else {
        // Recorded facts, no money moved (a subscription sign-up or modification): processed, no outcome.
        let snap_events = vec![Event {
            id: Event::new_id(),
            kind: EventKind::PaymentProcessed,
            created_at: request.now,
            payment: snapshot(&payment, payment.state, gateway_reference.clone()),
            button: payment.button.to_json_value(),
            details: serde_json::Value::Object(details.clone()),
            gateway_message_id: Some(request.message_id),
            sequence: 0,
        }];
        return Plan {
            target,
            new_state: None,
            gateway_reference,
            details,
            refunded: None,
            events: snap_events,
            outcome: format!("recorded: {}", n.summary),
            flags: Vec::new(),
        };
    };

    let Some(mut state) = next_state(payment.state, outcome) else {
        let mut unchanged = refused(
            named,
            Flag::StaleStatus,
            format!("unchanged: payment is already {} ({})", payment.state, n.summary),
        );
        if let PlanTarget::Existing(id) = target {
            unchanged.target = PlanTarget::Existing(id);
        }
        return unchanged;
    };
    // The refunds and reversals of a payment never add up to more than was paid.
    let refunded = match refunded_after(&payment, outcome) {
        Ok(refunded) => refunded,
        Err(reason) => {
            return refused(
                named,
                Flag::RefundExceedsAmount,
                format!("not applied: {reason} ({})", n.summary),
            );
        }
    };
    // The events carry the payment as it is after the change.
    let mut changed = payment.clone();
    if let Some(total) = refunded {
        changed.refunded = total;
    }
    let mut events = if let (Outcome::Refunded { .. }, Some(total)) = (outcome, refunded) {
        // This refund's own amount (the total so far is `payment.refunded_amount`); a partial refund leaves
        // the payment accepted.
        let this_refund = total.checked_sub(payment.refunded).unwrap_or(total);
        details.insert(REFUND_AMOUNT_DETAIL.into(), this_refund.to_string().into());
        state = state_after_refund(payment.amount, total);
        refund_events(
            &changed,
            state,
            gateway_reference.clone(),
            &details,
            Some(request.message_id),
            request.now,
        )
    } else {
        events_for(
            &changed,
            state,
            gateway_reference.clone(),
            &details,
            Some(request.message_id),
            request.now,
        )
    };
    if let Outcome::ReversalCancelled { .. } = outcome {
        // The payment was announced accepted once already: a shop that ships on `payment_accepted` must not
        // ship twice. `payment_processed` carries the state (accepted again) and the lowered refunded sum.
        events.retain(|e| e.kind == EventKind::PaymentProcessed);
    }
    Plan {
        events,
        target,
        new_state: Some(state),
        gateway_reference,
        details,
        refunded,
        outcome: format!("applied: {} -> {} ({})", payment.state, state, n.summary),
        flags: Vec::new(),
    }
}

/// The payment a plan writes, as it was before (a new cycle: as it is created).
pub(crate) fn payment_before(plan: &Plan, named: &StoredPayment, cycle: Option<&StoredPayment>) -> StoredPayment {
    match &plan.target {
        PlanTarget::Existing(id) if *id == named.id => named.clone(),
        PlanTarget::Existing(_) => cycle.cloned().unwrap_or_else(|| named.clone()),
        PlanTarget::NewCycle(new) => StoredPayment::from((**new).clone()),
    }
}

/// A plan that changes nothing (a new cycle is not recorded at all), with the flag and the reason for the log.
fn refused(named: &StoredPayment, flag: Flag, outcome: String) -> Plan {
    Plan {
        target: PlanTarget::Existing(named.id.clone()),
        new_state: None,
        gateway_reference: None,
        details: serde_json::Map::new(),
        refunded: None,
        events: Vec::new(),
        outcome,
        flags: vec![flag],
    }
}

/// A subscription payment goes to the first payment until that one has been paid; later ones are cycles
/// of their own.
fn starts_new_cycle(named: &StoredPayment, n: &Notification) -> bool {
    let first_cycle_open = matches!(
        named.state,
        PaymentState::Created | PaymentState::Pending | PaymentState::Declined
    );
    let same_transaction = named.gateway_reference.is_some() && named.gateway_reference == n.gateway_reference;
    !(first_cycle_open || same_transaction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentState::*;

    fn refund() -> Outcome {
        Outcome::Refunded { amount: None }
    }

    #[test]
    fn money_received_accepts_anything_not_yet_final() {
        for from in [Created, Pending, Declined, Abandoned] {
            assert_eq!(next_state(from, &Outcome::Accepted), Some(Accepted), "{from}");
        }
        assert_eq!(
            next_state(Refunded, &Outcome::Accepted),
            None,
            "a late Completed does not undo a refund"
        );
        assert_eq!(
            next_state(Accepted, &Outcome::Accepted),
            None,
            "a second acceptance changes nothing"
        );
        assert_eq!(next_state(Cancelled, &Outcome::Accepted), None);
    }

    #[test]
    fn only_a_cancelled_reversal_brings_refunded_money_back() {
        let back = Outcome::ReversalCancelled { amount: None };
        assert_eq!(next_state(Refunded, &back), Some(Accepted));
        assert_eq!(next_state(Accepted, &back), Some(Accepted), "a partly reversed payment");
        for from in [Created, Pending, Declined, Cancelled, Abandoned] {
            assert_eq!(next_state(from, &back), None, "{from}");
        }
    }

    #[test]
    fn an_abandoned_payment_still_takes_a_late_notification() {
        assert_eq!(next_state(Abandoned, &Outcome::Pending), Some(Pending));
        assert_eq!(next_state(Abandoned, &Outcome::Declined), Some(Declined));
        assert_eq!(next_state(Abandoned, &refund()), None, "nothing was paid");
    }

    #[test]
    fn pending_only_follows_created() {
        assert_eq!(next_state(Created, &Outcome::Pending), Some(Pending));
        for from in [Pending, Accepted, Declined, Refunded, Cancelled] {
            assert_eq!(next_state(from, &Outcome::Pending), None, "{from}");
        }
    }

    #[test]
    fn a_decline_never_undoes_money_received() {
        assert_eq!(next_state(Created, &Outcome::Declined), Some(Declined));
        assert_eq!(next_state(Pending, &Outcome::Declined), Some(Declined));
        for from in [Accepted, Declined, Refunded, Cancelled] {
            assert_eq!(next_state(from, &Outcome::Declined), None, "{from}");
        }
    }

    #[test]
    fn only_received_money_can_be_refunded() {
        assert_eq!(next_state(Accepted, &refund()), Some(Refunded));
        for from in [Created, Pending, Declined, Cancelled, Refunded] {
            assert_eq!(next_state(from, &refund()), None, "{from}");
        }
    }

    #[test]
    fn a_subscription_is_cancelled_once() {
        for from in [Created, Pending, Accepted, Declined] {
            assert_eq!(
                next_state(from, &Outcome::SubscriptionCancelled),
                Some(Cancelled),
                "{from}"
            );
        }
        assert_eq!(next_state(Cancelled, &Outcome::SubscriptionCancelled), None);
    }

    #[test]
    fn every_state_change_emits_processed_then_its_outcome() {
        for state in [Pending, Accepted, Declined, Refunded, Cancelled] {
            let kinds: Vec<_> = EventKind::for_state(state).into_iter().collect();
            assert_eq!(kinds.len(), 1, "{state} has one outcome event");
        }
        assert_eq!(EventKind::for_state(Created), None);
    }
}
