//! The message pipeline behind [`Engine::process_due`] and [`Engine::drain_messages`]: many verifications
//! at once, each payment's messages applied in log order.
//!
//! Every claimed message joins a *lane*: its gateway and the payment it names before verification
//! ([`Gateway::order_key`]). Verifications of all lanes run together (up to the engine's concurrency);
//! a message is checked and applied only when it is the oldest unfinished message of its lane, so a
//! payment's later message whose verification ends first still waits for the earlier one. Lanes do not
//! wait for each other: a slow postback holds only its own payment's later messages.
//!
//! Memory is bounded: at most `concurrency` claimed messages are held. A failing verification is
//! rescheduled in the store ([`Store::reschedule_message`]), never kept here. In the continuous worker a
//! gateway runs at most its share of the verifications ([`gateway_share`]); its other claimed messages
//! are parked. When all of its verifications have hung for [`SATURATED_AFTER`], its parked messages are
//! let go still leased: the next claims pass over them to the other gateways' messages, and they are
//! claimed again once the lease ([`crate::store::MESSAGE_CLAIM_LEASE`]) has passed, in log order.
// The continuous worker (`Engine::drain_messages`) needs tokio, which comes with the `actix` feature.
#![cfg_attr(not(feature = "actix"), allow(dead_code))]

use std::collections::{HashMap, HashSet, VecDeque};

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::future::{BoxFuture, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Engine, Processed};
use crate::gateway::{Gateway, VerificationWithCalls};
use crate::store::{MESSAGE_CLAIM_LEASE, MessageId, QueuedMessage, Store, StoreError};

/// The messages that must be applied one after the other: one gateway's messages about one payment (or,
/// when a message names none before verification, all such messages of the gateway).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Lane {
    gateway: String,
    key: Option<String>,
}

type Verifying<'e> = BoxFuture<'e, (Lane, QueuedMessage, Option<VerificationWithCalls>)>;
/// A batch of lane heads being concluded together (see [`Engine::conclude_all`]), one result per message.
type Concluding<'e> = BoxFuture<'e, Vec<(Lane, MessageId, Result<Processed, StoreError>)>>;

/// How many slots of `concurrency` one gateway may hold when `gateways` are configured: all of them
/// alone, otherwise all but a sixteenth per other gateway (at least one each), so that a gateway whose
/// postbacks hang until their timeout leaves room for the others' messages.
pub(super) fn gateway_share(concurrency: usize, gateways: usize) -> usize {
    let others = gateways.saturating_sub(1);
    let reserve = others.saturating_mul((concurrency / 16).max(1));
    concurrency.saturating_sub(reserve).max(1)
}

/// A gateway whose verifications have all been running this long without one ending, while it holds its
/// whole share, is *saturated*: its parked messages are let go (see the module documentation).
pub(super) const SATURATED_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The state of one run of the pipeline.
pub(super) struct Pipeline<'e, S: Store> {
    engine: &'e Engine<S>,
    now: DateTime<Utc>,
    /// Claimed, unfinished messages of each lane, oldest first.
    lanes: HashMap<Lane, VecDeque<MessageId>>,
    /// Verified messages waiting for an earlier message of their lane.
    ready: HashMap<MessageId, (QueuedMessage, Option<VerificationWithCalls>)>,
    /// Lanes whose oldest message is being checked and applied (or waits for an application slot).
    busy: HashSet<Lane>,
    verifying: FuturesUnordered<Verifying<'e>>,
    concluding: FuturesUnordered<Concluding<'e>>,
    /// Lane heads waiting for an application slot.
    to_conclude: VecDeque<(Lane, QueuedMessage, Option<VerificationWithCalls>)>,
    /// Claimed messages waiting for a verification slot of their gateway, oldest first.
    parked: HashMap<String, VecDeque<(Lane, QueuedMessage)>>,
    /// Verifications running, per gateway.
    verifying_by_gateway: HashMap<String, usize>,
    /// When a verification of the gateway last ended (or the first one started).
    progress_at: HashMap<String, Instant>,
    /// Lanes with a message left leased in the store, until when: their later messages are let go too, so
    /// that they come back in log order.
    deferred: HashMap<Lane, DateTime<Utc>>,
    /// Every message held: parked, verifying, waiting for its lane, or being applied.
    held: HashSet<MessageId>,
    /// Messages concluded so far.
    pub(super) done: usize,
}

impl<'e, S: Store> Pipeline<'e, S> {
    pub(super) fn new(engine: &'e Engine<S>, now: DateTime<Utc>) -> Self {
        Pipeline {
            engine,
            now,
            lanes: HashMap::new(),
            ready: HashMap::new(),
            busy: HashSet::new(),
            verifying: FuturesUnordered::new(),
            concluding: FuturesUnordered::new(),
            to_conclude: VecDeque::new(),
            parked: HashMap::new(),
            verifying_by_gateway: HashMap::new(),
            progress_at: HashMap::new(),
            deferred: HashMap::new(),
            held: HashSet::new(),
            done: 0,
        }
    }

    /// The time used for checks, rescheduling and claims (the worker moves it forward).
    pub(super) fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = now;
        self.deferred.retain(|_, until| *until > now);
    }

    /// How many claimed messages are held.
    pub(super) fn held(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is held.
    pub(super) fn is_idle(&self) -> bool {
        self.held.is_empty()
    }

    /// Takes claimed messages (oldest first) and starts their verification. With `share`, a gateway runs at
    /// most that many verifications; its other messages are parked until one ends.
    pub(super) fn admit(&mut self, batch: Vec<QueuedMessage>, share: Option<usize>) {
        for queued in batch {
            let lane = self.lane_of(&queued);
            if let Some(until) = self.deferred.get_mut(&lane) {
                // An earlier message of this payment was let go: this one follows it back to the store.
                *until = (*until).max(self.now + MESSAGE_CLAIM_LEASE);
                continue;
            }
            if !self.held.insert(queued.id) {
                continue;
            }
            self.lanes.entry(lane.clone()).or_default().push_back(queued.id);
            let running = self.verifying_by_gateway.get(&queued.gateway).copied().unwrap_or(0);
            if share.is_some_and(|s| running >= s) {
                self.parked
                    .entry(queued.gateway.clone())
                    .or_default()
                    .push_back((lane, queued));
            } else {
                self.start_verification(lane, queued);
            }
        }
    }

    fn start_verification(&mut self, lane: Lane, queued: QueuedMessage) {
        let running = self.verifying_by_gateway.entry(queued.gateway.clone()).or_default();
        if *running == 0 {
            self.progress_at.insert(queued.gateway.clone(), Instant::now());
        }
        *running += 1;
        let engine = self.engine;
        self.verifying.push(Box::pin(async move {
            let verification = engine.verify(&queued).await;
            (lane, queued, verification)
        }));
    }

    /// Lets go of the parked messages of every saturated gateway (see [`SATURATED_AFTER`]): they stay leased
    /// in the store, the room they took goes to the next claims, which pass over them to other gateways'
    /// messages. Returns how many were let go.
    pub(super) fn shed_saturated(&mut self, share: usize) -> usize {
        let saturated: Vec<String> = self
            .parked
            .iter()
            .filter(|(gateway, parked)| {
                !parked.is_empty()
                    && self.verifying_by_gateway.get(*gateway).copied().unwrap_or(0) >= share
                    && self
                        .progress_at
                        .get(*gateway)
                        .is_some_and(|at| at.elapsed() >= SATURATED_AFTER)
            })
            .map(|(gateway, _)| gateway.clone())
            .collect();
        let mut shed = 0;
        for gateway in saturated {
            let parked = self.parked.remove(&gateway).unwrap_or_default();
            for (lane, queued) in parked {
                if self.held.contains(&queued.id) {
                    shed += self.let_go_from(&lane, queued.id);
                }
            }
            tracing::warn!(gateway = %gateway, shed, "verifications of this gateway are stuck; its other claimed messages wait in the store");
        }
        shed
    }

    /// Lets go of message `id` of `lane` and of every later message of the lane (they stay queued in the
    /// store), and defers the lane until the lease of the message has passed. Returns how many were held.
    fn let_go_from(&mut self, lane: &Lane, id: MessageId) -> usize {
        let mut n = 0;
        if let Some(order) = self.lanes.get_mut(lane)
            && let Some(at) = order.iter().position(|m| *m == id)
        {
            for m in order.split_off(at) {
                self.ready.remove(&m);
                if self.held.remove(&m) {
                    n += 1;
                }
            }
            if order.is_empty() {
                self.lanes.remove(lane);
            }
        }
        self.deferred.insert(lane.clone(), self.now + MESSAGE_CLAIM_LEASE);
        n
    }

    fn lane_of(&self, queued: &QueuedMessage) -> Lane {
        let key = self
            .engine
            .gateways
            .get(&queued.gateway)
            .and_then(|gw| order_key(gw.as_ref(), queued));
        Lane {
            gateway: queued.gateway.clone(),
            key,
        }
    }

    /// Waits for the next verification or application to end and moves the pipeline on. Returns `None`
    /// when nothing is in flight; an application's store error is returned (the message stays queued).
    pub(super) async fn step(&mut self) -> Option<Result<(), StoreError>> {
        if self.verifying.is_empty() && self.concluding.is_empty() {
            return None;
        }
        enum Ended {
            // Boxed: a verified message is much larger than an application's result.
            Verified(Box<(Lane, QueuedMessage, Option<VerificationWithCalls>)>),
            Concluded(Vec<(Lane, MessageId, Result<Processed, StoreError>)>),
        }
        let ended = if self.concluding.is_empty() {
            self.verifying
                .next()
                .await
                .map(|verified| Ended::Verified(Box::new(verified)))
        } else if self.verifying.is_empty() {
            self.concluding.next().await.map(Ended::Concluded)
        } else {
            match futures_util::future::select(self.verifying.next(), self.concluding.next()).await {
                Either::Left((verified, _)) => verified.map(|verified| Ended::Verified(Box::new(verified))),
                Either::Right((concluded, _)) => concluded.map(Ended::Concluded),
            }
        };
        match ended? {
            Ended::Verified(verified) => {
                let (lane, queued, verification) = *verified;
                self.verified(lane, queued, verification);
                Some(Ok(()))
            }
            Ended::Concluded(batch) => {
                let mut first_error = None;
                for (lane, id, result) in batch {
                    if let Err(e) = self.concluded(lane, id, result) {
                        first_error.get_or_insert(e);
                    }
                }
                // Once the whole batch is accounted for: the heads it made ready go together.
                self.fill_application_slots();
                Some(first_error.map_or(Ok(()), Err))
            }
        }
    }

    /// Runs until every held message is concluded; the first store error is returned after that.
    pub(super) async fn finish(&mut self) -> Result<(), StoreError> {
        let mut first_error = None;
        while let Some(result) = self.step().await {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn verified(&mut self, lane: Lane, queued: QueuedMessage, verification: Option<VerificationWithCalls>) {
        let gateway = queued.gateway.clone();
        if let Some(running) = self.verifying_by_gateway.get_mut(&gateway) {
            *running = running.saturating_sub(1);
        }
        self.progress_at.insert(gateway.clone(), Instant::now());
        while let Some((lane, next)) = self.parked.get_mut(&gateway).and_then(VecDeque::pop_front) {
            if self.held.contains(&next.id) {
                self.start_verification(lane, next);
                break;
            }
        }
        if !self.held.contains(&queued.id) {
            // Let go while it was verified (its lane's earlier message failed to apply): it stays queued.
            return;
        }
        let head = self.lanes.get(&lane).and_then(|order| order.front().copied());
        if head == Some(queued.id) && !self.busy.contains(&lane) {
            self.start_conclusion(lane, queued, verification);
            self.fill_application_slots();
        } else {
            self.ready.insert(queued.id, (queued, verification));
        }
    }

    fn start_conclusion(&mut self, lane: Lane, queued: QueuedMessage, verification: Option<VerificationWithCalls>) {
        self.busy.insert(lane.clone());
        self.to_conclude.push_back((lane, queued, verification));
    }

    /// Group commit: each free application slot takes the lane heads waiting for one, up to the engine's
    /// batch size, shared out between the free slots, and concludes them together ([`Engine::conclude_all`]:
    /// one store transaction for their applications). Heads that become ready while a batch is written wait
    /// for the next one, so batches grow with the load and a lone message is applied at once. A batch holds
    /// one message per lane (a lane's next message waits until its head is concluded), so a payment's
    /// messages are still applied one after the other, in log order.
    fn fill_application_slots(&mut self) {
        while self.concluding.len() < self.engine.apply_concurrency && !self.to_conclude.is_empty() {
            let free = self.engine.apply_concurrency - self.concluding.len();
            let take = self.to_conclude.len().div_ceil(free).clamp(1, self.engine.apply_batch);
            let (lanes, group): (Vec<Lane>, Vec<_>) = self
                .to_conclude
                .drain(..take)
                .map(|(lane, queued, verification)| (lane, (queued, verification)))
                .unzip();
            let engine = self.engine;
            let now = self.now;
            self.concluding.push(Box::pin(async move {
                let results = engine.conclude_all(group, now).await;
                lanes
                    .into_iter()
                    .zip(results)
                    .map(|(lane, (id, result))| (lane, id, result))
                    .collect()
            }));
        }
    }

    fn concluded(
        &mut self,
        lane: Lane,
        id: MessageId,
        result: Result<Processed, StoreError>,
    ) -> Result<(), StoreError> {
        self.busy.remove(&lane);
        match result {
            Ok(_) => {
                self.done += 1;
                self.held.remove(&id);
                if let Some(order) = self.lanes.get_mut(&lane) {
                    order.retain(|m| *m != id);
                    match order.front().copied() {
                        None => {
                            self.lanes.remove(&lane);
                        }
                        Some(next) => {
                            if let Some((queued, verification)) = self.ready.remove(&next) {
                                self.start_conclusion(lane, queued, verification);
                            }
                        }
                    }
                }
                Ok(())
            }
            Err(e) => {
                // The message stays queued (its lease lapses). Its lane's later messages must not overtake it:
                // they are let go too, and the lane waits for the lease.
                self.let_go_from(&lane, id);
                Err(e)
            }
        }
    }
}

/// The message's lane key; a gateway's `order_key` that panics (it only parses) orders the message with
/// the gateway's unkeyed ones.
fn order_key(gw: &dyn Gateway, queued: &QueuedMessage) -> Option<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gw.order_key(&queued.message))).unwrap_or(None)
}
