//! Posting a sealed return to the merchant's `/notify/cmcic`, as the bank does, and reading its
//! acknowledgement: only `version=2\ncdr=0\n` counts as received.

use std::time::Duration;

use payment_buttons::cmcic::ACK_VALID;

use super::CmcicSimulator;

/// How long the merchant's server has to answer a return: the buyer's browser waits for it.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an unexpected answer is shown and logged.
const ANSWER_EXCERPT_CHARS: usize = 300;

/// A client suited to the simulator: a timeout.
///
/// reqwest is built without a default TLS crypto provider; this installs ring's unless the program already
/// installed one.
pub fn default_client() -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build()
}

impl CmcicSimulator {
    /// Posts a sealed return to the merchant and reads the acknowledgement; the error says what came back.
    pub(super) async fn send(&self, body: Vec<u8>) -> Result<(), String> {
        let response = self
            .client
            .post(&self.notify_url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .map_err(|e| format!("HTTP {status}, unreadable answer: {e}"))?;
        if status.is_success() && answer.as_ref() == ACK_VALID.as_bytes() {
            Ok(())
        } else {
            let excerpt: String = String::from_utf8_lossy(&answer)
                .chars()
                .take(ANSWER_EXCERPT_CHARS)
                .collect();
            Err(format!("HTTP {}: {excerpt:?}", status.as_u16()))
        }
    }
}
