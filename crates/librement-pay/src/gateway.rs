//! `librement` as a payment option of ordinary buttons: a [`Gateway`] whose hand-off is a same-site
//! redirect to the Librement pages, and which receives no gateway messages.

use payment_buttons::button::{ButtonConfig, ButtonError};
use payment_buttons::gateway::{
    DecodedFields, Gateway, GatewayError, HandOff, IncomingMessage, PaymentRequest, Refunds, Reply,
};
use payment_buttons::notification::{Verification, VerificationStatus};

use crate::purchase::{METHOD, seller};

/// The Librement payment option.
///
/// ```
/// use librement_pay::gateway::LibrementGateway;
/// use payment_buttons::gateway::Gateway;
/// assert_eq!(LibrementGateway.name(), "librement");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LibrementGateway;

/// Where the buyer continues: `{base}/librement/pay/{payment_id}`.
pub fn pay_path(payment_id: &str) -> String {
    format!("/librement/pay/{payment_id}")
}

#[async_trait::async_trait]
impl Gateway for LibrementGateway {
    fn name(&self) -> &'static str {
        METHOD
    }

    fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        seller(button)?;
        if let Some(i) = button.options().iter().position(|o| o.recurrence_months().is_some()) {
            return Err(ButtonError::new(
                format!("options[{i}].recurrence_months"),
                "recurring payments through Librement are not supported yet",
            ));
        }
        Ok(())
    }

    fn receiver(&self, button: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        seller(button)
            .map(|s| Some(s.as_str().to_owned()))
            .map_err(|e| GatewayError::Configuration(e.to_string()))
    }

    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        // A GET on our own site: the cross-site POST to /pay carried no session cookie, this request will.
        Ok(HandOff::Redirect {
            location: format!("{}{}", request.urls.base(), pay_path(request.payment_id.as_str())),
        })
    }

    fn decode(&self, _message: &IncomingMessage) -> DecodedFields {
        DecodedFields::default()
    }

    fn acknowledge(&self, _message: &IncomingMessage) -> Reply {
        Reply {
            status: 404,
            content_type: Some("text/plain; charset=utf-8"),
            body: b"librement receives no gateway messages\n".to_vec(),
        }
    }

    async fn verify(&self, _message: &IncomingMessage) -> Verification {
        Verification::Rejected {
            status: VerificationStatus::Invalid,
            reason: "librement receives no gateway messages".into(),
            flags: Vec::new(),
        }
    }

    /// Refunds to the balance (`crate::refund`): the balance part of a purchase's refund.
    fn refunds(&self) -> Option<&dyn Refunds> {
        Some(self)
    }

    fn label(&self, language: &str) -> String {
        if language == "fr" {
            "Compte Librement"
        } else {
            "Librement account"
        }
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(recurrence: &str, librement: &str) -> Result<ButtonConfig, ButtonError> {
        ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "A-1",
              "options": [{{"description": "Book", "amount": "30.00", "currency": "EUR", "recurrence_months": {recurrence}}}],
              "payment_options": {{"librement": {librement}}},
              "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
        ))
    }

    #[test]
    fn a_button_with_a_seller_is_accepted() {
        let b = button("null", r#"{"seller": "author@example.org"}"#).unwrap();
        assert!(LibrementGateway.check_button(&b).is_ok());
        assert_eq!(
            LibrementGateway.receiver(&b).unwrap().as_deref(),
            Some("author@example.org")
        );
    }

    #[test]
    fn recurring_options_are_refused() {
        let b = button("1", r#"{"seller": "author@example.org"}"#).unwrap();
        let err = LibrementGateway.check_button(&b).unwrap_err();
        assert!(err.reason.contains("not supported yet"), "{err:?}");
    }

    #[test]
    fn a_missing_or_bad_seller_is_refused() {
        for block in [r#"{}"#, r#"{"seller": "nope"}"#, r#"{"seller": "a@b.co", "fee": 1}"#] {
            let b = button("null", block).unwrap();
            assert!(LibrementGateway.check_button(&b).is_err(), "{block}");
        }
    }
}
