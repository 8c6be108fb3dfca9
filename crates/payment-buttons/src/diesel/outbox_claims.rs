//! Claims on outbox events for in-process listeners, so that with several instances on one PostgreSQL
//! database each event is handled by one instance at a time, in order per payment.
//!
//! A claim is a row of `outbox_claims` with a lease. Claimers are serialized (PostgreSQL: a
//! transaction-level advisory lock; SQLite: the immediate transaction's write lock) because the per-payment
//! rule reads other claims: two claimers running side by side could otherwise each take a different event
//! of the same payment. Claiming is a short query, so the serialization costs nothing noticeable.

use crate::store::OutboxEvent;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::backend;
use super::connection::{AnyConnection, write_transaction};
use super::models::event_from_payload;
use super::schema::outbox_claims;
use crate::store::StoreError;

/// Arbitrary but fixed, distinct from the migration lock: every instance takes it to claim events.
const CLAIM_LOCK: i64 = 0x6c70_6f75_7462; // "lpoutb"

/// Undispatched events, not claimed by anyone, with no earlier event of the same payment claimed by
/// anyone, oldest first. `$1` = now, `$2` = limit.
///
/// `busy` is each payment's earliest event under a live claim: few rows (at most what the instances have
/// claimed), read from `outbox_claims` first (`CROSS JOIN` keeps that order on SQLite, whose planner
/// otherwise walked all of `events` to group them by payment; PostgreSQL plans it as an inner join). An event is free when it is unclaimed and comes before its
/// payment's first claimed event (or its payment has none). Written this way so that the cost does not
/// depend on the planner's guess: asked "is an earlier event of this payment claimed?" for each candidate,
/// PostgreSQL with statistics taken while `events` was nearly empty scanned every undispatched event for
/// every candidate — 1.4 s per claim with 5,000 events waiting.
const CLAIMABLE: &str = "WITH busy AS ( \
         SELECT p.payment_id, min(p.seq) AS first_claimed \
         FROM outbox_claims pc CROSS JOIN events p \
         WHERE p.seq = pc.seq AND pc.claimed_until >= $1 AND p.dispatched_at IS NULL \
         GROUP BY p.payment_id) \
     SELECT e.seq, e.payload FROM events e LEFT JOIN busy b ON b.payment_id = e.payment_id \
     WHERE e.dispatched_at IS NULL \
       AND (b.first_claimed IS NULL OR e.seq < b.first_claimed) \
       AND NOT EXISTS (SELECT 1 FROM outbox_claims c WHERE c.seq = e.seq AND c.claimed_until >= $1) \
     ORDER BY e.seq LIMIT $2";

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    payload: String,
}

/// Claims up to `limit` events until `lease_until` and reads them, oldest first.
pub(crate) fn claim(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    write_transaction(conn, |conn| {
        let found: Vec<Candidate> = match conn {
            AnyConnection::Postgresql(c) => {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(CLAIM_LOCK)
                    .execute(c)?;
                // SKIP LOCKED: an event being marked dispatched right now is not waited for.
                diesel::sql_query(format!("{CLAIMABLE} FOR UPDATE OF e SKIP LOCKED"))
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(limit)
                    .load(c)?
            }
            AnyConnection::Sqlite(c) => diesel::sql_query(sqlite_params(CLAIMABLE))
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(c)?,
        };
        // Expired claims of these events are replaced: one statement to drop them and one to claim all,
        // whatever the number of events (two round trips per event cost PostgreSQL more than the rest of
        // dispatching them).
        let seqs: Vec<i64> = found.iter().map(|c| c.seq).collect();
        if !seqs.is_empty() {
            release_all(conn, &seqs)?;
            backend::insert_claims(conn, &seqs, lease_until)?;
        }
        let claimed = found
            .into_iter()
            .map(|candidate| {
                Ok(OutboxEvent {
                    seq: candidate.seq,
                    event: event_from_payload(&candidate.payload)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(claimed)
    })
}

/// Removes the claim on one event, if any.
pub(crate) fn release(conn: &mut AnyConnection, seq: i64) -> Result<(), StoreError> {
    diesel::delete(outbox_claims::table.filter(outbox_claims::seq.eq(seq))).execute(conn)?;
    Ok(())
}

/// Drops the claims of these events.
pub(crate) fn release_all(conn: &mut AnyConnection, seqs: &[i64]) -> Result<(), StoreError> {
    diesel::delete(outbox_claims::table.filter(outbox_claims::seq.eq_any(seqs))).execute(conn)?;
    Ok(())
}

/// The same raw statement for SQLite: `?N` is its numbered parameter, `$N` PostgreSQL's. For an
/// application's own `sql_query` text written once for both backends (it must hold no other `$`).
///
/// ```
/// assert_eq!(payment_buttons::diesel::sqlite_params("WHERE a = $1 AND b < $2"), "WHERE a = ?1 AND b < ?2");
/// ```
pub fn sqlite_params(sql: &str) -> String {
    sql.replace('$', "?")
}
