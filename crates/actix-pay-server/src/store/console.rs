//! The operator console's reads and actions over the core's and the server's tables: payments and
//! gateway messages with filters and keyset pages, webhook deliveries per payment and per endpoint, the
//! operator's resends, and the Librement entries of a payment.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use payment_buttons::button::Email;
use payment_buttons::diesel::{AnyConnection, Tx, db_time, utc};
use payment_buttons::store::StoreError;

use super::ServerStore;
use super::schema::{
    gateway_messages, librement_entries, librement_transactions, message_queue, payments, webhook_attempts,
    webhook_deliveries, webhook_endpoints,
};
use super::webhook_deliveries::{DELIVERY_COLUMNS, DeliveryRow, DeliveryStatus, RowTuple, row};

/// The most rows a page or an export holds.
pub const MAX_ROWS: i64 = 100_000;

/// Which payments to list (every field optional), newest first.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// `created`, `accepted`...
    pub state: Option<String>,
    /// `paypal`, `cmcic`...
    pub gateway: Option<String>,
    /// The shop's reference, exactly.
    pub order_reference: Option<String>,
    /// The buyer's e-mail as the button gave it (ASCII case-insensitive, exact; the indexed `payments.email`).
    pub email: Option<Email>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only payments with a flagged gateway message.
    pub flagged: bool,
    /// Only payments in one currency, between amount bounds.
    pub amount: Option<AmountFilter>,
    /// Keyset: only payments older than this (created_at, id).
    pub before: Option<(DateTime<Utc>, String)>,
    /// At most this many (capped at [`MAX_ROWS`]).
    pub limit: i64,
}

/// Payments in one currency, with inclusive bounds in its minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountFilter {
    /// ISO 4217 code.
    pub currency: String,
    /// At least this many minor units.
    pub min: Option<i64>,
    /// At most this many minor units.
    pub max: Option<i64>,
}

/// One payment in the list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PaymentSummary {
    /// Id.
    pub id: String,
    /// Gateway.
    pub gateway: String,
    /// The shop's reference.
    pub order_reference: String,
    /// The buyer's e-mail from the button, when it gave one.
    pub email: String,
    /// Price in minor units.
    pub amount_minor: i64,
    /// Currency code.
    pub currency: String,
    /// State.
    pub state: String,
    /// When the buyer pressed the button.
    pub created_at: DateTime<Utc>,
}

/// Which gateway messages to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// The gateway (route) it came to.
    pub gateway: Option<String>,
    /// `pending`, `verified`, `invalid`, `bad_mac`, `error`.
    pub verification: Option<String>,
    /// Only flagged ones.
    pub flagged: bool,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
    /// Keyset: ids below this.
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// One gateway message in the list (no body).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageSummary {
    /// Log id.
    pub id: i64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Gateway.
    pub gateway: String,
    /// Verification.
    pub verification: String,
    /// Flags, JSON array text.
    pub flags: String,
    /// Payment, once known.
    pub payment_id: Option<String>,
    /// What applying it did.
    pub outcome: Option<String>,
}

/// An endpoint's recent deliveries, counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EndpointStats {
    /// Delivered since the window's start.
    pub delivered: i64,
    /// Given up since the window's start.
    pub failed: i64,
    /// Waiting now.
    pub pending: i64,
    /// The newest error of an attempt, with its time.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// When and why it was disabled.
    pub disabled: Option<(DateTime<Utc>, String)>,
}

/// One Librement ledger entry about a payment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerLine {
    /// The transaction.
    pub transaction_id: i64,
    /// Its idempotency key (`purchase:{payment}`...).
    pub key: String,
    /// Its kind.
    pub kind: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The account.
    pub account: String,
    /// Signed amount in minor units.
    pub amount_minor: i64,
    /// Currency code.
    pub currency: String,
}

type PaymentTuple = (String, String, String, String, i64, String, String, NaiveDateTime);

impl ServerStore {
    /// Payments matching `filter`, newest first (created_at, then id, descending: a keyset that stays
    /// fast however many pages in).
    pub async fn console_payments(&self, filter: PaymentFilter) -> Result<Vec<PaymentSummary>, StoreError> {
        self.with_connection(move |conn: &mut AnyConnection| {
            let mut q = payments::table.into_boxed();
            if let Some(state) = filter.state {
                q = q.filter(payments::state.eq(state));
            }
            if let Some(gateway) = filter.gateway {
                q = q.filter(payments::gateway.eq(gateway));
            }
            if let Some(reference) = filter.order_reference {
                q = q.filter(payments::order_reference.eq(reference));
            }
            if let Some(email) = &filter.email {
                q = q.filter(payments::email.eq(email.search_key()));
            }
            if let Some(AmountFilter { currency, min, max }) = filter.amount {
                q = q.filter(payments::currency.eq(currency));
                if let Some(min) = min {
                    q = q.filter(payments::amount_minor.ge(min));
                }
                if let Some(max) = max {
                    q = q.filter(payments::amount_minor.le(max));
                }
            }
            if let Some(from) = filter.from {
                q = q.filter(payments::created_at.ge(db_time(from)));
            }
            if let Some(to) = filter.to {
                q = q.filter(payments::created_at.lt(db_time(to)));
            }
            if filter.flagged {
                let flagged = gateway_messages::table
                    .filter(gateway_messages::flags.ne("[]"))
                    .filter(gateway_messages::payment_id.is_not_null())
                    .select(gateway_messages::payment_id.assume_not_null());
                q = q.filter(payments::id.eq_any(flagged));
            }
            if let Some((at, id)) = filter.before {
                let at = db_time(at);
                // `created_at <= at` alone bounds the range scan of the (created_at, id) index; without it
                // both databases walked the index from the newest row through every newer page (0.1 s on
                // SQLite, 0.4 s on PostgreSQL half-way into a million payments: pay-bench console).
                q = q.filter(payments::created_at.le(at)).filter(
                    payments::created_at
                        .lt(at)
                        .or(payments::created_at.eq(at).and(payments::id.lt(id))),
                );
            }
            let rows: Vec<PaymentTuple> = q
                .order((payments::created_at.desc(), payments::id.desc()))
                .limit(filter.limit.clamp(1, MAX_ROWS))
                .select((
                    payments::id,
                    payments::gateway,
                    payments::order_reference,
                    payments::button,
                    payments::amount_minor,
                    payments::currency,
                    payments::state,
                    payments::created_at,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, gateway, order_reference, button, amount_minor, currency, state, created_at)| {
                        // Shown as the button gave it, not in its folded search form.
                        let email = serde_json::from_str::<serde_json::Value>(&button)
                            .ok()
                            .and_then(|b| b.get("email").and_then(|e| e.as_str()).map(str::to_owned))
                            .unwrap_or_default();
                        PaymentSummary {
                            id,
                            gateway,
                            order_reference,
                            email,
                            amount_minor,
                            currency,
                            state,
                            created_at: utc(created_at),
                        }
                    },
                )
                .collect())
        })
        .await
    }

    /// Gateway messages matching `filter`, newest first.
    pub async fn console_messages(&self, filter: MessageFilter) -> Result<Vec<MessageSummary>, StoreError> {
        self.with_connection(move |conn: &mut AnyConnection| {
            let mut q = gateway_messages::table.into_boxed();
            if let Some(gateway) = filter.gateway {
                q = q.filter(gateway_messages::gateway.eq(gateway));
            }
            if let Some(verification) = filter.verification {
                q = q.filter(gateway_messages::verification.eq(verification));
            }
            if filter.flagged {
                q = q.filter(gateway_messages::flags.ne("[]"));
            }
            if let Some(from) = filter.from {
                q = q.filter(gateway_messages::received_at.ge(db_time(from)));
            }
            if let Some(to) = filter.to {
                q = q.filter(gateway_messages::received_at.lt(db_time(to)));
            }
            if let Some(before) = filter.before {
                q = q.filter(gateway_messages::id.lt(before));
            }
            type Tuple = (
                i64,
                NaiveDateTime,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
            );
            let rows: Vec<Tuple> = q
                .order(gateway_messages::id.desc())
                .limit(filter.limit.clamp(1, MAX_ROWS))
                .select((
                    gateway_messages::id,
                    gateway_messages::received_at,
                    gateway_messages::gateway,
                    gateway_messages::verification,
                    gateway_messages::flags,
                    gateway_messages::payment_id,
                    gateway_messages::outcome,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, received_at, gateway, verification, flags, payment_id, outcome)| MessageSummary {
                        id,
                        received_at: utc(received_at),
                        gateway,
                        verification,
                        flags,
                        payment_id,
                        outcome,
                    },
                )
                .collect())
        })
        .await
    }

    /// The webhook deliveries of one payment's events, oldest first.
    pub async fn webhook_deliveries_for_payment(&self, payment_id: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let payment_id = payment_id.to_owned();
        self.with_connection(move |conn: &mut AnyConnection| {
            let rows: Vec<RowTuple> = webhook_deliveries::table
                .filter(webhook_deliveries::payment_id.eq(payment_id))
                .order(webhook_deliveries::id.asc())
                .select(DELIVERY_COLUMNS)
                .load(conn)?;
            rows.into_iter().map(row).collect()
        })
        .await
    }

    /// Deliveries that failed or wait after a failed attempt, newest first, at most `limit`.
    pub async fn failing_webhook_deliveries(&self, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        self.with_connection(move |conn: &mut AnyConnection| {
            let rows: Vec<RowTuple> = webhook_deliveries::table
                .filter(
                    webhook_deliveries::status
                        .eq_any([DeliveryStatus::Failed.as_str(), DeliveryStatus::Disabled.as_str()])
                        .or(webhook_deliveries::status
                            .eq(DeliveryStatus::Pending.as_str())
                            .and(webhook_deliveries::attempts.gt(0))),
                )
                .order(webhook_deliveries::id.desc())
                .limit(limit)
                .select(DELIVERY_COLUMNS)
                .load(conn)?;
            rows.into_iter().map(row).collect()
        })
        .await
    }

    /// The counts and last error of the deliveries to `endpoint` written since `since`.
    pub async fn webhook_endpoint_stats(
        &self,
        endpoint: &str,
        since: DateTime<Utc>,
    ) -> Result<EndpointStats, StoreError> {
        let endpoint = endpoint.to_owned();
        let since = db_time(since);
        self.with_connection(move |conn: &mut AnyConnection| {
            let recent = || {
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint.eq(endpoint.clone()))
                    .filter(webhook_deliveries::created_at.ge(since))
            };
            let count = |status: DeliveryStatus, conn: &mut AnyConnection| -> QueryResult<i64> {
                recent()
                    .filter(webhook_deliveries::status.eq(status.as_str()))
                    .count()
                    .get_result(conn)
            };
            let last_error: Option<(NaiveDateTime, Option<String>)> = webhook_attempts::table
                .inner_join(webhook_deliveries::table)
                .filter(webhook_deliveries::endpoint.eq(endpoint.clone()))
                .filter(webhook_attempts::error.is_not_null())
                .order(webhook_attempts::id.desc())
                .select((webhook_attempts::attempted_at, webhook_attempts::error))
                .first(conn)
                .optional()?;
            let disabled: Option<(Option<NaiveDateTime>, Option<String>)> = webhook_endpoints::table
                .find(endpoint.clone())
                .select((webhook_endpoints::disabled_at, webhook_endpoints::disabled_reason))
                .first(conn)
                .optional()?;
            Ok(EndpointStats {
                delivered: count(DeliveryStatus::Delivered, conn)?,
                failed: count(DeliveryStatus::Failed, conn)?,
                pending: count(DeliveryStatus::Pending, conn)?,
                last_error: last_error.map(|(at, e)| (utc(at), e.unwrap_or_default())),
                disabled: match disabled {
                    Some((Some(at), reason)) => Some((utc(at), reason.unwrap_or_default())),
                    _ => None,
                },
            })
        })
        .await
    }

    /// An operator's "resend": the delivery becomes pending, due now, with a new `retry_for` period
    /// (`created_at` restarts, as the SQL of docs/operations.md does). `Ok(false)` when there is no such
    /// delivery, or it is pending already, or its endpoint is disabled.
    pub async fn resend_webhook_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = db_time(now);
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            let endpoint: Option<String> = webhook_deliveries::table
                .find(id)
                .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
                .select(webhook_deliveries::endpoint)
                .first(conn)
                .optional()?;
            let Some(endpoint) = endpoint else { return Ok(false) };
            if endpoint_disabled(conn, &endpoint)? {
                return Ok(false);
            }
            let n = diesel::update(webhook_deliveries::table.find(id))
                .set(pending_again(now))
                .execute(conn)?;
            Ok::<_, StoreError>(n == 1)
        })
        .await
    }

    /// "Resend this payment's events to an endpoint": every delivery of the payment's events to
    /// `endpoint` that is not pending (delivered ones too: the receiver may have lost them) becomes pending,
    /// due now. Returns how many. Nothing when the endpoint is disabled.
    pub async fn resend_payment_deliveries(
        &self,
        payment_id: &str,
        endpoint: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let (payment_id, endpoint) = (payment_id.to_owned(), endpoint.to_owned());
        let now = db_time(now);
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            if endpoint_disabled(conn, &endpoint)? {
                return Ok(0);
            }
            let n = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::payment_id.eq(&payment_id))
                    .filter(webhook_deliveries::endpoint.eq(&endpoint))
                    .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str())),
            )
            .set(pending_again(now))
            .execute(conn)?;
            Ok::<_, StoreError>(n)
        })
        .await
    }

    /// "Resend every failed delivery since ...": every `failed` delivery to `endpoint` written since
    /// `since` becomes pending, due now. Returns how many. Nothing when the endpoint is disabled.
    pub async fn resend_failed_webhook_deliveries(
        &self,
        endpoint: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let endpoint = endpoint.to_owned();
        let (since, now) = (db_time(since), db_time(now));
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            if endpoint_disabled(conn, &endpoint)? {
                return Ok(0);
            }
            let n = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint.eq(&endpoint))
                    .filter(webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str()))
                    .filter(webhook_deliveries::created_at.ge(since)),
            )
            .set(pending_again(now))
            .execute(conn)?;
            Ok::<_, StoreError>(n)
        })
        .await
    }

    /// Re-enables a disabled endpoint: its `disabled` deliveries become pending, due now. Returns how many
    /// deliveries were revived, `None` when the endpoint was not disabled.
    pub async fn enable_webhook_endpoint(
        &self,
        endpoint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let endpoint = endpoint.to_owned();
        let now = db_time(now);
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            if !endpoint_disabled(conn, &endpoint)? {
                return Ok(None);
            }
            diesel::update(webhook_endpoints::table.find(&endpoint))
                .set((
                    webhook_endpoints::disabled_at.eq(None::<NaiveDateTime>),
                    webhook_endpoints::disabled_reason.eq(None::<String>),
                ))
                .execute(conn)?;
            let n = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint.eq(&endpoint))
                    .filter(webhook_deliveries::status.eq(DeliveryStatus::Disabled.as_str())),
            )
            .set(pending_again(now))
            .execute(conn)?;
            Ok::<_, StoreError>(Some(n))
        })
        .await
    }

    /// An operator's "verify again" for a message whose verification ended in `error` (the postback failed
    /// for days, the gateway was unreachable): it goes back to the queue, due now, `pending`. `Ok(false)`
    /// for any other message, or one that is queued already, or one flagged `oversize` (never verified:
    /// only part of its body was kept).
    pub async fn verify_message_again(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = db_time(now);
        self.write(move |tx: &mut Tx<'_>| {
            let conn = tx.conn();
            let row: Option<(String, String)> = gateway_messages::table
                .find(id)
                .select((gateway_messages::verification, gateway_messages::flags))
                .first(conn)
                .optional()?;
            let Some((verification, flags)) = row else {
                return Ok(false);
            };
            let queued: i64 = message_queue::table
                .filter(message_queue::message_id.eq(id))
                .count()
                .get_result(conn)?;
            if verification != "error" || flags.contains("\"oversize\"") || queued > 0 {
                return Ok(false);
            }
            diesel::update(gateway_messages::table.find(id))
                .set((
                    gateway_messages::verification.eq("pending"),
                    gateway_messages::outcome.eq(Some("queued again by an operator")),
                ))
                .execute(conn)?;
            diesel::insert_into(message_queue::table)
                .values((
                    message_queue::message_id.eq(id),
                    message_queue::attempts.eq(0),
                    message_queue::next_attempt_at.eq(now),
                ))
                .execute(conn)?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    /// The Librement ledger entries of the transactions about a payment (keys ending in `:{payment}`).
    pub async fn ledger_lines_for_payment(&self, payment_id: &str) -> Result<Vec<LedgerLine>, StoreError> {
        let pattern = format!(
            "%:{}",
            payment_id.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        self.with_connection(move |conn: &mut AnyConnection| {
            type Tuple = (i64, String, String, NaiveDateTime, String, i64, String);
            let rows: Vec<Tuple> = librement_entries::table
                .inner_join(librement_transactions::table)
                .filter(librement_transactions::idempotency_key.like(pattern).escape('\\'))
                .order((librement_transactions::id.asc(), librement_entries::id.asc()))
                .select((
                    librement_transactions::id,
                    librement_transactions::idempotency_key,
                    librement_transactions::kind,
                    librement_transactions::created_at,
                    librement_entries::account,
                    librement_entries::amount_minor,
                    librement_entries::currency,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(
                    |(transaction_id, key, kind, at, account, amount_minor, currency)| LedgerLine {
                        transaction_id,
                        key,
                        kind,
                        created_at: utc(at),
                        account,
                        amount_minor,
                        currency,
                    },
                )
                .collect())
        })
        .await
    }
}

/// True when `endpoint` is disabled now.
fn endpoint_disabled(conn: &mut AnyConnection, endpoint: &str) -> QueryResult<bool> {
    let at: Option<Option<NaiveDateTime>> = webhook_endpoints::table
        .find(endpoint)
        .select(webhook_endpoints::disabled_at)
        .first(conn)
        .optional()?;
    Ok(matches!(at, Some(Some(_))))
}

/// The columns a resent delivery gets: pending, due at `now`, unclaimed, unfinished, its `retry_for`
/// period starting again at `now`. Receivers deduplicate on `webhook-id`: sending again is safe.
#[allow(clippy::type_complexity)]
fn pending_again(
    now: NaiveDateTime,
) -> (
    diesel::dsl::Eq<webhook_deliveries::created_at, NaiveDateTime>,
    diesel::dsl::Eq<webhook_deliveries::status, &'static str>,
    diesel::dsl::Eq<webhook_deliveries::next_attempt_at, NaiveDateTime>,
    diesel::dsl::Eq<webhook_deliveries::claimed_until, Option<NaiveDateTime>>,
    diesel::dsl::Eq<webhook_deliveries::finished_at, Option<NaiveDateTime>>,
) {
    (
        webhook_deliveries::created_at.eq(now),
        webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
        webhook_deliveries::next_attempt_at.eq(now),
        webhook_deliveries::claimed_until.eq(None),
        webhook_deliveries::finished_at.eq(None),
    )
}
