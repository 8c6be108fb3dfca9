//! The event outbox: events are written in the transaction that changes the payment, and handed to
//! in-process listeners afterwards, in `seq` order.

use crate::event::Event;
use crate::store::{OutboxEvent, StoreError};
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::models::{NewEventRow, event_from_payload};
use super::schema::events;

/// Numbers events, in order, each after the last event of its payment (`sequence`, written into `new`
/// too), and returns their outbox rows (to insert in this order: [`insert`]). Callers hold the payment's
/// lock (or SQLite's write lock), so the numbers of one payment never race; the unique index on
/// (payment_id, sequence) would refuse a second writer anyway.
///
/// `last` holds the last sequences this transaction knows (read or numbered before): a payment's is read
/// only when it is not there, and updated with what is numbered.
pub(crate) fn number(
    conn: &mut AnyConnection,
    new: &mut [Event],
    last: &mut HashMap<String, i64>,
) -> Result<Vec<NewEventRow>, StoreError> {
    let mut rows = Vec::with_capacity(new.len());
    for event in new.iter_mut() {
        let payment = event.payment.id.as_str();
        let previous = match last.get(payment) {
            Some(n) => *n,
            None => events::table
                .filter(events::payment_id.eq(payment))
                .select(diesel::dsl::max(events::sequence))
                .first::<Option<i64>>(conn)?
                .unwrap_or(0),
        };
        let sequence = previous + 1;
        last.insert(payment.to_owned(), sequence);
        event.sequence =
            u64::try_from(sequence).map_err(|_| StoreError::Corrupt("events.sequence is negative".into()))?;
        rows.push(NewEventRow::new(event)?);
    }
    Ok(rows)
}

/// Appends numbered events to the outbox, in one statement; `seq` follows the order of `rows`.
pub(crate) fn insert(conn: &mut AnyConnection, rows: &[NewEventRow]) -> Result<(), StoreError> {
    if !rows.is_empty() {
        super::backend::insert_events(conn, rows)?;
    }
    Ok(())
}

/// The last event sequence of each payment among `ids` (0 for one with no event), in one statement.
pub(crate) fn last_sequences(conn: &mut AnyConnection, ids: &[String]) -> Result<HashMap<String, i64>, StoreError> {
    let mut last: HashMap<String, i64> = ids.iter().map(|id| (id.clone(), 0)).collect();
    if ids.is_empty() {
        return Ok(last);
    }
    let found: Vec<(String, Option<i64>)> = events::table
        .filter(events::payment_id.eq_any(ids))
        .group_by(events::payment_id)
        .select((events::payment_id, diesel::dsl::max(events::sequence)))
        .load(conn)?;
    for (payment, sequence) in found {
        last.insert(payment, sequence.unwrap_or(0));
    }
    Ok(last)
}

/// The oldest events not yet dispatched.
pub(crate) fn undispatched(conn: &mut AnyConnection, limit: i64) -> Result<Vec<OutboxEvent>, StoreError> {
    let rows: Vec<(i64, String)> = events::table
        .filter(events::dispatched_at.is_null())
        .order(events::seq.asc())
        .limit(limit)
        .select((events::seq, events::payload))
        .load(conn)?;
    rows.into_iter()
        .map(|(seq, payload)| {
            Ok(OutboxEvent {
                seq,
                event: event_from_payload(&payload)?,
            })
        })
        .collect()
}

/// Marks one event dispatched. Marking it twice is harmless; an unknown `seq` is an error.
pub(crate) fn mark_dispatched(conn: &mut AnyConnection, seq: i64, now: NaiveDateTime) -> Result<(), StoreError> {
    let n = diesel::update(events::table.find(seq).filter(events::dispatched_at.is_null()))
        .set(events::dispatched_at.eq(Some(now)))
        .execute(conn)?;
    if n == 0 {
        let exists: i64 = events::table.find(seq).count().get_result(conn)?;
        if exists == 0 {
            return Err(StoreError::NotFound(format!("outbox event {seq}")));
        }
    }
    Ok(())
}

/// Marks these events dispatched (those not already) in one statement.
pub(crate) fn mark_all_dispatched(
    conn: &mut AnyConnection,
    seqs: &[i64],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(
        events::table
            .filter(events::seq.eq_any(seqs))
            .filter(events::dispatched_at.is_null()),
    )
    .set(events::dispatched_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Every event about one payment, in order.
pub(crate) fn for_payment(conn: &mut AnyConnection, payment_id: &str) -> Result<Vec<Event>, StoreError> {
    let payloads: Vec<String> = events::table
        .filter(events::payment_id.eq(payment_id))
        .order(events::seq.asc())
        .select(events::payload)
        .load(conn)?;
    payloads.iter().map(|p| event_from_payload(p)).collect()
}
