//! CM-CIC paiement, today branded Monetico paiement (one identifier: `cmcic`).
//!
//! The buyer's browser posts a sealed form to the bank (`hand_off.rs`); the bank posts the outcome to
//! `{public_url}/notify/cmcic` (`message.rs`, `verify.rs`, `status.rs`) and expects `version=2\ncdr=0\n`
//! ([`ACK_VALID`]) when the seal is valid, `version=2\ncdr=1\n` ([`ACK_BAD_SEAL`]) when it is not. The seal
//! is HMAC-SHA1 under the merchant key ([`UsableKey`], `mac.rs`), in the current Monetico form or the
//! legacy CM-CIC v3.0 form ([`CmcicProtocol`]). With the `reqwest` feature the gateway also refunds through
//! the bank's recredit service (`CmcicGateway::with_refunds`).
//!
//! The public surface is what a shop configures: [`CmcicConfig`], [`CmcicMode`], [`CmcicProtocol`],
//! [`UsableKey`] and the [`CmcicGateway`] built from them. The bank's side of the protocol (sealing a
//! return, reading `montant`, answering a recredit) is for simulators, tests and fuzz targets only:
//! `cmcic::simulator`, behind the `simulator` feature.
//!
//! ```
//! use payment_buttons::cmcic::{ACK_BAD_SEAL, CmcicConfig, CmcicGateway, CmcicMode, UsableKey};
//! use payment_buttons::gateway::{Gateway, IncomingMessage};
//! let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
//! let gateway = CmcicGateway::new(CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1").unwrap());
//! // A return whose seal is not the bank's is answered cdr=1, and never applied.
//! let message = IncomingMessage {
//!     received_at: chrono::Utc::now(),
//!     remote_addr: None,
//!     method: "POST".into(),
//!     content_type: Some("application/x-www-form-urlencoded".into()),
//!     body: b"TPE=1234567&reference=Xk3f9QpL2mZa&code-retour=paiement&montant=12.50EUR&MAC=00".to_vec(),
//!     headers: Default::default(),
//! };
//! assert_eq!(gateway.acknowledge(&message).body, ACK_BAD_SEAL.as_bytes());
//! ```

mod alias;
mod billing;
mod config;
mod fraud;
mod hand_off;
mod key;
mod mac;
mod message;
mod refund;
#[cfg(feature = "simulator")]
pub mod simulator;
mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;

pub use config::{CmcicConfig, CmcicMode};
pub use key::UsableKey;
pub use mac::Protocol as CmcicProtocol;
#[cfg(feature = "reqwest")]
pub use refund::{CmcicRefunds, DEFAULT_TIMEOUT};

use crate::button::{ButtonConfig, ButtonError};
use crate::gateway::{DecodedFields, Gateway, GatewayError, HandOff, IncomingMessage, PaymentRequest, Reply};
use crate::notification::Verification;

use crate::urlencoded::FormFields;
use verify::ReturnCheck;

/// The gateway's identifier in routes, configuration, `payment_options` and events.
pub const NAME: &str = "cmcic";

/// The answer to a return whose seal is valid (whatever it says, `Annulation` included).
pub const ACK_VALID: &str = "version=2\ncdr=0\n";

/// The answer to a return whose seal is missing or wrong.
pub const ACK_BAD_SEAL: &str = "version=2\ncdr=1\n";

/// CM-CIC / Monetico as a [`Gateway`].
#[derive(Debug, Clone)]
pub struct CmcicGateway {
    config: CmcicConfig,
    #[cfg(feature = "reqwest")]
    refunds: Option<refund::CmcicRefunds>,
}

impl CmcicGateway {
    /// A gateway for this merchant configuration, without refunds (see `CmcicGateway::with_refunds`, feature
    /// `reqwest`).
    pub fn new(config: CmcicConfig) -> Self {
        CmcicGateway {
            config,
            #[cfg(feature = "reqwest")]
            refunds: None,
        }
    }

    /// Refunds through the bank's recredit service at the configuration's
    /// [`recredit_url`](CmcicConfig::recredit_url) (`urls` for the simulator's), with the
    /// [default timeout](DEFAULT_TIMEOUT). The merchant's contract must include the service (see
    /// the crate's `docs/cmcic.md`).
    #[cfg(feature = "reqwest")]
    pub fn with_refunds(self, urls: &crate::gateway::ServiceUrls) -> Result<Self, GatewayError> {
        let url = self.config.recredit_url(urls);
        let refunds = refund::CmcicRefunds::new(self.config.clone(), url, refund::DEFAULT_TIMEOUT)?;
        Ok(CmcicGateway {
            refunds: Some(refunds),
            ..self
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CmcicConfig {
        &self.config
    }

    /// Where refunds are posted, when this gateway refunds ([`CmcicGateway::with_refunds`]).
    #[cfg(feature = "reqwest")]
    pub fn recredit_url(&self) -> Option<&str> {
        self.refunds.as_ref().map(refund::CmcicRefunds::url)
    }

    /// A return body sealed as the bank seals it (for the simulator and for tests; feature `simulator`):
    /// the fields as given, then `MAC` in upper-case hex. A `MAC` among `fields` is dropped first.
    #[cfg(feature = "simulator")]
    pub fn sealed_return_body(&self, fields: FormFields) -> Vec<u8> {
        verify::sealed_return_body(&self.config, fields)
    }

    /// True when a payment form's `MAC` seals its other fields, as the bank checks it (for the simulator;
    /// feature `simulator`).
    #[cfg(feature = "simulator")]
    pub fn request_seal_matches(&self, fields: &[(String, String)]) -> bool {
        hand_off::request_seal_matches(&self.config, fields)
    }
}

#[async_trait::async_trait]
impl Gateway for CmcicGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        if let Some(i) = button.options().iter().position(|o| o.recurrence_months().is_some()) {
            return Err(ButtonError::new(
                format!("options[{i}].recurrence_months"),
                "cmcic has no subscriptions in this protocol: offer this option through another payment method",
            ));
        }
        billing::from_button(button).map(|_| ())
    }

    fn receiver(&self, _button: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        Ok(Some(self.config.tpe().to_owned()))
    }

    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        let fields = hand_off::build(&self.config, request)?;
        Ok(HandOff::Form {
            action: self.config.payment_url(request.urls),
            fields,
        })
    }

    fn decode(&self, message: &IncomingMessage) -> DecodedFields {
        message::decode(&message.body)
    }

    fn order_key(&self, message: &IncomingMessage) -> Option<String> {
        FormFields::parse(&message.body).decoded().0.remove("reference")
    }

    fn acknowledge(&self, message: &IncomingMessage) -> Reply {
        // The protocol has one answer for anything that is not a valid return: cdr=1.
        match verify::check_message(&self.config, &message.body).1 {
            ReturnCheck::Genuine => Reply::text(ACK_VALID),
            ReturnCheck::BadSeal(_) | ReturnCheck::NotAReturn(_) => Reply::text(ACK_BAD_SEAL),
        }
    }

    async fn verify(&self, message: &IncomingMessage) -> Verification {
        verify::verify(&self.config, &message.body)
    }

    #[cfg(feature = "reqwest")]
    fn refunds(&self) -> Option<&dyn crate::gateway::Refunds> {
        self.refunds.as_ref().map(|r| r as &dyn crate::gateway::Refunds)
    }

    fn label(&self, language: &str) -> String {
        match language {
            "fr" => "Carte bancaire",
            _ => "Card",
        }
        .to_owned()
    }
}
