//! What only PostgreSQL needs: row locks, `SKIP LOCKED` claims and the migration advisory lock.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

/// Arbitrary but fixed: every instance of this service takes the same advisory lock to migrate.
const MIGRATION_LOCK: i64 = 0x6c70_6d69_6772; // "lpmigr"

/// Takes the migration lock, waiting for another instance that is migrating.
pub(crate) fn lock_migrations(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(conn)
        .map(drop)
}

/// Releases the migration lock.
pub(crate) fn unlock_migrations(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(conn)
        .map(drop)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    message_id: i64,
}

/// Claims up to `limit` due messages until `lease_until`. `SKIP LOCKED` lets two instances claim at the
/// same time without waiting for each other and without ever taking the same row.
pub(crate) fn claim_ids(
    conn: &mut PgConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let claimed: Vec<Claimed> = diesel::sql_query(
        "UPDATE message_queue SET claimed_until = $1 \
         WHERE message_id IN ( \
             SELECT message_id FROM message_queue \
             WHERE next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
             ORDER BY message_id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) \
         RETURNING message_id",
    )
    .bind::<Timestamp, _>(lease_until)
    .bind::<Timestamp, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let mut ids: Vec<i64> = claimed.into_iter().map(|c| c.message_id).collect();
    ids.sort_unstable();
    Ok(ids)
}
