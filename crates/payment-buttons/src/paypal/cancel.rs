//! Cancelling a Payments Standard subscription (feature `reqwest`): the NVP call
//! `ManageRecurringPaymentsProfileStatus` with `ACTION=Cancel` and the subscription's `subscr_id` as
//! `PROFILEID`, signed with the NVP API-signature credentials. There is no REST equivalent for Payments
//! Standard subscriptions.
//!
//! The request carries the NVP password and signature and is never logged; PayPal's answer is, raw.

use std::collections::BTreeMap;

use super::api::{NoAnswer, PaypalApi, shorten};
use super::config::PaypalConfig;
use super::refund::same_account;
use crate::gateway::{CancelAnswer, CancelAttempt, CancelRequest, StoredPaymentFacts};

/// The NVP API version sent (`ManageRecurringPaymentsProfileStatus` exists since 50.0).
const NVP_VERSION: &str = "204.0";

/// PayPal's limit on `NOTE`.
const MAX_NOTE_CHARS: usize = 255;

/// Whether this service can cancel this subscription at PayPal. No network.
pub(crate) fn check(config: &PaypalConfig, has_client: bool, payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
    if config.nvp_credentials().is_none() || config.nvp_url().is_none() || !has_client {
        return Err(
            "cancelling a PayPal subscription needs NVP API credentials (paypal.nvp_user, \
                    paypal.nvp_password, paypal.nvp_signature), which this service does not have: cancel it \
                    at PayPal"
                .to_owned(),
        );
    }
    same_account(config, payment.receiver, "cancel")?;
    if payment.gateway_subscription_id.is_none() {
        return Err("PayPal has not named this payment's subscription (subscr_id) yet: nothing to cancel".to_owned());
    }
    Ok(())
}

/// One attempt at cancelling.
pub(crate) async fn cancel(api: &PaypalApi, config: &PaypalConfig, request: &CancelRequest<'_>) -> CancelAttempt {
    let (Some(url), Some(credentials), Some(subscr_id)) = (
        config.nvp_url(),
        config.nvp_credentials(),
        request.payment.gateway_subscription_id,
    ) else {
        let reason = check(config, true, &request.payment).err().unwrap_or_default();
        return CancelAttempt {
            calls: Vec::new(),
            answer: CancelAnswer::Failed { reason },
        };
    };
    let body = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("USER", &credentials.user)
            .append_pair("PWD", credentials.password.expose())
            .append_pair("SIGNATURE", credentials.signature.expose())
            .append_pair("VERSION", NVP_VERSION)
            .append_pair("METHOD", "ManageRecurringPaymentsProfileStatus")
            .append_pair("PROFILEID", subscr_id)
            .append_pair("ACTION", "Cancel");
        if let Some(note) = request.reason.map(str::trim).filter(|r| !r.is_empty()) {
            form.append_pair("NOTE", &note.chars().take(MAX_NOTE_CHARS).collect::<String>());
        }
        form.finish()
    };
    let http = api
        .client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    match api
        .send(http, format!("POST {url} ManageRecurringPaymentsProfileStatus"))
        .await
    {
        Ok(call) => {
            let answer = read_nvp_answer(subscr_id, call.status, &call.body);
            CancelAttempt {
                calls: vec![call],
                answer,
            }
        }
        Err(NoAnswer(reason)) => CancelAttempt {
            calls: Vec::new(),
            answer: CancelAnswer::Retry { reason },
        },
    }
}

/// What the NVP answer means. `ACK=Success` (or `SuccessWithWarning`) cancelled the profile: the key is
/// the one of the `subscr_cancel` IPN PayPal sends next (see `status.rs`), so `subscription_cancelled` is
/// emitted once.
pub(crate) fn read_nvp_answer(subscr_id: &str, status: u16, body: &[u8]) -> CancelAnswer {
    if status >= 500 || status == 429 {
        return CancelAnswer::Retry {
            reason: format!("PayPal's NVP endpoint answered HTTP {status}"),
        };
    }
    let fields: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    match fields.get("ACK").map(String::as_str) {
        Some("Success" | "SuccessWithWarning") if status == 200 => CancelAnswer::Cancelled {
            idempotency_key: format!("subscr_cancel:{subscr_id}"),
        },
        Some("Failure" | "FailureWithWarning") => {
            let message = fields
                .get("L_LONGMESSAGE0")
                .or_else(|| fields.get("L_SHORTMESSAGE0"))
                .map(|m| shorten(m, 300))
                .unwrap_or_else(|| "no message".to_owned());
            let code = fields
                .get("L_ERRORCODE0")
                .map(|c| format!(" (error {})", shorten(c, 20)))
                .unwrap_or_default();
            CancelAnswer::Failed {
                reason: format!("PayPal refused to cancel the subscription: {message}{code}"),
            }
        }
        _ => CancelAnswer::Retry {
            reason: format!("PayPal's NVP answer (HTTP {status}) has no ACK"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_carries_the_key_of_the_subscr_cancel_ipn() {
        let body = b"PROFILEID=I%2d4WJ9TNR2KQ7B&TIMESTAMP=2026%2d12%2d03T14%3a00%3a00Z&CORRELATIONID=4f2c1d&ACK=Success&VERSION=204%2e0&BUILD=1";
        assert_eq!(
            read_nvp_answer("I-4WJ9TNR2KQ7B", 200, body),
            CancelAnswer::Cancelled {
                idempotency_key: "subscr_cancel:I-4WJ9TNR2KQ7B".to_owned()
            }
        );
    }

    #[test]
    fn failure_gives_paypal_long_message() {
        let body = b"ACK=Failure&L_ERRORCODE0=11556&L_SHORTMESSAGE0=Invalid%20profile%20status&L_LONGMESSAGE0=Invalid%20profile%20status%20for%20cancel%20action%3b%20profile%20should%20be%20active%20or%20suspended";
        let CancelAnswer::Failed { reason } = read_nvp_answer("I-X", 200, body) else {
            panic!("a Failure is final");
        };
        assert!(reason.contains("profile should be active or suspended"), "{reason}");
        assert!(reason.contains("11556"), "{reason}");
    }

    #[test]
    fn server_errors_and_answers_without_ack_are_retried() {
        assert!(matches!(read_nvp_answer("I-X", 502, b""), CancelAnswer::Retry { .. }));
        assert!(matches!(
            read_nvp_answer("I-X", 200, b"<html>"),
            CancelAnswer::Retry { .. }
        ));
    }
}
