//! Applying a verified, checked notification: one write transaction from the idempotency key to the
//! outbox, with the application's [`ApplyHook`] inside it.

use diesel::prelude::*;

use crate::notification::{Flag, VerificationStatus};
use crate::payment::PaymentId;
use crate::store::{Applied, FailedPayments, StoreError};
use crate::transition::{self, ApplyRequest, PlanTarget};

use super::connection::{AnyConnection, write_transaction};
use super::hook::{AppliedChange, ApplyHook, HookOutcome};
use super::messages::{DeferredLogUpdate, LogUpdate, update_log};
use super::models::{AppliedRow, NewLogRow, db_time};
use super::schema::applied_notifications;
use super::tx::{PaymentChange, Tx, TxMemo};
use super::{backend, payments, refunds};

/// See [`crate::store::Store::apply`].
pub(crate) fn apply(
    conn: &mut AnyConnection,
    request: &ApplyRequest,
    hook: Option<&dyn ApplyHook>,
) -> Result<Applied, StoreError> {
    write_transaction(conn, |conn| {
        let mut memo = TxMemo::applying();
        let applied = apply_in(conn, &mut memo, request, hook)?;
        memo.finish(conn)?;
        Ok(applied)
    })
}

/// See [`crate::store::Store::apply_batch`]: every request in one write transaction, one commit for the
/// batch. When that transaction fails (one request's payment is missing, its hook refused, a deadlock
/// between two batches on PostgreSQL, a lost connection), it is rolled back whole and every request is
/// applied again in a transaction of its own, so that the failure is only that request's; the idempotency
/// keys make this safe even when the failed commit did in fact happen.
///
/// The requests are applied grouped by payment, in the order given within each payment (a stable sort):
/// a payment's requests keep their order, and two batches running side by side on PostgreSQL lock their
/// payments in the same order instead of waiting for each other crosswise.
pub(crate) fn apply_batch(
    conn: &mut AnyConnection,
    requests: &[ApplyRequest],
    hook: Option<&dyn ApplyHook>,
) -> Vec<Result<Applied, StoreError>> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| requests[a].payment_id().cmp(requests[b].payment_id()));
    let together: Result<Vec<Applied>, StoreError> = write_transaction(conn, |conn| {
        // The batch's payments are locked and read, and their last event numbers read, in two statements
        // instead of two per request; the queue rows go in one at the end.
        let ids: Vec<&PaymentId> = order.iter().map(|&i| requests[i].payment_id()).collect();
        let mut memo = TxMemo::prefetch(conn, &ids)?;
        let applied = order
            .iter()
            .map(|&i| apply_in(conn, &mut memo, &requests[i], hook))
            .collect::<Result<Vec<_>, StoreError>>()?;
        memo.finish(conn)?;
        Ok(applied)
    });
    match together {
        Ok(applied) => {
            let mut results: Vec<Option<Applied>> = vec![None; requests.len()];
            for (i, applied) in order.into_iter().zip(applied) {
                results[i] = Some(applied);
            }
            results
                .into_iter()
                .map(|r| r.ok_or_else(|| StoreError::Database("a batch result went missing".into())))
                .collect()
        }
        Err(e) => {
            tracing::warn!(
                batch = requests.len(), error = %e,
                "applying a batch of messages in one transaction failed; applying them one by one"
            );
            let mut failed = FailedPayments::default();
            let mut results: Vec<Option<Result<Applied, StoreError>>> = vec![None; requests.len()];
            for i in order {
                let request = &requests[i];
                let result = match failed.blocks(request.payment_id()) {
                    Some(held) => Err(held),
                    None => apply(conn, request, hook),
                };
                failed.record(request.payment_id().clone(), request.message_id(), &result);
                results[i] = Some(result);
            }
            results
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(StoreError::Database("a batch result went missing".into()))))
                .collect()
        }
    }
}

/// One request's work inside an open write transaction (see [`apply`]).
fn apply_in(
    conn: &mut AnyConnection,
    memo: &mut TxMemo,
    request: &ApplyRequest,
    hook: Option<&dyn ApplyHook>,
) -> Result<Applied, StoreError> {
    // The answers the verification was decided on, in the transaction that acts on it: logged whatever
    // the outcome, never without it (a failed application writes neither, and the message is verified
    // again). One PayPal postback answer per message: in a transaction of their own they took the drain
    // at 200 ms on SQLite from 2,217 to 1,274 messages a second (docs/benchmarks.md, sixth pass).
    for row in NewLogRow::verification_answers(request.gateway(), request.verification_answers())? {
        backend::insert_log_row(conn, &row)?;
    }
    {
        let mut tx = Tx::with_memo(conn, memo);
        // Locked first: notifications about one payment are planned one after the other, each seeing
        // what the previous one committed.
        let named = tx
            .lock_payment(request.payment_id())?
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", request.payment_id())))?;
        let cycle = match request.cycle_reference() {
            Some(reference) => payments::load_cycle(tx.conn(), &named.id, reference)?,
            None => None,
        };
        let plan = transition::plan(request, &named, cycle.as_ref());
        let before = transition::payment_before(&plan, &named, cycle.as_ref());
        let target_id = match &plan.target {
            PlanTarget::Existing(id) => id.clone(),
            PlanTarget::NewCycle(new) => new.id.clone(),
        };

        // The key goes in before anything else is written: if it is there already, nothing else is.
        let recorded = backend::insert_applied_key(
            tx.conn(),
            &AppliedRow {
                gateway: request.gateway().to_owned(),
                idempotency_key: request.idempotency_key().to_owned(),
                message_id: request.message_id(),
                payment_id: target_id.as_str().to_owned(),
                applied_at: db_time(request.now()),
            },
        )?;
        if !recorded {
            // Our refund's answer whose key the gateway's notification applied first: the refund row is
            // settled all the same, and nothing else changes.
            let change = crate::refund::row_change(request, &named, None, false, || Ok::<_, StoreError>(None))?;
            refunds::change_row(tx.conn(), change, request.now())?;
            tx.memo().dequeue(request.message_id());
            return duplicate(tx.conn(), request);
        }

        if let PlanTarget::NewCycle(new) = &plan.target {
            payments::create(tx.conn(), new)?;
        }
        let mut events = plan.events.clone();
        if plan.new_state.is_some() || !plan.events.is_empty() {
            // The payment named was read under its lock in this transaction and nothing wrote it since; a
            // subscription's cycle (found or just created) is read.
            let current = if target_id == named.id {
                named.clone()
            } else {
                tx.payment(&target_id)?
                    .ok_or_else(|| StoreError::NotFound(format!("payment {target_id}")))?
            };
            tx.update_payment(
                &current,
                &PaymentChange {
                    state: plan.new_state,
                    gateway_reference: plan.gateway_reference.as_deref(),
                    details: &plan.details,
                    refunded: plan.refunded,
                    at: request.now(),
                },
            )?;
            if let Some(hook) = hook {
                let change = AppliedChange {
                    payment_id: &target_id,
                    previous: current.state,
                    new_state: plan.new_state,
                    events: &plan.events,
                    request,
                };
                if let HookOutcome::ReplaceEvents(replaced) = hook.after_change(&mut tx, &change)? {
                    events = replaced;
                }
            }
        }
        let change = crate::refund::row_change(request, &before, plan.refunded, !plan.events.is_empty(), || {
            refunds::pending(tx.conn(), &target_id)
        })?;
        refunds::change_row(tx.conn(), change, request.now())?;
        tx.insert_events(&mut events)?;

        let flags: Vec<Flag> = request.flags().iter().chain(&plan.flags).copied().collect();
        if flags.is_empty() {
            // Nearly every message: written with the batch's others at the end.
            tx.memo().update_log(DeferredLogUpdate {
                id: request.message_id(),
                verification: VerificationStatus::Verified,
                outcome: plan.outcome.clone(),
                payment_id: target_id.as_str().to_owned(),
            });
        } else {
            update_log(
                tx.conn(),
                request.message_id(),
                &LogUpdate {
                    verification: VerificationStatus::Verified,
                    flags: &flags,
                    payment_id: Some(target_id.as_str()),
                    outcome: &plan.outcome,
                },
            )?;
        }
        tx.memo().dequeue(request.message_id());

        Ok(if plan.events.is_empty() {
            Applied::Unchanged { reason: plan.outcome }
        } else {
            Applied::Applied {
                payment_id: target_id,
                events,
            }
        })
    }
}

/// The key was applied before: the message is recorded as a resend and changes nothing else (its queue row
/// goes with the transaction's others).
fn duplicate(conn: &mut AnyConnection, request: &ApplyRequest) -> Result<Applied, StoreError> {
    let first: i64 = applied_notifications::table
        .find((request.gateway(), request.idempotency_key()))
        .select(applied_notifications::message_id)
        .first(conn)?;
    // The same message again means it was applied by a worker whose claim had expired: its log row
    // already says so.
    if first != request.message_id() {
        let outcome = crate::store::duplicate_outcome(&request.notification().summary, first);
        update_log(
            conn,
            request.message_id(),
            &LogUpdate {
                verification: VerificationStatus::Verified,
                flags: &[Flag::Duplicate],
                payment_id: Some(request.payment_id().as_str()),
                outcome: &outcome,
            },
        )?;
    }
    Ok(Applied::Duplicate)
}
