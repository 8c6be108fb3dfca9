//! Posting an IPN to a `notify_url`, as PayPal does: form-encoded body, no redirects followed, only a
//! 200 counts as delivered.

use std::error::Error as _;
use std::time::Duration;

use chrono::Utc;

use super::ledger::{Delivery, SentIpn};
use super::messages::Ipn;
use super::{PaypalSimulator, SimulatorError};

/// How long one delivery may take: the buyer's browser waits for it.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The `User-Agent` PayPal's IPN service sends.
const USER_AGENT: &str = "PayPal IPN ( https://www.paypal.com/ipn )";

/// A client suited to the simulator: PayPal's user agent, no redirects, a timeout.
///
/// reqwest is built without a default TLS crypto provider; this installs ring's unless the program already
/// installed one.
pub fn default_client() -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DELIVERY_TIMEOUT)
        .build()
}

impl PaypalSimulator {
    /// Delivers the messages in order, each remembered before it leaves (the receiver may post it back
    /// before answering), stopping at the first failure.
    pub(super) async fn send(&self, notify_url: &str, ipns: &[Ipn]) -> Result<(), SimulatorError> {
        for ipn in ipns {
            let body = ipn.encode();
            let handle = self.ledger().remember_sent(SentIpn {
                at: Utc::now(),
                summary: ipn.summary(),
                notify_url: notify_url.to_owned(),
                body: body.clone(),
                delivery: Delivery::Sending,
            });
            let result = deliver(&self.client, notify_url, body).await;
            let delivery = match &result {
                Ok(()) => Delivery::Delivered,
                Err(e) => Delivery::Failed(e.to_string()),
            };
            self.ledger().set_delivery(handle, delivery);
            if let Err(e) = result {
                tracing::warn!(notify_url, error = %e, "simulated IPN not delivered");
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Posts `body` to `url`; anything but a 200 is a failure, as for PayPal.
async fn deliver(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), SimulatorError> {
    let failure = |reason: String| SimulatorError::Delivery {
        url: url.to_owned(),
        reason,
    };
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .timeout(DELIVERY_TIMEOUT)
        .body(body)
        .send()
        .await
        .map_err(|e| failure(describe(&e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(failure(format!("it answered HTTP {status} instead of 200")))
    }
}

/// The error and its causes on one line ("connection refused" hides two levels down).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} seconds", DELIVERY_TIMEOUT.as_secs());
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
