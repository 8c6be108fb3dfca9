//! OAuth2 client credentials for PayPal's REST API (feature `reqwest`): `POST /v1/oauth2/token`, the
//! token cached until shortly before it expires, shared by concurrent calls (one token request at a
//! time), and forgotten when PayPal answers 401.
//!
//! The token is a secret: the token answer is logged with `access_token` redacted, and the token itself
//! lives only in an [`ApiSecret`].

use std::time::{Duration, Instant};

use super::api::{NoAnswer, PaypalApi, rest_error};
use super::config::{ApiSecret, RestCredentials};
use crate::gateway::GatewayCall;

/// A token is used until this long before PayPal says it expires (PayPal's last about nine hours), so
/// that a call never starts with a token about to lapse.
pub(crate) const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// What replaces the token in the logged answer.
pub(crate) const REDACTED: &str = "[redacted]";

/// The cached token. The lock is held while a token is requested, so that concurrent refunds make one
/// token request between them.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    token: ApiSecret,
    fresh_until: Instant,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// PayPal refused the credentials (4xx): sending again will not help until the configuration changes.
    Refused(String),
    /// No usable answer (timeout, 5xx): try later.
    Unavailable(String),
}

impl TokenCache {
    /// The cached token, or a new one from `{base}/v1/oauth2/token`. The token answer, redacted, is
    /// pushed to `calls`.
    pub(crate) async fn get(
        &self,
        api: &PaypalApi,
        base: &str,
        credentials: &RestCredentials,
        calls: &mut Vec<GatewayCall>,
    ) -> Result<ApiSecret, TokenError> {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.fresh_until
        {
            return Ok(cached.token.clone());
        }
        let url = format!("{base}/v1/oauth2/token");
        let request = api
            .client()
            .post(&url)
            .basic_auth(&credentials.client_id, Some(credentials.client_secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        let mut call = api
            .send(request, format!("POST {url}"))
            .await
            .map_err(|NoAnswer(why)| TokenError::Unavailable(why))?;
        let read = read_token(&call.body);
        call.body = redact(&call.body);
        let status = call.status;
        calls.push(call.clone());
        match (status, read) {
            (200, Some((token, expires_in))) => {
                let lifetime = Duration::from_secs(expires_in);
                // A short-lived token is used for half its life rather than not at all.
                let usable = lifetime.checked_sub(TOKEN_MARGIN).unwrap_or(lifetime / 2);
                let token = ApiSecret::new(token);
                *slot = Some(Cached {
                    token: token.clone(),
                    fresh_until: Instant::now() + usable,
                });
                Ok(token)
            }
            (200..=299, None) => Err(TokenError::Unavailable(
                "PayPal's token answer has no access_token".to_owned(),
            )),
            (400..=499, _) if status != 429 => Err(TokenError::Refused(format!(
                "PayPal refused the REST credentials (paypal.client_id, paypal.client_secret): {}",
                rest_error(status, &call.body)
            ))),
            _ => Err(TokenError::Unavailable(format!(
                "PayPal's token endpoint answered HTTP {status}"
            ))),
        }
    }

    /// Forgets `stale` after PayPal refused it (401), unless another call already replaced it.
    pub(crate) async fn forget(&self, stale: &ApiSecret) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|cached| cached.token == *stale) {
            *slot = None;
        }
    }
}

/// `access_token` and `expires_in` of a token answer.
fn read_token(body: &[u8]) -> Option<(String, u64)> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = json.get("access_token")?.as_str()?.to_owned();
    let expires_in = json.get("expires_in").and_then(|v| v.as_u64()).unwrap_or(0);
    (!token.is_empty()).then_some((token, expires_in))
}

/// The token answer as logged: `access_token` replaced by [`REDACTED`]; a body that is not JSON is not
/// kept at all (it could hold the token in some other shape).
pub(crate) fn redact(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut map)) => {
            if map.contains_key("access_token") {
                map.insert(
                    "access_token".to_owned(),
                    serde_json::Value::String(REDACTED.to_owned()),
                );
            }
            serde_json::to_vec(&map).unwrap_or_default()
        }
        Ok(other) => serde_json::to_vec(&other).unwrap_or_default(),
        Err(_) => format!("{REDACTED} (not JSON, {} bytes)", body.len()).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_token_answer_keeps_everything_but_the_token() {
        let body = br#"{"scope":"https://uri.paypal.com/services/payments/refund","access_token":"A21AAFs3cr3t","token_type":"Bearer","app_id":"APP-80W284485P519543T","expires_in":32400,"nonce":"2026-12-03T14:00:00Z"}"#;
        let logged = String::from_utf8(redact(body)).unwrap();
        assert!(!logged.contains("A21AAFs3cr3t"), "{logged}");
        assert!(logged.contains(r#""access_token":"[redacted]""#), "{logged}");
        assert!(logged.contains(r#""expires_in":32400"#), "{logged}");
        assert_eq!(read_token(body), Some(("A21AAFs3cr3t".to_owned(), 32400)));
    }

    #[test]
    fn a_token_answer_that_is_not_json_is_not_logged() {
        let logged = String::from_utf8(redact(b"access_token=A21AAFs3cr3t")).unwrap();
        assert!(!logged.contains("A21AAFs3cr3t"), "{logged}");
    }
}
