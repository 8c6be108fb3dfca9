//! What only SQLite needs: connection pragmas, and claiming queued messages under the write lock.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::message_queue;

/// WAL lets readers work while one connection writes; `synchronous=NORMAL` is durable in WAL mode except
/// for the last transactions on power loss (not on a process crash); the busy timeout makes a writer wait
/// for another instead of failing; foreign keys are off by default in SQLite. No commit checkpoints the
/// write-ahead log: a store's own thread does, off the write path (see [`super::checkpointer`]).
pub(crate) fn set_pragmas(conn: &mut SqliteConnection) -> QueryResult<()> {
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
    )
}

/// Claims up to `limit` due messages until `lease_until`. The caller holds an immediate transaction, so
/// no other connection can claim between the select and the update.
pub(crate) fn claim_ids(
    conn: &mut SqliteConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let ids: Vec<i64> = message_queue::table
        .filter(message_queue::next_attempt_at.le(now))
        .filter(
            message_queue::claimed_until
                .is_null()
                .or(message_queue::claimed_until.lt(now)),
        )
        .order(message_queue::message_id.asc())
        .limit(limit)
        .select(message_queue::message_id)
        .load(conn)?;
    diesel::update(message_queue::table.filter(message_queue::message_id.eq_any(&ids)))
        .set(message_queue::claimed_until.eq(Some(lease_until)))
        .execute(conn)?;
    Ok(ids)
}
