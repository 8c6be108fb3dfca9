//! The postback over HTTPS with reqwest (feature `reqwest`).

use std::time::Duration;

use super::config::PaypalConfig;
use chrono::Utc;

use super::verify::{Postback, PostbackAnswer, postback_body, read_answer};
use crate::gateway::{GatewayCall, GatewayError};

/// How long one postback may take before it is retried later.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many idle connections to PayPal's postback endpoint are kept open for reuse by default: as many as
/// the engine verifies at once by default ([`crate::engine::DEFAULT_CONCURRENCY`]), so that a steady
/// stream of postbacks does not open (and TLS-handshake) a new connection for each message.
pub const DEFAULT_POOL_SIZE: usize = crate::engine::DEFAULT_CONCURRENCY;

/// `VERIFIED` and `INVALID` are short; anything longer is an error page, read no further than this.
const MAX_ANSWER_BYTES: usize = 1024;

/// PayPal has refused postbacks without a `User-Agent`.
const USER_AGENT: &str = concat!("librement-pay/", env!("CARGO_PKG_VERSION"));

/// [`Postback`] over HTTPS.
///
/// ```no_run
/// # async fn example() -> Result<(), payment_buttons::gateway::GatewayError> {
/// use payment_buttons::paypal::{Postback, ReqwestPostback};
/// let postback = ReqwestPostback::new("https://ipnpb.sandbox.paypal.com/cgi-bin/webscr")?;
/// let answer = postback.validate(b"txn_id=...&payment_status=Completed").await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestPostback {
    client: reqwest::Client,
    url: String,
    /// The request as the log shows it beside PayPal's answer: `POST` and the URL without credentials.
    described: String,
    timeout: Duration,
}

impl ReqwestPostback {
    /// A postback to `url` with the [default timeout](DEFAULT_TIMEOUT).
    pub fn new(url: impl Into<String>) -> Result<Self, GatewayError> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// A postback to the configuration's `postback_url`.
    pub fn from_config(config: &PaypalConfig) -> Result<Self, GatewayError> {
        Self::new(config.postback_url())
    }

    /// A postback to `url` giving up after `timeout`.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Result<Self, GatewayError> {
        Self::with_options(url, timeout, DEFAULT_POOL_SIZE)
    }

    /// A postback to `url` giving up after `timeout`, keeping up to `pool_size` idle connections open for
    /// reuse. It does not cap the connections open at once: the engine's verification concurrency does.
    pub fn with_options(url: impl Into<String>, timeout: Duration, pool_size: usize) -> Result<Self, GatewayError> {
        // reqwest is built without a default crypto provider; another part of the program may already have
        // installed one, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(pool_size)
            .build()
            .map_err(|e| GatewayError::client("paypal postback client", e))?;
        let url = url.into();
        Ok(ReqwestPostback {
            client,
            described: described_request(&url),
            url,
            timeout,
        })
    }

    /// The URL posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The timeout of one postback.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[async_trait::async_trait]
impl Postback for ReqwestPostback {
    async fn validate(&self, body: &[u8]) -> PostbackAnswer {
        self.validate_with_call(body).await.0
    }

    /// The verdict, and PayPal's answer as it came (the request described as `POST` and the URL without
    /// user name, password or query; the body read up to 1 KiB) whenever an answer came, verdict or not.
    async fn validate_with_call(&self, body: &[u8]) -> (PostbackAnswer, Option<GatewayCall>) {
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(postback_body(body));
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return (PostbackAnswer::Retry(describe(&e)), None),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut answer = Vec::new();
        while answer.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return (PostbackAnswer::Retry(describe(&e)), None),
            }
        }
        answer.truncate(MAX_ANSWER_BYTES);
        let verdict = read_answer(status, &answer);
        let call = GatewayCall {
            received_at: Utc::now(),
            request: self.described.clone(),
            status,
            content_type,
            body: answer,
        };
        (verdict, Some(call))
    }
}

/// `POST` and `url` without what could be a secret (user name, password, query), for the log.
fn described_request(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            format!("POST {url}")
        }
        Err(_) => "POST (the postback URL)".to_owned(),
    }
}

/// A short reason for the log. reqwest's own messages are not used: they are long and may carry the URL.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "postback timed out".to_owned()
    } else if error.is_connect() {
        "postback could not connect".to_owned()
    } else if error.is_body() || error.is_decode() {
        "postback answer could not be read".to_owned()
    } else {
        "postback request failed".to_owned()
    }
}
