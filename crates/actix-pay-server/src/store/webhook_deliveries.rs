//! Webhook deliveries: one row per event and endpoint, claimed by one worker at a time, with every attempt
//! recorded. See `crate::webhooks` for the worker and `docs/operations.md` for reading the tables.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use payment_buttons::diesel::{AnyConnection, Tx, db_time, sqlite_params, utc};
use payment_buttons::store::StoreError;

use super::ServerStore;
use super::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its first attempt, a retry, or an earlier event of its payment.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after `retry_for`.
    Failed,
    /// The endpoint answered `410 Gone` (to this or an earlier delivery) and is disabled.
    Disabled,
}

impl DeliveryStatus {
    /// The name in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            "disabled" => Ok(DeliveryStatus::Disabled),
            other => Err(StoreError::Corrupt(format!("webhook_deliveries.status {other:?}"))),
        }
    }
}

/// A `webhook_deliveries` row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// Row id.
    pub id: i64,
    /// The outbox row of the event.
    pub event_seq: i64,
    /// The event id (also the `webhook-id`).
    pub event_id: String,
    /// The payment the event is about.
    pub payment_id: String,
    /// The endpoint's URL.
    pub endpoint: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the row was written (the start of `retry_for`).
    pub created_at: DateTime<Utc>,
    /// When it may be tried next.
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, when there was an answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered, given up or disabled.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A `webhook_attempts` row.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    /// The delivery.
    pub delivery_id: i64,
    /// When the request was sent.
    pub attempted_at: DateTime<Utc>,
    /// The answer's status, when there was one.
    pub http_status: Option<u16>,
    /// Time until the answer (or the failure), in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, without secrets or response bodies.
    pub error: Option<String>,
}

/// A delivery claimed by a worker: everything needed to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// Row id.
    pub id: i64,
    /// The event id.
    pub event_id: String,
    /// The endpoint's URL.
    pub endpoint: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// The body to post: the event's JSON exactly as stored in the outbox.
    pub payload: String,
}

/// What an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx answer.
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// `retry_for` has passed: give up on this delivery.
    GaveUp,
    /// `410 Gone`: disable the endpoint.
    Gone,
}

/// One attempt to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: i64,
    /// When the request was sent.
    pub attempted_at: DateTime<Utc>,
    /// The answer's status, when there was one.
    pub http_status: Option<u16>,
    /// Time until the answer or the failure.
    pub latency_ms: u64,
    /// What went wrong (no secrets).
    pub error: Option<String>,
    /// What it decided.
    pub result: AttemptResult,
}

/// Due, unclaimed, pending deliveries of one endpoint whose payment has no earlier pending delivery to it,
/// on an endpoint that is not disabled. `$1` = lease end, `$2` = now, `$3` = endpoint, `$4` = limit.
const CLAIMABLE: &str = "SELECT d.id FROM webhook_deliveries d \
     WHERE d.endpoint = $3 AND d.status = 'pending' AND d.next_attempt_at <= $2 \
       AND (d.claimed_until IS NULL OR d.claimed_until < $2) \
       AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.url = d.endpoint AND w.disabled_at IS NOT NULL) \
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries b WHERE b.endpoint = d.endpoint \
                       AND b.payment_id = d.payment_id AND b.status = 'pending' AND b.event_seq < d.event_seq) \
     ORDER BY d.event_seq LIMIT $4";

/// One delivery row per endpoint for an outbox event; an existing row is left alone, so a repeated fan-out
/// changes nothing. `$1` = event id, `$2` = endpoint, `$3` = now.
const FAN_OUT: &str = "INSERT INTO webhook_deliveries \
       (event_seq, event_id, payment_id, endpoint, status, attempts, created_at, next_attempt_at) \
     SELECT e.seq, e.id, e.payment_id, $2, \
       CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.url = $2 AND w.disabled_at IS NOT NULL) \
            THEN 'disabled' ELSE 'pending' END, \
       0, $3, $3 \
     FROM events e WHERE e.id = $1 \
     ON CONFLICT (event_seq, endpoint) DO NOTHING";

const DISABLE_ENDPOINT: &str = "INSERT INTO webhook_endpoints (url, disabled_at, disabled_reason) VALUES ($1, $2, $3) \
     ON CONFLICT (url) DO UPDATE SET disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason";

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The columns of a [`DeliveryRow`], in [`RowTuple`]'s order.
#[allow(clippy::type_complexity)]
pub(super) const DELIVERY_COLUMNS: (
    webhook_deliveries::id,
    webhook_deliveries::event_seq,
    webhook_deliveries::event_id,
    webhook_deliveries::payment_id,
    webhook_deliveries::endpoint,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::created_at,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_attempt_at,
    webhook_deliveries::last_status,
    webhook_deliveries::last_error,
    webhook_deliveries::finished_at,
) = (
    webhook_deliveries::id,
    webhook_deliveries::event_seq,
    webhook_deliveries::event_id,
    webhook_deliveries::payment_id,
    webhook_deliveries::endpoint,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::created_at,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_attempt_at,
    webhook_deliveries::last_status,
    webhook_deliveries::last_error,
    webhook_deliveries::finished_at,
);

pub(super) type RowTuple = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i32,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i32>,
    Option<String>,
    Option<NaiveDateTime>,
);

/// `webhook_attempts` columns as read: delivery, time, status, latency, error.
type AttemptTuple = (i64, NaiveDateTime, Option<i32>, i64, Option<String>);

pub(super) fn row(t: RowTuple) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: t.0,
        event_seq: t.1,
        event_id: t.2,
        payment_id: t.3,
        endpoint: t.4,
        status: DeliveryStatus::parse(&t.5)?,
        attempts: u32::try_from(t.6).unwrap_or(0),
        created_at: utc(t.7),
        next_attempt_at: utc(t.8),
        last_attempt_at: t.9.map(utc),
        last_status: t.10.and_then(|s| u16::try_from(s).ok()),
        last_error: t.11,
        finished_at: t.12.map(utc),
    })
}

fn fan_out(tx: &mut Tx<'_>, event_id: &str, endpoints: &[String], now: NaiveDateTime) -> Result<usize, StoreError> {
    let conn = tx.conn();
    let mut inserted = 0;
    for endpoint in endpoints {
        inserted += match conn {
            AnyConnection::Postgresql(c) => diesel::sql_query(FAN_OUT)
                .bind::<Text, _>(event_id)
                .bind::<Text, _>(endpoint)
                .bind::<Timestamp, _>(now)
                .execute(c)?,
            AnyConnection::Sqlite(c) => diesel::sql_query(sqlite_params(FAN_OUT))
                .bind::<Text, _>(event_id)
                .bind::<Text, _>(endpoint)
                .bind::<Timestamp, _>(now)
                .execute(c)?,
        };
    }
    Ok(inserted)
}

fn claim(
    tx: &mut Tx<'_>,
    endpoint: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let conn = tx.conn();
    let update = format!("UPDATE webhook_deliveries SET claimed_until = $1 WHERE id IN ({CLAIMABLE}");
    let ids: Vec<Id> = match conn {
        // SKIP LOCKED: two instances claiming at once never wait for each other nor take the same row.
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(format!("{update} FOR UPDATE OF d SKIP LOCKED) RETURNING id"))
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(endpoint)
                .bind::<BigInt, _>(limit)
                .load(c)?
        }
        // The immediate transaction holds SQLite's write lock: nobody claims in between.
        AnyConnection::Sqlite(c) => diesel::sql_query(sqlite_params(&format!("{update}) RETURNING id")))
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(endpoint)
            .bind::<BigInt, _>(limit)
            .load(c)?,
    };
    let mut claimed = Vec::with_capacity(ids.len());
    for Id { id } in ids {
        let (event_seq, event_id, endpoint, attempts, created_at): (i64, String, String, i32, NaiveDateTime) =
            webhook_deliveries::table
                .find(id)
                .select((
                    webhook_deliveries::event_seq,
                    webhook_deliveries::event_id,
                    webhook_deliveries::endpoint,
                    webhook_deliveries::attempts,
                    webhook_deliveries::created_at,
                ))
                .first(conn)?;
        let payload: String = events::table.find(event_seq).select(events::payload).first(conn)?;
        claimed.push(ClaimedDelivery {
            id,
            event_id,
            endpoint,
            attempts: u32::try_from(attempts).unwrap_or(0),
            created_at: utc(created_at),
            payload,
        });
    }
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

fn record(tx: &mut Tx<'_>, r: &AttemptRecord) -> Result<(), StoreError> {
    let at = db_time(r.attempted_at);
    let status = r.http_status.map(i32::from);
    let conn = tx.conn();
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::delivery_id.eq(r.delivery_id),
            webhook_attempts::attempted_at.eq(at),
            webhook_attempts::http_status.eq(status),
            webhook_attempts::latency_ms.eq(i64::try_from(r.latency_ms).unwrap_or(i64::MAX)),
            webhook_attempts::error.eq(r.error.as_deref()),
        ))
        .execute(conn)?;
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(r.delivery_id))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()));
    let (new_status, next, finished) = match r.result {
        AttemptResult::Delivered => (DeliveryStatus::Delivered, None, Some(at)),
        AttemptResult::Retry(next) => (DeliveryStatus::Pending, Some(db_time(next)), None),
        AttemptResult::GaveUp => (DeliveryStatus::Failed, None, Some(at)),
        AttemptResult::Gone => (DeliveryStatus::Disabled, None, Some(at)),
    };
    diesel::update(target)
        .set((
            webhook_deliveries::status.eq(new_status.as_str()),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::last_attempt_at.eq(Some(at)),
            webhook_deliveries::last_status.eq(status),
            webhook_deliveries::last_error.eq(r.error.as_deref()),
            webhook_deliveries::finished_at.eq(finished),
        ))
        .execute(conn)?;
    if let Some(next) = next {
        diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(r.delivery_id)))
            .set(webhook_deliveries::next_attempt_at.eq(next))
            .execute(conn)?;
    }
    if r.result == AttemptResult::Gone {
        let endpoint: String = webhook_deliveries::table
            .find(r.delivery_id)
            .select(webhook_deliveries::endpoint)
            .first(conn)?;
        disable(conn, &endpoint, at, "the endpoint answered 410 Gone")?;
    }
    Ok(())
}

/// Marks an endpoint disabled and every pending delivery to it `disabled`.
fn disable(conn: &mut AnyConnection, endpoint: &str, at: NaiveDateTime, reason: &str) -> Result<(), StoreError> {
    match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(DISABLE_ENDPOINT)
            .bind::<Text, _>(endpoint)
            .bind::<Timestamp, _>(at)
            .bind::<Text, _>(reason)
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::sql_query(sqlite_params(DISABLE_ENDPOINT))
            .bind::<Text, _>(endpoint)
            .bind::<Timestamp, _>(at)
            .bind::<Text, _>(reason)
            .execute(c)?,
    };
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint.eq(endpoint))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Disabled.as_str()),
        webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::finished_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(())
}

impl ServerStore {
    /// Writes one pending delivery of event `event_id` per endpoint URL (or a `disabled` one for a disabled
    /// endpoint). Idempotent: a delivery that exists is left alone. Returns how many rows were written.
    pub async fn fan_out_webhook(
        &self,
        event_id: &str,
        endpoints: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let event_id = event_id.to_owned();
        let now = db_time(now);
        self.write(move |tx: &mut Tx<'_>| fan_out(tx, &event_id, &endpoints, now))
            .await
    }

    /// Claims up to `limit` deliveries to `endpoint` that are due at `now`, until `lease_until`, oldest
    /// event first. Only the earliest pending delivery of each payment to the endpoint is ever claimable,
    /// so that events of a payment arrive in order; deliveries to a disabled endpoint are never claimed.
    pub async fn claim_webhook_deliveries(
        &self,
        endpoint: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let endpoint = endpoint.to_owned();
        let (now, lease_until) = (db_time(now), db_time(lease_until));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx: &mut Tx<'_>| claim(tx, &endpoint, now, lease_until, limit))
            .await
    }

    /// Records an attempt and its result in one transaction. A `410 Gone` also disables the endpoint and
    /// every pending delivery to it. A delivery that is no longer pending is not changed (the attempt row is
    /// still written).
    pub async fn record_webhook_attempt(&self, attempt: AttemptRecord) -> Result<(), StoreError> {
        self.write(move |tx: &mut Tx<'_>| record(tx, &attempt)).await
    }

    /// Every delivery, in row order (for operator pages and tests).
    pub async fn webhook_deliveries(&self) -> Result<Vec<DeliveryRow>, StoreError> {
        self.with_connection(|conn: &mut AnyConnection| {
            let rows: Vec<RowTuple> = webhook_deliveries::table
                .order(webhook_deliveries::id.asc())
                .select(DELIVERY_COLUMNS)
                .load(conn)?;
            rows.into_iter().map(row).collect()
        })
        .await
    }

    /// The attempts of one delivery, oldest first.
    pub async fn webhook_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        self.with_connection(move |conn: &mut AnyConnection| {
            let rows: Vec<AttemptTuple> = webhook_attempts::table
                .filter(webhook_attempts::delivery_id.eq(delivery_id))
                .order(webhook_attempts::id.asc())
                .select((
                    webhook_attempts::delivery_id,
                    webhook_attempts::attempted_at,
                    webhook_attempts::http_status,
                    webhook_attempts::latency_ms,
                    webhook_attempts::error,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(delivery_id, at, status, latency, error)| AttemptRow {
                    delivery_id,
                    attempted_at: utc(at),
                    http_status: status.and_then(|s| u16::try_from(s).ok()),
                    latency_ms: u64::try_from(latency).unwrap_or(0),
                    error,
                })
                .collect())
        })
        .await
    }

    /// When and why an endpoint was disabled, if it is.
    pub async fn webhook_endpoint_disabled(&self, url: &str) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
        let url = url.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            let found: Option<(Option<NaiveDateTime>, Option<String>)> = webhook_endpoints::table
                .find(&url)
                .select((webhook_endpoints::disabled_at, webhook_endpoints::disabled_reason))
                .first(conn)
                .optional()?;
            Ok(match found {
                Some((Some(at), reason)) => Some((utc(at), reason.unwrap_or_default())),
                _ => None,
            })
        })
        .await
    }
}
