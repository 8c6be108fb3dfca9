//! The console's pages: what an operator reads. Actions are in `actions`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use librement_pay::ledger::{Audit, LedgerStore};
use librement_pay::payout::{PayoutFilter, PayoutState, Payouts};
use payment_buttons::button::Email;
use payment_buttons::money::{Currency, Money};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::Store;
use serde::{Deserialize, Serialize};

use super::Console;
use super::session::{Signed, sign_in_page, signed_in};
use super::words::{language, words};
use crate::store::console::{AmountFilter, MessageFilter, PaymentFilter};

/// Rows per page.
const PAGE: i64 = 50;

/// Only `lang`.
#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The signed-in operator, or the answer to give instead: the sign-in page's address.
pub(super) async fn guard(console: &Console, req: &HttpRequest, lang: &str) -> Result<Signed, HttpResponse> {
    match signed_in(console, req).await? {
        Some(signed) => Ok(signed),
        None => {
            let target = if lang == "fr" { "/admin?lang=fr" } else { "/admin" };
            Err(HttpResponse::SeeOther().insert_header(("Location", target)).finish())
        }
    }
}

/// A page's context: language, words, the operator, the CSRF token of its forms, the section.
pub(super) fn context(console: &Console, lang: &str, signed: &Signed, section: &str) -> tera::Context {
    let mut ctx = crate::pages::context(lang, console.simulator);
    ctx.insert("w", words(lang));
    ctx.insert("operator", &signed.operator.email);
    ctx.insert("role", signed.operator.role.as_str());
    ctx.insert("may_act", &signed.operator.role.may_act());
    ctx.insert("csrf", &signed.csrf);
    ctx.insert("section", section);
    ctx.insert("lang_suffix", if lang == "fr" { "lang=fr" } else { "" });
    ctx
}

/// `GET /admin`: the sign-in form, or the payments once signed in.
pub async fn home(console: web::Data<Console>, req: HttpRequest, q: web::Query<LangQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    match signed_in(&console, &req).await {
        Ok(Some(_)) => {
            let target = if lang == "fr" {
                "/admin/payments?lang=fr"
            } else {
                "/admin/payments"
            };
            HttpResponse::SeeOther().insert_header(("Location", target)).finish()
        }
        Ok(None) => sign_in_page(&console, &req, lang, StatusCode::OK, "", None),
        Err(r) => r,
    }
}

/// An amount in minor units, written as a decimal with its currency (`12.50 EUR`).
fn amount(minor: i64, currency: &str) -> String {
    match currency.parse::<Currency>() {
        Ok(c) => format!("{} {}", Money::from_minor(minor, c), c.code()),
        Err(_) => format!("{minor} (minor units) {currency}"),
    }
}

/// A date filter: `YYYY-MM-DD`, the start of that day (UTC); `to` is the day after (inclusive bound).
fn day(text: Option<&str>, after: bool) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date YYYY-MM-DD"))?;
    let date = if after { date.succ_opt().unwrap_or(date) } else { date };
    Ok(date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The filters of `/admin/payments`.
#[derive(Deserialize, Serialize, Default)]
pub struct PaymentsQuery {
    state: Option<String>,
    gateway: Option<String>,
    order_reference: Option<String>,
    email: Option<String>,
    from: Option<String>,
    to: Option<String>,
    flagged: Option<String>,
    currency: Option<String>,
    amount_min: Option<String>,
    amount_max: Option<String>,
    before: Option<String>,
    format: Option<String>,
    lang: Option<String>,
}

/// `key=value&...` of the given filters that are set, then `extra` pairs: the one way the console writes
/// the URL of a filtered list's next page or CSV.
fn query_string(filters: &[(&str, &Option<String>)], extra: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in filters {
        if let Some(v) = non_empty(value) {
            url.append_pair(key, &v);
        }
    }
    for (key, value) in extra {
        url.append_pair(key, value);
    }
    url.finish()
}

/// The amount filter: both bounds read in `currency` (its decimals, no rounding), which is required
/// when a bound is given, since amounts of different currencies do not compare.
fn amount_bounds(
    currency: Option<String>,
    min: Option<String>,
    max: Option<String>,
) -> Result<Option<AmountFilter>, String> {
    if min.is_none() && max.is_none() {
        return Ok(currency.map(|c| AmountFilter {
            currency: c.to_uppercase(),
            min: None,
            max: None,
        }));
    }
    let currency = currency
        .ok_or("an amount filter needs a currency (EUR, USD...)")?
        .to_uppercase();
    let minor = |key: &str, text: Option<String>| -> Result<Option<i64>, String> {
        text.map(|t| {
            Money::parse(&t, &currency)
                .map(|m| m.minor_units())
                .map_err(|e| format!("{key}: {e}"))
        })
        .transpose()
    };
    Ok(Some(AmountFilter {
        min: minor("amount_min", min)?,
        max: minor("amount_max", max)?,
        currency,
    }))
}

impl PaymentsQuery {
    fn filter(&self, limit: i64) -> Result<PaymentFilter, String> {
        let before = match non_empty(&self.before) {
            Some(cursor) => {
                let (micros, id) = cursor.split_once('.').ok_or("before: not a page cursor")?;
                let micros: i64 = micros.parse().map_err(|_| "before: not a page cursor")?;
                let at = DateTime::from_timestamp_micros(micros).ok_or("before: not a page cursor")?;
                Some((at, id.to_owned()))
            }
            None => None,
        };
        Ok(PaymentFilter {
            state: non_empty(&self.state),
            gateway: non_empty(&self.gateway),
            order_reference: non_empty(&self.order_reference),
            email: non_empty(&self.email)
                .map(|e| Email::parse(&e).map_err(|reason| format!("email: {reason}")))
                .transpose()?,
            from: day(self.from.as_deref(), false).map_err(|e| format!("from: {e}"))?,
            to: day(self.to.as_deref(), true).map_err(|e| format!("to: {e}"))?,
            flagged: matches!(self.flagged.as_deref(), Some("1" | "true" | "on")),
            amount: amount_bounds(
                non_empty(&self.currency),
                non_empty(&self.amount_min),
                non_empty(&self.amount_max),
            )?,
            before,
            limit,
        })
    }

    /// This query's URL parameters with `before` replaced (and `format` dropped).
    fn with_before(&self, before: Option<&str>, format: Option<&str>) -> String {
        let extra: Vec<(&str, &str)> = [("before", before), ("format", format)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        query_string(
            &[
                ("state", &self.state),
                ("gateway", &self.gateway),
                ("order_reference", &self.order_reference),
                ("email", &self.email),
                ("from", &self.from),
                ("to", &self.to),
                ("flagged", &self.flagged),
                ("currency", &self.currency),
                ("amount_min", &self.amount_min),
                ("amount_max", &self.amount_max),
                ("lang", &self.lang),
            ],
            &extra,
        )
    }
}

/// `GET /admin/payments`: filters, keyset pages, `format=csv`.
pub async fn payments(console: web::Data<Console>, req: HttpRequest, q: web::Query<PaymentsQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let csv = q.format.as_deref() == Some("csv");
    let limit = if csv { crate::store::console::MAX_ROWS } else { PAGE + 1 };
    let filter = match q.filter(limit) {
        Ok(f) => f,
        Err(problem) => {
            let reason = format!("{}: {problem}", words(lang).bad_filter);
            return console.notice(StatusCode::BAD_REQUEST, lang, &reason);
        }
    };
    let mut rows = match console.store.console_payments(filter).await {
        Ok(rows) => rows,
        Err(e) => return console.failed(lang, &e),
    };
    if csv {
        return HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"payments.csv\""))
            .body(payments_csv(&rows));
    }
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| format!("{}.{}", r.created_at.timestamp_micros(), r.id))
        })
        .flatten()
        .map(|cursor| q.with_before(Some(&cursor), None));
    let listed: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "gateway": r.gateway, "order_reference": r.order_reference, "email": r.email,
                "amount": amount(r.amount_minor, &r.currency), "state": r.state,
                "created_at": r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            })
        })
        .collect();
    let mut ctx = context(&console, lang, &signed, "payments");
    ctx.insert("rows", &listed);
    ctx.insert("q", &*q);
    ctx.insert("flagged", &matches!(q.flagged.as_deref(), Some("1" | "true" | "on")));
    ctx.insert("next", &next);
    ctx.insert("csv_query", &q.with_before(None, Some("csv")));
    console.render(StatusCode::OK, "admin/payments.html", &ctx)
}

/// The CSV of the filtered payments (RFC 4180, CRLF); text cells that a spreadsheet would read as a
/// formula are neutralized as in Librement's statement.
fn payments_csv(rows: &[crate::store::console::PaymentSummary]) -> String {
    use librement_pay::statement::neutralized;
    let field = |cell: &str| {
        let cell = neutralized(cell);
        if cell.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", cell.replace('"', "\"\""))
        } else {
            cell
        }
    };
    let mut out = String::from("id,created_at,gateway,state,order_reference,email,amount,currency\r\n");
    for r in rows {
        let money = r
            .currency
            .parse::<Currency>()
            .map(|c| Money::from_minor(r.amount_minor, c).to_string())
            .unwrap_or_else(|_| r.amount_minor.to_string());
        let cells = [
            field(&r.id),
            r.created_at.to_rfc3339(),
            field(&r.gateway),
            field(&r.state),
            field(&r.order_reference),
            field(&r.email),
            money,
            field(&r.currency),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A JSON value, indented, for a `<pre>` (escaped by the template).
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// `GET /admin/payments/{id}`: everything about one payment.
pub async fn payment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = words(lang);
    let Ok(id) = PaymentId::parse(&path) else {
        return console.notice(StatusCode::NOT_FOUND, lang, t.not_found);
    };
    let store = &console.store;
    let payment = match store.payment(&id).await {
        Ok(Some(p)) => p,
        Ok(None) => return console.notice(StatusCode::NOT_FOUND, lang, t.not_found),
        Err(e) => return console.failed(lang, &e),
    };
    let (messages, events, deliveries, ledger) = match tokio::try_join!(
        store.messages_for_payment(&id),
        store.events_for_payment(&id),
        store.webhook_deliveries_for_payment(id.as_str()),
        store.ledger_lines_for_payment(id.as_str()),
    ) {
        Ok(all) => all,
        Err(e) => return console.failed(lang, &e),
    };
    let mut with_attempts = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let attempts = match store.webhook_attempts(d.id).await {
            Ok(a) => a,
            Err(e) => return console.failed(lang, &e),
        };
        with_attempts.push(serde_json::json!({
            "id": d.id, "event_id": d.event_id, "endpoint": endpoint_label(&console, &d.endpoint),
            "status": d.status.as_str(), "attempts": attempts.iter().map(|a| serde_json::json!({
                "at": a.attempted_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "status": a.http_status, "latency_ms": a.latency_ms, "error": a.error,
            })).collect::<Vec<_>>(),
        }));
    }
    let button = serde_json::to_value(&payment.button).unwrap_or_default();
    let mut ctx = context(&console, lang, &signed, "payments");
    ctx.insert(
        "p",
        &serde_json::json!({
            "id": payment.id.as_str(), "gateway": payment.gateway, "state": payment.state.as_str(),
            "order_reference": payment.button.order_reference(),
            "amount": format!("{} {}", payment.amount, payment.amount.currency().code()),
            "refunded": format!("{} {}", payment.refunded, payment.refunded.currency().code()),
            "gateway_reference": payment.gateway_reference, "receiver": payment.receiver,
            "created_at": payment.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "updated_at": payment.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "details": pretty(&serde_json::Value::Object(payment.details.clone())),
        }),
    );
    ctx.insert("button", &pretty(&button));
    let mut refunds = match store.refunds_for_payment(&id).await {
        Ok(r) => r,
        Err(e) => return console.failed(lang, &e),
    };
    // A Librement purchase's refunds include the parts that went back through the top-up that paid it.
    if let Some(top_up) = librement_pay::refund::gateway_parts_payment(&payment) {
        match store.refunds_for_payment(&top_up).await {
            Ok(r) => refunds.extend(r),
            Err(e) => return console.failed(lang, &e),
        }
        refunds.sort_by_key(|r| r.created_at);
    }
    ctx.insert(
        "refunds",
        &refunds
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id.as_str(), "amount": format!("{} {}", r.amount, r.amount.currency().code()),
                    "state": r.state.as_str(), "origin": r.origin.as_str(), "reason": r.reason,
                    "failure_reason": r.failure_reason,
                    "via": (r.payment_id != id).then(|| r.payment_id.as_str()),
                    "created_at": r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                })
            })
            .collect::<Vec<_>>(),
    );
    // The refund form: only for a payment with something left whose gateway can refund it. Its key is
    // fresh per page, so that a form submitted twice (a double click, a reload) makes one refund.
    let refundable = console
        .engine
        .gateways()
        .get(&payment.gateway)
        .and_then(|g| g.refunds())
        .is_some_and(|r| r.check(&payment.facts()).is_ok());
    ctx.insert("refundable", &refundable);
    ctx.insert(
        "can_refund",
        &(refundable
            && payment.state == payment_buttons::payment::PaymentState::Accepted
            && payment.left_to_refund().is_positive()),
    );
    ctx.insert("left", &payment.left_to_refund().to_string());
    ctx.insert("refund_key", &payment_buttons::refund::RefundId::generate().as_str());
    ctx.insert("messages", &messages.iter().map(message_json).collect::<Vec<_>>());
    ctx.insert(
        "events",
        &events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "kind": e.kind.as_str(),
                    "created_at": e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "message": e.gateway_message_id,
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("deliveries", &with_attempts);
    let endpoints: Vec<_> = console
        .endpoints
        .iter()
        .enumerate()
        .map(|(index, e)| serde_json::json!({"index": index, "label": endpoint_label(&console, e.url())}))
        .collect();
    ctx.insert("endpoints", &endpoints);
    ctx.insert(
        "ledger",
        &ledger
            .iter()
            .map(|l| {
                serde_json::json!({
                    "transaction": l.transaction_id, "key": l.key, "kind": l.kind, "account": l.account,
                    "amount": amount(l.amount_minor, &l.currency),
                    "at": l.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                })
            })
            .collect::<Vec<_>>(),
    );
    console.render(StatusCode::OK, "admin/payment.html", &ctx)
}

/// A gateway message for the pages: the raw body as text (never as HTML: the template escapes it).
fn message_json(m: &crate::store::LogRow) -> serde_json::Value {
    serde_json::json!({
        "id": m.id, "received_at": m.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        "gateway": m.gateway, "remote_addr": m.remote_addr, "method": m.method,
        "content_type": m.content_type, "verification": m.verification.as_str(),
        "flags": m.flags, "payment_id": m.payment_id, "outcome": m.outcome,
        "fields": pretty(&m.fields), "body": String::from_utf8_lossy(&m.body),
    })
}

/// How pages name an endpoint: `#index host/path`, never its query or credentials.
pub(super) fn endpoint_label(console: &Console, url: &str) -> String {
    match console.endpoints.iter().position(|e| e.url() == url) {
        Some(i) => format!("#{i} {}", console.endpoints[i].display_url()),
        None => "(an endpoint no longer configured)".to_owned(),
    }
}

/// The filters of `/admin/messages`.
#[derive(Deserialize, Serialize)]
pub struct MessagesQuery {
    gateway: Option<String>,
    verification: Option<String>,
    flagged: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
    lang: Option<String>,
}

/// `GET /admin/messages`.
pub async fn messages(console: web::Data<Console>, req: HttpRequest, q: web::Query<MessagesQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dates = day(q.from.as_deref(), false).and_then(|from| Ok((from, day(q.to.as_deref(), true)?)));
    let (from, to) = match dates {
        Ok(d) => d,
        Err(problem) => {
            let reason = format!("{}: {problem}", words(lang).bad_filter);
            return console.notice(StatusCode::BAD_REQUEST, lang, &reason);
        }
    };
    let flagged = matches!(q.flagged.as_deref(), Some("1" | "true" | "on"));
    let filter = MessageFilter {
        gateway: non_empty(&q.gateway),
        verification: non_empty(&q.verification),
        flagged,
        from,
        to,
        before: q.before,
        limit: PAGE + 1,
    };
    let mut rows = match console.store.console_messages(filter).await {
        Ok(r) => r,
        Err(e) => return console.failed(lang, &e),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten().map(|before| {
        query_string(
            &[
                ("gateway", &q.gateway),
                ("verification", &q.verification),
                ("flagged", &q.flagged),
                ("from", &q.from),
                ("to", &q.to),
                ("lang", &q.lang),
            ],
            &[("before", &before.to_string())],
        )
    });
    let mut ctx = context(&console, lang, &signed, "messages");
    ctx.insert(
        "rows",
        &rows
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "received_at": m.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "gateway": m.gateway, "verification": m.verification, "flags": m.flags,
                    "payment_id": m.payment_id, "outcome": m.outcome,
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("q", &*q);
    ctx.insert("flagged", &flagged);
    ctx.insert("next", &next);
    console.render(StatusCode::OK, "admin/messages.html", &ctx)
}

/// `GET /admin/messages/{id}`.
pub async fn message(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = path.parse::<i64>() else {
        return console.notice(StatusCode::NOT_FOUND, lang, words(lang).not_found);
    };
    let row = match console.store.message(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return console.notice(StatusCode::NOT_FOUND, lang, words(lang).not_found),
        Err(e) => return console.failed(lang, &e),
    };
    let mut ctx = context(&console, lang, &signed, "messages");
    ctx.insert("m", &message_json(&row));
    console.render(StatusCode::OK, "admin/message.html", &ctx)
}

/// `GET /admin/webhooks`: each endpoint's last day, failing deliveries, the resend forms.
pub async fn webhooks(console: web::Data<Console>, req: HttpRequest, q: web::Query<LangQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let since = Utc::now() - chrono::Duration::hours(24);
    let mut endpoints = Vec::new();
    for (index, endpoint) in console.endpoints.iter().enumerate() {
        let stats = match console.store.webhook_endpoint_stats(endpoint.url(), since).await {
            Ok(s) => s,
            Err(e) => return console.failed(lang, &e),
        };
        let finished = stats.delivered + stats.failed;
        endpoints.push(serde_json::json!({
            "index": index, "label": endpoint.display_url(),
            "delivered": stats.delivered, "failed": stats.failed, "pending": stats.pending,
            "success_rate": (finished > 0).then(|| format!("{:.0} %", 100.0 * stats.delivered as f64 / finished as f64)),
            "last_error": stats.last_error.map(|(at, e)| format!("{} — {e}", at.format("%Y-%m-%d %H:%M:%S"))),
            "disabled": stats.disabled.map(|(at, why)| format!("{} — {why}", at.format("%Y-%m-%d %H:%M:%S"))),
        }));
    }
    let failing = match console.store.failing_webhook_deliveries(PAGE).await {
        Ok(f) => f,
        Err(e) => return console.failed(lang, &e),
    };
    let mut ctx = context(&console, lang, &signed, "webhooks");
    ctx.insert("endpoints", &endpoints);
    ctx.insert(
        "failing",
        &failing
            .iter()
            .map(|d| {
                serde_json::json!({
                    "id": d.id, "payment_id": d.payment_id, "event_id": d.event_id,
                    "endpoint": endpoint_label(&console, &d.endpoint), "status": d.status.as_str(),
                    "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error,
                    "created_at": d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("yesterday", &since.format("%Y-%m-%dT%H:%M").to_string());
    console.render(StatusCode::OK, "admin/webhooks.html", &ctx)
}

/// The query of `/admin/librement`: `account` shows that account's entries.
#[derive(Deserialize)]
pub struct LibrementQuery {
    account: Option<String>,
    lang: Option<String>,
}

/// `GET /admin/librement`: balances, one account's entries, the ledger audit, payouts waiting.
pub async fn librement(console: web::Data<Console>, req: HttpRequest, q: web::Query<LibrementQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let entries = match LedgerStore::all_entries(&console.store).await {
        Ok(e) => e,
        Err(e) => return console.failed(lang, &e),
    };
    let audit = Audit::of(&entries);
    let mut balances: std::collections::BTreeMap<(String, String), Money> = std::collections::BTreeMap::new();
    for e in &entries {
        let key = (e.account.key(), e.amount.currency().code().to_owned());
        let sum = balances
            .get(&key)
            .and_then(|m| m.checked_add(e.amount))
            .unwrap_or(e.amount);
        balances.insert(key, sum);
    }
    let payouts = match console
        .store
        .payouts(PayoutFilter {
            state: Some(PayoutState::Requested),
            limit: 500,
            ..PayoutFilter::default()
        })
        .await
    {
        Ok(p) => p,
        Err(e) => return console.failed(lang, &e),
    };
    let mut ctx = context(&console, lang, &signed, "librement");
    if let Some(account) = non_empty(&q.account) {
        // Oldest first, with the balance after each entry, per currency.
        let mut running: std::collections::BTreeMap<String, Money> = std::collections::BTreeMap::new();
        let lines: Vec<_> = entries
            .iter()
            .filter(|e| e.account.key() == account)
            .map(|e| {
                let code = e.amount.currency().code().to_owned();
                let after = running
                    .get(&code)
                    .and_then(|m| m.checked_add(e.amount))
                    .unwrap_or(e.amount);
                running.insert(code.clone(), after);
                serde_json::json!({
                    "transaction": e.transaction_id, "amount": format!("{} {code}", e.amount),
                    "after": format!("{after} {code}"),
                })
            })
            .collect();
        ctx.insert("account", &account);
        ctx.insert("account_lines", &lines);
    }
    ctx.insert(
        "balances",
        &balances
            .iter()
            .map(|((account, currency), m)| {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                query.append_pair("account", account);
                if lang == "fr" {
                    query.append_pair("lang", "fr");
                }
                serde_json::json!({"account": account, "balance": format!("{m} {currency}"), "query": query.finish()})
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "audit",
        &serde_json::json!({
            "healthy": audit.is_healthy(), "entries": audit.entries,
            "unbalanced": audit.unbalanced_transactions,
            "negative": audit.negative_accounts.iter().map(|(a, m)| format!("{} {m} {}", a.key(), m.currency().code())).collect::<Vec<_>>(),
            "nonzero": audit.nonzero_totals.iter().map(|m| format!("{m} {}", m.currency().code())).collect::<Vec<_>>(),
            "at": Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }),
    );
    ctx.insert(
        "payouts",
        &payouts
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id, "email": p.email, "amount": format!("{} {}", p.amount, p.amount.currency().code()),
                    "requested_at": p.requested_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                })
            })
            .collect::<Vec<_>>(),
    );
    console.render(StatusCode::OK, "admin/librement.html", &ctx)
}

/// The keyset of `/admin/audit`.
#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    lang: Option<String>,
}

/// `GET /admin/audit`: the operators' actions, newest first.
pub async fn audit(console: web::Data<Console>, req: HttpRequest, q: web::Query<AuditQuery>) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let signed = match guard(&console, &req, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut rows = match console.store.audit(q.before, PAGE + 1).await {
        Ok(r) => r,
        Err(e) => return console.failed(lang, &e),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let mut ctx = context(&console, lang, &signed, "audit");
    ctx.insert(
        "rows",
        &rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.at.format("%Y-%m-%d %H:%M:%S").to_string(), "operator": r.operator,
                    "action": r.action, "target": r.target, "outcome": r.outcome,
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("next", &more.then(|| rows.last().map(|r| r.id)).flatten());
    console.render(StatusCode::OK, "admin/audit.html", &ctx)
}
