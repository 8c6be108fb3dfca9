//! The links of the verification and reset e-mails ([`EmailTokens`]) and the throttle on asking for them.
//!
//! Redeeming a link is one write transaction: the token row is marked used by an `UPDATE … WHERE used_at
//! IS NULL AND expires_at > now` that only one of several concurrent requests can win, and what the link
//! does (verify the address and move the earnings; or set the password and end the sessions) commits
//! with it or not at all.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use librement_pay::accounts::{AccountError, Email};
use librement_pay::email_tokens::{EmailToken, EmailTokens, MailThrottle, Purpose, Verified};

use super::super::DieselStore;
use super::super::connection::{AnyConnection, write_transaction};
use super::super::models::db_time;
use super::super::schema::librement_users;
use super::LFail;
use super::earnings::verify_and_claim;
use super::schema::{librement_email_tokens as tokens, librement_mail_requests as requests};

/// Marks `token` used when it is recorded for its user and purpose, unused and unexpired; `false` otherwise.
fn redeem(conn: &mut AnyConnection, token: &EmailToken, now: DateTime<Utc>) -> Result<bool, LFail> {
    let at = db_time(now);
    let n = diesel::update(
        tokens::table
            .filter(tokens::digest.eq(token.digest()))
            .filter(tokens::purpose.eq(token.purpose().as_str()))
            .filter(tokens::user_id.eq(token.user))
            .filter(tokens::used_at.is_null())
            .filter(tokens::expires_at.gt(at)),
    )
    .set(tokens::used_at.eq(Some(at)))
    .execute(conn)?;
    Ok(n == 1)
}

/// A short tag of a token for ledger keys (its digest's start: unique enough, reveals nothing).
fn tag(token: &EmailToken) -> String {
    token.digest()[..16].to_owned()
}

#[async_trait::async_trait]
impl EmailTokens for DieselStore {
    async fn record_token(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<(), AccountError> {
        let token = token.clone();
        self.run_librement(move |conn| {
            write_transaction(conn, |conn| {
                let at = db_time(now);
                // A new link of a purpose ends the older ones: only the latest e-mail works.
                diesel::update(
                    tokens::table
                        .filter(tokens::user_id.eq(token.user))
                        .filter(tokens::purpose.eq(token.purpose().as_str()))
                        .filter(tokens::used_at.is_null()),
                )
                .set(tokens::used_at.eq(Some(at)))
                .execute(conn)?;
                diesel::insert_into(tokens::table)
                    .values((
                        tokens::digest.eq(token.digest()),
                        tokens::purpose.eq(token.purpose().as_str()),
                        tokens::user_id.eq(token.user),
                        tokens::created_at.eq(at),
                        tokens::expires_at.eq(db_time(token.expires_at())),
                    ))
                    .execute(conn)?;
                Ok::<_, LFail>(())
            })
        })
        .await?;
        Ok(())
    }

    async fn token_usable(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<bool, AccountError> {
        let token = token.clone();
        Ok(self
            .run_librement(move |conn| {
                let n: i64 = tokens::table
                    .filter(tokens::digest.eq(token.digest()))
                    .filter(tokens::purpose.eq(token.purpose().as_str()))
                    .filter(tokens::user_id.eq(token.user))
                    .filter(tokens::used_at.is_null())
                    .filter(tokens::expires_at.gt(db_time(now)))
                    .count()
                    .get_result(conn)?;
                Ok(n == 1)
            })
            .await?)
    }

    async fn verify_email(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<Verified, AccountError> {
        if token.purpose() != Purpose::Verify {
            return Ok(Verified::Refused);
        }
        let token = token.clone();
        Ok(self
            .run_librement(move |conn| {
                write_transaction(conn, |conn| {
                    if !redeem(conn, &token, now)? {
                        return Ok(Verified::Refused);
                    }
                    let claimed = verify_and_claim(conn, token.user, &tag(&token), now)?;
                    Ok::<_, LFail>(Verified::Now { claimed })
                })
            })
            .await?)
    }

    async fn reset_password(
        &self,
        token: &EmailToken,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, AccountError> {
        if token.purpose() != Purpose::Reset {
            return Ok(false);
        }
        let (token, hash) = (token.clone(), password_hash.to_owned());
        Ok(self
            .run_librement(move |conn| {
                write_transaction(conn, |conn| {
                    if !redeem(conn, &token, now)? {
                        return Ok(false);
                    }
                    diesel::update(librement_users::table.find(token.user))
                        .set((
                            librement_users::password_hash.eq(hash),
                            librement_users::session_epoch.eq(librement_users::session_epoch + 1),
                        ))
                        .execute(conn)?;
                    // The link proved the mailbox: the address is verified, as by a verification link.
                    verify_and_claim(conn, token.user, &tag(&token), now)?;
                    Ok::<_, LFail>(true)
                })
            })
            .await?)
    }

    async fn reserve_mail_request(
        &self,
        purpose: Purpose,
        email: &Email,
        ip: &str,
        throttle: MailThrottle,
        now: DateTime<Utc>,
    ) -> Result<bool, AccountError> {
        let (email, ip) = (email.as_str().to_owned(), ip.to_owned());
        Ok(self
            .run_librement(move |conn| {
                write_transaction(conn, |conn| {
                    let p = purpose.as_str();
                    // PostgreSQL: one advisory lock per bucket, in order (the pattern of sign-in attempts):
                    // a concurrent request of the same bucket waits for this one's row, then counts it.
                    if let AnyConnection::Postgresql(c) = conn {
                        let mut buckets = [
                            format!("librement mail {p} email {email}"),
                            format!("librement mail {p} ip {ip}"),
                        ];
                        buckets.sort();
                        for bucket in &buckets {
                            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                                .bind::<Text, _>(bucket)
                                .execute(c)?;
                        }
                    }
                    let since = db_time(now - throttle.window);
                    let recent = requests::table
                        .filter(requests::purpose.eq(p))
                        .filter(requests::requested_at.ge(since));
                    let for_email: i64 = recent.filter(requests::email.eq(&email)).count().get_result(conn)?;
                    let from_ip: i64 = recent.filter(requests::ip.eq(&ip)).count().get_result(conn)?;
                    if for_email >= throttle.per_email || from_ip >= throttle.per_ip {
                        return Ok(false);
                    }
                    diesel::insert_into(requests::table)
                        .values((
                            requests::purpose.eq(p),
                            requests::email.eq(&email),
                            requests::ip.eq(&ip),
                            requests::requested_at.eq(db_time(now)),
                        ))
                        .execute(conn)?;
                    Ok::<_, LFail>(true)
                })
            })
            .await?)
    }
}
