//! Payment rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::payment::{PaymentId, PaymentState};
use crate::store::{NewPayment, StoreError, StoredPayment};

use super::connection::AnyConnection;
use super::models::{PaymentRow, db_time};
use super::schema::payments;
use super::tx::PaymentChange;

/// Inserts a new payment in state `created`.
pub(crate) fn create(conn: &mut AnyConnection, payment: &NewPayment) -> Result<(), StoreError> {
    let row = PaymentRow::new(payment)?;
    diesel::insert_into(payments::table).values(&row).execute(conn)?;
    Ok(())
}

/// A payment by id.
pub(crate) fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredPayment>, StoreError> {
    let row: Option<PaymentRow> = payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    row.map(PaymentRow::into_payment).transpose()
}

/// A payment by id, locked until the end of the transaction on PostgreSQL (`SELECT ... FOR UPDATE`, one
/// statement for the lock and the read); SQLite's immediate transaction already holds the write lock.
pub(crate) fn load_locked(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredPayment>, StoreError> {
    let row: Option<PaymentRow> = match conn {
        AnyConnection::Postgresql(c) => payments::table
            .find(id)
            .select(PaymentRow::as_select())
            .for_update()
            .first(c)
            .optional()?,
        AnyConnection::Sqlite(c) => payments::table
            .find(id)
            .select(PaymentRow::as_select())
            .first(c)
            .optional()?,
    };
    row.map(PaymentRow::into_payment).transpose()
}

/// The payments among `ids` that exist, locked until the end of the transaction on PostgreSQL (in id order,
/// one statement); SQLite's immediate transaction already holds the write lock.
pub(crate) fn load_all_locked(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<StoredPayment>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<PaymentRow> = match conn {
        AnyConnection::Postgresql(c) => payments::table
            .filter(payments::id.eq_any(ids))
            .order(payments::id.asc())
            .select(PaymentRow::as_select())
            .for_update()
            .load(c)?,
        AnyConnection::Sqlite(c) => payments::table
            .filter(payments::id.eq_any(ids))
            .select(PaymentRow::as_select())
            .load(c)?,
    };
    rows.into_iter().map(PaymentRow::into_payment).collect()
}

/// The payments among `ids` that exist.
pub(crate) fn load_all(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<StoredPayment>, StoreError> {
    let rows: Vec<PaymentRow> = payments::table
        .filter(payments::id.eq_any(ids))
        .select(PaymentRow::as_select())
        .load(conn)?;
    rows.into_iter().map(PaymentRow::into_payment).collect()
}

/// The payments of one order, newest first.
pub(crate) fn for_order(conn: &mut AnyConnection, order_reference: &str) -> Result<Vec<StoredPayment>, StoreError> {
    let rows: Vec<PaymentRow> = payments::table
        .filter(payments::order_reference.eq(order_reference))
        .order((payments::created_at.desc(), payments::id.desc()))
        .select(PaymentRow::as_select())
        .load(conn)?;
    rows.into_iter().map(PaymentRow::into_payment).collect()
}

/// The later cycle of the subscription started by `first` that carries `gateway_reference`.
pub(crate) fn load_cycle(
    conn: &mut AnyConnection,
    first: &PaymentId,
    gateway_reference: &str,
) -> Result<Option<StoredPayment>, StoreError> {
    let row: Option<PaymentRow> = payments::table
        .filter(payments::subscription_id.eq(first.as_str()))
        .filter(payments::gateway_reference.eq(gateway_reference))
        .order(payments::created_at.asc())
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    row.map(PaymentRow::into_payment).transpose()
}

/// The columns a [`PaymentChange`] writes; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = payments)]
struct ChangedColumns<'a> {
    state: Option<&'a str>,
    updated_at: Option<NaiveDateTime>,
    details: String,
    refunded_minor: Option<i64>,
    gateway_reference: Option<&'a str>,
}

/// Writes `change` to `current` (as read in this transaction), in one statement.
pub(crate) fn update(
    conn: &mut AnyConnection,
    current: &StoredPayment,
    change: &PaymentChange<'_>,
) -> Result<(), StoreError> {
    let mut details = current.details.clone();
    details.extend(change.details.iter().map(|(k, v)| (k.clone(), v.clone())));
    let details =
        serde_json::to_string(&details).map_err(|e| StoreError::Database(format!("cannot serialize details: {e}")))?;
    let n = diesel::update(payments::table.find(current.id.as_str()))
        .set(ChangedColumns {
            state: change.state.as_ref().map(PaymentState::as_str),
            // `updated_at` is the time of the last state change.
            updated_at: change.state.map(|_| db_time(change.at)),
            details,
            refunded_minor: change.refunded.map(|m| m.minor_units()),
            gateway_reference: change.gateway_reference,
        })
        .execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("payment {}", current.id)))
    }
}

/// Marks the payments still `created` before `cutoff` as `abandoned`; how many.
pub(crate) fn abandon_created_before(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<u64, StoreError> {
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
pub(crate) fn count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(payments::table.count().get_result(conn)?)
}
