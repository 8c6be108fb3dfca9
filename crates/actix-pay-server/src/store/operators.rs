//! The operator console's tables: operators, their sessions (known by the digest of the cookie's token
//! only) and the append-only audit of their actions. See `crate::admin`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use payment_buttons::diesel::{AnyConnection, Tx, db_time, utc};
use payment_buttons::store::StoreError;

use super::ServerStore;
use super::schema::{operator_audit, operator_sessions, operators};

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, and may also resend, replay and decide payouts.
    Operator,
    /// Reads everything; every action is refused (403).
    Viewer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// The role of a stored (or typed) name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// True when this role may act (resend, re-enable, mark paid), not only read.
    pub fn may_act(self) -> bool {
        self == Role::Operator
    }
}

/// An operator as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Row id.
    pub id: i64,
    /// Normalized (lower-case) e-mail.
    pub email: String,
    /// What it may do.
    pub role: Role,
    /// PHC string; never shown.
    pub password_hash: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A row of the audit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    /// Row id (also the keyset of the audit page).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The operator's e-mail.
    pub operator: String,
    /// What (`resend_delivery`, `resend_failed`, `enable_endpoint`, `payout_paid`, ...).
    pub action: String,
    /// On what (a delivery id, an endpoint's index, a payout id).
    pub target: String,
    /// How it ended (`ok`, or why not).
    pub outcome: String,
}

type OperatorTuple = (i64, String, String, String, NaiveDateTime);

const OPERATOR_COLUMNS: (
    operators::id,
    operators::email,
    operators::role,
    operators::password_hash,
    operators::created_at,
) = (
    operators::id,
    operators::email,
    operators::role,
    operators::password_hash,
    operators::created_at,
);

fn operator((id, email, role, password_hash, created_at): OperatorTuple) -> Result<Operator, StoreError> {
    Ok(Operator {
        id,
        email,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("operators.role {role:?}")))?,
        password_hash,
        created_at: utc(created_at),
    })
}

impl ServerStore {
    /// Adds an operator; `Ok(false)` when the address is taken.
    pub async fn add_operator(
        &self,
        email: &str,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = (
            operators::email.eq(email.to_owned()),
            operators::role.eq(role.as_str()),
            operators::password_hash.eq(password_hash.to_owned()),
            operators::created_at.eq(db_time(now)),
        );
        self.with_connection(move |conn: &mut AnyConnection| {
            let query = diesel::insert_into(operators::table)
                .values(row)
                .on_conflict_do_nothing();
            let n = match conn {
                AnyConnection::Postgresql(c) => query.execute(c)?,
                AnyConnection::Sqlite(c) => query.execute(c)?,
            };
            Ok(n == 1)
        })
        .await
    }

    /// Every operator, by e-mail.
    pub async fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        self.with_connection(|conn: &mut AnyConnection| {
            let rows: Vec<OperatorTuple> = operators::table
                .order(operators::email.asc())
                .select(OPERATOR_COLUMNS)
                .load(conn)?;
            rows.into_iter().map(operator).collect()
        })
        .await
    }

    /// An operator by normalized e-mail.
    pub async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        let email = email.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            let row: Option<OperatorTuple> = operators::table
                .filter(operators::email.eq(email))
                .select(OPERATOR_COLUMNS)
                .first(conn)
                .optional()?;
            row.map(operator).transpose()
        })
        .await
    }

    /// Removes an operator and ends its sessions; `Ok(false)` when there was none. Its audit rows stay.
    pub async fn remove_operator(&self, email: &str) -> Result<bool, StoreError> {
        let email = email.to_owned();
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            let id: Option<i64> = operators::table
                .filter(operators::email.eq(&email))
                .select(operators::id)
                .first(conn)
                .optional()?;
            let Some(id) = id else { return Ok(false) };
            diesel::delete(operator_sessions::table.filter(operator_sessions::operator_id.eq(id))).execute(conn)?;
            diesel::delete(operators::table.find(id)).execute(conn)?;
            Ok(true)
        })
        .await
    }

    /// Replaces an operator's password hash (a rehash after a parameter change).
    pub async fn set_operator_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        let hash = hash.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            diesel::update(operators::table.find(id))
                .set(operators::password_hash.eq(hash))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Records a session: the digest of its token, its CSRF token, until when it lasts.
    pub async fn create_operator_session(
        &self,
        digest: &str,
        operator_id: i64,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = (
            operator_sessions::digest.eq(digest.to_owned()),
            operator_sessions::operator_id.eq(operator_id),
            operator_sessions::csrf.eq(csrf.to_owned()),
            operator_sessions::created_at.eq(db_time(now)),
            operator_sessions::expires_at.eq(db_time(expires_at)),
        );
        self.with_connection(move |conn: &mut AnyConnection| {
            diesel::insert_into(operator_sessions::table)
                .values(row)
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// The operator and CSRF token of the session with this digest, when it has not expired at `now`.
    pub async fn operator_session(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Operator, String)>, StoreError> {
        let digest = digest.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            let found: Option<(i64, String)> = operator_sessions::table
                .filter(operator_sessions::digest.eq(digest))
                .filter(operator_sessions::expires_at.gt(db_time(now)))
                .select((operator_sessions::operator_id, operator_sessions::csrf))
                .first(conn)
                .optional()?;
            let Some((id, csrf)) = found else { return Ok(None) };
            let row: Option<OperatorTuple> = operators::table
                .find(id)
                .select(OPERATOR_COLUMNS)
                .first(conn)
                .optional()?;
            Ok(row.map(operator).transpose()?.map(|o| (o, csrf)))
        })
        .await
    }

    /// Ends one session (sign-out), and forgets every expired one.
    pub async fn end_operator_session(&self, digest: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let digest = digest.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            diesel::delete(
                operator_sessions::table.filter(
                    operator_sessions::digest
                        .eq(digest)
                        .or(operator_sessions::expires_at.le(db_time(now))),
                ),
            )
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Appends a row to the audit.
    pub async fn record_audit(
        &self,
        operator: &str,
        action: &str,
        target: &str,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = (
            operator_audit::at.eq(db_time(now)),
            operator_audit::operator.eq(operator.to_owned()),
            operator_audit::action.eq(action.to_owned()),
            operator_audit::target.eq(target.to_owned()),
            operator_audit::outcome.eq(outcome.to_owned()),
        );
        self.with_connection(move |conn: &mut AnyConnection| {
            diesel::insert_into(operator_audit::table).values(row).execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Audit rows, newest first, older than `before` when given, at most `limit`.
    pub async fn audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        self.with_connection(move |conn: &mut AnyConnection| {
            let mut query = operator_audit::table.into_boxed();
            if let Some(before) = before {
                query = query.filter(operator_audit::id.lt(before));
            }
            let rows: Vec<(i64, NaiveDateTime, String, String, String, String)> = query
                .order(operator_audit::id.desc())
                .limit(limit)
                .select((
                    operator_audit::id,
                    operator_audit::at,
                    operator_audit::operator,
                    operator_audit::action,
                    operator_audit::target,
                    operator_audit::outcome,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(id, at, operator, action, target, outcome)| AuditRow {
                    id,
                    at: utc(at),
                    operator,
                    action,
                    target,
                    outcome,
                })
                .collect())
        })
        .await
    }
}
