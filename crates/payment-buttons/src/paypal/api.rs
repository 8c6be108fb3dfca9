//! The HTTP client of PayPal's APIs (feature `reqwest`): the REST API (OAuth2 token, refunds, transaction
//! search) and the NVP API (subscription cancellation). Every answer comes back as a [`GatewayCall`], raw,
//! for the engine to log before anything is decided from it; requests are never logged (they carry
//! credentials).

use std::time::Duration;

use chrono::Utc;

use super::config::{ApiSecret, RestCredentials};
use super::oauth::{TokenCache, TokenError};
use crate::gateway::{GatewayCall, GatewayError};

/// How long one API call may take before the refund or cancellation is tried again later.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(30);

/// PayPal's answers are small JSON or NVP documents; anything longer is read no further.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

const USER_AGENT: &str = concat!("librement-pay/", env!("CARGO_PKG_VERSION"));

/// The client and the cached OAuth token, shared by every refund and cancellation of one gateway.
#[derive(Debug)]
pub(crate) struct PaypalApi {
    client: reqwest::Client,
    pub(crate) token: TokenCache,
}

/// A call that got no usable HTTP answer: why, for the log (never reqwest's own text, which may carry
/// the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoAnswer(pub(crate) String);

impl PaypalApi {
    /// A client giving up on each call after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Result<Self, GatewayError> {
        // As for the postback: reqwest is built without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| GatewayError::client("paypal API client", e))?;
        Ok(PaypalApi {
            client,
            token: TokenCache::default(),
        })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and reads the answer. `described` is what the log shows as the request (method
    /// and URL, no credentials).
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        described: String,
    ) -> Result<GatewayCall, NoAnswer> {
        let mut response = request.send().await.map_err(|e| NoAnswer(describe(&e)))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(NoAnswer(describe(&e))),
            }
        }
        body.truncate(MAX_ANSWER_BYTES);
        Ok(GatewayCall {
            received_at: Utc::now(),
            request: described,
            status,
            content_type,
            body,
        })
    }

    /// A REST call with a bearer token: takes the cached token (or asks for one), sends, and on a 401
    /// drops the token and tries once more with a fresh one. `build` makes the request for a token.
    /// Every answer (the token's, redacted, and the call's) is pushed to `calls`.
    pub(crate) async fn authorized<F>(
        &self,
        base: &str,
        credentials: &RestCredentials,
        described: &str,
        calls: &mut Vec<GatewayCall>,
        build: F,
    ) -> Result<GatewayCall, Authorized>
    where
        F: Fn(&ApiSecret) -> reqwest::RequestBuilder,
    {
        let mut refreshed = false;
        loop {
            let token = self
                .token
                .get(self, base, credentials, calls)
                .await
                .map_err(Authorized::Token)?;
            let call = self
                .send(build(&token), described.to_owned())
                .await
                .map_err(Authorized::NoAnswer)?;
            if call.status == 401 && !refreshed {
                // The token expired early or was revoked: one fresh token, once.
                calls.push(call);
                self.token.forget(&token).await;
                refreshed = true;
                continue;
            }
            return Ok(call);
        }
    }
}

/// Why an authorized call has no answer to read.
#[derive(Debug)]
pub(crate) enum Authorized {
    /// No token.
    Token(TokenError),
    /// The call itself got no answer.
    NoAnswer(NoAnswer),
}

/// A short reason for the log.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "PayPal did not answer in time".to_owned()
    } else if error.is_connect() {
        "could not connect to PayPal".to_owned()
    } else if error.is_body() || error.is_decode() {
        "PayPal's answer could not be read".to_owned()
    } else {
        "the request to PayPal failed".to_owned()
    }
}

/// PayPal's REST error, as one line: `NAME: ISSUE (description)`, from `{"name", "message", "details":
/// [{"issue", "description"}]}` (v2) or `{"error", "error_description"}` (OAuth). Never echoes more than
/// a few hundred characters of an unexpected body.
pub(crate) fn rest_error(status: u16, body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return format!("HTTP {status}");
    };
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(|s| shorten(s, 200));
    let name = text(&json, "name").or_else(|| text(&json, "error"));
    let detail = json.get("details").and_then(|d| d.as_array()).and_then(|d| d.first());
    let issue = detail.and_then(|d| text(d, "issue"));
    let description = detail
        .and_then(|d| text(d, "description"))
        .or_else(|| text(&json, "message"))
        .or_else(|| text(&json, "error_description"));
    let mut out = format!("HTTP {status}");
    if let Some(name) = name {
        out = format!("{out} {name}");
    }
    if let Some(issue) = issue {
        out = format!("{out}: {issue}");
    }
    if let Some(description) = description {
        out = format!("{out} ({description})");
    }
    out
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_error_names_the_issue() {
        let body = br#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed.","details":[{"issue":"REFUND_AMOUNT_EXCEEDED","description":"The refund amount must be less than or equal to the capture amount that has not yet been refunded."}]}"#;
        let reason = rest_error(422, body);
        assert!(
            reason.starts_with("HTTP 422 UNPROCESSABLE_ENTITY: REFUND_AMOUNT_EXCEEDED ("),
            "{reason}"
        );
    }

    #[test]
    fn an_oauth_error_and_a_non_json_body_are_read_too() {
        assert_eq!(
            rest_error(
                401,
                br#"{"error":"invalid_client","error_description":"Client Authentication failed"}"#
            ),
            "HTTP 401 invalid_client (Client Authentication failed)"
        );
        assert_eq!(rest_error(502, b"<html>Bad gateway</html>"), "HTTP 502");
    }
}
