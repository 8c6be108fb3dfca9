//! Asking PayPal whether an IPN is genuine.

/// PayPal's answer to a verification postback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostbackAnswer {
    /// `VERIFIED`: PayPal sent this message.
    Verified,
    /// `INVALID`: PayPal did not send this message (or it was altered).
    Invalid,
    /// No usable answer (timeout, connection failure, 5xx, HTML error page): ask again later.
    Retry(String),
}

/// The verification postback: sends the IPN body back to PayPal and reads the verdict.
///
/// Implementations prefix `cmd=_notify-validate&` and send `body` after it byte for byte: PayPal compares
/// bytes, and any re-encoding (charset, `+` versus `%20`, field order) turns a genuine message `INVALID`.
#[async_trait::async_trait]
pub trait Postback: Send + Sync + 'static {
    /// Verifies one raw IPN body.
    async fn validate(&self, body: &[u8]) -> PostbackAnswer;
}

/// The request body of a postback for an IPN body.
///
/// ```
/// assert_eq!(payment_buttons::paypal::postback_body(b"a=1&b=%C3%A9"), b"cmd=_notify-validate&a=1&b=%C3%A9");
/// ```
pub fn postback_body(ipn_body: &[u8]) -> Vec<u8> {
    const PREFIX: &[u8] = b"cmd=_notify-validate&";
    let mut body = Vec::with_capacity(PREFIX.len() + ipn_body.len());
    body.extend_from_slice(PREFIX);
    body.extend_from_slice(ipn_body);
    body
}

/// Reads PayPal's answer from the HTTP status and the body: only `VERIFIED` or `INVALID` with a 200 are
/// verdicts, anything else (an HTML error page under load, a 5xx) means "ask again later".
///
/// ```
/// use payment_buttons::paypal::{PostbackAnswer, read_answer};
/// assert_eq!(read_answer(200, b"VERIFIED"), PostbackAnswer::Verified);
/// assert!(matches!(read_answer(200, b"<html>Service unavailable</html>"), PostbackAnswer::Retry(_)));
/// ```
pub fn read_answer(status: u16, body: &[u8]) -> PostbackAnswer {
    if status != 200 {
        return PostbackAnswer::Retry(format!("postback answered HTTP {status}"));
    }
    match body.trim_ascii() {
        b"VERIFIED" => PostbackAnswer::Verified,
        b"INVALID" => PostbackAnswer::Invalid,
        _ => PostbackAnswer::Retry("postback answered neither VERIFIED nor INVALID".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_words_on_a_200_are_verdicts() {
        assert_eq!(read_answer(200, b"VERIFIED"), PostbackAnswer::Verified);
        assert_eq!(read_answer(200, b"INVALID\r\n"), PostbackAnswer::Invalid);
        assert!(matches!(
            read_answer(200, b"<html>busy</html>"),
            PostbackAnswer::Retry(_)
        ));
        assert!(matches!(read_answer(200, b"verified"), PostbackAnswer::Retry(_)));
        assert!(matches!(read_answer(503, b"VERIFIED"), PostbackAnswer::Retry(r) if r.contains("503")));
    }
}
