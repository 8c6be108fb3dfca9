//! WAL checkpoints of a SQLite file, off the write path.
//!
//! By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000 pages: that
//! commit copies the log back into the database and syncs it, tens of milliseconds during which this
//! process's next writer (see [`super::writer_queue`]) waits, the gateway log among them. The pool's
//! connections therefore never checkpoint (`wal_autocheckpoint = 0`, see [`super::sqlite::set_pragmas`]);
//! this thread runs a passive checkpoint every [`CHECKPOINT_EVERY`] instead. A passive checkpoint takes
//! no write lock: writers go on while it copies, and the log starts again from its beginning once a
//! checkpoint has copied all of it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::connection::{AnyConnection, Pool};

/// How often the log is checkpointed: at a few thousand writes a second it holds a few hundred pages then.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The checkpointing thread; it stops when the last clone of its store is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    /// Never sent on: dropping it wakes the thread, which stops.
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite file behind `pool` every [`CHECKPOINT_EVERY`].
    pub(crate) fn start(pool: Pool) -> Result<Self, std::io::Error> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    checkpoint(&pool);
                }
            })?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn checkpoint(pool: &Pool) {
    let Ok(mut conn) = pool.get() else {
        // Every connection is busy: the next tick tries again, and nothing is lost meanwhile.
        return;
    };
    if let AnyConnection::Sqlite(conn) = &mut *conn
        && let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
    {
        tracing::warn!(error = %e, "checkpointing the SQLite write-ahead log failed; trying again shortly");
    }
}
