//! Group commit for the gateway log. Every notification is written before the gateway gets its answer; one
//! transaction per message makes the commit (an fsync on PostgreSQL, the single write lock on SQLite) the
//! limit under load. One writer thread takes whatever messages are waiting, writes them all in one
//! transaction, and only then answers each caller: at low load a message is written alone and at once, under
//! load the commits are shared. Nothing is answered before its row is committed.

use crate::store::{MessageId, NewMessage, StoreError};
use tokio::sync::{mpsc, oneshot};

use super::connection::{AnyConnection, Pool, write_transaction_as};
use super::messages;
use super::writer_queue::WriterClass;

/// Most messages written in one transaction.
const MAX_BATCH: usize = 256;
/// Messages waiting for the writer before callers wait to hand theirs over (backpressure).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<MessageId, StoreError>>;

/// The handle callers log through. Cloning shares the one writer thread.
#[derive(Clone)]
pub(crate) struct LogWriter {
    jobs: mpsc::Sender<(NewMessage, Reply)>,
}

impl LogWriter {
    /// Starts the writer thread over `pool`. It stops when the last handle is dropped.
    pub fn start(pool: Pool) -> Result<Self, std::io::Error> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("gateway-log-writer".into())
            .spawn(move || run(pool, queue))?;
        Ok(LogWriter { jobs })
    }

    /// Writes `message` (and queues it for processing); returns once it is committed.
    pub async fn log(&self, message: NewMessage) -> Result<MessageId, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((message, reply))
            .await
            .map_err(|_| StoreError::Database("the gateway log writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the gateway log writer has stopped".into()))?
    }
}

fn run(pool: Pool, mut queue: mpsc::Receiver<(NewMessage, Reply)>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = pool
            .get()
            .map_err(|e| StoreError::Database(format!("no database connection: {e}")))
            .and_then(|mut conn| write_batch(&mut conn, &batch));
        match outcome {
            Ok(ids) => {
                for ((_, reply), id) in batch.into_iter().zip(ids) {
                    // A caller that went away (its request was cancelled) still had its message logged.
                    let _ = reply.send(Ok(id));
                }
            }
            Err(e) => {
                // Nothing of the batch was committed: every caller answers 503 and the gateways send again.
                let text = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::Database(text.clone())));
                }
            }
        }
    }
}

fn write_batch(conn: &mut AnyConnection, batch: &[(NewMessage, Reply)]) -> Result<Vec<MessageId>, StoreError> {
    // On SQLite the log goes before the worker's queued transactions: a gateway is waiting for its answer.
    write_transaction_as(WriterClass::Intake, conn, |conn| {
        batch
            .iter()
            .map(|(message, _)| messages::insert(conn, message))
            .collect()
    })
}
