//! Refund rows (`refunds`): recorded with their payment locked, settled by the apply transaction or by an
//! attempt's answer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::payment::PaymentId;
use crate::refund::{
    NewRefund, RecordedRefund, RefundId, RefundRowChange, RefundState, RefundUpdate, StoredRefund, check_new,
};
use crate::store::{MessageId, StoreError};

use super::connection::{AnyConnection, write_transaction};
use super::models::{RefundRow, db_time};
use super::schema::{gateway_messages, refunds};
use super::tx::Tx;

/// See [`crate::store::Store::record_refund`].
pub(crate) fn record(conn: &mut AnyConnection, new: NewRefund) -> Result<RecordedRefund, StoreError> {
    write_transaction(conn, |conn| {
        let mut tx = Tx::new(conn);
        // Locked first: parallel requests about one payment are decided one after the other.
        let payment = tx
            .lock_payment(&new.payment_id)?
            .ok_or_else(|| StoreError::NotFound(format!("payment {}", new.payment_id)))?;
        let conn = tx.conn();
        let existing: Option<RefundRow> = refunds::table
            .filter(refunds::payment_id.eq(new.payment_id.as_str()))
            .filter(refunds::idempotency_key.eq(&new.idempotency_key))
            .select(RefundRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(existing) = existing {
            return Ok(RecordedRefund::Existing(existing.into_refund()?));
        }
        let pending = pending(conn, &payment.id)?;
        let amount = match check_new(&payment, pending.as_ref(), new.amount) {
            Ok(amount) => amount,
            Err(refusal) => return Ok(RecordedRefund::Refused(refusal)),
        };
        let row = new.into_stored(amount);
        diesel::insert_into(refunds::table)
            .values(RefundRow::of(&row)?)
            .execute(conn)?;
        Ok(RecordedRefund::New(row))
    })
}

/// The pending refund of a payment, if any (there is at most one).
pub(crate) fn pending(conn: &mut AnyConnection, payment: &PaymentId) -> Result<Option<StoredRefund>, StoreError> {
    let row: Option<RefundRow> = refunds::table
        .filter(refunds::payment_id.eq(payment.as_str()))
        .filter(refunds::state.eq(RefundState::Pending.as_str()))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()?;
    row.map(RefundRow::into_refund).transpose()
}

/// A refund by id.
pub(crate) fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredRefund>, StoreError> {
    let row: Option<RefundRow> = refunds::table
        .find(id)
        .select(RefundRow::as_select())
        .first(conn)
        .optional()?;
    row.map(RefundRow::into_refund).transpose()
}

/// The refunds of a payment, oldest first.
pub(crate) fn for_payment(conn: &mut AnyConnection, payment: &str) -> Result<Vec<StoredRefund>, StoreError> {
    let rows: Vec<RefundRow> = refunds::table
        .filter(refunds::payment_id.eq(payment))
        .order((refunds::created_at.asc(), refunds::id.asc()))
        .select(RefundRow::as_select())
        .load(conn)?;
    rows.into_iter().map(RefundRow::into_refund).collect()
}

/// See [`crate::store::Store::begin_refund_attempt`]: one conditional update claims the attempt.
pub(crate) fn begin_attempt(
    conn: &mut AnyConnection,
    id: &RefundId,
    now: DateTime<Utc>,
) -> Result<Option<StoredRefund>, StoreError> {
    write_transaction(conn, |conn| {
        let Some(before) = load(conn, id.as_str())? else {
            return Err(StoreError::NotFound(format!("refund {id}")));
        };
        let due = refunds::next_attempt_at
            .is_null()
            .or(refunds::next_attempt_at.le(db_time(now)));
        let n = diesel::update(
            refunds::table
                .find(id.as_str())
                .filter(refunds::state.eq(RefundState::Pending.as_str()))
                .filter(due),
        )
        .set((
            refunds::attempts.eq(refunds::attempts + 1),
            refunds::first_sent_at.eq(before.first_sent_at.map(db_time).unwrap_or(db_time(now))),
            refunds::next_attempt_at.eq(Some(db_time(now + crate::refund::REFUND_ATTEMPT_LEASE))),
            refunds::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
        Ok((n == 1).then_some(before))
    })
}

/// See [`crate::store::Store::update_refund`].
pub(crate) fn update(
    conn: &mut AnyConnection,
    id: &RefundId,
    update: RefundUpdate,
    log_id: Option<MessageId>,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<StoredRefund, StoreError> {
    write_transaction(conn, |conn| {
        if let Some(log_id) = log_id {
            diesel::update(gateway_messages::table.find(log_id))
                .set(gateway_messages::outcome.eq(Some(outcome)))
                .execute(conn)?;
        }
        let Some(mut refund) = load(conn, id.as_str())? else {
            return Err(StoreError::NotFound(format!("refund {id}")));
        };
        if refund.state != RefundState::Pending {
            // Settled meanwhile (the gateway's notification came first): it stays as it is.
            return Ok(refund);
        }
        crate::refund::apply_update(&mut refund, update, now);
        let row = RefundRow::of(&refund)?;
        diesel::update(
            refunds::table
                .find(id.as_str())
                .filter(refunds::state.eq(RefundState::Pending.as_str())),
        )
        .set((
            refunds::state.eq(&row.state),
            refunds::gateway_refund_id.eq(&row.gateway_refund_id),
            refunds::failure_reason.eq(&row.failure_reason),
            refunds::next_attempt_at.eq(row.next_attempt_at),
            refunds::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
        Ok(refund)
    })
}

/// Pending refunds due at `now`, oldest due first.
pub(crate) fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<StoredRefund>, StoreError> {
    let rows: Vec<RefundRow> = refunds::table
        .filter(refunds::state.eq(RefundState::Pending.as_str()))
        .filter(refunds::next_attempt_at.le(db_time(now)))
        .order(refunds::next_attempt_at.asc())
        .limit(limit)
        .select(RefundRow::as_select())
        .load(conn)?;
    rows.into_iter().map(RefundRow::into_refund).collect()
}

/// Writes what applying a refund does to the refund rows, inside the apply transaction.
pub(crate) fn change_row(
    conn: &mut AnyConnection,
    change: RefundRowChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match change {
        RefundRowChange::None => {}
        RefundRowChange::Succeeded { id, gateway_refund_id } => {
            let n = diesel::update(
                refunds::table
                    .find(id.as_str())
                    .filter(refunds::state.ne(RefundState::Succeeded.as_str())),
            )
            .set((
                refunds::state.eq(RefundState::Succeeded.as_str()),
                refunds::next_attempt_at.eq(None::<chrono::NaiveDateTime>),
                refunds::updated_at.eq(db_time(now)),
            ))
            .execute(conn)?;
            if n == 0 && load(conn, id.as_str())?.is_none() {
                return Err(StoreError::NotFound(format!("refund {id}")));
            }
            if let Some(gateway_id) = gateway_refund_id {
                diesel::update(refunds::table.find(id.as_str()))
                    .set(refunds::gateway_refund_id.eq(Some(gateway_id)))
                    .execute(conn)?;
            }
        }
        RefundRowChange::Insert(row) => {
            diesel::insert_into(refunds::table)
                .values(RefundRow::of(&row)?)
                .execute(conn)?;
        }
    }
    Ok(())
}
