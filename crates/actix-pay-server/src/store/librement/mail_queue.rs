//! The outgoing e-mail queue ([`MailQueue`]) in table `librement_mail`. [`enqueue_in`] writes a message
//! inside the caller's transaction (a receipt with its payment); claims lease rows so that several
//! instances never send one message at the same time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use librement_pay::mail::{CLAIM_LEASE, Mail, MailError, MailQueue, MailboxEntry, QueuedMail};

use super::super::DieselStore;
use super::super::connection::{AnyConnection, write_transaction};
use super::super::models::{db_time, utc};
use super::LFail;
use super::schema::librement_mail as mail;

impl From<LFail> for MailError {
    fn from(e: LFail) -> Self {
        MailError::Store(librement_pay::ledger::LedgerError::from(e).to_string())
    }
}

/// Queues `m` inside the caller's transaction; `false` when its key was queued before.
pub(super) fn enqueue_in(conn: &mut AnyConnection, m: &Mail, now: DateTime<Utc>) -> Result<bool, LFail> {
    let at = db_time(now);
    let row = (
        mail::dedup_key.eq(&m.key),
        mail::recipient.eq(m.to.as_str()),
        mail::subject.eq(&m.subject),
        mail::body.eq(&m.text),
        mail::secret.eq(m.secret),
        mail::created_at.eq(at),
        mail::next_attempt_at.eq(Some(at)),
        mail::attempts.eq(0),
    );
    let inserted = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(mail::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(mail::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

type Row = (i64, String, String, String, bool, i32);

#[async_trait::async_trait]
impl MailQueue for DieselStore {
    async fn enqueue(&self, m: Mail, now: DateTime<Utc>) -> Result<bool, MailError> {
        Ok(self
            .run_librement(move |conn| write_transaction(conn, |conn| enqueue_in(conn, &m, now)))
            .await?)
    }

    async fn claim_mail(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMail>, MailError> {
        let limit = i64::try_from(limit).unwrap_or(100);
        let rows: Vec<Row> = self
            .run_librement(move |conn| {
                write_transaction(conn, |conn| {
                    let due = mail::table
                        .filter(mail::sent_at.is_null())
                        .filter(mail::next_attempt_at.le(db_time(now)))
                        .order(mail::id.asc())
                        .limit(limit)
                        .select(mail::id);
                    let ids: Vec<i64> = match conn {
                        AnyConnection::Postgresql(c) => due.for_update().skip_locked().load(c)?,
                        AnyConnection::Sqlite(c) => due.load(c)?,
                    };
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    diesel::update(mail::table.filter(mail::id.eq_any(&ids)))
                        .set(mail::next_attempt_at.eq(Some(db_time(now + CLAIM_LEASE))))
                        .execute(conn)?;
                    Ok::<_, LFail>(
                        mail::table
                            .filter(mail::id.eq_any(&ids))
                            .order(mail::id.asc())
                            .select((
                                mail::id,
                                mail::recipient,
                                mail::subject,
                                mail::body,
                                mail::secret,
                                mail::attempts,
                            ))
                            .load(conn)?,
                    )
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, to, subject, text, secret, attempts)| QueuedMail {
                id,
                to,
                subject,
                text,
                secret,
                attempts,
            })
            .collect())
    }

    async fn mark_mail_sent(&self, id: i64, erase_text: bool, now: DateTime<Utc>) -> Result<(), MailError> {
        self.run_librement(move |conn| {
            let target = mail::table.find(id);
            let at = Some(db_time(now));
            if erase_text {
                diesel::update(target)
                    .set((
                        mail::sent_at.eq(at),
                        mail::last_error.eq(None::<String>),
                        mail::body.eq(""),
                    ))
                    .execute(conn)?;
            } else {
                diesel::update(target)
                    .set((mail::sent_at.eq(at), mail::last_error.eq(None::<String>)))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<(), MailError> {
        let error: String = error.chars().take(500).collect();
        self.run_librement(move |conn| {
            diesel::update(mail::table.find(id))
                .set((
                    mail::attempts.eq(mail::attempts + 1),
                    mail::last_error.eq(Some(error)),
                    mail::next_attempt_at.eq(retry_at.map(db_time)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn mailbox(&self, limit: usize) -> Result<Vec<MailboxEntry>, MailError> {
        let limit = i64::try_from(limit).unwrap_or(100);
        type Entry = (
            i64,
            String,
            String,
            String,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        );
        let rows: Vec<Entry> = self
            .run_librement(move |conn| {
                Ok(mail::table
                    .order(mail::id.desc())
                    .limit(limit)
                    .select((
                        mail::id,
                        mail::recipient,
                        mail::subject,
                        mail::body,
                        mail::created_at,
                        mail::sent_at,
                    ))
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, to, subject, text, created_at, sent_at)| MailboxEntry {
                id,
                to,
                subject,
                text,
                created_at: utc(created_at),
                sent_at: sent_at.map(utc),
            })
            .collect())
    }
}
