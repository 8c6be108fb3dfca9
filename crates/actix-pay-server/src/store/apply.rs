//! Applying a verified, checked notification: one write transaction from the idempotency key to the
//! outbox.

use diesel::prelude::*;
use payment_buttons::notification::{Flag, VerificationStatus};
use payment_buttons::store::{Applied, StoreError};
use payment_buttons::transition::{self, ApplyRequest, PlanTarget};

use super::connection::{AnyConnection, write_transaction};
use super::messages::{LogUpdate, dequeue, update_log};
use super::models::{AppliedRow, PaymentRow, db_time};
use super::payments::PaymentChange;
use super::schema::applied_notifications;
use super::{Fail, backend, outbox, payments};

/// See [`payment_buttons::store::Store::apply`].
pub fn apply(conn: &mut AnyConnection, request: &ApplyRequest) -> Result<Applied, Fail> {
    write_transaction(conn, |conn| {
        let named_id = request.payment_id().as_str();
        // Locked first: notifications about one payment are planned one after the other, each seeing
        // what the previous one committed.
        if !backend::lock_payment(conn, named_id)? {
            return Err(StoreError::NotFound(format!("payment {named_id}")).into());
        }
        let named =
            payments::load(conn, named_id)?.ok_or_else(|| StoreError::NotFound(format!("payment {named_id}")))?;
        let cycle = match request.cycle_reference() {
            Some(reference) => payments::load_cycle(conn, &named.id, reference)?,
            None => None,
        };
        let plan = transition::plan(request, &named, cycle.as_ref());
        let target_id = match &plan.target {
            PlanTarget::Existing(id) => id.clone(),
            PlanTarget::NewCycle(new) => new.id.clone(),
        };
        let now = db_time(request.now());

        // The key goes in before anything else is written: if it is there already, nothing else is.
        let recorded = backend::insert_applied_key(
            conn,
            &AppliedRow {
                gateway: request.gateway().to_owned(),
                idempotency_key: request.idempotency_key().to_owned(),
                message_id: request.message_id(),
                payment_id: target_id.as_str().to_owned(),
                applied_at: now,
            },
        )?;
        if !recorded {
            return duplicate(conn, request);
        }

        if let PlanTarget::NewCycle(new) = &plan.target {
            diesel::insert_into(super::schema::payments::table)
                .values(PaymentRow::new(new)?)
                .execute(conn)?;
        }
        if plan.new_state.is_some() || !plan.events.is_empty() {
            let current = payments::load(conn, target_id.as_str())?
                .ok_or_else(|| StoreError::NotFound(format!("payment {target_id}")))?;
            let mut details = current.details;
            details.extend(plan.details.clone());
            let details = serde_json::to_string(&details)
                .map_err(|e| StoreError::Database(format!("cannot serialize details: {e}")))?;
            payments::update(
                conn,
                target_id.as_str(),
                &PaymentChange {
                    state: plan.new_state,
                    gateway_reference: plan.gateway_reference.as_deref(),
                    details,
                    refunded: plan.refunded,
                    now,
                },
            )?;
        }
        // A Librement top-up emits no events of its own: its purchase's, completed here, replace them.
        let events = super::librement::after_apply(
            conn,
            target_id.as_str(),
            plan.new_state,
            request.message_id(),
            request.now(),
        )?
        .unwrap_or_else(|| plan.events.clone());
        outbox::insert(conn, &events)?;

        let flags: Vec<Flag> = request.flags().iter().chain(&plan.flags).copied().collect();
        update_log(
            conn,
            request.message_id(),
            &LogUpdate {
                verification: VerificationStatus::Verified,
                flags: &flags,
                payment_id: Some(target_id.as_str()),
                outcome: &plan.outcome,
            },
        )?;
        dequeue(conn, request.message_id())?;

        Ok(if plan.events.is_empty() {
            Applied::Unchanged { reason: plan.outcome }
        } else {
            Applied::Applied {
                payment_id: target_id,
                events,
            }
        })
    })
}

/// The key was applied before: the message is recorded as a resend and changes nothing else.
fn duplicate(conn: &mut AnyConnection, request: &ApplyRequest) -> Result<Applied, Fail> {
    let first: i64 = applied_notifications::table
        .find((request.gateway(), request.idempotency_key()))
        .select(applied_notifications::message_id)
        .first(conn)?;
    // The same message again means it was applied by a worker whose claim had expired: its log row
    // already says so.
    if first != request.message_id() {
        let outcome = format!(
            "duplicate: {} already applied by message {first}",
            request.notification().summary
        );
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
    dequeue(conn, request.message_id())?;
    Ok(Applied::Duplicate)
}
