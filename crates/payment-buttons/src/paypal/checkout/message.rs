//! Checkout's messages: webhook events (`POST /notify/paypal/webhook`) and the Orders v2 objects of
//! PayPal's answers, read as JSON. Only parsing: nothing here is trusted before `verify.rs` says so.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::gateway::DecodedFields;
use crate::notification::Flag;

/// The request headers a webhook's signature needs, logged with it (`gateway_messages.headers`).
pub(crate) const WEBHOOK_HEADERS: &[&str] = &[
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
];

/// The route of webhooks under `/notify/paypal`.
pub(crate) const WEBHOOK_ROUTE: &str = "webhook";

/// The longest value kept in the log's decoded fields (the raw body stays whole).
const FIELD_MAX: usize = 256;

/// A webhook event, as far as we read it.
#[derive(Debug, Clone)]
pub(crate) struct WebhookEvent {
    /// PayPal's id of the event (`WH-...`): the same on every redelivery.
    pub id: String,
    /// `PAYMENT.CAPTURE.COMPLETED`...
    pub event_type: String,
    /// The object the event is about (an order, a capture, a refund).
    pub resource: Value,
}

impl WebhookEvent {
    /// Parses an event; `Err` says what is missing.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let json: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        let id = text("id").ok_or("the event has no id")?;
        let event_type = text("event_type").ok_or("the event has no event_type")?;
        let resource = json
            .get("resource")
            .filter(|r| r.is_object())
            .cloned()
            .ok_or("the event has no resource")?;
        Ok(WebhookEvent {
            id,
            event_type,
            resource,
        })
    }
}

/// A string member of a JSON object.
pub(crate) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The first purchase unit of an order (we create orders of exactly one).
pub(crate) fn first_unit(order: &Value) -> Option<&Value> {
    order
        .get("purchase_units")
        .and_then(Value::as_array)
        .and_then(|u| u.first())
}

/// Our payment id in a resource: `invoice_id` of a capture or refund, or of an order's purchase unit.
pub(crate) fn invoice_id(resource: &Value) -> Option<&str> {
    text(resource, "invoice_id").or_else(|| first_unit(resource).and_then(|u| text(u, "invoice_id")))
}

/// The id at the end of a resource's `rel` link (`up` of a refund is its capture).
pub(crate) fn linked_id<'a>(resource: &'a Value, rel: &str) -> Option<&'a str> {
    resource
        .get("links")
        .and_then(Value::as_array)?
        .iter()
        .find(|l| text(l, "rel") == Some(rel))
        .and_then(|l| text(l, "href"))
        .and_then(|href| href.trim_end_matches('/').rsplit('/').next())
        .filter(|id| !id.is_empty())
}

/// The fields of a webhook for the log: the event, its resource's ids, status and amount. Never fails: a
/// body that is not an event is flagged `malformed_field`.
pub(crate) fn decode(body: &[u8]) -> DecodedFields {
    let Ok(event) = WebhookEvent::parse(body) else {
        return DecodedFields {
            fields: BTreeMap::new(),
            flags: vec![Flag::MalformedField],
        };
    };
    let r = &event.resource;
    let mut fields = BTreeMap::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            fields.insert(k.to_owned(), v.chars().take(FIELD_MAX).collect());
        }
    };
    put("event_id", Some(&event.id));
    put("event_type", Some(&event.event_type));
    put("resource_id", text(r, "id"));
    put("status", text(r, "status"));
    put("invoice_id", invoice_id(r));
    put("custom_id", text(r, "custom_id"));
    // Subscriptions: a sale's `custom` (our payment id) and subscription, a subscription's plan.
    put("custom", text(r, "custom"));
    put("billing_agreement_id", text(r, "billing_agreement_id"));
    put("plan_id", text(r, "plan_id"));
    put("state", text(r, "state"));
    let amount = r.get("amount").or_else(|| first_unit(r).and_then(|u| u.get("amount")));
    // Orders v2 write `value`/`currency_code`; a v1 sale `total`/`currency`.
    put(
        "amount",
        amount.and_then(|a| text(a, "value").or_else(|| text(a, "total"))),
    );
    put(
        "currency_code",
        amount.and_then(|a| text(a, "currency_code").or_else(|| text(a, "currency"))),
    );
    DecodedFields {
        fields,
        flags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_event_is_decoded_for_the_log() {
        let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"3C6","status":"COMPLETED","invoice_id":"Xk3f9QpL2mZa","amount":{"currency_code":"EUR","value":"12.50"}}}"#;
        let decoded = decode(body);
        assert_eq!(decoded.fields["event_type"], "PAYMENT.CAPTURE.COMPLETED");
        assert_eq!(decoded.fields["invoice_id"], "Xk3f9QpL2mZa");
        assert_eq!(decoded.fields["amount"], "12.50");
        assert!(decoded.flags.is_empty());
    }

    #[test]
    fn a_subscription_sale_is_decoded_for_the_log() {
        let body = br#"{"id":"WH-2","event_type":"PAYMENT.SALE.COMPLETED","resource":{"id":"80021663DE681814L","state":"completed","billing_agreement_id":"I-PE7JWXKGVN0R","custom":"Xk3f9QpL2mZa","amount":{"total":"5.00","currency":"EUR"}}}"#;
        let decoded = decode(body);
        assert_eq!(decoded.fields["billing_agreement_id"], "I-PE7JWXKGVN0R");
        assert_eq!(decoded.fields["custom"], "Xk3f9QpL2mZa");
        assert_eq!(decoded.fields["amount"], "5.00");
        assert_eq!(decoded.fields["currency_code"], "EUR");
    }

    #[test]
    fn a_body_that_is_no_event_is_flagged_not_refused() {
        assert_eq!(decode(b"txn_id=1").flags, vec![Flag::MalformedField]);
        assert_eq!(decode(br#"{"id":"WH-1"}"#).flags, vec![Flag::MalformedField]);
    }

    #[test]
    fn the_up_link_of_a_refund_names_its_capture() {
        let refund: Value = serde_json::json!({"links": [
            {"rel": "self", "href": "https://api-m.paypal.com/v2/payments/refunds/1JU"},
            {"rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/2GG"}
        ]});
        assert_eq!(linked_id(&refund, "up"), Some("2GG"));
    }
}
