//! The database of one run, reached with the `sqlite3` and `psql` command-line clients (bench-only: no
//! driver in this crate): create, clone payments, pre-fill the log, count the drain, explain the claim.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};

/// PostgreSQL on this machine: loopback, trust authentication.
const PG_HOST: &str = "127.0.0.1";
const PG_USER: &str = "postgres";

/// The backend of a run.
#[derive(Debug, Clone)]
pub enum Db {
    /// A SQLite file (created by the server's migrations).
    Sqlite(PathBuf),
    /// A PostgreSQL database of this name (created and dropped here).
    Postgres(String),
}

/// The columns of `payments`, in one order for `INSERT ... SELECT`.
const PAYMENT_COLUMNS: &str = "gateway, order_reference, button, option_index, amount_minor, currency, state, \
                               receiver, subscription_id, gateway_reference, details, created_at, updated_at";

impl Db {
    /// The server's `database.url`.
    pub fn url(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite://{}", path.display()),
            Db::Postgres(name) => format!("postgres://{PG_USER}@{PG_HOST}:5432/{name}"),
        }
    }

    /// Makes an empty database (PostgreSQL) or removes an old file (SQLite).
    pub fn create(&self) -> Result<()> {
        match self {
            Db::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Ok(())
            }
            Db::Postgres(name) => {
                psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"))?;
                psql("postgres", &format!("CREATE DATABASE {name}"))?;
                Ok(())
            }
        }
    }

    /// Removes the database.
    pub fn drop_db(&self) {
        match self {
            Db::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Db::Postgres(name) => {
                let _ = psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }

    /// Runs SQL and returns its output (unaligned, `|`-separated, no headers).
    pub fn query(&self, sql: &str) -> Result<String> {
        match self {
            Db::Sqlite(path) => {
                let out = Command::new("sqlite3")
                    .args(["-batch", "-noheader", "-cmd", ".timeout 10000"])
                    .arg(path)
                    .arg(sql)
                    .output()
                    .context("run sqlite3")?;
                if !out.status.success() {
                    bail!("sqlite3: {}", String::from_utf8_lossy(&out.stderr).trim());
                }
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
            Db::Postgres(name) => psql(name, sql),
        }
    }

    /// Inserts `n` copies of payment `source` with ids `prefix` + 11 digits (0..n).
    pub fn clone_payments(&self, source: &str, prefix: char, n: u64) -> Result<()> {
        let source = sql_text(source);
        let sql = match self {
            Db::Sqlite(_) => format!(
                "INSERT INTO payments (id, {PAYMENT_COLUMNS}) \
                 WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) \
                 SELECT printf('{prefix}%011d', i), {PAYMENT_COLUMNS} FROM s, payments WHERE payments.id = {source};"
            ),
            Db::Postgres(_) => format!(
                "INSERT INTO payments (id, {PAYMENT_COLUMNS}) \
                 SELECT '{prefix}' || lpad(i::text, 11, '0'), {PAYMENT_COLUMNS} \
                 FROM generate_series(0, {n} - 1) AS s(i), payments WHERE payments.id = {source};"
            ),
        };
        self.query(&sql).map(drop)
    }

    /// Fills the log with `n` already applied messages (body: `body`), each with its idempotency key and two
    /// dispatched events (numbered in their payment, increasing, though not from 1), spread over `n / 10` history payments cloned from `source` (ids `H...`).
    pub fn prefill(&self, source: &str, body: &[u8], n: u64) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let history = (n / 10).max(1);
        self.clone_payments(source, 'H', history)?;
        let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
        let t = "'2025-01-01 00:00:00'";
        let log_columns = "received_at, gateway, remote_addr, method, content_type, body, fields, verification, \
                           flags, payment_id, outcome";
        let sql = match self {
            Db::Sqlite(_) => format!(
                "BEGIN; \
                 INSERT INTO gateway_messages ({log_columns}) \
                 WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) \
                 SELECT {t}, 'paypal', '127.0.0.1', 'POST', 'application/x-www-form-urlencoded', X'{hex}', '{{}}', \
                        'verified', '[]', printf('H%011d', i % {history}), 'applied (pre-filled)' FROM s; \
                 INSERT INTO applied_notifications (gateway, idempotency_key, message_id, payment_id, applied_at) \
                 SELECT 'paypal', 'PREFILL' || id || ':Completed', id, payment_id, received_at \
                 FROM gateway_messages WHERE payment_id LIKE 'H%'; \
                 INSERT INTO events (id, payment_id, kind, payload, gateway_message_id, created_at, dispatched_at, \
                                     sequence) \
                 SELECT printf('evt_%016x', id * 2 + k), payment_id, kind, '{{}}', id, received_at, received_at, \
                        id * 2 + k \
                 FROM gateway_messages, (SELECT 0 AS k, 'payment_processed' AS kind \
                                         UNION ALL SELECT 1, 'payment_accepted') \
                 WHERE payment_id LIKE 'H%'; \
                 COMMIT;"
            ),
            Db::Postgres(_) => format!(
                "BEGIN; \
                 INSERT INTO gateway_messages ({log_columns}) \
                 SELECT {t}, 'paypal', '127.0.0.1', 'POST', 'application/x-www-form-urlencoded', \
                        '\\x{hex}'::bytea, '{{}}', 'verified', '[]', 'H' || lpad((i % {history})::text, 11, '0'), \
                        'applied (pre-filled)' FROM generate_series(0, {n} - 1) AS s(i); \
                 INSERT INTO applied_notifications (gateway, idempotency_key, message_id, payment_id, applied_at) \
                 SELECT 'paypal', 'PREFILL' || id || ':Completed', id, payment_id, received_at \
                 FROM gateway_messages WHERE payment_id LIKE 'H%'; \
                 INSERT INTO events (id, payment_id, kind, payload, gateway_message_id, created_at, dispatched_at, \
                                     sequence) \
                 SELECT 'evt_' || lpad(to_hex(id * 2 + k), 16, '0'), payment_id, kind, '{{}}', id, received_at, \
                        received_at, id * 2 + k \
                 FROM gateway_messages, (VALUES (0, 'payment_processed'), (1, 'payment_accepted')) AS e(k, kind) \
                 WHERE payment_id LIKE 'H%'; \
                 COMMIT;"
            ),
        };
        self.query(&sql)?;
        if let Db::Postgres(_) = self {
            // What autovacuum would do shortly after a bulk load; VACUUM cannot run in the transaction above.
            self.query("VACUUM ANALYZE")?;
        }
        Ok(())
    }

    /// Queues `n` PayPal messages as intake would have logged them, not yet verified: message `i` is
    /// `template` with `txn_id` `D` + 2 digits of `run` + 14 digits of `i` and the `invoice` of payment
    /// `B` + 11 digits of `i` (see [`Db::clone_payments`]), one message per payment.
    pub fn queue_messages(&self, template: &str, run: u32, n: u64) -> Result<()> {
        let template = sql_text(template);
        let run = run % 100;
        let t = "'2026-01-01 00:00:00'";
        let log_columns = "received_at, gateway, remote_addr, method, content_type, body, fields, verification, \
                           flags";
        let sql = match self {
            Db::Sqlite(_) => format!(
                "BEGIN; \
                 INSERT INTO gateway_messages ({log_columns}) \
                 WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) \
                 SELECT {t}, 'paypal', '127.0.0.1', 'POST', 'application/x-www-form-urlencoded', \
                        CAST(replace(replace({template}, '__TXN__', printf('D%02d%014d', {run}, i)), \
                                     '__INVOICE__', printf('B%011d', i)) AS BLOB), \
                        '{{}}', 'pending', '[]' FROM s; \
                 INSERT INTO message_queue (message_id, attempts, next_attempt_at) \
                 SELECT id, 0, received_at FROM gateway_messages WHERE verification = 'pending'; \
                 COMMIT;"
            ),
            Db::Postgres(_) => format!(
                "BEGIN; \
                 INSERT INTO gateway_messages ({log_columns}) \
                 SELECT {t}, 'paypal', '127.0.0.1', 'POST', 'application/x-www-form-urlencoded', \
                        convert_to(replace(replace({template}, '__TXN__', \
                                     'D' || lpad('{run}', 2, '0') || lpad(i::text, 14, '0')), \
                                   '__INVOICE__', 'B' || lpad(i::text, 11, '0')), 'UTF8'), \
                        '{{}}', 'pending', '[]' FROM generate_series(0, {n} - 1) AS s(i); \
                 INSERT INTO message_queue (message_id, attempts, next_attempt_at) \
                 SELECT id, 0, received_at FROM gateway_messages WHERE verification = 'pending'; \
                 COMMIT;"
            ),
        };
        self.query(&sql)?;
        if let Db::Postgres(_) = self {
            self.query("VACUUM ANALYZE")?;
        }
        Ok(())
    }

    /// Highest `gateway_messages.id` and `events.seq` (0 when empty): the base of a run's counts.
    pub fn high_water(&self) -> Result<(i64, i64)> {
        let out = self.query(
            "SELECT (SELECT coalesce(max(id), 0) FROM gateway_messages), (SELECT coalesce(max(seq), 0) FROM events);",
        )?;
        let mut parts = out.split('|').map(|s| s.trim().parse::<i64>());
        match (parts.next(), parts.next()) {
            (Some(Ok(a)), Some(Ok(b))) => Ok((a, b)),
            _ => bail!("unexpected high-water output {out:?}"),
        }
    }

    /// `(queued, logged since base, verified since base, events since base)`.
    /// A client kept open for sampling the queue's length (see [`QueueProbe`]).
    pub fn queue_probe(&self) -> Result<QueueProbe> {
        let mut command = match self {
            Db::Sqlite(path) => {
                let mut c = Command::new("sqlite3");
                c.args(["-batch", "-noheader", "-cmd", ".timeout 10000"]).arg(path);
                c
            }
            Db::Postgres(name) => {
                let mut c = Command::new("psql");
                c.args(["-X", "-A", "-t", "-q", "-h", PG_HOST, "-U", PG_USER, "-d", name]);
                c
            }
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start the queue probe's client")?;
        let stdin = child.stdin.take().context("probe stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("probe stdout")?);
        Ok(QueueProbe { child, stdin, stdout })
    }

    /// Counts since `base` (the log's and the outbox's high water): messages queued, messages logged,
    /// messages verified, events, answer rows.
    pub fn progress(&self, base: (i64, i64)) -> Result<[i64; 5]> {
        let (m, e) = base;
        // Messages are the rows a gateway sent (`incoming`); the answers PayPal's postbacks gave are rows
        // of their own (`answer`), counted apart: one per verified message when they are logged.
        let out = self.query(&format!(
            "SELECT (SELECT count(*) FROM message_queue), \
                    (SELECT count(*) FROM gateway_messages WHERE id > {m} AND direction = 'incoming'), \
                    (SELECT count(*) FROM gateway_messages WHERE id > {m} AND direction = 'incoming' \
                        AND verification <> 'pending'), \
                    (SELECT count(*) FROM events WHERE seq > {e}), \
                    (SELECT count(*) FROM gateway_messages WHERE id > {m} AND direction = 'answer');"
        ))?;
        let v: Vec<i64> = out.split('|').filter_map(|s| s.trim().parse().ok()).collect();
        match v.as_slice() {
            [a, b, c, d, f] => Ok([*a, *b, *c, *d, *f]),
            _ => bail!("unexpected progress output {out:?}"),
        }
    }

    /// The query plans of the worker's claim and of the outbox scan.
    pub fn explain_claim(&self) -> Result<String> {
        let now = "'2030-01-01 00:00:00'";
        let claim = format!(
            "SELECT message_id FROM message_queue WHERE next_attempt_at <= {now} \
             AND (claimed_until IS NULL OR claimed_until < {now}) ORDER BY message_id LIMIT 50"
        );
        let outbox = "SELECT seq FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT 100";
        match self {
            Db::Sqlite(_) => Ok(format!(
                "claim:\n{}\noutbox:\n{}",
                self.query(&format!("EXPLAIN QUERY PLAN {claim};"))?,
                self.query(&format!("EXPLAIN QUERY PLAN {outbox};"))?
            )),
            Db::Postgres(_) => Ok(format!(
                "claim:\n{}\noutbox:\n{}",
                self.query(&format!("EXPLAIN {claim} FOR UPDATE SKIP LOCKED;"))?,
                self.query(&format!("EXPLAIN {outbox};"))?
            )),
        }
    }
}

/// Runs SQL on a PostgreSQL database with `psql`.
/// Samples the length of `message_queue` through one client process and one connection for the whole
/// run: the drain's progress, read every 100 ms (a message leaves the queue in the transaction that applies
/// it). Starting `psql` for each sample cost about a tenth of the two cores (a process, a connection, a
/// PostgreSQL backend forked each time), taken from the server being measured.
pub struct QueueProbe {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl QueueProbe {
    /// Messages still queued.
    pub fn queued(&mut self) -> Result<i64> {
        self.stdin.write_all(b"SELECT count(*) FROM message_queue;\n")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        line.trim()
            .parse()
            .with_context(|| format!("unexpected queue count {line:?}"))
    }
}

impl Drop for QueueProbe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn psql(db: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            PG_HOST,
            "-U",
            PG_USER,
            "-d",
            db,
            "-c",
            sql,
        ])
        .output()
        .context("run psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A SQL string literal.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_in_sql_text_are_doubled() {
        assert_eq!(sql_text("it's"), "'it''s'");
    }

    #[test]
    fn urls_name_the_backend_the_server_expects() {
        assert_eq!(
            Db::Sqlite(PathBuf::from("/tmp/x/db.sqlite3")).url(),
            "sqlite:///tmp/x/db.sqlite3"
        );
        assert_eq!(
            Db::Postgres("paybench_1".into()).url(),
            "postgres://postgres@127.0.0.1:5432/paybench_1"
        );
    }
}
