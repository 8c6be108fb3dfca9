//! What PayPal's APIs do in the simulator: the OAuth2 token (`POST /v1/oauth2/token`), the refund of a
//! captured payment (`POST /v2/payments/captures/{txn_id}/refund`), Transaction Search
//! (`GET /v1/reporting/transactions`, refunds only) and the NVP call `ManageRecurringPaymentsProfileStatus`
//! (`POST /nvp`). Each checks the credentials the server's gateway uses ([`ApiCredentials`]), answers in
//! PayPal's shapes, and afterwards sends the IPN PayPal would send (`Refunded`, `subscr_cancel`).

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use payment_buttons::money::Money;
use serde_json::{Value, json};

use super::PaypalSimulator;
use super::actions::refund_ipn;
use super::ledger::{Refund, TxnStatus};
use super::messages::{self, Ipn};

/// How long a simulated token lasts, as PayPal's (nine hours).
const TOKEN_LIFETIME_SECS: i64 = 32_400;

/// The credentials the simulated APIs accept: those of the server's PayPal gateway. Secrets print as `***`.
#[derive(Clone)]
pub struct ApiCredentials {
    /// REST client id.
    pub client_id: String,
    /// REST client secret.
    pub client_secret: String,
    /// NVP user.
    pub nvp_user: String,
    /// NVP password.
    pub nvp_password: String,
    /// NVP signature.
    pub nvp_signature: String,
    /// The PayPal account these credentials belong to (`paypal.business`): refunds of payments to any
    /// other account are refused with `PERMISSION_DENIED`, as PayPal does. `None` accepts any.
    pub account: Option<String>,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("client_id", &self.client_id)
            .field("nvp_user", &self.nvp_user)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// An API answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAnswer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl ApiAnswer {
    fn new(status: u16, body: Value) -> Self {
        ApiAnswer { status, body }
    }

    /// PayPal's v2 error shape.
    fn error(status: u16, name: &str, issue: &str, description: &str) -> Self {
        ApiAnswer::new(
            status,
            json!({
                "name": name,
                "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
                "details": [{ "issue": issue, "description": description }],
                "debug_id": messages::new_payer_id().to_lowercase(),
            }),
        )
    }

    fn unauthorized() -> Self {
        ApiAnswer::new(
            401,
            json!({"error": "invalid_token", "error_description": "Token signature verification failed"}),
        )
    }
}

impl PaypalSimulator {
    /// `POST /v1/oauth2/token`: HTTP Basic with the client id and secret, `grant_type=client_credentials`.
    pub fn issue_token(&self, authorization: Option<&str>, body: &[u8]) -> ApiAnswer {
        let Some(api) = &self.api else {
            return ApiAnswer::new(
                401,
                json!({"error": "invalid_client", "error_description": "Client Authentication failed"}),
            );
        };
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", api.client_id, api.client_secret))
        );
        let grant = url::form_urlencoded::parse(body).any(|(k, v)| k == "grant_type" && v == "client_credentials");
        if authorization != Some(expected.as_str()) {
            return ApiAnswer::new(
                401,
                json!({"error": "invalid_client", "error_description": "Client Authentication failed"}),
            );
        }
        if !grant {
            return ApiAnswer::new(
                400,
                json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}),
            );
        }
        let token = format!("A21AA{}", messages::new_checkout_id());
        let now = Utc::now();
        self.ledger()
            .add_token(token.clone(), now + Duration::seconds(TOKEN_LIFETIME_SECS));
        ApiAnswer::new(
            200,
            json!({
                "scope": "https://uri.paypal.com/services/payments/refund https://uri.paypal.com/services/reporting/search/read",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-SIMULATOR",
                "expires_in": TOKEN_LIFETIME_SECS,
                "nonce": format!("{}{}", now.format("%Y-%m-%dT%H:%M:%SZ"), messages::new_payer_id()),
            }),
        )
    }

    pub(super) fn bearer_valid(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|token| self.ledger().token_valid(token, Utc::now()))
    }

    /// `POST /v2/payments/captures/{txn_id}/refund`: refunds `amount` (what is left when absent). The same
    /// `PayPal-Request-Id` gets the first refund back, not a second one. The IPN `Refunded` follows the
    /// answer, as PayPal's does.
    pub async fn api_refund(
        self: &Arc<Self>,
        authorization: Option<&str>,
        txn_id: &str,
        request_id: Option<&str>,
        body: &[u8],
    ) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return ApiAnswer::unauthorized();
        }
        let Ok(request) = serde_json::from_slice::<Value>(if body.is_empty() { b"{}" } else { body }) else {
            return ApiAnswer::error(
                400,
                "INVALID_REQUEST",
                "MALFORMED_REQUEST_JSON",
                "The request JSON is not well formed.",
            );
        };
        let _turn = self.actions.lock().await;
        if let Some(request_id) = request_id
            && let Some((transaction, refund)) = self.ledger().refund_by_request_id(request_id)
        {
            return ApiAnswer::new(201, refund_json(&transaction.txn_id, refund, transaction.refundable()));
        }
        let Ok(transaction) = self.transaction(txn_id) else {
            return ApiAnswer::error(
                404,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist. Please check the resource ID and try again.",
            );
        };
        if let Some(account) = self.api.as_ref().and_then(|a| a.account.as_deref())
            && !transaction.checkout.business.eq_ignore_ascii_case(account)
        {
            return ApiAnswer::error(
                403,
                "NOT_AUTHORIZED",
                "PERMISSION_DENIED",
                "You do not have permission to access or perform operations on this resource.",
            );
        }
        match transaction.status {
            TxnStatus::Completed => {}
            TxnStatus::Refunded => {
                return ApiAnswer::error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "CAPTURE_FULLY_REFUNDED",
                    "The capture has already been fully refunded.",
                );
            }
            TxnStatus::Pending => {
                return ApiAnswer::error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "TRANSACTION_REFUSED",
                    "The capture is not completed yet.",
                );
            }
        }
        let Some(left) = transaction.refundable() else {
            return ApiAnswer::error(
                422,
                "UNPROCESSABLE_ENTITY",
                "TRANSACTION_REFUSED",
                "The capture amount is unreadable.",
            );
        };
        let amount = match request.get("amount") {
            None | Some(Value::Null) => left,
            Some(amount) => {
                let value = amount.get("value").and_then(Value::as_str).unwrap_or_default();
                let currency = amount.get("currency_code").and_then(Value::as_str).unwrap_or_default();
                if currency != transaction.checkout.currency {
                    return ApiAnswer::error(
                        422,
                        "UNPROCESSABLE_ENTITY",
                        "CURRENCY_MISMATCH",
                        "The refund must be in the currency of the capture.",
                    );
                }
                match Money::parse(value, currency) {
                    Ok(amount) if amount.is_positive() => amount,
                    _ => {
                        return ApiAnswer::error(
                            400,
                            "INVALID_REQUEST",
                            "INVALID_PARAMETER_VALUE",
                            "The amount value is not valid.",
                        );
                    }
                }
            }
        };
        if left.checked_sub(amount).is_none_or(|rest| rest.minor_units() < 0) {
            return ApiAnswer::error(
                422,
                "UNPROCESSABLE_ENTITY",
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            );
        }
        let text = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_owned);
        let refund = Refund {
            id: messages::new_txn_id(),
            amount,
            request_id: request_id.map(str::to_owned),
            custom_id: text("custom_id"),
            note: text("note_to_payer"),
            at: Utc::now(),
        };
        let ipn = refund_ipn(&transaction, &refund);
        self.ledger().record_refund(txn_id, refund.clone());
        let answer = refund_json(txn_id, &refund, left.checked_sub(amount));
        self.send_later(transaction.checkout.notify_url.clone(), ipn);
        ApiAnswer::new(201, answer)
    }

    /// `GET /v1/reporting/transactions`: the refunds made between `start_date` and `end_date` (at most 31
    /// days apart), as Transaction Search lists them (event code T1107).
    pub fn search_transactions(&self, authorization: Option<&str>, query: &[(String, String)]) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return ApiAnswer::unauthorized();
        }
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let date = |k: &str| get(k).and_then(|v| DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%z").ok());
        let (Some(start), Some(end)) = (date("start_date"), date("end_date")) else {
            return ApiAnswer::error(
                400,
                "INVALID_REQUEST",
                "INVALID_PARAMETER_SYNTAX",
                "start_date and end_date are required, ISO 8601 with an offset.",
            );
        };
        if end < start || end - start > Duration::days(31) {
            return ApiAnswer::error(
                400,
                "INVALID_REQUEST",
                "INVALID_DATE_RANGE",
                "The date range must be at most 31 days.",
            );
        }
        if get("transaction_type").is_some_and(|t| t != "T1107") {
            return ApiAnswer::new(
                200,
                json!({"transaction_details": [], "page": 1, "total_pages": 1, "total_items": 0}),
            );
        }
        let ledger = self.ledger();
        let details: Vec<Value> = ledger
            .transactions()
            .flat_map(|t| t.refunds.iter().map(move |r| (t, r)))
            .filter(|(_, r)| r.at >= start && r.at < end)
            .map(|(t, r)| {
                json!({"transaction_info": {
                    "transaction_id": r.id,
                    "paypal_reference_id": t.txn_id,
                    "paypal_reference_id_type": "TXN",
                    "transaction_event_code": "T1107",
                    "transaction_initiation_date": r.at.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
                    "transaction_amount": {"currency_code": t.checkout.currency, "value": format!("-{}", r.amount)},
                    "transaction_status": "S",
                    "custom_field": r.custom_id,
                }})
            })
            .collect();
        let count = details.len();
        ApiAnswer::new(
            200,
            json!({"transaction_details": details, "page": 1, "total_pages": 1, "total_items": count}),
        )
    }

    /// `POST /nvp`: `ManageRecurringPaymentsProfileStatus` with `ACTION=Cancel` cancels an active
    /// subscription and sends `subscr_cancel` afterwards; the answer is NVP (`ACK=Success`, or `Failure`
    /// with `L_ERRORCODE0`/`L_LONGMESSAGE0`).
    pub async fn nvp(self: &Arc<Self>, body: &[u8]) -> String {
        let fields: std::collections::BTreeMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| fields.get(k).map(String::as_str);
        let signed = self.api.as_ref().is_some_and(|api| {
            field("USER") == Some(api.nvp_user.as_str())
                && field("PWD") == Some(api.nvp_password.as_str())
                && field("SIGNATURE") == Some(api.nvp_signature.as_str())
        });
        if !signed {
            return nvp_failure("10002", "Security error", "Security header is not valid");
        }
        if field("METHOD") != Some("ManageRecurringPaymentsProfileStatus") {
            return nvp_failure("81002", "Unspecified Method", "Method Specified is not Supported");
        }
        let Some(profile) = field("PROFILEID") else {
            return nvp_failure(
                "11585",
                "Missing Recurring Payments Profile ID",
                "The profile ID is missing",
            );
        };
        if field("ACTION") != Some("Cancel") {
            return nvp_failure(
                "11555",
                "Invalid action",
                "The action is invalid (the simulator cancels only)",
            );
        }
        let _turn = self.actions.lock().await;
        let subscription = match self.active_subscription(profile, "cancelled") {
            Ok(subscription) => subscription,
            Err(super::SimulatorError::UnknownSubscription(_)) => {
                return nvp_failure("11552", "Invalid profile ID", "The profile ID is invalid");
            }
            Err(_) => {
                return nvp_failure(
                    "11556",
                    "Invalid profile status for cancel action",
                    "Invalid profile status for cancel action; profile should be active or suspended",
                );
            }
        };
        if let Some(kept) = self.ledger().subscription_mut(profile) {
            kept.active = false;
        }
        let ipn = messages::subscr_cancel(&subscription.checkout, &subscription.payer, profile, Utc::now());
        self.send_later(subscription.checkout.notify_url.clone(), ipn);
        nvp_answer(&[
            ("PROFILEID", profile),
            ("TIMESTAMP", &Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("CORRELATIONID", &messages::new_payer_id().to_lowercase()),
            ("ACK", "Success"),
            ("VERSION", field("VERSION").unwrap_or("204.0")),
            ("BUILD", "1"),
        ])
    }

    /// Sends `ipn` after the API has answered, as PayPal's notifications follow its answers.
    fn send_later(self: &Arc<Self>, notify_url: String, ipn: Ipn) {
        let sim = Arc::clone(self);
        // tokio's spawn rather than actix's (a local task): it works from any runtime thread.
        tokio::spawn(async move {
            // The delivery's outcome is recorded in the ledger (and shown on the payments page).
            let _ = sim.send(&notify_url, &[ipn]).await;
        });
    }
}

/// A refund as the v2 API shows it.
fn refund_json(txn_id: &str, refund: &Refund, left: Option<Money>) -> Value {
    let currency = refund.amount.currency().code().to_owned();
    json!({
        "id": refund.id,
        "status": "COMPLETED",
        "amount": {"currency_code": currency, "value": refund.amount.to_string()},
        "note_to_payer": refund.note,
        "custom_id": refund.custom_id,
        "seller_payable_breakdown": {
            "remaining_refundable_amount": left.map(|l| json!({"currency_code": currency, "value": l.to_string()})),
        },
        "create_time": refund.at.to_rfc3339(),
        "links": [
            {"href": format!("/v2/payments/refunds/{}", refund.id), "rel": "self", "method": "GET"},
            {"href": format!("/v2/payments/captures/{txn_id}"), "rel": "up", "method": "GET"},
        ],
    })
}

fn nvp_answer(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

fn nvp_failure(code: &str, short: &str, long: &str) -> String {
    nvp_answer(&[
        ("TIMESTAMP", &Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("ACK", "Failure"),
        ("VERSION", "204.0"),
        ("L_ERRORCODE0", code),
        ("L_SHORTMESSAGE0", short),
        ("L_LONGMESSAGE0", long),
        ("L_SEVERITYCODE0", "Error"),
    ])
}
