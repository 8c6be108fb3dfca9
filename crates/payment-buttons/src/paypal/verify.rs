//! Asking PayPal whether an IPN is genuine (the postback), and turning a genuine one into a verified
//! notification.

use super::config::PaypalMode;
use super::message::decode_ipn;
use super::status::{Interpretation, interpret};
use crate::gateway::{GatewayCall, VerificationWithCalls};
use crate::notification::{Flag, Verification, VerificationStatus, Verified};

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

    /// Verifies one raw IPN body, and gives PayPal's answer as it came (status, type, body) for the engine
    /// to log before it acts on the verdict, when an answer came. The default gives
    /// [`Postback::validate`]'s verdict and no answer to log; `ReqwestPostback` (feature `reqwest`) gives
    /// the HTTP answer.
    async fn validate_with_call(&self, body: &[u8]) -> (PostbackAnswer, Option<GatewayCall>) {
        (self.validate(body).await, None)
    }
}

/// The request body of a postback for an IPN body.
#[cfg(any(feature = "reqwest", test))]
pub(crate) fn postback_body(ipn_body: &[u8]) -> Vec<u8> {
    const PREFIX: &[u8] = b"cmd=_notify-validate&";
    let mut body = Vec::with_capacity(PREFIX.len() + ipn_body.len());
    body.extend_from_slice(PREFIX);
    body.extend_from_slice(ipn_body);
    body
}

/// Reads PayPal's answer from the HTTP status and the body: only `VERIFIED` or `INVALID` with a 200 are
/// verdicts, anything else (an HTML error page under load, a 5xx) means "ask again later".
#[cfg(any(feature = "reqwest", test))]
pub(crate) fn read_answer(status: u16, body: &[u8]) -> PostbackAnswer {
    if status != 200 {
        return PostbackAnswer::Retry(format!("postback answered HTTP {status}"));
    }
    match body.trim_ascii() {
        b"VERIFIED" => PostbackAnswer::Verified,
        b"INVALID" => PostbackAnswer::Invalid,
        _ => PostbackAnswer::Retry("postback answered neither VERIFIED nor INVALID".to_owned()),
    }
}

/// Verifies a logged IPN: asks PayPal through `postback`, then, only for a `VERIFIED` message, maps
/// its fields to a [`Verified`] notification ([`status`](super::status)). PayPal's answer, when one came,
/// goes with the verification, for the log.
pub(crate) async fn verify(postback: &dyn Postback, mode: PaypalMode, body: &[u8]) -> VerificationWithCalls {
    let (answer, call) = postback.validate_with_call(body).await;
    VerificationWithCalls {
        verification: verdict(answer, mode, body),
        calls: call.into_iter().collect(),
    }
}

/// What PayPal's `answer` to the postback of `body` makes of the message.
fn verdict(answer: PostbackAnswer, mode: PaypalMode, body: &[u8]) -> Verification {
    match answer {
        PostbackAnswer::Verified => {}
        PostbackAnswer::Invalid => {
            return Verification::Rejected {
                status: VerificationStatus::Invalid,
                reason: "PayPal answered INVALID to the postback".to_owned(),
                flags: vec![Flag::Invalid],
            };
        }
        PostbackAnswer::Retry(reason) => return Verification::Retry { reason },
    }
    let decoded = decode_ipn(body);
    let live = mode == PaypalMode::Live;
    match interpret(&decoded.fields, &decoded.flags, live) {
        Interpretation::Notification(notification) => Verification::Verified(Verified::new(notification)),
        Interpretation::Ignored { reason, flags } => Verification::Ignored { reason, flags },
        Interpretation::Unusable { reason, flags } => Verification::Rejected {
            status: VerificationStatus::Error,
            reason,
            flags,
        },
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

    #[test]
    fn the_postback_body_is_the_ipn_after_the_notify_validate_command() {
        assert_eq!(
            super::postback_body(b"a=1&b=%C3%A9"),
            b"cmd=_notify-validate&a=1&b=%C3%A9"
        );
    }
}
