//! What an operator does from the console. Every action checks the session's CSRF token, then the role
//! (`viewer`: 403), and is written to the audit with its outcome, refused ones included.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, Utc};
use librement_pay::payout::{Decision, Payouts};
use payment_buttons::money::Money;
use serde::Deserialize;

use super::Console;
use super::pages::guard;
use super::session::{Signed, same_token};
use super::words::{language, words};

/// Checks the session, its CSRF token and the role; the operator, or the answer to give.
async fn allowed(
    console: &Console,
    req: &HttpRequest,
    csrf: &str,
    lang: &str,
    action: &str,
    target: &str,
) -> Result<Signed, HttpResponse> {
    let t = words(lang);
    let signed = match guard(console, req, lang).await {
        Ok(s) => s,
        // No session: nothing to record, nobody to name.
        Err(_) => return Err(console.notice(StatusCode::FORBIDDEN, lang, t.stale_form)),
    };
    if !same_token(&signed.csrf, csrf) {
        tracing::warn!(operator = %signed.operator.email, action, "admin: a form without its CSRF token was refused");
        return Err(console.notice(StatusCode::FORBIDDEN, lang, t.stale_form));
    }
    if !signed.operator.role.may_act() {
        record(console, &signed, action, target, "refused: viewer").await;
        return Err(console.notice(StatusCode::FORBIDDEN, lang, t.forbidden_role));
    }
    Ok(signed)
}

/// Appends to the audit; a failure to write it is logged (the action's own answer stands).
async fn record(console: &Console, signed: &Signed, action: &str, target: &str, outcome: &str) {
    tracing::info!(operator = %signed.operator.email, action, target, outcome, "admin: operator action");
    if let Err(e) = console
        .store
        .record_audit(&signed.operator.email, action, target, outcome, Utc::now())
        .await
    {
        tracing::error!(error = %e, action, target, "admin: the audit row was not written");
    }
}

/// Back to `page` after an action.
fn back(page: &str, lang: &str) -> HttpResponse {
    let target = if lang == "fr" {
        format!("{page}?lang=fr")
    } else {
        page.to_owned()
    };
    HttpResponse::SeeOther().insert_header(("Location", target)).finish()
}

/// Wakes the webhook worker after deliveries became due.
fn wake(console: &Console) {
    if let Some(wake) = &console.webhook_wake {
        wake.notify_waiters();
    }
}

/// "Resend this delivery".
#[derive(Deserialize)]
pub struct ResendForm {
    csrf: String,
    delivery: i64,
    lang: Option<String>,
}

/// `POST /admin/webhooks/resend`.
pub async fn resend_delivery(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<ResendForm>,
) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let target = format!("delivery {}", form.delivery);
    let signed = match allowed(&console, &req, &form.csrf, lang, "resend_delivery", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match console.store.resend_webhook_delivery(form.delivery, Utc::now()).await {
        Ok(true) => {
            record(&console, &signed, "resend_delivery", &target, "ok").await;
            wake(&console);
            back("/admin/webhooks", lang)
        }
        Ok(false) => {
            record(
                &console,
                &signed,
                "resend_delivery",
                &target,
                "refused: no such finished delivery, or endpoint disabled",
            )
            .await;
            console.notice(StatusCode::CONFLICT, lang, words(lang).not_found)
        }
        Err(e) => {
            record(&console, &signed, "resend_delivery", &target, "failed: database").await;
            console.failed(lang, &e)
        }
    }
}

/// "Resend this payment's events to an endpoint".
#[derive(Deserialize)]
pub struct ResendPaymentForm {
    csrf: String,
    endpoint: usize,
    lang: Option<String>,
}

/// `POST /admin/payments/{id}/resend`.
pub async fn resend_payment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ResendPaymentForm>,
) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let payment = path.into_inner();
    let target = format!(
        "payment {} to endpoint #{}",
        payment.chars().take(12).collect::<String>(),
        form.endpoint
    );
    let signed = match allowed(&console, &req, &form.csrf, lang, "resend_payment", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (Ok(id), Some(endpoint)) = (
        payment_buttons::payment::PaymentId::parse(&payment),
        console.endpoints.get(form.endpoint),
    ) else {
        record(
            &console,
            &signed,
            "resend_payment",
            &target,
            "refused: no such payment or endpoint",
        )
        .await;
        return console.notice(StatusCode::NOT_FOUND, lang, words(lang).not_found);
    };
    match console
        .store
        .resend_payment_deliveries(id.as_str(), endpoint.url(), Utc::now())
        .await
    {
        Ok(n) => {
            record(
                &console,
                &signed,
                "resend_payment",
                &target,
                &format!("ok: {n} deliveries"),
            )
            .await;
            wake(&console);
            back(&format!("/admin/payments/{id}"), lang)
        }
        Err(e) => {
            record(&console, &signed, "resend_payment", &target, "failed: database").await;
            console.failed(lang, &e)
        }
    }
}

/// "Resend every failed delivery since ...".
#[derive(Deserialize)]
pub struct ResendFailedForm {
    csrf: String,
    endpoint: usize,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), UTC.
    since: String,
    lang: Option<String>,
}

/// `POST /admin/webhooks/resend-failed`.
pub async fn resend_failed(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<ResendFailedForm>,
) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let target = format!("endpoint #{} since {}", form.endpoint, form.since);
    let signed = match allowed(&console, &req, &form.csrf, lang, "resend_failed", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(endpoint) = console.endpoints.get(form.endpoint) else {
        record(&console, &signed, "resend_failed", &target, "refused: no such endpoint").await;
        return console.notice(StatusCode::NOT_FOUND, lang, words(lang).not_found);
    };
    let Ok(since) = NaiveDateTime::parse_from_str(form.since.trim(), "%Y-%m-%dT%H:%M") else {
        record(&console, &signed, "resend_failed", &target, "refused: unreadable time").await;
        let reason = format!("{}: since (YYYY-MM-DDTHH:MM)", words(lang).bad_filter);
        return console.notice(StatusCode::BAD_REQUEST, lang, &reason);
    };
    match console
        .store
        .resend_failed_webhook_deliveries(endpoint.url(), since.and_utc(), Utc::now())
        .await
    {
        Ok(n) => {
            record(
                &console,
                &signed,
                "resend_failed",
                &target,
                &format!("ok: {n} deliveries"),
            )
            .await;
            wake(&console);
            back("/admin/webhooks", lang)
        }
        Err(e) => {
            record(&console, &signed, "resend_failed", &target, "failed: database").await;
            console.failed(lang, &e)
        }
    }
}

/// "Re-enable this endpoint".
#[derive(Deserialize)]
pub struct EnableForm {
    csrf: String,
    endpoint: usize,
    lang: Option<String>,
}

/// `POST /admin/webhooks/enable`.
pub async fn enable_endpoint(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<EnableForm>,
) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let target = format!("endpoint #{}", form.endpoint);
    let signed = match allowed(&console, &req, &form.csrf, lang, "enable_endpoint", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(endpoint) = console.endpoints.get(form.endpoint) else {
        record(
            &console,
            &signed,
            "enable_endpoint",
            &target,
            "refused: no such endpoint",
        )
        .await;
        return console.notice(StatusCode::NOT_FOUND, lang, words(lang).not_found);
    };
    match console.store.enable_webhook_endpoint(endpoint.url(), Utc::now()).await {
        Ok(Some(n)) => {
            record(
                &console,
                &signed,
                "enable_endpoint",
                &target,
                &format!("ok: {n} deliveries pending again"),
            )
            .await;
            wake(&console);
            back("/admin/webhooks", lang)
        }
        Ok(None) => {
            record(&console, &signed, "enable_endpoint", &target, "refused: not disabled").await;
            console.notice(StatusCode::CONFLICT, lang, words(lang).not_found)
        }
        Err(e) => {
            record(&console, &signed, "enable_endpoint", &target, "failed: database").await;
            console.failed(lang, &e)
        }
    }
}

/// An operator's decision on a payout waiting to be paid.
#[derive(Deserialize)]
pub struct PayoutForm {
    csrf: String,
    payout: i64,
    note: Option<String>,
    lang: Option<String>,
}

/// What the operator decided, from the route: the money was sent, or it goes back to the seller's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayoutOutcome {
    /// `POST /admin/librement/payouts/paid`.
    Paid,
    /// `POST /admin/librement/payouts/rejected`.
    Rejected,
}

impl PayoutOutcome {
    fn action(self) -> &'static str {
        match self {
            PayoutOutcome::Paid => "payout_paid",
            PayoutOutcome::Rejected => "payout_rejected",
        }
    }
}

/// `POST /admin/librement/payouts/{paid|rejected}`: through librement-pay's [`Payouts`] (ledger and e-mail),
/// audited with its outcome.
pub async fn payout_decided(
    console: web::Data<Console>,
    req: HttpRequest,
    outcome: web::Path<PayoutOutcome>,
    form: web::Form<PayoutForm>,
) -> HttpResponse {
    let outcome = outcome.into_inner();
    let action = outcome.action();
    let lang = language(form.lang.as_deref());
    let target = format!("payout {}", form.payout);
    let signed = match allowed(&console, &req, &form.csrf, lang, action, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let decision = Decision {
        operator: signed.operator.email.clone(),
        note: form
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(500).collect()),
    };
    let decided = match outcome {
        PayoutOutcome::Paid => console.store.mark_payout_paid(form.payout, decision, Utc::now()).await,
        PayoutOutcome::Rejected => console.store.reject_payout(form.payout, decision, Utc::now()).await,
    };
    match decided {
        Ok(_) => {
            record(&console, &signed, action, &target, "ok").await;
            back("/admin/librement", lang)
        }
        Err(e @ librement_pay::payout::PayoutError::Ledger(_)) => {
            record(&console, &signed, action, &target, "failed: ledger").await;
            console.failed(lang, &e)
        }
        Err(e) => {
            // The payout's own errors are safe to show (not found, decided already).
            let refused = format!("refused: {e}");
            record(&console, &signed, action, &target, &refused).await;
            console.notice(StatusCode::CONFLICT, lang, &e.to_string())
        }
    }
}

/// "Verify again".
#[derive(Deserialize)]
pub struct VerifyAgainForm {
    csrf: String,
    message: i64,
    lang: Option<String>,
}

/// `POST /admin/messages/verify-again`: a message whose verification ended in `error` goes back to the
/// queue.
pub async fn verify_again(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<VerifyAgainForm>,
) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let target = format!("message {}", form.message);
    let signed = match allowed(&console, &req, &form.csrf, lang, "verify_again", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match console.store.verify_message_again(form.message, Utc::now()).await {
        Ok(true) => {
            record(&console, &signed, "verify_again", &target, "ok").await;
            if let Some(wake) = &console.engine_wake {
                wake.notify_one();
            }
            back(&format!("/admin/messages/{}", form.message), lang)
        }
        Ok(false) => {
            record(
                &console,
                &signed,
                "verify_again",
                &target,
                "refused: not a message whose verification ended in error",
            )
            .await;
            console.notice(StatusCode::CONFLICT, lang, words(lang).not_found)
        }
        Err(e) => {
            record(&console, &signed, "verify_again", &target, "failed: database").await;
            console.failed(lang, &e)
        }
    }
}

/// "Refund" on a payment's page.
#[derive(Deserialize)]
pub struct RefundForm {
    csrf: String,
    /// The form's own idempotency key (fresh per page): submitting it twice makes one refund.
    key: String,
    /// Empty: everything that is left.
    amount: Option<String>,
    reason: Option<String>,
    lang: Option<String>,
}

/// `POST /admin/payments/{id}/refund`: refunds through the payment's gateway, as the API does, with
/// origin `console`; audited with what happened.
pub async fn refund_payment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RefundForm>,
) -> HttpResponse {
    use payment_buttons::engine::{RefundError, RefundOrder};
    use payment_buttons::payment::PaymentId;
    use payment_buttons::refund::{RefundOrigin, RefundRefusal};
    use payment_buttons::store::Store;

    let lang = language(form.lang.as_deref());
    let target = format!("payment {}", path.chars().take(12).collect::<String>());
    let signed = match allowed(&console, &req, &form.csrf, lang, "refund", &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = words(lang);
    let payment = match PaymentId::parse(&path) {
        Ok(id) => console.store.payment(&id).await,
        Err(_) => Ok(None),
    };
    let payment = match payment {
        Ok(Some(p)) => p,
        Ok(None) => {
            record(&console, &signed, "refund", &target, "refused: no such payment").await;
            return console.notice(StatusCode::NOT_FOUND, lang, t.not_found);
        }
        Err(e) => return console.failed(lang, &e),
    };
    let refused = |status: StatusCode, why: String| {
        let (console, signed, target) = (&console, &signed, &target);
        async move {
            record(console, signed, "refund", target, &format!("refused: {why}")).await;
            console.notice(status, lang, &why)
        }
    };
    let amount = match form.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match Money::parse(a, payment.amount.currency().code()) {
            Ok(m) => Some(m),
            Err(e) => return refused(StatusCode::BAD_REQUEST, format!("amount: {e}")).await,
        },
    };
    let reason: Option<String> = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(500).collect());
    let key = form.key.trim();
    if key.is_empty() || key.len() > 255 {
        return refused(StatusCode::BAD_REQUEST, "the form has no key: reload the page".into()).await;
    }
    let order = RefundOrder {
        payment_id: &payment.id,
        amount,
        reason: reason.as_deref(),
        idempotency_key: key,
        origin: RefundOrigin::Console,
    };
    use crate::refunds::Refunder;
    let refunds = crate::refunds::LibrementRefunds(console.engine.clone());
    match refunds.refund(order, Utc::now()).await {
        Ok(made) => {
            // A Librement purchase's refund may have two parts (through the gateway, to the balance).
            let parts = if made.parts.is_empty() {
                vec![made.refund]
            } else {
                made.parts
            };
            let outcome = parts
                .iter()
                .map(|r| format!("refund {} of {} {} ({})", r.id, r.amount, r.state, r.payment_id))
                .collect::<Vec<_>>()
                .join(", ");
            let outcome = format!("ok: {outcome}");
            record(&console, &signed, "refund", &target, &outcome).await;
            back(&format!("/admin/payments/{}", payment.id), lang)
        }
        Err(RefundError::Store(e)) => {
            record(&console, &signed, "refund", &target, "failed: database").await;
            console.failed(lang, &e)
        }
        Err(
            e @ (RefundError::Refused(RefundRefusal::ExceedsLeft { .. } | RefundRefusal::BadAmount(_))
            | RefundError::KeyReused),
        ) => refused(StatusCode::BAD_REQUEST, e.to_string()).await,
        Err(e) => refused(StatusCode::CONFLICT, e.to_string()).await,
    }
}
