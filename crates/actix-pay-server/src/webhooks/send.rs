//! One signed HTTP attempt.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use payment_buttons::webhook;

use super::{Endpoint, WebhookSetupError};

/// The `User-Agent` of every webhook request.
pub const USER_AGENT: &str = concat!("librement-pay-webhooks/", env!("CARGO_PKG_VERSION"));

/// What one attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    /// Time until the answer or the failure.
    pub latency: Duration,
    /// Why it is not a 2xx, in words for operators: no secret, no response body.
    pub error: Option<String>,
}

impl Answer {
    /// A 2xx answer.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// `410 Gone`: the receiver asks never to be called again.
    pub fn is_gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// Posts signed events. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A sender whose requests give up after `timeout` (connecting included). Redirects are not followed:
    /// a receiver that moved must be reconfigured, and a signed body is not re-posted elsewhere.
    pub fn new(timeout: Duration) -> Result<Self, WebhookSetupError> {
        // reqwest is built without a default crypto provider; installing ring's twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| WebhookSetupError::Client(e.without_url().to_string()))?;
        Ok(Sender { client })
    }

    /// Posts `body` (the event's JSON) for event `event_id` to `endpoint`, signed at `now` with every
    /// secret of the endpoint.
    pub async fn send(&self, endpoint: &Endpoint, event_id: &str, body: &str, now: DateTime<Utc>) -> Answer {
        let started = Instant::now();
        let signed = match webhook::sign(endpoint.secrets(), event_id, now.timestamp(), body.as_bytes()) {
            Ok(signed) => signed,
            Err(e) => {
                return Answer {
                    status: None,
                    latency: started.elapsed(),
                    error: Some(format!("cannot sign: {e}")),
                };
            }
        };
        let mut request = self
            .client
            .post(endpoint.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        let result = request.send().await;
        let latency = started.elapsed();
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let error = (!response.status().is_success()).then(|| format!("HTTP {}", response.status()));
                Answer {
                    status: Some(status),
                    latency,
                    error,
                }
            }
            Err(e) => Answer {
                status: None,
                latency,
                error: Some(describe(&e)),
            },
        }
    }
}

/// The error without the URL (it may carry credentials or a token), with its causes.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}
