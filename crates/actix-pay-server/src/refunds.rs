//! Refunds asked by a shop (`POST /api/payments/{id}/refunds`) or an operator (the console's "Refund"):
//! every payment goes through [`Engine::refund`]; a Librement purchase is first split into the parts that
//! paid it (docs/librement.md, "Refunds of purchases"; the split is [`librement_pay::refund::plan`]).
//!
//! ```text
//! librement purchase P, caller's key K:
//!   librement_refund_requests (P, K): the split, recorded once (a replay or a parallel request with K
//!                                     finds it; another amount or reason with K: KeyReused)
//!   1. gateway part: Engine::refund(top-up T, key "librement:{P}:{K}")   -> reversal hook: ledger, P's state
//!   2. balance part: Engine::refund(P, key K) -> LibrementGateway answers -> LibrementHook: ledger
//! ```
//!
//! Each part is an ordinary refund of the core (recorded, logged, applied once, `payment_refunded` once),
//! so a replay of the request replays its parts and changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use librement_pay::purchase::METHOD;
use librement_pay::refund::{gateway_part_key, paying_top_up, plan};
use payment_buttons::engine::{Engine, RefundError, RefundOrder};
use payment_buttons::money::Money;
use payment_buttons::refund::{RefundState, StoredRefund, request_hash};
use payment_buttons::store::Store;

use crate::store::{RefundRequestRecord, ServerStore};

/// A refund request's result: the refund (the first part made), and for a Librement purchase every part
/// this request made (its gateway part, a refund of the top-up that paid it, and its balance part).
#[derive(Debug, Clone)]
pub struct RefundMade {
    /// The refund; for a Librement purchase, its first part.
    pub refund: StoredRefund,
    /// Every part of a Librement purchase's refund, in the order made (empty for other payments).
    pub parts: Vec<StoredRefund>,
}

/// Makes the refunds the API and the console ask for.
#[async_trait::async_trait]
pub trait Refunder: Send + Sync {
    /// Refunds `order`'s payment, in full or in part, with the caller's idempotency key.
    async fn refund(&self, order: RefundOrder<'_>, now: DateTime<Utc>) -> Result<RefundMade, RefundError>;
}

/// Every payment through its gateway, as the core does it (an application without Librement).
pub struct EngineRefunds<S: Store>(pub Arc<Engine<S>>);

#[async_trait::async_trait]
impl<S: Store> Refunder for EngineRefunds<S> {
    async fn refund(&self, order: RefundOrder<'_>, now: DateTime<Utc>) -> Result<RefundMade, RefundError> {
        let refund = self.0.refund(order, now).await?;
        Ok(RefundMade {
            refund,
            parts: Vec::new(),
        })
    }
}

/// Librement purchases by their parts; every other payment through its gateway.
pub struct LibrementRefunds(pub Arc<Engine<ServerStore>>);

#[async_trait::async_trait]
impl Refunder for LibrementRefunds {
    async fn refund(&self, order: RefundOrder<'_>, now: DateTime<Utc>) -> Result<RefundMade, RefundError> {
        let engine = &self.0;
        let store = engine.store();
        let purchase = store
            .payment(order.payment_id)
            .await?
            .ok_or_else(|| RefundError::UnknownPayment(order.payment_id.clone()))?;
        if purchase.gateway != METHOD {
            return EngineRefunds(engine.clone()).refund(order, now).await;
        }
        let hash = request_hash(order.amount.map(|m| m.to_string()).as_deref(), order.reason);
        let record = match store
            .librement_refund_request(&purchase.id, order.idempotency_key)
            .await?
        {
            Some(record) => record,
            None => {
                let top_up = match paying_top_up(&purchase) {
                    Some(id) => store.payment(&id).await?,
                    None => None,
                };
                let split = plan(&purchase, top_up.as_ref(), order.amount)?;
                let minor = |m: Option<Money>| m.map_or(0, |m| m.minor_units());
                store
                    .record_librement_refund_request(
                        &purchase.id,
                        order.idempotency_key,
                        RefundRequestRecord {
                            request_hash: hash.clone(),
                            top_up: split.gateway_part.as_ref().map(|(id, _)| id.clone()),
                            gateway_part: minor(split.gateway_part.map(|(_, m)| m)),
                            balance_part: minor(split.balance_part),
                        },
                        now,
                    )
                    .await?
            }
        };
        if record.request_hash != hash {
            return Err(RefundError::KeyReused);
        }
        let currency = purchase.amount.currency();
        let mut parts = Vec::new();
        if let (Some(top_up), true) = (&record.top_up, record.gateway_part > 0) {
            let key = gateway_part_key(&purchase.id, order.idempotency_key);
            let refund = engine
                .refund(
                    RefundOrder {
                        payment_id: top_up,
                        amount: Some(Money::from_minor(record.gateway_part, currency)),
                        reason: order.reason,
                        idempotency_key: &key,
                        origin: order.origin,
                    },
                    now,
                )
                .await?;
            // A gateway that refused, or whose state is unknown: the balance part waits for the caller
            // (or an operator) to see it; a replay of the request tries the balance part again.
            let stop = matches!(refund.state, RefundState::Failed | RefundState::Unknown);
            parts.push(refund);
            if stop {
                return made(parts);
            }
        }
        if record.balance_part > 0 {
            let refund = engine
                .refund(
                    RefundOrder {
                        payment_id: &purchase.id,
                        amount: Some(Money::from_minor(record.balance_part, currency)),
                        reason: order.reason,
                        idempotency_key: order.idempotency_key,
                        origin: order.origin,
                    },
                    now,
                )
                .await
                .inspect_err(|e| {
                    if !parts.is_empty() {
                        tracing::warn!(purchase = %purchase.id, error = %e, "librement refund: the gateway part was made, the balance part was not");
                    }
                })?;
            parts.push(refund);
        }
        made(parts)
    }
}

fn made(parts: Vec<StoredRefund>) -> Result<RefundMade, RefundError> {
    let refund = parts
        .first()
        .cloned()
        .ok_or_else(|| RefundError::NotPossible("nothing to refund".into()))?;
    Ok(RefundMade { refund, parts })
}
