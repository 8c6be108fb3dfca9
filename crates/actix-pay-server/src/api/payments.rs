//! The payments API: what became of a payment (`GET /api/payments/{id}`), an order's payments
//! (`GET /api/payments?order_reference=`), refunds (`POST /api/payments/{id}/refunds`) and cancelling a
//! subscription (`POST /api/payments/{id}/cancel`). Each takes the bearer key; errors are
//! `{"error", "field"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use payment_buttons::engine::{RefundError, RefundOrder};
use payment_buttons::event::Event;
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::refund::{RefundOrigin, RefundRefusal, StoredRefund};
use payment_buttons::store::{Store, StoredPayment};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, Authorized, ErrorBody};
use crate::app::AppState;

/// The longest `Idempotency-Key` taken (a UUID is 36 characters).
const MAX_KEY_LEN: usize = 255;
/// The longest refund or cancellation reason taken, in characters.
const MAX_REASON_LEN: usize = 500;

/// A payment: the `payment` object of event payloads, with its refunds and its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// Our payment id (12 characters `[0-9A-Za-z]`).
    #[schema(example = "Xk3f9QpL2mZa")]
    pub id: String,
    /// The shop's order reference, from the button.
    #[schema(example = "ORDER-1042")]
    pub order_reference: String,
    /// `paypal`, `cmcic` or `librement`.
    #[schema(example = "paypal")]
    pub gateway: String,
    /// `created`, `pending`, `accepted`, `declined`, `refunded` (everything went back), `cancelled`,
    /// `abandoned`. A partly refunded payment is `accepted`.
    #[schema(example = "accepted")]
    pub state: String,
    /// Index of the buying option chosen.
    pub option: usize,
    /// The amount, with the currency's places.
    #[schema(example = "12.50")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Months between charges, for a subscription.
    pub recurrence_months: Option<u8>,
    /// For a later cycle of a subscription: the payment that started it.
    pub subscription_id: Option<String>,
    /// The gateway's transaction reference.
    pub gateway_reference: Option<String>,
    /// The sum refunded so far, with the currency's places.
    #[schema(example = "5.00")]
    pub refunded_amount: String,
    /// Its refunds, oldest first. For a Librement purchase, also the refunds of the top-up or guest payment
    /// that paid it (their `payment_id` names that payment): the parts that went back through its gateway.
    pub refunds: Vec<RefundView>,
    /// Its events, in order.
    pub events: Vec<EventRef>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    /// Our refund id.
    #[schema(example = "rfd_5c0e2a9b7d4f1e3a6c8b0d21")]
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// How much, with the currency's places.
    #[schema(example = "5.00")]
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// `pending` (the gateway has not confirmed it yet: it is asked again until it answers), `succeeded`,
    /// `failed` (refused by the gateway: `failure_reason` says why) or `unknown` (the gateway's state
    /// could not be learnt and asking again could refund twice: an operator checks at the gateway).
    #[schema(example = "succeeded")]
    pub state: String,
    /// Who asked: `api`, `console`, or `gateway` (made on the gateway's own site).
    pub origin: String,
    /// Why, as the caller wrote it.
    pub reason: Option<String>,
    /// The gateway's reason for a failed or unknown refund, or the last failure of a pending one.
    pub failure_reason: Option<String>,
    /// When it was asked (RFC 3339, UTC).
    pub created_at: String,
    /// For a Librement purchase, the refunds this request made, in order (absent for other payments): the
    /// part that goes back through the gateway that paid it (a refund of that top-up or guest payment:
    /// `payment_id` names it) and the part that goes back to the buyer's balance (a refund of the purchase).
    /// The refund itself is the first of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub parts: Vec<RefundView>,
}

/// One event of a payment, as a reference (the whole event went to webhooks and listeners).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventRef {
    /// The event's kind: `payment_processed`, `payment_accepted`, `payment_refunded`...
    #[serde(rename = "type")]
    #[schema(example = "payment_accepted")]
    pub kind: String,
    /// The event id (also the `webhook-id`).
    pub id: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
    /// 1, 2, 3... per payment, in the order written.
    pub sequence: u64,
}

/// A refund request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much, as a decimal string in the payment's currency, at most its places (`"5.00"`). Absent:
    /// everything that is left.
    #[schema(example = "5.00")]
    pub amount: Option<String>,
    /// Why (the gateway may show it to the buyer).
    #[schema(example = "damaged in transit")]
    pub reason: Option<String>,
}

/// A cancellation request (the body may be empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why.
    pub reason: Option<String>,
}

/// The query of `GET /api/payments`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// The shop's order reference, as in the button.
    pub order_reference: Option<String>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl From<&StoredRefund> for RefundView {
    fn from(r: &StoredRefund) -> Self {
        RefundView {
            id: r.id.to_string(),
            payment_id: r.payment_id.to_string(),
            amount: r.amount.to_string(),
            currency: r.amount.currency().code().to_owned(),
            state: r.state.as_str().to_owned(),
            origin: r.origin.as_str().to_owned(),
            reason: r.reason.clone(),
            failure_reason: r.failure_reason.clone(),
            created_at: time(r.created_at),
            parts: Vec::new(),
        }
    }
}

impl From<&Event> for EventRef {
    fn from(e: &Event) -> Self {
        EventRef {
            kind: e.kind.as_str().to_owned(),
            id: e.id.clone(),
            created_at: time(e.created_at),
            sequence: e.sequence,
        }
    }
}

fn store_failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "payments API: storage failed");
    ApiError::internal("the payment could not be read or written; try again")
}

fn no_payment() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such payment", None)
}

/// The payment with its refunds and events.
async fn view<S: Store>(store: &S, payment: &StoredPayment) -> Result<PaymentView, ApiError> {
    let mut refunds = store.refunds_for_payment(&payment.id).await.map_err(store_failed)?;
    // A Librement purchase's refunds include the parts that went back through the gateway that paid it
    // (refunds of that top-up or guest payment, `payment_id` naming it).
    if let Some(top_up) = librement_pay::refund::gateway_parts_payment(payment) {
        refunds.extend(store.refunds_for_payment(&top_up).await.map_err(store_failed)?);
        refunds.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
    }
    let events = store.events_for_payment(&payment.id).await.map_err(store_failed)?;
    let p = payment.snapshot();
    Ok(PaymentView {
        id: p.id.to_string(),
        order_reference: p.order_reference,
        gateway: p.gateway,
        state: p.state.as_str().to_owned(),
        option: p.option,
        amount: p.amount,
        currency: p.currency,
        recurrence_months: p.recurrence_months,
        subscription_id: p.subscription_id.map(|s| s.to_string()),
        gateway_reference: p.gateway_reference,
        refunded_amount: p.refunded_amount,
        refunds: refunds.iter().map(RefundView::from).collect(),
        events: events.iter().map(EventRef::from).collect(),
    })
}

/// The payment named by the path, or 404 (an id of the wrong shape names no payment either).
async fn load<S: Store>(state: &AppState<S>, id: &str) -> Result<StoredPayment, ApiError> {
    let id = PaymentId::parse(id).map_err(|_| no_payment())?;
    state
        .engine
        .store()
        .payment(&id)
        .await
        .map_err(store_failed)?
        .ok_or_else(no_payment)
}

/// A JSON body of type `T`; an empty body is `T::default()`.
fn json_body<T: Default + for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8 JSON", ""))?;
    serde_json::from_str(text).map_err(|e| {
        // serde's message names the unknown or mistyped field, never more than the request held.
        ApiError::bad_request(format!("the body is not a valid request: {e}"), "")
    })
}

fn reason(text: Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    match text.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > MAX_REASON_LEN => Err(ApiError::bad_request(
            format!("at most {MAX_REASON_LEN} characters"),
            field,
        )),
        other => Ok(other),
    }
}

/// The answer to a refund or a cancellation that was refused.
fn refused(e: RefundError) -> ApiError {
    let conflict = |text: String| ApiError::new(StatusCode::CONFLICT, text, None);
    match e {
        RefundError::UnknownPayment(_) => no_payment(),
        RefundError::Refused(RefundRefusal::ExceedsLeft { left }) => {
            ApiError::bad_request(format!("more than the {left} left to refund"), "amount")
        }
        RefundError::Refused(RefundRefusal::BadAmount(why)) => ApiError::bad_request(why, "amount"),
        RefundError::Refused(other) => conflict(other.to_string()),
        RefundError::NotPossible(why) | RefundError::NotAnActiveSubscription(why) => conflict(why),
        RefundError::GatewayRefused(why) => conflict(format!("the gateway refused: {why}")),
        RefundError::KeyReused => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was used for another request on this payment",
            None,
        ),
        RefundError::GatewayUnavailable(why) => {
            tracing::warn!(reason = %why, "payments API: the gateway did not answer");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the gateway did not answer; try again later",
                None,
            )
        }
        RefundError::Store(e) => store_failed(e),
    }
}

/// A payment, with its refunds and events.
#[utoipa::path(
    get,
    path = "/api/payments/{id}",
    tag = "payments",
    operation_id = "get_payment",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 401, description = "No API key, or not one of `server.api_keys`", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
    )
)]
pub async fn get_payment<S: Store>(
    _key: Authorized,
    state: web::Data<AppState<S>>,
    id: web::Path<String>,
) -> Result<web::Json<PaymentView>, ApiError> {
    let payment = load(&state, &id).await?;
    Ok(web::Json(view(&**state.engine.store(), &payment).await?))
}

/// The payments of an order, newest first (a buyer may have tried several times, or paid a subscription
/// cycle by cycle).
#[utoipa::path(
    get,
    path = "/api/payments",
    tag = "payments",
    operation_id = "list_payments",
    security(("api_key" = [])),
    params(OrderQuery),
    responses(
        (status = 200, description = "The order's payments, newest first (none: an empty list)", body = Vec<PaymentView>),
        (status = 400, description = "No `order_reference`", body = ErrorBody),
        (status = 401, description = "No API key, or not one of `server.api_keys`", body = ErrorBody),
    )
)]
pub async fn list_payments<S: Store>(
    _key: Authorized,
    state: web::Data<AppState<S>>,
    query: web::Query<OrderQuery>,
) -> Result<web::Json<Vec<PaymentView>>, ApiError> {
    let order = query
        .order_reference
        .as_deref()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::bad_request("required", "order_reference"))?;
    let store = state.engine.store();
    let payments = store.payments_for_order(order).await.map_err(store_failed)?;
    let mut views = Vec::with_capacity(payments.len());
    for payment in &payments {
        views.push(view(&**store, payment).await?);
    }
    Ok(web::Json(views))
}

/// Refunds a payment, in full or in part, through its gateway.
///
/// The `Idempotency-Key` header is required: the same key with the same body gives the same refund and
/// the same answer (the gateway is asked once); the same key with another body is refused (422). The
/// refund comes back as it stands: `pending` until the gateway confirms it (a gateway that did not answer
/// is asked again, with the same refund id, until it does; the later `payment_refunded` event tells when
/// the money went back). At most one refund of a payment is pending at a time.
#[utoipa::path(
    post,
    path = "/api/payments/{id}/refunds",
    tag = "payments",
    operation_id = "refund_payment",
    security(("api_key" = [])),
    params(
        ("id" = String, Path, description = "The payment id"),
        ("Idempotency-Key" = String, Header, description = "Your key for this refund (1 to 255 characters), unique per payment"),
    ),
    request_body(content = RefundBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The refund (`state` may be `pending`, `failed`...)", body = RefundView),
        (status = 400, description = "No `Idempotency-Key`, a body that is not a refund request, or a bad \
            amount (more than is left, more places than the currency has, zero or less): `field` says which", body = ErrorBody),
        (status = 401, description = "No API key, or not one of `server.api_keys`", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "The payment cannot be refunded: not accepted, nothing left, another \
            refund of it pending, or its gateway cannot refund it here (the reason says which)", body = ErrorBody),
        (status = 422, description = "The `Idempotency-Key` was used for another request on this payment", body = ErrorBody),
    )
)]
pub async fn refund_payment<S: Store>(
    _key: Authorized,
    state: web::Data<AppState<S>>,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = request
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "the Idempotency-Key header is required", None))?;
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the Idempotency-Key header is longer than {MAX_KEY_LEN} characters"),
            None,
        ));
    }
    let body: RefundBody = json_body(&body)?;
    let payment = load(&state, &id).await?;
    let amount = body
        .amount
        .as_deref()
        .map(|a| Money::parse(a.trim(), payment.amount.currency().code()))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string(), "amount"))?;
    let reason = reason(body.reason, "reason")?;
    let made = state
        .refunds
        .refund(
            RefundOrder {
                payment_id: &payment.id,
                amount,
                reason: reason.as_deref(),
                idempotency_key: key,
                origin: RefundOrigin::Api,
            },
            Utc::now(),
        )
        .await
        .map_err(refused)?;
    let mut answer = RefundView::from(&made.refund);
    answer.parts = made.parts.iter().map(RefundView::from).collect();
    Ok(HttpResponse::Created().json(answer))
}

/// Cancels, at its gateway, the subscription a payment started.
///
/// `subscription_cancelled` follows (once, whether the gateway's answer or its own notification of the
/// cancellation comes first).
#[utoipa::path(
    post,
    path = "/api/payments/{id}/cancel",
    tag = "payments",
    operation_id = "cancel_subscription",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The id of the payment that started the subscription")),
    request_body(content = CancelBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Cancelled at the gateway: the payment, now `cancelled`", body = PaymentView),
        (status = 400, description = "A body that is not a cancellation request", body = ErrorBody),
        (status = 401, description = "No API key, or not one of `server.api_keys`", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "Not an active subscription, or its gateway cannot cancel it here \
            (e.g. PayPal without NVP credentials: cancel it at PayPal), or the gateway refused", body = ErrorBody),
        (status = 503, description = "The gateway did not answer: try again later", body = ErrorBody),
    )
)]
pub async fn cancel_subscription<S: Store>(
    _key: Authorized,
    state: web::Data<AppState<S>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: CancelBody = json_body(&body)?;
    let reason = reason(body.reason, "reason")?;
    let payment = load(&state, &id).await?;
    let cancelled = state
        .engine
        .cancel_subscription(&payment.id, reason.as_deref(), Utc::now())
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Accepted().json(view(&**state.engine.store(), &cancelled).await?))
}
