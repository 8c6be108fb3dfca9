//! Capturing an approved order (`POST /v2/checkout/orders/{id}/capture`): when the buyer comes back, or
//! from the `CHECKOUT.ORDER.APPROVED` webhook when they never do. `PayPal-Request-Id` is derived from our
//! payment and the order, so a double return, a retry and the webhook all make the one capture: PayPal
//! answers a repeated request id with the first capture's answer.

use serde_json::{Value, json};

use super::message::text;
use super::status;
use super::{Call, call};
use crate::gateway::GatewayCall;
use crate::notification::Notification;
use crate::payment::PaymentId;
use crate::paypal::api::PaypalApi;
use crate::paypal::config::PaypalConfig;

/// What a capture attempt came to, once its answers are in `calls`.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per capture, built and consumed once: a box would buy nothing.
pub(crate) enum Captured {
    /// PayPal's answer names a capture: what it says.
    Capture(Notification),
    /// PayPal refused (the order is not approved, the instrument was declined...): nothing to apply.
    Refused(String),
    /// No usable answer: try again later, with the same request id.
    Retry(String),
}

/// The idempotency key of the capture of `order` for `payment`.
pub(crate) fn request_id(payment: &PaymentId, order: &str) -> String {
    format!("{payment}-capture-{order}")
}

/// Whether `order` looks like a PayPal order id (it comes from the buyer's browser on the return).
pub(crate) fn is_order_id(order: &str) -> bool {
    (1..=36).contains(&order.len()) && order.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Captures `order` for `payment`. An order captured already (`ORDER_ALREADY_CAPTURED`, a capture made
/// with another request id) is read back instead, so its capture is still applied.
pub(crate) async fn capture(
    api: &PaypalApi,
    config: &PaypalConfig,
    payment: &PaymentId,
    order: &str,
    calls: &mut Vec<GatewayCall>,
) -> Captured {
    let test = config.mode() != crate::paypal::PaypalMode::Live;
    let path = format!("/v2/checkout/orders/{order}/capture");
    let answer = call(
        api,
        config,
        Call::post(&path, request_id(payment, order), json!({})),
        calls,
    )
    .await;
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(reason) => return Captured::Retry(reason),
    };
    let order_json: Value = match status {
        200..=299 => body,
        422 if issue(&body) == Some("ORDER_ALREADY_CAPTURED") => {
            match call(api, config, Call::get(&format!("/v2/checkout/orders/{order}")), calls).await {
                Ok((200..=299, order)) => order,
                Ok((status, body)) if status >= 500 => {
                    return Captured::Retry(crate::paypal::api::rest_error(status, body.to_string().as_bytes()));
                }
                Ok((status, body)) => {
                    return Captured::Refused(crate::paypal::api::rest_error(status, body.to_string().as_bytes()));
                }
                Err(reason) => return Captured::Retry(reason),
            }
        }
        500..=599 => return Captured::Retry(crate::paypal::api::rest_error(status, body.to_string().as_bytes())),
        _ => return Captured::Refused(crate::paypal::api::rest_error(status, body.to_string().as_bytes())),
    };
    match status::order_capture(&order_json, test) {
        // The capture names its payment (`invoice_id`): a return carrying another payment's order applies
        // to that payment, checked against it, never to this one.
        Ok(n) => Captured::Capture(n),
        Err(reason) => Captured::Refused(format!("the captured order could not be read: {reason}")),
    }
}

fn issue(body: &Value) -> Option<&str> {
    body.get("details")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| text(d, "issue"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_from_the_browser_are_checked_before_they_reach_a_url() {
        assert!(is_order_id("5O190127TN364715T"));
        assert!(!is_order_id("../../v1/oauth2/token"));
        assert!(!is_order_id(""));
        assert!(!is_order_id(&"A".repeat(37)));
    }
}
