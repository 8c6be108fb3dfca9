//! Refunds of Payments Standard transactions through PayPal's REST API (feature `reqwest`).
//!
//! `POST {api_url}/v2/payments/captures/{txn_id}/refund`: the `txn_id` of a completed Payments Standard
//! payment is the capture id the v2 Payments API takes (see docs/paypal.md). `PayPal-Request-Id` is our
//! refund id, so that a retry after a timeout gets the first attempt's answer rather than a second refund.
//! PayPal keeps that key for [`REQUEST_ID_WINDOW_DAYS`] days; a refund first sent longer ago than
//! [`LOOKUP_AFTER`] is looked up with the Transaction Search API (by `custom_id`, which carries our refund
//! id too) before it is sent again.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::api::{Authorized, PaypalApi, rest_error, shorten};
use super::config::{PaypalConfig, RestCredentials};
use super::currency::format_amount;
use super::oauth::TokenError;
use crate::gateway::{GatewayCall, RefundAnswer, RefundAttempt, RefundRequest, StoredPaymentFacts};

/// How many days PayPal honours a `PayPal-Request-Id` on the v2 capture refund ("the server stores keys
/// for 45 days", PayPal's Payments v2 reference).
const REQUEST_ID_WINDOW_DAYS: i64 = 45;

/// A refund first sent longer ago than this is looked up before it is sent again: the window, less a day
/// of margin for clocks and for the attempt in flight.
pub(crate) const LOOKUP_AFTER: Duration = Duration::days(REQUEST_ID_WINDOW_DAYS - 1);

/// The longest date range one Transaction Search request may cover.
const SEARCH_SLICE: Duration = Duration::days(31);

/// Transaction Search's event code of a payment refund.
const REFUND_EVENT_CODE: &str = "T1107";

/// PayPal's limit on `note_to_payer`.
const MAX_NOTE_CHARS: usize = 255;

/// Whether these REST credentials can refund this payment. No network.
pub(crate) fn check(config: &PaypalConfig, has_client: bool, payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
    if config.rest_credentials().is_none() {
        return Err(
            "PayPal refunds need REST credentials (paypal.client_id and paypal.client_secret), \
                    which this service does not have: refund it at PayPal"
                .to_owned(),
        );
    }
    if config.api_url().is_none() || !has_client {
        return Err("this service has no PayPal REST API to call (paypal.api_url): refund it at PayPal".to_owned());
    }
    same_account(config, payment.receiver, "refund")?;
    if payment.gateway_reference.is_none() {
        return Err("PayPal has not given this payment a transaction id yet: nothing to refund".to_owned());
    }
    format_amount(payment.amount)?;
    Ok(())
}

/// The API credentials act for `paypal.business` only: a payment received by another account (a button's
/// own `paypal_email`) is refunded, or its subscription cancelled, by that account at PayPal.
///
/// In simulator mode one simulator stands in for every PayPal account, and its credentials act for all of
/// them: the demo shop's payments (to their own `paypal_email`) can be refunded with no account anywhere.
pub(crate) fn same_account(config: &PaypalConfig, receiver: Option<&str>, action: &str) -> Result<(), String> {
    if config.mode() == super::config::PaypalMode::Simulator {
        return Ok(());
    }
    let Some(business) = config.business() else {
        return Err(format!(
            "paypal.business is not set, so the PayPal account of the API credentials is unknown: {action} it at PayPal"
        ));
    };
    match receiver {
        Some(receiver) if receiver.trim().eq_ignore_ascii_case(business.as_str()) => Ok(()),
        Some(_) => Err(format!(
            "received by another PayPal account than this service's (paypal.business), whose API credentials \
             cannot act for it: {action} it at PayPal"
        )),
        None => Err(format!(
            "the payment names no receiving PayPal account: {action} it at PayPal"
        )),
    }
}

/// One attempt at a refund. See the module documentation.
pub(crate) async fn refund(api: &PaypalApi, config: &PaypalConfig, request: &RefundRequest<'_>) -> RefundAttempt {
    let mut calls = Vec::new();
    let answer = attempt(api, config, request, &mut calls).await;
    RefundAttempt { calls, answer }
}

async fn attempt(
    api: &PaypalApi,
    config: &PaypalConfig,
    request: &RefundRequest<'_>,
    calls: &mut Vec<GatewayCall>,
) -> RefundAnswer {
    // The engine checks first; checked again here so that no call is ever made for a payment these
    // credentials must not touch.
    if let Err(reason) = check(config, true, &request.payment) {
        return RefundAnswer::Failed { reason };
    }
    let (Some(base), Some(credentials), Some(txn_id)) = (
        config.api_url(),
        config.rest_credentials(),
        request.payment.gateway_reference,
    ) else {
        return RefundAnswer::Failed {
            reason: "PayPal refunds are not configured".to_owned(),
        };
    };
    let amount = match format_amount(request.amount) {
        Ok(amount) => amount,
        Err(reason) => return RefundAnswer::Failed { reason },
    };
    if let Some(first) = request.first_sent_at
        && request.now - first > LOOKUP_AFTER
    {
        match look_up(api, base, credentials, txn_id, request, first, calls).await {
            Lookup::Found(answer) | Lookup::Failed(answer) => return answer,
            Lookup::NotFound => {}
        }
    }
    let url = format!("{base}/v2/payments/captures/{}/refund", path_segment(txn_id));
    let mut body = json!({
        "amount": { "value": amount, "currency_code": request.amount.currency().code() },
        "custom_id": request.refund_id,
    });
    if let Some(reason) = request.reason.map(str::trim).filter(|r| !r.is_empty()) {
        body["note_to_payer"] = Value::String(reason.chars().take(MAX_NOTE_CHARS).collect());
    }
    let body = body.to_string();
    let described = format!("POST {url}");
    let sent = api
        .authorized(base, credentials, &described, calls, |token| {
            api.client()
                .post(&url)
                .bearer_auth(token.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("PayPal-Request-Id", request.refund_id)
                .header("Prefer", "return=representation")
                .body(body.clone())
        })
        .await;
    match sent {
        Ok(call) => {
            let answer = read_refund_answer(call.status, &call.body);
            calls.push(call);
            answer
        }
        Err(failure) => unanswered(failure),
    }
}

/// What no answer means for a refund: a refused token is final (the configuration must change); anything
/// else is tried again with the same `PayPal-Request-Id`.
fn unanswered(failure: Authorized) -> RefundAnswer {
    match failure {
        Authorized::Token(TokenError::Refused(reason)) => RefundAnswer::Failed { reason },
        Authorized::Token(TokenError::Unavailable(reason)) | Authorized::NoAnswer(super::api::NoAnswer(reason)) => {
            RefundAnswer::Retry { reason }
        }
    }
}

/// What PayPal's answer to the refund call means.
pub(crate) fn read_refund_answer(status: u16, body: &[u8]) -> RefundAnswer {
    match status {
        200..=299 => {
            let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let id = json.get("id").and_then(Value::as_str).map(str::to_owned);
            let state = json.get("status").and_then(Value::as_str);
            match (state, id) {
                (Some("COMPLETED"), Some(id)) => succeeded(id),
                (Some("PENDING"), id) => RefundAnswer::Pending { gateway_refund_id: id },
                (Some(state @ ("FAILED" | "CANCELLED")), id) => {
                    let why = json
                        .pointer("/status_details/reason")
                        .and_then(Value::as_str)
                        .map(|r| format!(" ({})", shorten(r, 100)))
                        .unwrap_or_default();
                    RefundAnswer::Failed {
                        reason: format!("PayPal refund {} {state}{why}", id.unwrap_or_default()),
                    }
                }
                // PayPal took the request but its answer is unreadable: the same PayPal-Request-Id gets
                // the same refund's state next time.
                _ => RefundAnswer::Retry {
                    reason: format!("PayPal's refund answer (HTTP {status}) has no id and known status"),
                },
            }
        }
        // 409: the same PayPal-Request-Id is still being processed; 429: too many requests.
        409 | 429 | 500..=599 => RefundAnswer::Retry {
            reason: rest_error(status, body),
        },
        _ => RefundAnswer::Failed {
            reason: format!("PayPal refused the refund: {}", rest_error(status, body)),
        },
    }
}

/// A completed refund: its id, and the key its IPN (`txn_id` = the refund's id, `payment_status=Refunded`)
/// is applied under (see `status.rs`), so that the refund counts once whichever arrives first.
fn succeeded(id: String) -> RefundAnswer {
    RefundAnswer::Succeeded {
        idempotency_key: format!("{id}:Refunded"),
        gateway_refund_id: Some(id),
    }
}

enum Lookup {
    /// The refund exists at PayPal: its state.
    Found(RefundAnswer),
    /// It does not: send it (the old `PayPal-Request-Id` is forgotten by now).
    NotFound,
    /// The search could not say: what to do instead of sending.
    Failed(RefundAnswer),
}

/// Looks for a refund of `txn_id` whose `custom_id` is our refund id, from an hour before it was first
/// sent until now, in 31-day slices (the Transaction Search limit).
async fn look_up(
    api: &PaypalApi,
    base: &str,
    credentials: &RestCredentials,
    txn_id: &str,
    request: &RefundRequest<'_>,
    first_sent_at: DateTime<Utc>,
    calls: &mut Vec<GatewayCall>,
) -> Lookup {
    let mut start = first_sent_at - Duration::hours(1);
    while start < request.now {
        let end = (start + SEARCH_SLICE).min(request.now);
        let mut page = 1u32;
        loop {
            let url = format!(
                "{base}/v1/reporting/transactions?start_date={}&end_date={}&transaction_type={REFUND_EVENT_CODE}\
                 &fields=transaction_info&page_size=500&page={page}",
                search_date(start),
                search_date(end)
            );
            let described = format!("GET {url}");
            let sent = api
                .authorized(base, credentials, &described, calls, |token| {
                    api.client().get(&url).bearer_auth(token.expose())
                })
                .await;
            let call = match sent {
                Ok(call) => call,
                Err(failure) => return Lookup::Failed(unanswered(failure)),
            };
            let status = call.status;
            let json: Option<Value> = serde_json::from_slice(&call.body).ok();
            calls.push(call);
            match status {
                200 => {}
                429 | 500..=599 => {
                    return Lookup::Failed(RefundAnswer::Retry {
                        reason: format!("PayPal's transaction search answered HTTP {status}"),
                    });
                }
                // Without Transaction Search (a permission of the REST app) the refund cannot be found,
                // and sending it again could refund twice: an operator decides.
                _ => {
                    return Lookup::Failed(RefundAnswer::Unknown {
                        reason: format!(
                            "refund first sent on {first_sent_at} could not be looked up at PayPal (transaction \
                             search answered HTTP {status}; the REST app needs the Transaction Search \
                             permission): check it at PayPal"
                        ),
                    });
                }
            }
            let json = json.unwrap_or(Value::Null);
            if let Some(found) = find_refund(&json, txn_id, request.refund_id) {
                return Lookup::Found(found);
            }
            let pages = json.get("total_pages").and_then(Value::as_u64).unwrap_or(1);
            if u64::from(page) >= pages || page >= 20 {
                break;
            }
            page += 1;
        }
        start = end;
    }
    Lookup::NotFound
}

/// The refund among a Transaction Search page, by its `custom_field` (our refund id) and
/// `paypal_reference_id` (the refunded transaction).
fn find_refund(json: &Value, txn_id: &str, refund_id: &str) -> Option<RefundAnswer> {
    let details = json.get("transaction_details")?.as_array()?;
    details.iter().find_map(|detail| {
        let info = detail.get("transaction_info")?;
        let field = |k: &str| info.get(k).and_then(Value::as_str);
        if field("custom_field") != Some(refund_id) || field("paypal_reference_id") != Some(txn_id) {
            return None;
        }
        let id = field("transaction_id")?.to_owned();
        Some(match field("transaction_status") {
            Some("S") => succeeded(id),
            Some("P") => RefundAnswer::Pending {
                gateway_refund_id: Some(id),
            },
            other => RefundAnswer::Failed {
                reason: format!("PayPal refund {id} has status {}", other.unwrap_or("unknown")),
            },
        })
    })
}

/// Transaction Search's date format (ISO 8601 with an offset).
fn search_date(at: DateTime<Utc>) -> String {
    // `+` must be percent-encoded in a query.
    at.format("%Y-%m-%dT%H:%M:%S%%2B0000").to_string()
}

/// A transaction id as a path segment: PayPal's are 17 letters and digits; anything else is encoded.
fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_refund_carries_the_key_of_its_ipn() {
        let answer = read_refund_answer(201, br#"{"id":"1JU08902781691411","status":"COMPLETED"}"#);
        assert_eq!(
            answer,
            RefundAnswer::Succeeded {
                gateway_refund_id: Some("1JU08902781691411".to_owned()),
                idempotency_key: "1JU08902781691411:Refunded".to_owned(),
            }
        );
    }

    #[test]
    fn pending_cancelled_and_unreadable_answers() {
        assert_eq!(
            read_refund_answer(
                201,
                br#"{"id":"R1","status":"PENDING","status_details":{"reason":"ECHECK"}}"#
            ),
            RefundAnswer::Pending {
                gateway_refund_id: Some("R1".to_owned())
            }
        );
        assert!(matches!(
            read_refund_answer(201, br#"{"id":"R1","status":"CANCELLED"}"#),
            RefundAnswer::Failed { .. }
        ));
        assert!(matches!(read_refund_answer(200, b"<html>"), RefundAnswer::Retry { .. }));
    }

    #[test]
    fn server_errors_and_conflicts_are_retried_client_errors_are_final() {
        assert!(matches!(read_refund_answer(503, b""), RefundAnswer::Retry { .. }));
        assert!(matches!(read_refund_answer(409, b""), RefundAnswer::Retry { .. }));
        let RefundAnswer::Failed { reason } = read_refund_answer(
            403,
            br#"{"name":"NOT_AUTHORIZED","details":[{"issue":"PERMISSION_DENIED","description":"You do not have permission to access or perform operations on this resource."}]}"#,
        ) else {
            panic!("a 403 is final");
        };
        assert!(reason.contains("PERMISSION_DENIED"), "{reason}");
    }

    #[test]
    fn the_search_finds_only_our_refund_of_this_transaction() {
        let page = json!({"transaction_details": [
            {"transaction_info": {"transaction_id": "OTHER", "paypal_reference_id": "TXN", "custom_field": "rf_2", "transaction_status": "S"}},
            {"transaction_info": {"transaction_id": "MINE", "paypal_reference_id": "TXN", "custom_field": "rf_1", "transaction_status": "S"}},
        ]});
        assert_eq!(find_refund(&page, "TXN", "rf_1"), Some(succeeded("MINE".to_owned())));
        assert_eq!(find_refund(&page, "OTHER-TXN", "rf_1"), None);
        assert_eq!(find_refund(&page, "TXN", "rf_3"), None);
    }

    #[test]
    fn only_the_simulator_acts_for_another_account_than_business() {
        use super::super::config::{PaypalMode, PaypalOverrides};
        let config = |mode| {
            PaypalConfig::new(
                mode,
                PaypalOverrides {
                    business: Some("seller@example.com".into()),
                    webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
                    postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let sandbox = config(PaypalMode::Sandbox);
        assert!(same_account(&sandbox, Some("Seller@Example.com"), "refund").is_ok());
        let err = same_account(&sandbox, Some("demo-seller@example.com"), "refund").unwrap_err();
        assert!(
            err.contains("another PayPal account") && err.ends_with("refund it at PayPal"),
            "{err}"
        );
        assert!(same_account(&sandbox, None, "refund").is_err());
        let simulator = config(PaypalMode::Simulator);
        assert!(same_account(&simulator, Some("demo-seller@example.com"), "refund").is_ok());
    }

    #[test]
    fn search_dates_are_iso_with_an_encoded_offset() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T14:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(search_date(at), "2026-12-03T14:05:00%2B0000");
    }
}
