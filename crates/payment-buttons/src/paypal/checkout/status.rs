//! What Checkout's objects mean in the core's terms: a capture (from the answer to our capture call or a
//! `PAYMENT.CAPTURE.*` webhook) and a refund or reversal (`PAYMENT.CAPTURE.REFUNDED` / `.REVERSED`).
//!
//! Idempotency keys are those Payments Standard's IPN uses, `{transaction id}:{IPN payment_status}`, so a
//! capture applied from our capture's answer and from its webhook (or an IPN PayPal sends for the same
//! transaction) counts once, and a refund confirmed by the refund call's answer (`{refund id}:Refunded`, see
//! `paypal/refund.rs`) and by its webhook counts once.

use serde_json::Value;

use super::message::{first_unit, invoice_id, linked_id, text};
use crate::money::Money;
use crate::notification::{Notification, Outcome, Target};

/// The IPN `payment_status` word of a capture's status, and what it means.
fn capture_status(status: &str) -> Option<(&'static str, Outcome)> {
    match status {
        "COMPLETED" => Some(("Completed", Outcome::Accepted)),
        "PENDING" => Some(("Pending", Outcome::Pending)),
        "DECLINED" => Some(("Denied", Outcome::Declined)),
        "FAILED" => Some(("Failed", Outcome::Declined)),
        _ => None,
    }
}

fn money(value: &Value) -> Result<Money, String> {
    let amount = value.get("amount").ok_or("no amount")?;
    let v = text(amount, "value").ok_or("no amount.value")?;
    let c = text(amount, "currency_code").ok_or("no amount.currency_code")?;
    Money::parse(v, c).map_err(|e| format!("amount {v} {c}: {e}"))
}

fn payee_email(value: &Value) -> Option<String> {
    value
        .get("payee")
        .and_then(|p| text(p, "email_address"))
        .map(str::to_owned)
}

/// A capture, with the payee (`receiver`) when the object that carried it names one (an order's purchase
/// unit does; a capture webhook may carry `payee` on the capture itself).
pub(crate) fn capture(capture: &Value, receiver: Option<String>, test: bool) -> Result<Notification, String> {
    let id = text(capture, "id").ok_or("the capture has no id")?;
    let status = text(capture, "status").ok_or("the capture has no status")?;
    let (word, outcome) = capture_status(status).ok_or_else(|| format!("capture status {status} is not handled"))?;
    let amount = money(capture)?;
    let mut details = serde_json::Map::new();
    if let Some(reason) = capture.get("status_details").and_then(|d| text(d, "reason")) {
        let key = if outcome == Outcome::Pending {
            "pending_reason"
        } else {
            "reason_code"
        };
        details.insert(key.into(), Value::String(reason.to_owned()));
    }
    if let Some(custom) = text(capture, "custom_id") {
        details.insert("custom_id".into(), Value::String(custom.to_owned()));
    }
    Ok(Notification {
        payment_ref: invoice_id(capture).map(str::to_owned),
        target: Target::Payment,
        outcome: Some(outcome),
        idempotency_key: format!("{id}:{word}"),
        gateway_reference: Some(id.to_owned()),
        subscription: None,
        amount: Some(amount),
        receiver: receiver.or_else(|| payee_email(capture)),
        test,
        details,
        flags: Vec::new(),
        summary: format!("capture {status}"),
    })
}

/// The capture inside an order returned by the capture call (or read back): the first capture of the first
/// purchase unit, with the unit's payee and invoice id.
pub(crate) fn order_capture(order: &Value, test: bool) -> Result<Notification, String> {
    let unit = first_unit(order).ok_or("the order has no purchase unit")?;
    let capture = unit
        .get("payments")
        .and_then(|p| p.get("captures"))
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("the order has no capture")?;
    let mut n = capture_notification_with_unit(capture, unit, test)?;
    n.summary = format!("order {} {}", text(order, "id").unwrap_or("?"), n.summary);
    Ok(n)
}

fn capture_notification_with_unit(capture: &Value, unit: &Value, test: bool) -> Result<Notification, String> {
    let mut n = self::capture(capture, payee_email(unit), test)?;
    if n.payment_ref.is_none() {
        n.payment_ref = text(unit, "invoice_id").map(str::to_owned);
    }
    Ok(n)
}

/// A refund or reversal of a capture: the refund object of `PAYMENT.CAPTURE.REFUNDED`/`.REVERSED` (its
/// `up` link names the capture), or a capture whose status became `REVERSED`. The receiver is the
/// merchant: the refund's `payee`, or its `payer` (the account the money went back from).
pub(crate) fn refund(resource: &Value, reversal: bool, test: bool) -> Result<Notification, String> {
    let id = text(resource, "id").ok_or("the refund has no id")?;
    let amount = money(resource)?.abs();
    let word = if reversal { "Reversed" } else { "Refunded" };
    let capture_id = match linked_id(resource, "up") {
        Some(capture) => capture.to_owned(),
        // A reversal may come as the capture itself, status REVERSED.
        None if reversal && text(resource, "status") == Some("REVERSED") => id.to_owned(),
        None => return Err("the refund names no capture (no `up` link)".to_owned()),
    };
    let receiver = payee_email(resource).or_else(|| {
        resource
            .get("payer")
            .and_then(|p| text(p, "email_address"))
            .map(str::to_owned)
    });
    let mut details = serde_json::Map::new();
    details.insert("refund_id".into(), Value::String(id.to_owned()));
    if let Some(reason) = text(resource, "note_to_payer") {
        details.insert("reason".into(), Value::String(reason.to_owned()));
    }
    Ok(Notification {
        payment_ref: invoice_id(resource).map(str::to_owned),
        target: Target::Payment,
        outcome: Some(Outcome::Refunded { amount: Some(amount) }),
        idempotency_key: format!("{id}:{word}"),
        gateway_reference: Some(capture_id),
        subscription: None,
        amount: Some(amount),
        receiver,
        test,
        details,
        flags: Vec::new(),
        summary: format!("{} {id}", word.to_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn captured_order(status: &str) -> Value {
        json!({"id": "5O190127TN364715T", "status": "COMPLETED", "purchase_units": [{
            "invoice_id": "Xk3f9QpL2mZa", "payee": {"email_address": "seller@example.com"},
            "payments": {"captures": [{"id": "3C679366HH908993F", "status": status,
                "amount": {"currency_code": "EUR", "value": "12.50"}, "invoice_id": "Xk3f9QpL2mZa",
                "status_details": {"reason": "PENDING_REVIEW"}}]}}]})
    }

    #[test]
    fn a_completed_capture_is_accepted_under_the_ipn_key_of_its_transaction() {
        let n = order_capture(&captured_order("COMPLETED"), false).unwrap();
        assert_eq!(n.outcome, Some(Outcome::Accepted));
        assert_eq!(n.idempotency_key, "3C679366HH908993F:Completed");
        assert_eq!(n.payment_ref.as_deref(), Some("Xk3f9QpL2mZa"));
        assert_eq!(n.receiver.as_deref(), Some("seller@example.com"));
        assert_eq!(n.amount, Some(Money::parse("12.50", "EUR").unwrap()));
    }

    #[test]
    fn pending_and_declined_captures_map_to_the_standard_states() {
        let pending = order_capture(&captured_order("PENDING"), false).unwrap();
        assert_eq!(pending.outcome, Some(Outcome::Pending));
        assert_eq!(pending.details["pending_reason"], "PENDING_REVIEW");
        let declined = order_capture(&captured_order("DECLINED"), false).unwrap();
        assert_eq!(declined.outcome, Some(Outcome::Declined));
        assert_eq!(declined.idempotency_key, "3C679366HH908993F:Denied");
        assert!(order_capture(&captured_order("VOIDED"), false).is_err());
    }

    #[test]
    fn a_refund_is_keyed_as_the_refund_answer_and_names_its_capture() {
        let refund_object = json!({"id": "1JU08902781691411", "status": "COMPLETED", "invoice_id": "Xk3f9QpL2mZa",
            "amount": {"currency_code": "EUR", "value": "5.00"},
            "payer": {"email_address": "seller@example.com"},
            "links": [{"rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/3C679366HH908993F"}]});
        let n = refund(&refund_object, false, false).unwrap();
        assert_eq!(n.idempotency_key, "1JU08902781691411:Refunded");
        assert_eq!(n.gateway_reference.as_deref(), Some("3C679366HH908993F"));
        assert_eq!(
            n.outcome,
            Some(Outcome::Refunded {
                amount: Some(Money::parse("5.00", "EUR").unwrap())
            })
        );
        assert_eq!(n.receiver.as_deref(), Some("seller@example.com"));
    }
}
