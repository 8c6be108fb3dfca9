//! Dispatch to the backend modules, and the few statements the multi-backend query builder cannot express
//! although both backends accept them in the same form (`RETURNING`, `ON CONFLICT DO NOTHING`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::models::{AppliedRow, NewEventRow, NewLogRow};
use super::schema::{applied_notifications, events, gateway_messages, outbox_claims};
use super::{postgres, sqlite};

/// Runs the same Diesel expression on whichever concrete connection `conn` holds.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            AnyConnection::Postgresql($c) => $body,
            AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Inserts outbox rows in one statement.
pub(crate) fn insert_events(conn: &mut AnyConnection, rows: &[NewEventRow]) -> QueryResult<usize> {
    on_backend!(conn, c => diesel::insert_into(events::table).values(rows).execute(c))
}

/// Claims outbox events until `lease_until`, in one statement.
pub(crate) fn insert_claims(conn: &mut AnyConnection, seqs: &[i64], lease_until: NaiveDateTime) -> QueryResult<usize> {
    let rows: Vec<_> = seqs
        .iter()
        .map(|seq| {
            (
                outbox_claims::seq.eq(*seq),
                outbox_claims::claimed_until.eq(lease_until),
            )
        })
        .collect();
    on_backend!(conn, c => diesel::insert_into(outbox_claims::table).values(&rows).execute(c))
}

/// Inserts a log row and returns its id.
pub(crate) fn insert_log_row(conn: &mut AnyConnection, row: &NewLogRow) -> QueryResult<i64> {
    on_backend!(conn, c => diesel::insert_into(gateway_messages::table)
        .values(row)
        .returning(gateway_messages::id)
        .get_result(c))
}

/// Records an applied idempotency key; false when the key was already recorded. On PostgreSQL a concurrent
/// transaction inserting the same key makes this wait for its outcome instead of failing.
pub(crate) fn insert_applied_key(conn: &mut AnyConnection, row: &AppliedRow) -> QueryResult<bool> {
    on_backend!(conn, c => diesel::insert_into(applied_notifications::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c)
        .map(|n| n == 1))
}

/// Claims due queue rows until `lease_until`; returns their ids in ascending order.
pub(crate) fn claim_ids(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    match conn {
        AnyConnection::Postgresql(c) => postgres::claim_ids(c, now, lease_until, limit),
        AnyConnection::Sqlite(c) => sqlite::claim_ids(c, now, lease_until, limit),
    }
}
