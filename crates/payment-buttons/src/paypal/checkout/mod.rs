//! PayPal Checkout (Orders v2) with signed webhooks: the second integration of the `paypal` gateway
//! (`paypal.integration = "checkout"`), beside Payments Standard and its IPN, which stays mounted.
//!
//! - `hand_off.rs`: `/pay` creates the order and sends the buyer to PayPal's approval page.
//! - `capture.rs`: the buyer's return (`GET /return/paypal/{payment_id}?token={order}`) captures the
//!   order; so does the `CHECKOUT.ORDER.APPROVED` webhook when the buyer never comes back.
//! - `message.rs`: webhook events and Orders objects, parsed.
//! - `verify.rs`: the webhook signature (certificate chain and SHA256withRSA), or PayPal's API.
//! - `status.rs`: captures and refunds in the core's terms, keyed as Standard's IPN keys them.
//! - `subscription.rs`: subscriptions through the Subscriptions API (plans, subscriptions, their webhooks,
//!   cancellation), in the terms of Payments Standard's subscriptions.
//!
//! Every answer PayPal gives to our calls goes back to the engine, which logs it before anything is
//! decided from it.

pub(crate) mod capture;
pub(crate) mod hand_off;
pub(crate) mod message;
pub(crate) mod status;
pub(crate) mod subscription;
pub(crate) mod verify;

use serde_json::Value;

use super::api::{Authorized, PaypalApi};
use super::config::{PaypalConfig, WebhookVerification};
use super::oauth::TokenError;
use crate::gateway::{GatewayCall, IncomingMessage, VerificationWithCalls};
use crate::notification::{Flag, Verification, VerificationStatus, Verified};
use crate::payment::PaymentId;
use message::WebhookEvent;
use verify::{CertCache, SignatureError, Transmission, WebhookTrust};

/// One REST call: method, path under `api_url`, `PayPal-Request-Id`, JSON body.
pub(crate) struct Call {
    method: reqwest::Method,
    path: String,
    request_id: Option<String>,
    body: Option<Value>,
}

impl Call {
    pub(crate) fn post(path: &str, request_id: String, body: Value) -> Self {
        Call {
            method: reqwest::Method::POST,
            path: path.to_owned(),
            request_id: Some(request_id),
            body: Some(body),
        }
    }
    pub(crate) fn get(path: &str) -> Self {
        Call {
            method: reqwest::Method::GET,
            path: path.to_owned(),
            request_id: None,
            body: None,
        }
    }
}

/// Makes one authenticated call (the OAuth token from helper B's cache; its answers are pushed to `calls`
/// too) and reads the answer as JSON. `Err` is a reason to try later: no usable answer, or credentials
/// PayPal refused.
pub(crate) async fn call(
    api: &PaypalApi,
    config: &PaypalConfig,
    call: Call,
    calls: &mut Vec<GatewayCall>,
) -> Result<(u16, Value), String> {
    let (Some(base), Some(credentials)) = (config.api_url(), config.rest_credentials()) else {
        return Err("paypal.client_id and paypal.api_url are not configured".into());
    };
    let url = format!("{base}{}", call.path);
    let described = format!("{} {url}", call.method);
    let body = call.body.as_ref().map(Value::to_string);
    let sent = api
        .authorized(base, credentials, &described, calls, |token| {
            let mut request = api
                .client()
                .request(call.method.clone(), &url)
                .bearer_auth(token.expose())
                .header("Prefer", "return=representation");
            if let Some(id) = &call.request_id {
                request = request.header("PayPal-Request-Id", id);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            request
        })
        .await;
    match sent {
        Ok(answer) => {
            let status = answer.status;
            let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            calls.push(answer);
            Ok((status, json))
        }
        Err(Authorized::NoAnswer(no)) => Err(no.0),
        Err(Authorized::Token(TokenError::Refused(reason) | TokenError::Unavailable(reason))) => Err(reason),
    }
}

/// What the webhook side of the gateway needs: its trust, its certificate cache, and the client that fetches
/// certificates.
#[derive(Debug)]
pub(crate) struct Webhooks {
    pub(crate) trust: WebhookTrust,
    pub(crate) certs: CertCache,
    /// Never follows a redirect: the certificate must come from the PayPal URL that was checked, not from
    /// wherever an open redirect on a PayPal host would send it.
    client: reqwest::Client,
}

impl Webhooks {
    pub(crate) fn new(trust: WebhookTrust) -> Result<Self, crate::gateway::GatewayError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| crate::gateway::GatewayError::client("paypal certificate client", e))?;
        Ok(Webhooks {
            trust,
            certs: CertCache::default(),
            client,
        })
    }
}

fn rejected(reason: String) -> Verification {
    Verification::Rejected {
        status: VerificationStatus::Invalid,
        reason,
        flags: vec![Flag::Invalid],
    }
}

/// Verifies a logged webhook (its signature, locally or through PayPal's API) and reads it. The answers of
/// PayPal's API, when it was asked, come back with the verification: the engine logs them before it acts.
pub(crate) async fn verify_webhook(
    api: &PaypalApi,
    config: &PaypalConfig,
    webhooks: &Webhooks,
    message: &IncomingMessage,
) -> VerificationWithCalls {
    let mut calls = Vec::new();
    let verification = verify_webhook_calling(api, config, webhooks, message, &mut calls).await;
    VerificationWithCalls { verification, calls }
}

async fn verify_webhook_calling(
    api: &PaypalApi,
    config: &PaypalConfig,
    webhooks: &Webhooks,
    message: &IncomingMessage,
    calls: &mut Vec<GatewayCall>,
) -> Verification {
    let Some(webhook_id) = config.webhook_id() else {
        return Verification::Rejected {
            status: VerificationStatus::Error,
            reason: "paypal.webhook_id is not configured: a webhook cannot be verified".into(),
            flags: vec![Flag::VerificationFailed],
        };
    };
    let transmission = match Transmission::read(&message.headers) {
        Ok(t) => t,
        Err(e) => return rejected(e.to_string()),
    };
    let checked = match config.webhook_verification() {
        WebhookVerification::Local => verify_locally(webhooks, &transmission, webhook_id, &message.body).await,
        WebhookVerification::Api => verify_by_api(api, config, &transmission, webhook_id, &message.body, calls).await,
    };
    match checked {
        Ok(()) => {}
        Err(Checked::Retry(reason)) => return Verification::Retry { reason },
        Err(Checked::Refused(reason)) => return rejected(reason),
    }
    let event = match WebhookEvent::parse(&message.body) {
        Ok(event) => event,
        Err(reason) => {
            return Verification::Rejected {
                status: VerificationStatus::Error,
                reason,
                flags: vec![Flag::MalformedField],
            };
        }
    };
    read_event(config, &event)
}

enum Checked {
    Refused(String),
    Retry(String),
}

async fn verify_locally(
    webhooks: &Webhooks,
    transmission: &Transmission<'_>,
    webhook_id: &str,
    body: &[u8],
) -> Result<(), Checked> {
    webhooks
        .trust
        .check_cert_url(transmission.cert_url)
        .map_err(|e| Checked::Refused(e.to_string()))?;
    let chain = webhooks
        .certs
        .get(&webhooks.client, transmission.cert_url)
        .await
        .map_err(Checked::Retry)?;
    let now = rustls_pki_types::UnixTime::now();
    verify::check_signature(&webhooks.trust, &chain, transmission, webhook_id, body, now).map_err(|e| match e {
        SignatureError::Headers(_) | SignatureError::CertUrl(_) | SignatureError::Mismatch => {
            Checked::Refused(e.to_string())
        }
        SignatureError::Certificate(_) => Checked::Refused(e.to_string()),
    })
}

/// PayPal's `POST /v1/notifications/verify-webhook-signature`, with the event as received (the raw body,
/// never re-serialized: PayPal checks the signature over its bytes). Every answer (the OAuth token's,
/// redacted, when one was fetched; the verification's) is pushed to `calls`, for the engine's log.
async fn verify_by_api(
    api: &PaypalApi,
    config: &PaypalConfig,
    transmission: &Transmission<'_>,
    webhook_id: &str,
    body: &[u8],
    calls: &mut Vec<GatewayCall>,
) -> Result<(), Checked> {
    let Ok(event) = std::str::from_utf8(body) else {
        return Err(Checked::Refused("the body is not UTF-8 JSON".into()));
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(event).is_err() {
        return Err(Checked::Refused("the body is not JSON".into()));
    }
    use base64::Engine as _;
    let fields = serde_json::json!({
        "auth_algo": transmission.algo,
        "cert_url": transmission.cert_url,
        "transmission_id": transmission.id,
        "transmission_sig": base64::engine::general_purpose::STANDARD.encode(&transmission.signature),
        "transmission_time": transmission.time,
        "webhook_id": webhook_id,
    })
    .to_string();
    // `{...fields, "webhook_event": <raw body>}`.
    let request = format!("{},\"webhook_event\":{event}}}", &fields[..fields.len() - 1]);
    let (Some(base), Some(credentials)) = (config.api_url(), config.rest_credentials()) else {
        return Err(Checked::Refused("paypal.client_id is not configured".into()));
    };
    let url = format!("{base}/v1/notifications/verify-webhook-signature");
    let sent = api
        .authorized(base, credentials, &format!("POST {url}"), calls, |token| {
            api.client()
                .post(&url)
                .bearer_auth(token.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(request.clone())
        })
        .await;
    if let Ok(answer) = &sent {
        calls.push(answer.clone());
    }
    match sent {
        Ok(answer) if (200..300).contains(&answer.status) => {
            let json: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            match message::text(&json, "verification_status") {
                Some("SUCCESS") => Ok(()),
                other => Err(Checked::Refused(format!(
                    "PayPal's verify-webhook-signature said {}",
                    other.unwrap_or("nothing")
                ))),
            }
        }
        Ok(answer) if answer.status >= 500 => Err(Checked::Retry(format!(
            "verify-webhook-signature: HTTP {}",
            answer.status
        ))),
        Ok(answer) => Err(Checked::Refused(super::api::rest_error(answer.status, &answer.body))),
        Err(Authorized::NoAnswer(no)) => Err(Checked::Retry(no.0)),
        Err(Authorized::Token(TokenError::Refused(r) | TokenError::Unavailable(r))) => Err(Checked::Retry(r)),
    }
}

/// What a verified event means.
fn read_event(config: &PaypalConfig, event: &WebhookEvent) -> Verification {
    let test = config.mode() != super::PaypalMode::Live;
    let unusable = |reason: String| Verification::Rejected {
        status: VerificationStatus::Error,
        reason: format!("{} {}: {reason}", event.event_type, event.id),
        flags: vec![Flag::MalformedField],
    };
    if subscription::is_subscription_event(&event.event_type) {
        return match subscription::read_event(config, event, test) {
            Ok(Some(n)) => Verification::Verified(Verified::new(n)),
            Ok(None) => Verification::Ignored {
                reason: format!(
                    "webhook event {} is not acted on",
                    event.event_type.chars().take(64).collect::<String>()
                ),
                flags: vec![Flag::UnknownType],
            },
            Err(reason) => unusable(reason),
        };
    }
    let notification = match event.event_type.as_str() {
        "CHECKOUT.ORDER.APPROVED" => return capture_approved(event),
        "PAYMENT.CAPTURE.COMPLETED" | "PAYMENT.CAPTURE.PENDING" | "PAYMENT.CAPTURE.DENIED" => {
            status::capture(&event.resource, None, test)
        }
        "PAYMENT.CAPTURE.REFUNDED" => status::refund(&event.resource, false, test),
        "PAYMENT.CAPTURE.REVERSED" => status::refund(&event.resource, true, test),
        other => {
            return Verification::Ignored {
                reason: format!(
                    "webhook event {} is not handled",
                    other.chars().take(64).collect::<String>()
                ),
                flags: vec![Flag::UnknownType],
            };
        }
    };
    match notification {
        Ok(mut n) => {
            n.summary = format!("{} ({})", event.event_type, n.summary);
            Verification::Verified(Verified::new(n))
        }
        Err(reason) => unusable(reason),
    }
}

/// `CHECKOUT.ORDER.APPROVED`: the buyer approved but may never come back: the engine runs the return step
/// (the capture, with the return's `PayPal-Request-Id`) for the payment, if it is one of ours.
fn capture_approved(event: &WebhookEvent) -> Verification {
    let order = message::text(&event.resource, "id").filter(|o| capture::is_order_id(o));
    let payment = message::invoice_id(&event.resource).and_then(|p| PaymentId::parse(p).ok());
    let (Some(order), Some(payment)) = (order, payment) else {
        return Verification::Rejected {
            status: VerificationStatus::Error,
            reason: "CHECKOUT.ORDER.APPROVED without an order id or our invoice_id".into(),
            flags: vec![Flag::UnknownPayment],
        };
    };
    if message::text(&event.resource, "status") == Some("COMPLETED") {
        return Verification::Ignored {
            reason: format!("order {order} is captured already"),
            flags: vec![],
        };
    }
    Verification::Return {
        payment,
        query: vec![("token".to_owned(), order.to_owned())],
    }
}
