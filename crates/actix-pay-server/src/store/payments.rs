//! Payment rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{NewPayment, StoredPayment};

use super::Fail;
use super::connection::AnyConnection;
use super::models::PaymentRow;
use super::schema::payments;

/// Inserts a new payment in state `created`.
pub fn create(conn: &mut AnyConnection, payment: &NewPayment) -> Result<(), Fail> {
    let row = PaymentRow::new(payment)?;
    diesel::insert_into(payments::table).values(&row).execute(conn)?;
    Ok(())
}

/// A payment by id.
pub fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredPayment>, Fail> {
    let row: Option<PaymentRow> = payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(PaymentRow::into_payment).transpose()?)
}

/// The later cycle of the subscription started by `first` that carries `gateway_reference`.
pub fn load_cycle(
    conn: &mut AnyConnection,
    first: &PaymentId,
    gateway_reference: &str,
) -> Result<Option<StoredPayment>, Fail> {
    let row: Option<PaymentRow> = payments::table
        .filter(payments::subscription_id.eq(first.as_str()))
        .filter(payments::gateway_reference.eq(gateway_reference))
        .order(payments::created_at.asc())
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(PaymentRow::into_payment).transpose()?)
}

/// What a plan changes on a payment row.
pub struct PaymentChange<'a> {
    /// The new state, or `None` to keep it (then `updated_at`, the time of the last state change, stays).
    pub state: Option<PaymentState>,
    /// The gateway reference to record, or `None` to keep the stored one.
    pub gateway_reference: Option<&'a str>,
    /// The complete details after merging.
    pub details: String,
    /// The new refunded sum, or `None` to keep it.
    pub refunded: Option<Money>,
    /// When.
    pub now: NaiveDateTime,
}

/// Writes a change to one payment.
pub fn update(conn: &mut AnyConnection, id: &str, change: &PaymentChange<'_>) -> Result<(), Fail> {
    let target = payments::table.find(id);
    let n = match change.state {
        Some(state) => diesel::update(target)
            .set((
                payments::state.eq(state.as_str()),
                payments::updated_at.eq(change.now),
                payments::details.eq(&change.details),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set(payments::details.eq(&change.details))
            .execute(conn)?,
    };
    if let Some(refunded) = change.refunded {
        diesel::update(payments::table.find(id))
            .set(payments::refunded_minor.eq(refunded.minor_units()))
            .execute(conn)?;
    }
    if let Some(reference) = change.gateway_reference {
        diesel::update(payments::table.find(id))
            .set(payments::gateway_reference.eq(reference))
            .execute(conn)?;
    }
    if n == 1 {
        Ok(())
    } else {
        Err(payment_buttons::store::StoreError::NotFound(format!("payment {id}")).into())
    }
}

/// Marks the payments still `created` before `cutoff` as `abandoned`; how many.
pub fn abandon_created_before(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<u64, Fail> {
    let n = diesel::update(
        payments::table
            .filter(payments::state.eq(PaymentState::Created.as_str()))
            .filter(payments::created_at.lt(cutoff)),
    )
    .set((
        payments::state.eq(PaymentState::Abandoned.as_str()),
        payments::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n as u64)
}

/// How many payments there are.
pub fn count(conn: &mut AnyConnection) -> Result<i64, Fail> {
    Ok(payments::table.count().get_result(conn)?)
}
