//! Rows as stored, and their conversions to and from the core's types. Reading a row back never
//! panics: anything that does not parse is a [`StoreError::Corrupt`].

use crate::button::{ButtonConfig, Email};
use crate::event::Event;
use crate::gateway::GatewayCall;
use crate::gateway::IncomingMessage;
use crate::money::{Currency, Money};
use crate::notification::{Flag, VerificationStatus};
use crate::payment::PaymentId;
use crate::refund::{RefundId, StoredRefund};
use crate::store::{Direction, NewMessage, NewPayment, StoreError, StoredPayment, VerificationAnswers, answer_fields};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;

use super::schema::{applied_notifications, events, gateway_messages, message_queue, payments, refunds};

/// A time as stored: UTC without zone, to the microsecond (PostgreSQL's precision, kept on SQLite too so
/// that a value reads back the same on both). Use it for every `Timestamp` column of an application's own
/// tables too.
///
/// ```
/// use payment_buttons::diesel::{db_time, utc};
/// let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:03.123456789Z").unwrap().to_utc();
/// assert_eq!(utc(db_time(t)).to_rfc3339(), "2026-11-26T10:00:03.123456+00:00");
/// ```
pub fn db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

/// A stored time, back in UTC.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn to_json_text<T: serde::Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot serialize {what}: {e}")))
}

/// Reads a stored JSON object (payment details).
pub(crate) fn json_object(what: &str, text: &str) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// A `payments` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct PaymentRow {
    pub id: String,
    pub gateway: String,
    pub order_reference: String,
    pub button: String,
    pub option_index: i32,
    pub amount_minor: i64,
    pub currency: String,
    pub state: String,
    pub receiver: Option<String>,
    pub subscription_id: Option<String>,
    pub gateway_reference: Option<String>,
    pub details: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub refunded_minor: i64,
    pub email: Option<String>,
}

impl PaymentRow {
    /// The row of a new payment, in state `created` (as [`StoredPayment::from`] a [`NewPayment`] says).
    pub fn new(p: &NewPayment) -> Result<Self, StoreError> {
        Self::of(&StoredPayment::from(p.clone()))
    }

    /// The row holding `p`.
    pub fn of(p: &StoredPayment) -> Result<Self, StoreError> {
        let option_index =
            i32::try_from(p.option_index).map_err(|_| StoreError::Database("option index out of range".into()))?;
        Ok(PaymentRow {
            id: p.id.as_str().to_owned(),
            gateway: p.gateway.clone(),
            order_reference: p.button.order_reference().to_owned(),
            button: to_json_text("button", &p.button.to_json_value())?,
            option_index,
            amount_minor: p.amount.minor_units(),
            currency: p.amount.currency().code().to_owned(),
            state: p.state.as_str().to_owned(),
            receiver: p.receiver.clone(),
            subscription_id: p.subscription_id.as_ref().map(|id| id.as_str().to_owned()),
            gateway_reference: p.gateway_reference.clone(),
            details: to_json_text("details", &p.details)?,
            created_at: db_time(p.created_at),
            updated_at: db_time(p.updated_at),
            refunded_minor: p.refunded.minor_units(),
            email: p.button.email().map(Email::search_key),
        })
    }

    /// The payment this row holds.
    pub fn into_payment(self) -> Result<StoredPayment, StoreError> {
        let id = PaymentId::parse(&self.id).map_err(|e| corrupt("payments.id", e))?;
        let button = ButtonConfig::from_json(&self.button).map_err(|e| corrupt("payments.button", e))?;
        let currency: Currency = self.currency.parse().map_err(|e| corrupt("payments.currency", e))?;
        let subscription_id = self
            .subscription_id
            .as_deref()
            .map(PaymentId::parse)
            .transpose()
            .map_err(|e| corrupt("payments.subscription_id", e))?;
        Ok(StoredPayment {
            id,
            gateway: self.gateway,
            button,
            option_index: usize::try_from(self.option_index).map_err(|e| corrupt("payments.option_index", e))?,
            amount: Money::from_minor(self.amount_minor, currency),
            state: self.state.parse().map_err(|e| corrupt("payments.state", e))?,
            receiver: self.receiver,
            subscription_id,
            gateway_reference: self.gateway_reference,
            details: json_object("payments.details", &self.details)?,
            refunded: Money::from_minor(self.refunded_minor, currency),
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// A new `gateway_messages` row (the id is assigned by the database).
#[derive(Debug, Insertable)]
#[diesel(table_name = gateway_messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewLogRow {
    pub received_at: NaiveDateTime,
    pub gateway: String,
    pub remote_addr: Option<String>,
    pub method: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub fields: String,
    pub verification: String,
    pub flags: String,
    pub outcome: Option<String>,
    pub direction: String,
    pub payment_id: Option<String>,
    pub headers: Option<String>,
}

impl NewLogRow {
    /// The log row of a message just received: pending, with the decoder's flags; or, for a message
    /// refused on arrival, settled as `error` with the refusal as its outcome.
    pub fn new(m: &NewMessage) -> Result<Self, StoreError> {
        let verification = if m.refused.is_some() {
            VerificationStatus::Error
        } else {
            VerificationStatus::Pending
        };
        Ok(NewLogRow {
            received_at: db_time(m.message.received_at),
            gateway: m.gateway.clone(),
            remote_addr: m.message.remote_addr.clone(),
            method: m.message.method.clone(),
            content_type: m.message.content_type.clone(),
            body: m.message.body.clone(),
            fields: to_json_text("fields", &m.decoded.fields)?,
            verification: verification.as_str().to_owned(),
            flags: merge_flags("[]", &m.decoded.flags)?,
            outcome: m.refused.clone(),
            direction: Direction::Incoming.as_str().to_owned(),
            payment_id: None,
            headers: if m.message.headers.is_empty() {
                None
            } else {
                Some(to_json_text("headers", &m.message.headers)?)
            },
        })
    }

    /// The log row of a gateway's answer to a call we made about `payment_id` (when it is about a known
    /// payment): verified (it came on our own connection), never queued.
    pub fn answer(gateway: &str, payment_id: Option<&str>, call: &GatewayCall) -> Result<Self, StoreError> {
        let (method, fields) = answer_fields(call);
        Ok(NewLogRow {
            received_at: db_time(call.received_at),
            gateway: gateway.to_owned(),
            remote_addr: None,
            method,
            content_type: call.content_type.clone(),
            body: call.body.clone(),
            fields: to_json_text("fields", &fields)?,
            verification: VerificationStatus::Verified.as_str().to_owned(),
            flags: "[]".to_owned(),
            outcome: None,
            direction: Direction::Answer.as_str().to_owned(),
            payment_id: payment_id.map(str::to_owned),
            headers: None,
        })
    }

    /// The rows of the answers to a message's verification: about no payment, each with its outcome.
    pub fn verification_answers(gateway: &str, answers: &VerificationAnswers) -> Result<Vec<Self>, StoreError> {
        answers
            .calls()
            .iter()
            .map(|call| {
                let mut row = NewLogRow::answer(gateway, None, call)?;
                row.outcome = Some(answers.outcome().to_owned());
                Ok(row)
            })
            .collect()
    }
}

/// A new `message_queue` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = message_queue)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewQueueRow {
    pub message_id: i64,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
}

/// A `gateway_messages` row as read.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = gateway_messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct LogRecord {
    pub id: i64,
    pub received_at: NaiveDateTime,
    pub gateway: String,
    pub remote_addr: Option<String>,
    pub method: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub fields: String,
    pub verification: String,
    pub flags: String,
    pub payment_id: Option<String>,
    pub outcome: Option<String>,
    pub direction: String,
    pub headers: Option<String>,
}

impl LogRecord {
    /// The message as the gateway sent it.
    pub fn incoming(&self) -> IncomingMessage {
        IncomingMessage {
            received_at: utc(self.received_at),
            remote_addr: self.remote_addr.clone(),
            method: self.method.clone(),
            content_type: self.content_type.clone(),
            body: self.body.clone(),
            // Written by this library as a JSON object of strings; anything else reads as none, and the
            // verification that needs them then fails safe.
            headers: self
                .headers
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok())
                .unwrap_or_default(),
        }
    }
}

/// One row of the gateway log (`gateway_messages`), every column, for operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// Row id (also `gateway_message_id` in events).
    pub id: i64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The gateway it came to.
    pub gateway: String,
    /// The peer's address, when known.
    pub remote_addr: Option<String>,
    /// HTTP method.
    pub method: String,
    /// `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The raw body, exactly as received.
    pub body: Vec<u8>,
    /// The decoded fields (a JSON object of strings).
    pub fields: serde_json::Value,
    /// Verification state.
    pub verification: VerificationStatus,
    /// Flag names, sorted.
    pub flags: Vec<String>,
    /// The payment it concerns, once known.
    pub payment_id: Option<String>,
    /// What processing it did, or why not.
    pub outcome: Option<String>,
    /// A notification, or a gateway's answer to a call we made.
    pub direction: Direction,
    /// The request headers a verification needs (a JSON object), when recorded.
    pub headers: Option<serde_json::Value>,
}

impl TryFrom<LogRecord> for LogRow {
    type Error = StoreError;
    fn try_from(r: LogRecord) -> Result<Self, StoreError> {
        Ok(LogRow {
            id: r.id,
            received_at: utc(r.received_at),
            gateway: r.gateway,
            remote_addr: r.remote_addr,
            method: r.method,
            content_type: r.content_type,
            body: r.body,
            fields: serde_json::from_str(&r.fields).map_err(|e| corrupt("gateway_messages.fields", e))?,
            verification: serde_json::from_value(serde_json::Value::String(r.verification))
                .map_err(|e| corrupt("gateway_messages.verification", e))?,
            flags: parse_flags(&r.flags)?,
            payment_id: r.payment_id,
            outcome: r.outcome,
            direction: serde_json::from_value(serde_json::Value::String(r.direction))
                .map_err(|e| corrupt("gateway_messages.direction", e))?,
            headers: r
                .headers
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("gateway_messages.headers", e))?,
        })
    }
}

fn parse_flags(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("gateway_messages.flags", e))
}

/// The union of stored flags (a JSON array of names) and `new`, sorted and deduplicated, as JSON text.
pub(crate) fn merge_flags(stored: &str, new: &[Flag]) -> Result<String, StoreError> {
    let mut names = parse_flags(stored)?;
    names.extend(new.iter().map(|f| f.as_str().to_owned()));
    names.sort();
    names.dedup();
    to_json_text("flags", &names)
}

/// A new `applied_notifications` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = applied_notifications)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct AppliedRow {
    pub gateway: String,
    pub idempotency_key: String,
    pub message_id: i64,
    pub payment_id: String,
    pub applied_at: NaiveDateTime,
}

/// A new `events` row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewEventRow {
    pub id: String,
    pub payment_id: String,
    pub kind: String,
    pub payload: String,
    pub gateway_message_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub sequence: i64,
}

impl NewEventRow {
    /// The outbox row of an event; the payload is the whole event.
    pub fn new(e: &Event) -> Result<Self, StoreError> {
        Ok(NewEventRow {
            id: e.id.clone(),
            payment_id: e.payment.id.as_str().to_owned(),
            kind: e.kind.as_str().to_owned(),
            payload: to_json_text("event", e)?,
            gateway_message_id: e.gateway_message_id,
            created_at: db_time(e.created_at),
            sequence: i64::try_from(e.sequence)
                .map_err(|_| StoreError::Database("event sequence out of range".into()))?,
        })
    }
}

/// An event read back from its payload.
pub(crate) fn event_from_payload(payload: &str) -> Result<Event, StoreError> {
    serde_json::from_str(payload).map_err(|e| corrupt("events.payload", e))
}

/// A `refunds` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refunds)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct RefundRow {
    pub id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub state: String,
    pub origin: String,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub gateway_refund_id: Option<String>,
    pub failure_reason: Option<String>,
    pub attempts: i32,
    pub first_sent_at: Option<NaiveDateTime>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl RefundRow {
    /// The row holding `r`.
    pub fn of(r: &StoredRefund) -> Result<Self, StoreError> {
        Ok(RefundRow {
            id: r.id.as_str().to_owned(),
            payment_id: r.payment_id.as_str().to_owned(),
            amount_minor: r.amount.minor_units(),
            currency: r.amount.currency().code().to_owned(),
            reason: r.reason.clone(),
            state: r.state.as_str().to_owned(),
            origin: r.origin.as_str().to_owned(),
            idempotency_key: r.idempotency_key.clone(),
            request_hash: r.request_hash.clone(),
            gateway_refund_id: r.gateway_refund_id.clone(),
            failure_reason: r.failure_reason.clone(),
            attempts: i32::try_from(r.attempts)
                .map_err(|_| StoreError::Database("refund attempts out of range".into()))?,
            first_sent_at: r.first_sent_at.map(db_time),
            next_attempt_at: r.next_attempt_at.map(db_time),
            created_at: db_time(r.created_at),
            updated_at: db_time(r.updated_at),
        })
    }

    /// The refund this row holds.
    pub fn into_refund(self) -> Result<StoredRefund, StoreError> {
        let currency: Currency = self.currency.parse().map_err(|e| corrupt("refunds.currency", e))?;
        Ok(StoredRefund {
            id: RefundId::parse(&self.id).map_err(|e| corrupt("refunds.id", e))?,
            payment_id: PaymentId::parse(&self.payment_id).map_err(|e| corrupt("refunds.payment_id", e))?,
            amount: Money::from_minor(self.amount_minor, currency),
            reason: self.reason,
            state: self.state.parse()?,
            origin: self.origin.parse()?,
            idempotency_key: self.idempotency_key,
            request_hash: self.request_hash,
            gateway_refund_id: self.gateway_refund_id,
            failure_reason: self.failure_reason,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("refunds.attempts", e))?,
            first_sent_at: self.first_sent_at.map(utc),
            next_attempt_at: self.next_attempt_at.map(utc),
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_merge_as_a_sorted_set() {
        let merged = merge_flags(
            r#"["unknown_charset","duplicate"]"#,
            &[Flag::Duplicate, Flag::AmountMismatch],
        );
        assert_eq!(merged.unwrap(), r#"["amount_mismatch","duplicate","unknown_charset"]"#);
    }

    #[test]
    fn unreadable_stored_flags_are_corruption_not_a_panic() {
        assert!(matches!(merge_flags("not json", &[]), Err(StoreError::Corrupt(_))));
    }
}
