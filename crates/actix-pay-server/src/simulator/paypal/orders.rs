//! PayPal Checkout (Orders v2) in the simulator: `POST /v2/checkout/orders`, the approval page
//! (`GET /checkoutnow?token=`), `POST /v2/checkout/orders/{id}/capture`, `GET /v2/checkout/orders/{id}`,
//! the refund of a capture (through the same `/v2/payments/captures/{id}/refund` route as Payments
//! Standard's), and signed webhooks (`CHECKOUT.ORDER.APPROVED`, `PAYMENT.CAPTURE.COMPLETED`/`.PENDING`,
//! `PAYMENT.CAPTURE.REFUNDED`) to the server's `/notify/paypal/webhook`.
//!
//! Webhooks are signed as PayPal signs them (SHA256withRSA over `id|time|webhook id|CRC32`) with the
//! simulator's certificate (`webhook/`), which the server trusts only in simulator mode, and which it
//! fetches from `/simulator/paypal/certs/webhook.pem` as it would fetch PayPal's from `PAYPAL-CERT-URL`.
//! Like PayPal, the simulator answers a repeated `PayPal-Request-Id` with its first answer.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{Value, json};

use super::checkout::Language;
use super::messages;
use super::words::checkout_words;
use super::{ApiAnswer, PaypalSimulator, SimulatorError};
use crate::pages;

/// The simulator's webhook CA: trusted by the server in simulator mode only.
pub const WEBHOOK_CA_PEM: &[u8] = include_bytes!("webhook/ca.pem");
/// The certificate the simulator signs webhooks with, served at [`CERT_PATH`].
const WEBHOOK_CHAIN_PEM: &[u8] = include_bytes!("webhook/chain.pem");
/// Its key (PKCS #8).
const WEBHOOK_KEY: &[u8] = include_bytes!("webhook/leaf.pk8");
/// Where the certificate is served, under the simulator's base path.
pub const CERT_PATH: &str = "/certs/webhook.pem";
/// How many orders are remembered (oldest forgotten first).
const MAX_ORDERS: usize = 10_000;

/// Where the simulator sends Checkout webhooks, and as which webhook.
#[derive(Debug, Clone)]
pub struct CheckoutWebhooks {
    /// The server's `/notify/paypal/webhook`.
    pub url: String,
    /// The webhook id the server was configured with (`paypal.webhook_id`).
    pub webhook_id: String,
    /// The absolute URL of [`CERT_PATH`], sent as `PAYPAL-CERT-URL`.
    pub cert_url: String,
}

/// One order.
#[derive(Debug, Clone)]
pub(super) struct Order {
    id: String,
    request_id: Option<String>,
    invoice_id: String,
    custom_id: String,
    description: String,
    value: String,
    currency: String,
    payee: String,
    return_url: String,
    cancel_url: String,
    locale: String,
    approved: bool,
    capture: Option<Capture>,
}

#[derive(Debug, Clone)]
struct Capture {
    id: String,
    request_id: Option<String>,
    pending: bool,
    refunds: Vec<CaptureRefund>,
}

/// A row of the payments page: one Checkout order.
#[derive(Debug, serde::Serialize)]
pub(super) struct OrderRow {
    order_id: String,
    invoice: String,
    item_name: String,
    amount: String,
    currency: String,
    capture_id: Option<String>,
    status: String,
    complete_url: Option<String>,
}

/// A refund of a capture.
#[derive(Debug, Clone)]
struct CaptureRefund {
    id: String,
    value: String,
    note: Option<String>,
    request_id: Option<String>,
}

/// The orders the simulator knows.
#[derive(Debug, Default)]
pub(super) struct Orders {
    by_id: HashMap<String, Order>,
    order: std::collections::VecDeque<String>,
}

impl Orders {
    fn insert(&mut self, order: Order) {
        if self.by_id.len() >= MAX_ORDERS
            && let Some(old) = self.order.pop_front()
        {
            self.by_id.remove(&old);
        }
        self.order.push_back(order.id.clone());
        self.by_id.insert(order.id.clone(), order);
    }

    fn by_request_id(&self, request_id: &str) -> Option<&Order> {
        self.by_id
            .values()
            .find(|o| o.request_id.as_deref() == Some(request_id))
    }

    /// The payments page's rows, newest first: every order the buyer approved.
    pub(super) fn rows(&self) -> Vec<OrderRow> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.by_id.get(id))
            .filter(|o| o.approved || o.capture.is_some())
            .map(|o| {
                let capture = o.capture.as_ref();
                let pending = capture.is_some_and(|c| c.pending);
                OrderRow {
                    order_id: o.id.clone(),
                    invoice: o.invoice_id.clone(),
                    item_name: o.description.clone(),
                    amount: o.value.clone(),
                    currency: o.currency.clone(),
                    capture_id: capture.map(|c| c.id.clone()),
                    status: match capture {
                        None => "APPROVED".to_owned(),
                        Some(c) if c.pending => "PENDING".to_owned(),
                        Some(c) if c.refunds.is_empty() => "COMPLETED".to_owned(),
                        Some(c) => format!("COMPLETED, {} refund(s)", c.refunds.len()),
                    },
                    complete_url: capture
                        .filter(|_| pending)
                        .map(|c| format!("{}/checkout-captures/{}/complete", super::BASE_PATH, c.id)),
                }
            })
            .collect()
    }

    /// The order whose capture is `capture_id`.
    pub(super) fn capture_order(&self, capture_id: &str) -> Option<&Order> {
        self.by_id
            .values()
            .find(|o| o.capture.as_ref().is_some_and(|c| c.id == capture_id))
    }
}

pub(super) fn error(status: u16, name: &str, issue: &str, description: &str) -> ApiAnswer {
    ApiAnswer {
        status,
        body: json!({"name": name, "message": description, "details": [{"issue": issue, "description": description}],
            "debug_id": messages::new_payer_id().to_lowercase()}),
    }
}

pub(super) fn unauthorized() -> ApiAnswer {
    ApiAnswer {
        status: 401,
        body: json!({"error": "invalid_token", "error_description": "Token signature verification failed"}),
    }
}

fn money_json(order: &Order, value: &str) -> Value {
    json!({"currency_code": order.currency, "value": value})
}

fn capture_json(order: &Order, capture: &Capture, api: &str) -> Value {
    let status = match (capture.pending, capture.refunds.is_empty()) {
        (true, _) => "PENDING",
        (false, true) => "COMPLETED",
        (false, false) => "PARTIALLY_REFUNDED",
    };
    let mut json = json!({
        "id": capture.id, "status": status, "amount": money_json(order, &order.value),
        "invoice_id": order.invoice_id, "custom_id": order.custom_id, "final_capture": true,
        "payee": {"email_address": order.payee},
        "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v2/payments/captures/{}", capture.id)},
                  {"rel": "up", "method": "GET", "href": format!("{api}/v2/checkout/orders/{}", order.id)}],
        "supplementary_data": {"related_ids": {"order_id": order.id}},
        "create_time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if capture.pending {
        json["status_details"] = json!({"reason": "ECHECK"});
    }
    json
}

fn order_json(order: &Order, api: &str, approve: &str) -> Value {
    let status = match (&order.capture, order.approved) {
        (Some(_), _) => "COMPLETED",
        (None, true) => "APPROVED",
        (None, false) => "PAYER_ACTION_REQUIRED",
    };
    let mut unit = json!({
        "reference_id": "default", "invoice_id": order.invoice_id, "custom_id": order.custom_id,
        "description": order.description, "amount": money_json(order, &order.value),
        "payee": {"email_address": order.payee},
    });
    if let Some(capture) = &order.capture {
        unit["payments"] = json!({"captures": [capture_json(order, capture, api)]});
    }
    let mut links =
        vec![json!({"rel": "self", "method": "GET", "href": format!("{api}/v2/checkout/orders/{}", order.id)})];
    if order.capture.is_none() {
        links.push(json!({"rel": "payer-action", "method": "GET", "href": format!("{approve}?token={}", order.id)}));
    }
    json!({"id": order.id, "intent": "CAPTURE", "status": status, "purchase_units": [unit], "links": links})
}

/// `{scheme}://{host}{the simulator's base}`, read from a request to a route `suffix` under the base: the
/// simulator's own address, whatever the server's public path.
pub(super) fn own_base(req: &HttpRequest, suffix: &str) -> String {
    let info = req.connection_info();
    let path = req.path();
    let base = path.strip_suffix(suffix).unwrap_or(super::BASE_PATH);
    format!("{}://{}{base}", info.scheme(), info.host())
}

impl PaypalSimulator {
    /// `POST /v2/checkout/orders`.
    pub(super) fn create_order(
        &self,
        authorization: Option<&str>,
        request_id: Option<&str>,
        body: &[u8],
        api: &str,
    ) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let approve = format!("{api}/checkoutnow");
        let mut orders = self.orders();
        if let Some(existing) = request_id.and_then(|id| orders.by_request_id(id)) {
            return ApiAnswer {
                status: 200,
                body: order_json(existing, api, &approve),
            };
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error(
                400,
                "INVALID_REQUEST",
                "MALFORMED_REQUEST_JSON",
                "The request JSON is not well formed.",
            );
        };
        if request["intent"] != "CAPTURE" {
            return error(
                400,
                "INVALID_REQUEST",
                "INVALID_PARAMETER_VALUE",
                "intent must be CAPTURE here.",
            );
        }
        let unit = &request["purchase_units"][0];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let experience = &request["payment_source"]["paypal"]["experience_context"];
        let order = Order {
            id: messages::new_txn_id(),
            request_id: request_id.map(str::to_owned),
            invoice_id: text(&unit["invoice_id"]),
            custom_id: text(&unit["custom_id"]),
            description: text(&unit["description"]),
            value: text(&unit["amount"]["value"]),
            currency: text(&unit["amount"]["currency_code"]),
            payee: text(&unit["payee"]["email_address"]),
            return_url: text(&experience["return_url"]),
            cancel_url: text(&experience["cancel_url"]),
            locale: text(&experience["locale"]),
            approved: false,
            capture: None,
        };
        let missing = [
            ("amount.value", &order.value),
            ("amount.currency_code", &order.currency),
            ("payee.email_address", &order.payee),
            ("return_url", &order.return_url),
            ("cancel_url", &order.cancel_url),
        ]
        .into_iter()
        .find(|(_, v)| v.is_empty());
        if let Some((field, _)) = missing {
            return error(
                400,
                "INVALID_REQUEST",
                "MISSING_REQUIRED_PARAMETER",
                &format!("{field} is required."),
            );
        }
        if payment_buttons::money::Money::parse(&order.value, &order.currency).is_err() {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "DECIMAL_PRECISION",
                "The amount is not valid.",
            );
        }
        let body = order_json(&order, api, &approve);
        orders.insert(order);
        ApiAnswer { status: 200, body }
    }

    /// `GET /v2/checkout/orders/{id}`.
    pub(super) fn show_order(&self, authorization: Option<&str>, id: &str, api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        match self.orders().by_id.get(id) {
            Some(order) => ApiAnswer {
                status: 200,
                body: order_json(order, api, &format!("{api}/checkoutnow")),
            },
            None => error(
                404,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist.",
            ),
        }
    }

    /// `POST /v2/checkout/orders/{id}/capture`: once per order; the same `PayPal-Request-Id` gets the first
    /// answer again, another one `ORDER_ALREADY_CAPTURED`. The capture webhook follows.
    pub(super) fn capture_order(
        self: &Arc<Self>,
        authorization: Option<&str>,
        id: &str,
        request_id: Option<&str>,
        api: &str,
    ) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let approve = format!("{api}/checkoutnow");
        let mut orders = self.orders();
        let Some(order) = orders.by_id.get_mut(id) else {
            return error(
                404,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist.",
            );
        };
        if let Some(capture) = &order.capture {
            return if request_id.is_some() && capture.request_id.as_deref() == request_id {
                ApiAnswer {
                    status: 201,
                    body: order_json(order, api, &approve),
                }
            } else {
                error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "ORDER_ALREADY_CAPTURED",
                    "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
                )
            };
        }
        if !order.approved {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment.",
            );
        }
        let pending = order.locale.ends_with("#echeck");
        order.capture = Some(Capture {
            id: messages::new_txn_id(),
            request_id: request_id.map(str::to_owned),
            pending,
            refunds: Vec::new(),
        });
        let body = order_json(order, api, &approve);
        let capture = capture_json(order, order.capture.as_ref().expect("just set"), api);
        drop(orders);
        let event = if pending {
            "PAYMENT.CAPTURE.PENDING"
        } else {
            "PAYMENT.CAPTURE.COMPLETED"
        };
        self.spawn_webhook(event, "capture", capture);
        ApiAnswer { status: 201, body }
    }

    /// The refund of a Checkout capture, when `capture_id` is one (`None`: not ours, Payments Standard's
    /// refund handles it). Honours `PayPal-Request-Id`, refuses more than what is left.
    pub(super) fn refund_checkout_capture(
        self: &Arc<Self>,
        capture_id: &str,
        request_id: Option<&str>,
        body: &[u8],
        api: &str,
    ) -> Option<ApiAnswer> {
        let mut orders = self.orders();
        let order_id = orders.capture_order(capture_id)?.id.clone();
        let order = orders.by_id.get_mut(&order_id)?;
        // The order as it stands, for the answers; the capture is changed below.
        let snapshot = order.clone();
        let capture = order.capture.as_mut()?;
        let refund_json = |order: &Order, refund: &CaptureRefund| {
            let id = &refund.id;
            json!({"id": id, "status": "COMPLETED", "amount": money_json(order, &refund.value),
                "invoice_id": order.invoice_id, "custom_id": order.custom_id, "note_to_payer": refund.note,
                "payer": {"email_address": order.payee},
                "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v2/payments/refunds/{id}")},
                          {"rel": "up", "method": "GET", "href": format!("{api}/v2/payments/captures/{capture_id}")}]})
        };
        if let Some(request_id) = request_id
            && let Some(refund) = capture
                .refunds
                .iter()
                .find(|r| r.request_id.as_deref() == Some(request_id))
        {
            return Some(ApiAnswer {
                status: 201,
                body: refund_json(&snapshot, refund),
            });
        }
        let request: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { body }).unwrap_or(Value::Null);
        let paid = payment_buttons::money::Money::parse(&snapshot.value, &snapshot.currency).ok()?;
        let refunded = capture.refunds.iter().fold(0i64, |sum, r| {
            sum + payment_buttons::money::Money::parse(&r.value, &snapshot.currency)
                .map(|m| m.minor_units())
                .unwrap_or(0)
        });
        let left = paid.minor_units() - refunded;
        let asked = match request["amount"]["value"].as_str() {
            Some(v) => match payment_buttons::money::Money::parse(v, &snapshot.currency) {
                Ok(m) => m,
                Err(_) => return Some(error(422, "UNPROCESSABLE_ENTITY", "DECIMAL_PRECISION", "Bad amount.")),
            },
            None => payment_buttons::money::Money::from_minor(left, paid.currency()),
        };
        if left <= 0 {
            return Some(error(
                422,
                "UNPROCESSABLE_ENTITY",
                "CAPTURE_FULLY_REFUNDED",
                "The capture has already been fully refunded.",
            ));
        }
        if asked.minor_units() > left || asked.minor_units() <= 0 {
            return Some(error(
                422,
                "UNPROCESSABLE_ENTITY",
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            ));
        }
        let refund = CaptureRefund {
            id: messages::new_txn_id(),
            value: asked.to_string(),
            note: request["note_to_payer"].as_str().map(str::to_owned),
            request_id: request_id.map(str::to_owned),
        };
        capture.refunds.push(refund.clone());
        let refund = refund_json(&snapshot, &refund);
        drop(orders);
        self.spawn_webhook("PAYMENT.CAPTURE.REFUNDED", "refund", refund.clone());
        Some(ApiAnswer {
            status: 201,
            body: refund,
        })
    }

    /// The payments page's rows of Checkout orders.
    pub(super) fn order_rows(&self) -> Vec<OrderRow> {
        self.orders().rows()
    }

    /// A pending capture (an eCheck) clears: `COMPLETED`, and `PAYMENT.CAPTURE.COMPLETED` is sent.
    pub(super) fn complete_capture(self: &Arc<Self>, capture_id: &str, api: &str) -> Result<(), SimulatorError> {
        let mut orders = self.orders();
        let order_id = orders
            .capture_order(capture_id)
            .map(|o| o.id.clone())
            .ok_or_else(|| SimulatorError::UnknownPayment(capture_id.to_owned()))?;
        let order = orders
            .by_id
            .get_mut(&order_id)
            .ok_or_else(|| SimulatorError::UnknownPayment(capture_id.to_owned()))?;
        let capture = order
            .capture
            .as_mut()
            .ok_or_else(|| SimulatorError::UnknownPayment(capture_id.to_owned()))?;
        if !capture.pending {
            return Err(SimulatorError::WrongState(format!(
                "capture {capture_id} is not pending: only a pending eCheck can be completed"
            )));
        }
        capture.pending = false;
        let resource = capture_json(order, order.capture.as_ref().expect("just changed"), api);
        drop(orders);
        self.spawn_webhook("PAYMENT.CAPTURE.COMPLETED", "capture", resource);
        Ok(())
    }

    /// The buyer approves: the order can be captured, `CHECKOUT.ORDER.APPROVED` is sent, and the buyer goes
    /// back to the merchant's return URL with `token` and `PayerID`.
    pub(super) fn approve_order(self: &Arc<Self>, id: &str, echeck: bool, api: &str) -> Option<String> {
        let mut orders = self.orders();
        let order = orders.by_id.get_mut(id)?;
        if order.capture.is_none() {
            order.approved = true;
            if echeck && !order.locale.ends_with("#echeck") {
                // Remembered with the order: its capture will be PENDING, as an eCheck's is.
                order.locale.push_str("#echeck");
            }
        }
        let resource = order_json(order, api, &format!("{api}/checkoutnow"));
        let payer = messages::new_payer_id();
        let back = format!(
            "{}{}token={}&PayerID={payer}",
            order.return_url,
            if order.return_url.contains('?') { '&' } else { '?' },
            order.id
        );
        drop(orders);
        self.spawn_webhook("CHECKOUT.ORDER.APPROVED", "checkout-order", resource);
        Some(back)
    }

    /// The buyer cancels at PayPal: back to the merchant's cancel URL, nothing sent.
    pub(super) fn cancel_order(&self, id: &str) -> Option<String> {
        let orders = self.orders();
        let order = orders.by_id.get(id)?;
        Some(format!(
            "{}{}token={}",
            order.cancel_url,
            if order.cancel_url.contains('?') { '&' } else { '?' },
            order.id
        ))
    }

    /// Sends a signed webhook in the background, as PayPal does (it does not wait for the merchant).
    fn spawn_webhook(self: &Arc<Self>, event_type: &str, resource_type: &str, resource: Value) {
        self.spawn_webhooks(vec![(event_type, resource_type, resource)]);
    }

    /// Sends signed webhooks in the background, one after the other in this order (each once answered).
    pub(super) fn spawn_webhooks(self: &Arc<Self>, events: Vec<(&str, &str, Value)>) {
        let Some(hooks) = self.checkout_webhooks.clone() else {
            return;
        };
        let bodies: Vec<Vec<u8>> = events
            .into_iter()
            .map(|(event_type, resource_type, resource)| {
                json!({
                    "id": format!("WH-{}", messages::new_checkout_id()),
                    "event_version": "1.0",
                    "create_time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "resource_type": resource_type,
                    "event_type": event_type,
                    "summary": event_type,
                    "resource": resource,
                })
                .to_string()
                .into_bytes()
            })
            .collect();
        if bodies.is_empty() {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            for body in bodies {
                let headers = sign_webhook(&hooks, &body);
                let mut request = client
                    .post(&hooks.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json");
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                match request.body(body).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(status = r.status().as_u16(), "simulated PayPal webhook refused"),
                    Err(e) => tracing::warn!(error = %e, "simulated PayPal webhook not delivered"),
                }
            }
        });
    }
}

/// `POST /v1/notifications/verify-webhook-signature`: `SUCCESS` when the signature, made with the
/// simulator's key, covers the event exactly as given (its bytes inside the request), the webhook id and the
/// transmission; `FAILURE` otherwise.
pub(super) fn verify_webhook_signature(sim: &PaypalSimulator, authorization: Option<&str>, body: &[u8]) -> ApiAnswer {
    if !sim.bearer_valid(authorization) {
        return unauthorized();
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return error(
            400,
            "INVALID_REQUEST",
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        );
    };
    let Ok(request) = serde_json::from_str::<Value>(text) else {
        return error(
            400,
            "INVALID_REQUEST",
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        );
    };
    // The event's own bytes: the signature covers them, not a re-serialization.
    const KEY: &str = "\"webhook_event\":";
    let event = text
        .rfind(KEY)
        .map(|i| text[i + KEY.len()..].trim_end())
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_default();
    let field = |k: &str| request[k].as_str().unwrap_or_default();
    let ours = sim
        .checkout_webhooks
        .as_ref()
        .is_some_and(|h| h.cert_url == field("cert_url") && h.webhook_id == field("webhook_id"));
    let signed = payment_buttons::paypal::simulator::webhook_signed_string(
        field("transmission_id"),
        field("transmission_time"),
        field("webhook_id"),
        event.as_bytes(),
    );
    let signature = base64::engine::general_purpose::STANDARD
        .decode(field("transmission_sig"))
        .unwrap_or_default();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(WEBHOOK_KEY).expect("the simulator's key is valid PKCS #8");
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ring::signature::KeyPair::public_key(&pair).as_ref(),
    );
    let valid = ours && field("auth_algo") == "SHA256withRSA" && public.verify(signed.as_bytes(), &signature).is_ok();
    ApiAnswer {
        status: 200,
        body: json!({"verification_status": if valid { "SUCCESS" } else { "FAILURE" }}),
    }
}

/// `POST /simulator/paypal/v1/notifications/verify-webhook-signature`.
pub async fn verify_signature(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    json_answer(verify_webhook_signature(&sim, authorization(&req), &body))
}

/// The headers of a webhook signed with the simulator's key, as PayPal signs its own.
pub fn sign_webhook(hooks: &CheckoutWebhooks, body: &[u8]) -> Vec<(&'static str, String)> {
    let id = format!("{}-sim", messages::new_checkout_id());
    let time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let signed = payment_buttons::paypal::simulator::webhook_signed_string(&id, &time, &hooks.webhook_id, body);
    let pair = ring::signature::RsaKeyPair::from_pkcs8(WEBHOOK_KEY).expect("the simulator's key is valid PKCS #8");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing with a valid key");
    vec![
        ("paypal-transmission-id", id),
        ("paypal-transmission-time", time),
        (
            "paypal-transmission-sig",
            base64::engine::general_purpose::STANDARD.encode(signature),
        ),
        ("paypal-cert-url", hooks.cert_url.clone()),
        ("paypal-auth-algo", "SHA256withRSA".to_owned()),
    ]
}

pub(super) fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

pub(super) fn request_id(req: &HttpRequest) -> Option<&str> {
    req.headers().get("paypal-request-id").and_then(|v| v.to_str().ok())
}

/// An API answer as PayPal sends it: JSON, or no body at all (`null`: a 204).
pub(super) fn json_answer(answer: ApiAnswer) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap_or_default();
    if answer.body.is_null() {
        return HttpResponse::build(status).finish();
    }
    HttpResponse::build(status)
        .content_type("application/json")
        .body(answer.body.to_string())
}

/// `POST /simulator/paypal/v2/checkout/orders`.
pub async fn create(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let api = own_base(&req, "/v2/checkout/orders");
    json_answer(sim.create_order(authorization(&req), request_id(&req), &body, &api))
}

/// `GET /simulator/paypal/v2/checkout/orders/{id}`.
pub async fn show(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/v2/checkout/orders/{id}"));
    json_answer(sim.show_order(authorization(&req), &id, &api))
}

/// `POST /simulator/paypal/v2/checkout/orders/{id}/capture`.
pub async fn capture(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/v2/checkout/orders/{id}/capture"));
    let sim = sim.into_inner();
    json_answer(sim.capture_order(authorization(&req), &id, request_id(&req), &api))
}

/// `GET /simulator/paypal/certs/webhook.pem`: the certificate webhooks are signed with.
pub async fn certificate() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(WEBHOOK_CHAIN_PEM)
}

/// The approval page's fields, named as the Payments Standard page's (one template, one look).
/// Subscriptions' approval page (`subscriptions.rs`) is the same page.
#[derive(serde::Serialize)]
pub(super) struct ApprovalView {
    pub(super) business: String,
    pub(super) item_name: String,
    pub(super) amount: String,
    pub(super) currency: String,
    pub(super) billing: Option<String>,
    pub(super) invoice: String,
    pub(super) pay_url: String,
    pub(super) cancel_url: String,
    pub(super) subscription: bool,
}

/// Renders the approval page of `view`, in `language`.
pub(super) fn render_approval(sim: &PaypalSimulator, language: Language, view: &ApprovalView) -> HttpResponse {
    let mut ctx = pages::context(language.tag(), true);
    ctx.insert("w", checkout_words(language));
    ctx.insert("c", view);
    ctx.insert("error", &Option::<String>::None);
    pages::render(
        &sim.templates,
        "simulator/paypal_checkout.html",
        &ctx,
        actix_web::http::StatusCode::OK,
    )
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    token: String,
}

/// `GET /simulator/paypal/checkoutnow?token={order}`: the approval page, in the look of PayPal's.
pub async fn approval_page(sim: web::Data<PaypalSimulator>, query: web::Query<TokenQuery>) -> HttpResponse {
    let Some(order) = sim.orders().by_id.get(&query.token).cloned() else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such order\n");
    };
    let language = Language::from_lc(&order.locale.replace('-', "_"));
    let view = ApprovalView {
        business: order.payee.clone(),
        item_name: order.description.clone(),
        amount: order.value.clone(),
        currency: order.currency.clone(),
        billing: None,
        invoice: order.invoice_id.clone(),
        pay_url: format!("checkoutnow/{}/approve", order.id),
        cancel_url: format!("checkoutnow/{}/cancel", order.id),
        subscription: false,
    };
    render_approval(&sim, language, &view)
}

/// `POST /simulator/paypal/checkoutnow/{id}/approve` (`echeck=1`: the capture will be pending).
pub async fn approve(
    sim: web::Data<PaypalSimulator>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Bytes,
) -> HttpResponse {
    let echeck = url::form_urlencoded::parse(&form).any(|(k, v)| k == "echeck" && v == "1");
    let api = own_base(&req, &format!("/checkoutnow/{id}/approve"));
    let sim = sim.into_inner();
    match sim.approve_order(&id, echeck, &api) {
        Some(back) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .finish(),
        None => HttpResponse::NotFound().body("no such order\n"),
    }
}

/// `POST /simulator/paypal/checkoutnow/{id}/cancel`.
pub async fn cancel(sim: web::Data<PaypalSimulator>, id: web::Path<String>) -> HttpResponse {
    match sim.cancel_order(&id) {
        Some(back) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .finish(),
        None => HttpResponse::NotFound().body("no such order\n"),
    }
}

/// `POST /simulator/paypal/checkout-captures/{id}/complete` (payments page): the eCheck clears.
pub async fn complete(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/checkout-captures/{id}/complete"));
    let sim = sim.into_inner();
    let result = sim.complete_capture(&id, &api);
    super::handlers::after_action(&sim, result)
}

/// The Checkout routes, inside the simulator's scope.
pub(super) fn routes(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/v2/checkout/orders", web::post().to(create))
        .route("/v2/checkout/orders/{id}", web::get().to(show))
        .route("/v2/checkout/orders/{id}/capture", web::post().to(capture))
        .route(CERT_PATH, web::get().to(certificate))
        .route(
            "/v1/notifications/verify-webhook-signature",
            web::post().to(verify_signature),
        )
        .route("/checkoutnow", web::get().to(approval_page))
        .route("/checkoutnow/{id}/approve", web::post().to(approve))
        .route("/checkoutnow/{id}/cancel", web::post().to(cancel))
        .route("/checkout-captures/{id}/complete", web::post().to(complete))
}
