//! Buy now through Checkout: `POST /v2/checkout/orders` (intent `CAPTURE`), then the buyer goes to the
//! approval link of PayPal's answer.

use serde_json::{Value, json};

use super::message::text;
use super::{Call, call};
use crate::gateway::{GatewayCall, GatewayError, HandOff, PaymentRequest};
use crate::paypal::api::PaypalApi;
use crate::paypal::config::PaypalConfig;
use crate::paypal::currency::format_amount;
use crate::paypal::hand_off::{paypal_locale, receiver_for};

/// PayPal's limit on `description` and `custom_id` (127 characters).
const TEXT_MAX: usize = 127;

/// The BCP 47 locale of PayPal's pages for a button language (`fr-FR`), from the one table of
/// Payments Standard's locales.
pub(crate) fn locale(request: &PaymentRequest<'_>) -> String {
    let language = request.button.language();
    match paypal_locale(language) {
        "US" => "en-US".to_owned(),
        code if code.contains('_') => code.replace('_', "-"),
        country => format!("{}-{country}", language.as_str()),
    }
}

/// The order we create for one payment: our payment id as `invoice_id` (PayPal refuses a second order with
/// the same invoice once paid), the shop's order reference as `custom_id`, the amount, the payee of the
/// button, where the buyer comes back, and the buyer's language.
pub(crate) fn order_body(config: &PaypalConfig, request: &PaymentRequest<'_>) -> Result<Value, GatewayError> {
    let option = request.option();
    if option.recurrence_months().is_some() {
        return Err(GatewayError::Unsupported(
            "a subscription is made through the Subscriptions API, never as a one-off order".into(),
        ));
    }
    let value = format_amount(option.amount()).map_err(GatewayError::Unsupported)?;
    let payee = receiver_for(config, request.button)?;
    let short = |s: &str| s.chars().take(TEXT_MAX).collect::<String>();
    let mut experience = json!({
        "return_url": format!("{}/return/paypal/{}", request.urls.base(), request.payment_id),
        "cancel_url": request.urls.status_cancelled(request.payment_id),
        "locale": locale(request),
        "user_action": "PAY_NOW",
        "shipping_preference": "NO_SHIPPING",
    });
    if let Some(email) = request.buyer_email {
        experience["email_address"] = Value::String(email.to_owned());
    }
    Ok(json!({
        "intent": "CAPTURE",
        "purchase_units": [{
            "reference_id": "default",
            "invoice_id": request.payment_id.as_str(),
            "custom_id": short(request.button.order_reference()),
            "description": short(option.description()),
            "amount": { "currency_code": option.amount().currency().code(), "value": value },
            "payee": { "email_address": payee.as_str() },
        }],
        "payment_source": { "paypal": { "experience_context": experience } },
    }))
}

/// Creates the order and reads the approval link; every answer comes back for the log.
pub(crate) async fn create_order(
    api: &PaypalApi,
    config: &PaypalConfig,
    request: &PaymentRequest<'_>,
) -> (Result<HandOff, GatewayError>, Vec<GatewayCall>) {
    let mut calls = Vec::new();
    let body = match order_body(config, request) {
        Ok(body) => body,
        Err(e) => return (Err(e), calls),
    };
    let sent = call(
        api,
        config,
        Call::post("/v2/checkout/orders", format!("{}-order", request.payment_id), body),
        &mut calls,
    )
    .await;
    let result = match sent {
        Ok((status, answer)) if (200..300).contains(&status) => approval_link(&answer)
            .map(|location| HandOff::Redirect { location })
            .ok_or_else(|| GatewayError::Unavailable("PayPal's order has no approval link".into())),
        Ok((status, answer)) => Err(GatewayError::Unavailable(format!(
            "PayPal refused the order ({})",
            crate::paypal::api::rest_error(status, answer.to_string().as_bytes())
        ))),
        Err(reason) => Err(GatewayError::Unavailable(reason)),
    };
    (result, calls)
}

/// The link the buyer approves the order at (`payer-action` with `payment_source`, `approve` without).
fn approval_link(order: &Value) -> Option<String> {
    let links = order.get("links")?.as_array()?;
    ["payer-action", "approve"].iter().find_map(|rel| {
        links
            .iter()
            .find(|l| text(l, "rel") == Some(rel))
            .and_then(|l| text(l, "href"))
            .filter(|href| href.starts_with("https://") || href.starts_with("http://"))
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approval_link_is_payer_action_or_approve_and_never_another_scheme() {
        let order = json!({"links": [{"rel": "self", "href": "https://api/x"},
            {"rel": "payer-action", "href": "https://www.paypal.com/checkoutnow?token=5O1"}]});
        assert_eq!(
            approval_link(&order).as_deref(),
            Some("https://www.paypal.com/checkoutnow?token=5O1")
        );
        let old = json!({"links": [{"rel": "approve", "href": "https://www.paypal.com/checkoutnow?token=5O2"}]});
        assert!(approval_link(&old).is_some());
        let hostile = json!({"links": [{"rel": "approve", "href": "javascript:alert(1)"}]});
        assert_eq!(approval_link(&hostile), None);
    }
}
