//! Sign-in attempts, reserved under the throttle before a password is checked (see
//! [`librement_pay::accounts::UserStore::reserve_attempt`]).
//!
//! Counting and recording happen in one write transaction that holds a lock on each bucket it counts:
//! on SQLite the `BEGIN IMMEDIATE` of the core's write transaction holds the database's only
//! write lock; on PostgreSQL a transaction-scoped advisory lock per bucket (account, address), taken in
//! one order, makes a second reservation of the same bucket wait until the first has committed its row,
//! and then count it. No row exists per bucket to lock with `FOR UPDATE`, and an unknown e-mail must be
//! throttled like a known one, hence advisory locks on the bucket's name.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use librement_pay::accounts::{Attempt, AttemptId, Reservation, Throttle};

use super::schema::librement_sign_in_failures as attempts;
use payment_buttons::diesel::{AnyConnection, db_time};

/// Reserves `attempt` inside the caller's write transaction.
pub(super) fn reserve(
    conn: &mut AnyConnection,
    attempt: &Attempt,
    throttle: Throttle,
    now: DateTime<Utc>,
) -> Result<Reservation, diesel::result::Error> {
    let email = attempt.email.as_str();
    let mut buckets = vec![format!("librement sign-in account {email}")];
    if attempt.device.is_none() {
        buckets.push(format!("librement sign-in address {}", attempt.ip));
    }
    lock_buckets(conn, &mut buckets)?;
    let since = db_time(now - throttle.window);
    let recent = attempts::table.filter(attempts::failed_at.ge(since));
    let (for_account, from_address): (i64, i64) = match &attempt.device {
        // A known browser: its own bucket for this account, and no address bucket.
        Some(device) => (
            recent
                .filter(attempts::email.eq(email))
                .filter(attempts::device.eq(device))
                .count()
                .get_result(conn)?,
            0,
        ),
        None => (
            recent
                .filter(attempts::email.eq(email))
                .filter(attempts::device.is_null())
                .count()
                .get_result(conn)?,
            recent
                .filter(attempts::ip.eq(&attempt.ip))
                .filter(attempts::device.is_null())
                .count()
                .get_result(conn)?,
        ),
    };
    if !throttle.allows(for_account, from_address) {
        return Ok(Reservation::Throttled);
    }
    let row = (
        attempts::email.eq(email),
        attempts::ip.eq(&attempt.ip),
        attempts::device.eq(attempt.device.as_deref()),
        attempts::failed_at.eq(db_time(now)),
    );
    let id: AttemptId = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(attempts::table)
            .values(row)
            .returning(attempts::id)
            .get_result(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(attempts::table)
            .values(row)
            .returning(attempts::id)
            .get_result(c)?,
    };
    Ok(Reservation::Granted(id))
}

/// Forgets a reserved attempt.
pub(super) fn release(conn: &mut AnyConnection, id: AttemptId) -> Result<(), diesel::result::Error> {
    diesel::delete(attempts::table.find(id)).execute(conn)?;
    Ok(())
}

/// PostgreSQL: waits for, then holds until the end of the transaction, one advisory lock per bucket, in
/// sorted order so that two reservations never wait for each other in a cycle. SQLite: nothing to do.
fn lock_buckets(conn: &mut AnyConnection, buckets: &mut [String]) -> Result<(), diesel::result::Error> {
    if let AnyConnection::Postgresql(c) = conn {
        buckets.sort();
        for bucket in buckets.iter() {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<Text, _>(bucket)
                .execute(c)?;
        }
    }
    Ok(())
}
