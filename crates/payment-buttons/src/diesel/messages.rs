//! The gateway log (`gateway_messages`) and the work queue beside it (`message_queue`).
//!
//! A log row is written once and afterwards only its `verification`, `flags`, `payment_id` and `outcome`
//! change. The queue row exists while the message still has to be verified and applied.

use crate::notification::{Flag, VerificationStatus};
use crate::store::{MESSAGE_CLAIM_LEASE, MessageId, NewMessage, QueuedMessage, Settlement, StoreError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::backend;
use super::connection::{AnyConnection, write_transaction};
use super::models::{LogRecord, LogRow, NewLogRow, NewQueueRow, db_time, merge_flags};
use super::schema::{gateway_messages, message_queue};

/// Writes the log row and its queue row (none for a refused message), inside the caller's transaction.
pub(crate) fn insert(conn: &mut AnyConnection, message: &NewMessage) -> Result<MessageId, StoreError> {
    let row = NewLogRow::new(message)?;
    let next_attempt_at = row.received_at;
    let id = backend::insert_log_row(conn, &row)?;
    if message.refused.is_some() {
        return Ok(id);
    }
    diesel::insert_into(message_queue::table)
        .values(NewQueueRow {
            message_id: id,
            attempts: 0,
            next_attempt_at,
        })
        .execute(conn)?;
    Ok(id)
}

/// Claims due messages (see [`MESSAGE_CLAIM_LEASE`]) and reads them.
pub(crate) fn claim(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<QueuedMessage>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let lease_until = db_time(now + MESSAGE_CLAIM_LEASE);
    let now = db_time(now);
    write_transaction(conn, |conn| {
        let ids = backend::claim_ids(conn, now, lease_until, limit)?;
        let rows: Vec<(LogRecord, i32)> = gateway_messages::table
            .inner_join(message_queue::table)
            .filter(gateway_messages::id.eq_any(&ids))
            .order(gateway_messages::id.asc())
            .select((LogRecord::as_select(), message_queue::attempts))
            .load(conn)?;
        rows.into_iter()
            .map(|(record, attempts)| {
                Ok(QueuedMessage {
                    id: record.id,
                    gateway: record.gateway.clone(),
                    message: record.incoming(),
                    attempts: u32::try_from(attempts)
                        .map_err(|_| StoreError::Corrupt("message_queue.attempts is negative".into()))?,
                })
            })
            .collect()
    })
}

/// True when the log row exists.
fn logged(conn: &mut AnyConnection, id: MessageId) -> Result<bool, StoreError> {
    let n: i64 = gateway_messages::table.find(id).count().get_result(conn)?;
    Ok(n == 1)
}

/// A message that is no longer queued was finished by another worker (after this one's lease expired):
/// its log row already tells what happened and is left alone.
fn already_finished(conn: &mut AnyConnection, id: MessageId, what: &str) -> Result<(), StoreError> {
    if logged(conn, id)? {
        tracing::warn!(
            message_id = id,
            "{what}: the message is no longer queued; left as it is"
        );
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("gateway message {id}")))
    }
}

/// Puts a message back in the queue for another verification attempt.
pub(crate) fn reschedule(
    conn: &mut AnyConnection,
    id: MessageId,
    attempts: u32,
    next_attempt_at: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    let attempts_column =
        i32::try_from(attempts).map_err(|_| StoreError::Database("attempt count out of range".into()))?;
    let next_attempt_at = db_time(next_attempt_at);
    write_transaction(conn, |conn| {
        let n = diesel::update(message_queue::table.find(id))
            .set((
                message_queue::attempts.eq(attempts_column),
                message_queue::next_attempt_at.eq(next_attempt_at),
                message_queue::claimed_until.eq(None::<NaiveDateTime>),
                message_queue::last_error.eq(Some(reason)),
            ))
            .execute(conn)?;
        if n == 0 {
            return already_finished(conn, id, "reschedule");
        }
        diesel::update(gateway_messages::table.find(id))
            .set((
                gateway_messages::verification.eq(VerificationStatus::Pending.as_str()),
                gateway_messages::outcome.eq(Some(crate::store::retry_outcome(attempts, reason))),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The fields of a log row that processing writes.
pub(crate) struct LogUpdate<'a> {
    /// The verification result.
    pub verification: VerificationStatus,
    /// Flags to add to the stored ones.
    pub flags: &'a [Flag],
    /// The payment, when known (`None` keeps what is stored).
    pub payment_id: Option<&'a str>,
    /// What happened.
    pub outcome: &'a str,
}

/// Updates the log row of a message; an unknown id is an error.
pub(crate) fn update_log(conn: &mut AnyConnection, id: MessageId, update: &LogUpdate<'_>) -> Result<(), StoreError> {
    if update.flags.is_empty() {
        // No flag to add: the stored ones stay, and the row is written without being read first.
        let target = gateway_messages::table.find(id);
        let columns = (
            gateway_messages::verification.eq(update.verification.as_str()),
            gateway_messages::outcome.eq(Some(update.outcome)),
        );
        let n = match update.payment_id {
            Some(payment) => diesel::update(target)
                .set((columns, gateway_messages::payment_id.eq(Some(payment))))
                .execute(conn)?,
            None => diesel::update(target).set(columns).execute(conn)?,
        };
        return if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("gateway message {id}")))
        };
    }
    let stored_flags: Option<String> = gateway_messages::table
        .find(id)
        .select(gateway_messages::flags)
        .first(conn)
        .optional()?;
    let Some(stored_flags) = stored_flags else {
        return Err(StoreError::NotFound(format!("gateway message {id}")));
    };
    let flags = merge_flags(&stored_flags, update.flags)?;
    let target = gateway_messages::table.find(id);
    let columns = (
        gateway_messages::verification.eq(update.verification.as_str()),
        gateway_messages::flags.eq(flags),
        gateway_messages::outcome.eq(Some(update.outcome)),
    );
    match update.payment_id {
        Some(payment) => diesel::update(target)
            .set((columns, gateway_messages::payment_id.eq(Some(payment))))
            .execute(conn)?,
        None => diesel::update(target).set(columns).execute(conn)?,
    };
    Ok(())
}

/// Removes a message from the queue; false when it was not queued.
pub(crate) fn dequeue(conn: &mut AnyConnection, id: MessageId) -> Result<bool, StoreError> {
    let n = diesel::delete(message_queue::table.find(id)).execute(conn)?;
    Ok(n == 1)
}

/// A log row's verification, outcome and payment, written later with others ([`update_logs`]).
#[derive(Debug, Clone)]
pub(crate) struct DeferredLogUpdate {
    pub id: MessageId,
    pub verification: VerificationStatus,
    pub outcome: String,
    pub payment_id: String,
}

/// Writes log rows' verification, outcome and payment (flags unchanged): on PostgreSQL in one statement
/// (the rows given as arrays), on SQLite one by one (no round trips there). Every row must exist.
pub(crate) fn update_logs(conn: &mut AnyConnection, updates: &[DeferredLogUpdate]) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Text};
    if updates.is_empty() {
        return Ok(());
    }
    let written = match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "UPDATE gateway_messages g SET verification = u.verification, outcome = u.outcome, \
             payment_id = u.payment_id \
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, verification, outcome, payment_id) \
             WHERE g.id = u.id",
        )
        .bind::<Array<BigInt>, _>(updates.iter().map(|u| u.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(updates.iter().map(|u| u.verification.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(updates.iter().map(|u| u.outcome.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(updates.iter().map(|u| u.payment_id.as_str()).collect::<Vec<_>>())
        .execute(c)?,
        AnyConnection::Sqlite(c) => {
            let mut n = 0;
            for u in updates {
                n += diesel::update(gateway_messages::table.find(u.id))
                    .set((
                        gateway_messages::verification.eq(u.verification.as_str()),
                        gateway_messages::outcome.eq(Some(u.outcome.as_str())),
                        gateway_messages::payment_id.eq(Some(u.payment_id.as_str())),
                    ))
                    .execute(c)?;
            }
            n
        }
    };
    if written == updates.len() {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!(
            "{} of {} gateway messages",
            updates.len() - written,
            updates.len()
        )))
    }
}

/// Removes messages from the queue, in one statement.
pub(crate) fn dequeue_all(conn: &mut AnyConnection, ids: &[MessageId]) -> Result<(), StoreError> {
    if !ids.is_empty() {
        diesel::delete(message_queue::table.filter(message_queue::message_id.eq_any(ids))).execute(conn)?;
    }
    Ok(())
}

/// Ends processing of a message that is not applied.
pub(crate) fn settle(conn: &mut AnyConnection, id: MessageId, settlement: &Settlement) -> Result<(), StoreError> {
    write_transaction(conn, |conn| {
        if !dequeue(conn, id)? {
            return already_finished(conn, id, "settle");
        }
        update_log(
            conn,
            id,
            &LogUpdate {
                verification: settlement.verification,
                flags: &settlement.flags,
                payment_id: settlement.payment_id.as_ref().map(|p| p.as_str()),
                outcome: &settlement.outcome,
            },
        )
    })
}

/// One log row.
pub(crate) fn message(conn: &mut AnyConnection, id: MessageId) -> Result<Option<LogRow>, StoreError> {
    let record: Option<LogRecord> = gateway_messages::table
        .find(id)
        .select(LogRecord::as_select())
        .first(conn)
        .optional()?;
    record.map(LogRow::try_from).transpose()
}

/// The log rows about one payment, oldest first.
pub(crate) fn for_payment(conn: &mut AnyConnection, payment_id: &str) -> Result<Vec<LogRow>, StoreError> {
    let records: Vec<LogRecord> = gateway_messages::table
        .filter(gateway_messages::payment_id.eq(payment_id))
        .order(gateway_messages::id.asc())
        .select(LogRecord::as_select())
        .load(conn)?;
    records.into_iter().map(LogRow::try_from).collect()
}

/// How many messages wait in the queue (claimed or not).
pub(crate) fn queued_count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(message_queue::table.count().get_result(conn)?)
}
