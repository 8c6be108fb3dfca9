//! PayPal Payments Standard: "Buy Now" and "Subscribe" forms, and Instant Payment Notifications (IPN).
//!
//! The buyer's browser posts a form to PayPal (`hand_off.rs`); PayPal then posts an IPN to
//! `{public_url}/notify/paypal`. The message is logged as received, answered with an empty 200, and
//! verified by posting it back to PayPal byte for byte ([`Postback`]); only a `VERIFIED` message is parsed
//! into a [`Notification`](crate::notification::Notification).
//!
//! With the `reqwest` feature the gateway also refunds payments through PayPal's REST API (`refund.rs`,
//! OAuth2 in `oauth.rs`) and cancels subscriptions through the NVP API (`cancel.rs`; a Checkout
//! subscription through the REST API, `checkout/subscription.rs`), when the configuration has the
//! credentials: see [`Gateway::refunds`] and [`Gateway::subscription_cancels`].
//!
//! The public surface is what a shop configures — [`PaypalConfig`], [`PaypalMode`], [`PaypalOverrides`],
//! [`PaypalIntegration`], the credentials — the [`PaypalGateway`] built from it, and [`Postback`], the one
//! extension point (how an IPN is posted back). PayPal's side of the protocol (encoding an IPN as PayPal
//! posts it, reading its dates) is for simulators, tests and fuzz targets only: `paypal::simulator`,
//! behind the `simulator` feature.
//!
//! ```
//! use std::sync::Arc;
//! use payment_buttons::gateway::Gateway;
//! use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
//!
//! struct AlwaysVerified;
//! #[async_trait::async_trait]
//! impl Postback for AlwaysVerified {
//!     async fn validate(&self, _body: &[u8]) -> PostbackAnswer { PostbackAnswer::Verified }
//! }
//!
//! let config = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap();
//! let gateway = PaypalGateway::new(config, Arc::new(AlwaysVerified));
//! assert_eq!(gateway.name(), "paypal");
//! ```

#[cfg(feature = "reqwest")]
mod api;
#[cfg(feature = "reqwest")]
mod cancel;
mod charset;
#[cfg(feature = "reqwest")]
mod checkout;
mod config;
mod currency;
mod date;
mod hand_off;
#[cfg(feature = "reqwest")]
mod http;
mod message;
#[cfg(feature = "reqwest")]
mod oauth;
#[cfg(feature = "reqwest")]
mod refund;
#[cfg(feature = "simulator")]
pub mod simulator;
mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;

use std::fmt;
use std::sync::Arc;

use crate::button::{ButtonConfig, ButtonError, Email};
#[cfg(feature = "reqwest")]
use crate::gateway::{ApiHandOffs, BuyerReturn, GatewayCall, Returned, ServiceUrls};
#[cfg(feature = "reqwest")]
use crate::gateway::{
    CancelAttempt, CancelRequest, RefundAttempt, RefundRequest, Refunds, StoredPaymentFacts, SubscriptionCancels,
};
use crate::gateway::{
    DecodedFields, Gateway, GatewayError, HandOff, IncomingMessage, NotifyRoute, PaymentRequest, Reply,
    VerificationWithCalls,
};

/// Checkout's webhooks: `/notify/paypal/webhook`, with the transmission headers its signature needs.
#[cfg(feature = "reqwest")]
const WEBHOOK_ROUTE: NotifyRoute = NotifyRoute {
    path: checkout::message::WEBHOOK_ROUTE,
    headers: checkout::message::WEBHOOK_HEADERS,
};
use crate::notification::Verification;

#[cfg(feature = "reqwest")]
pub use api::DEFAULT_API_TIMEOUT;
#[cfg(feature = "reqwest")]
use checkout::verify::WebhookTrust;
pub use config::{
    ApiSecret, LIVE_API_URL, LIVE_NVP_URL, LIVE_POSTBACK_URL, LIVE_WEBSCR_URL, NvpCredentials, PaypalConfig,
    PaypalIntegration, PaypalMode, PaypalOverrides, RestCredentials, SANDBOX_API_URL, SANDBOX_NVP_URL,
    SANDBOX_POSTBACK_URL, SANDBOX_WEBSCR_URL, WebhookVerification,
};
use currency::supports_currency;
use hand_off::{form_fields, receiver_for};
#[cfg(feature = "reqwest")]
pub use http::{DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT, ReqwestPostback};
use message::decode_ipn;
pub use verify::{Postback, PostbackAnswer};

use hand_off::PAYPAL_EMAIL;

/// The gateway's identifier in routes, configuration, `payment_options` and events.
pub const NAME: &str = "paypal";

/// The PayPal gateway: a configuration and a way to verify IPNs.
#[derive(Clone)]
pub struct PaypalGateway {
    config: PaypalConfig,
    postback: Arc<dyn Postback>,
    /// The REST and NVP client (refunds, cancellations), with its cached OAuth token.
    #[cfg(feature = "reqwest")]
    api: Option<Arc<api::PaypalApi>>,
    #[cfg(feature = "reqwest")]
    webhooks: Option<Arc<checkout::Webhooks>>,
    /// Checkout's subscription plans found or created so far, by option.
    #[cfg(feature = "reqwest")]
    plans: Arc<checkout::subscription::Plans>,
}

impl fmt::Debug for PaypalGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalGateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PaypalGateway {
    /// A gateway verifying IPNs with `postback`: in production, the `ReqwestPostback` of the `reqwest`
    /// feature, to the configuration's `postback_url` (see `PaypalGateway::with_reqwest`); the simulator's
    /// or a test's own otherwise.
    ///
    /// With the `reqwest` feature, such a gateway refunds and cancels nothing until
    /// `PaypalGateway::with_api_timeout` gives it an API client (the `with_reqwest` constructors do).
    pub fn new(config: PaypalConfig, postback: Arc<dyn Postback>) -> Self {
        PaypalGateway {
            config,
            postback,
            #[cfg(feature = "reqwest")]
            api: None,
            #[cfg(feature = "reqwest")]
            webhooks: None,
            #[cfg(feature = "reqwest")]
            plans: Arc::default(),
        }
    }

    /// A gateway verifying IPNs over HTTPS at the configuration's `postback_url`, and calling PayPal's
    /// REST and NVP APIs for refunds and cancellations.
    #[cfg(feature = "reqwest")]
    pub fn with_reqwest(config: PaypalConfig) -> Result<Self, GatewayError> {
        let postback = ReqwestPostback::from_config(&config)?;
        PaypalGateway::new(config, Arc::new(postback)).with_api_timeout(DEFAULT_API_TIMEOUT)
    }

    /// The same gateway calling PayPal's REST and NVP APIs (refunds, cancellations) with a client that
    /// gives up on each call after `timeout`; the refund is then tried again later with the same key.
    #[cfg(feature = "reqwest")]
    pub fn with_api_timeout(mut self, timeout: std::time::Duration) -> Result<Self, GatewayError> {
        self.api = Some(Arc::new(api::PaypalApi::new(timeout)?));
        if self.webhooks.is_none() && self.config.integration() == PaypalIntegration::Checkout {
            self.webhooks = Some(Arc::new(checkout::Webhooks::new(WebhookTrust::paypal())?));
        }
        Ok(self)
    }

    /// Trusts the simulator's webhook certificate (the CA in `ca_pem`, certificates under
    /// `cert_url_prefix`) instead of PayPal's. Refused unless the gateway is in simulator mode: a live or
    /// sandbox gateway trusts PayPal's certificates only.
    #[cfg(feature = "reqwest")]
    pub fn with_simulator_webhook_trust(mut self, ca_pem: &[u8], cert_url_prefix: &str) -> Result<Self, GatewayError> {
        if self.config.mode() != PaypalMode::Simulator {
            return Err(GatewayError::Configuration(
                "the simulator's webhook certificate is trusted in simulator mode only".into(),
            ));
        }
        let trust = WebhookTrust::simulator(ca_pem, cert_url_prefix).map_err(GatewayError::Configuration)?;
        self.webhooks = Some(Arc::new(checkout::Webhooks::new(trust)?));
        Ok(self)
    }

    /// Whether this gateway runs PayPal Checkout (and has what it needs to: the REST client).
    #[cfg(feature = "reqwest")]
    fn checkout(&self) -> Option<&Arc<api::PaypalApi>> {
        (self.config.integration() == PaypalIntegration::Checkout)
            .then_some(self.api.as_ref())
            .flatten()
    }

    /// [`PaypalGateway::with_reqwest`] keeping up to `pool_size` idle connections to the postback endpoint
    /// (see [`ReqwestPostback::with_options`]).
    #[cfg(feature = "reqwest")]
    pub fn with_reqwest_pool(config: PaypalConfig, pool_size: usize) -> Result<Self, GatewayError> {
        let postback = ReqwestPostback::with_options(config.postback_url(), http::DEFAULT_TIMEOUT, pool_size)?;
        PaypalGateway::new(config, Arc::new(postback)).with_api_timeout(DEFAULT_API_TIMEOUT)
    }

    /// The configuration.
    pub fn config(&self) -> &PaypalConfig {
        &self.config
    }

    fn check_paypal_block(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        let block = button.payment_option("paypal");
        for (key, value) in block.into_iter().flatten() {
            let field = format!("payment_options.paypal.{key}");
            if key != PAYPAL_EMAIL {
                return Err(ButtonError::new(
                    field,
                    format!("unknown setting (only {PAYPAL_EMAIL} is allowed)"),
                ));
            }
            match value {
                serde_json::Value::String(email) => {
                    Email::parse(email).map_err(|reason| ButtonError::new(field, reason))?;
                }
                serde_json::Value::Null => {}
                _ => return Err(ButtonError::new(field, "must be a string")),
            }
        }
        receiver_for(&self.config, button).map_err(|_| {
            ButtonError::new(
                format!("payment_options.paypal.{PAYPAL_EMAIL}"),
                "required: this service has no default PayPal receiver (paypal.business)",
            )
        })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Gateway for PaypalGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        self.check_paypal_block(button)?;
        for (i, option) in button.options().iter().enumerate() {
            #[cfg(feature = "reqwest")]
            if self.config.integration() == PaypalIntegration::Checkout
                && let Some(months) = option.recurrence_months()
            {
                // A plan of PayPal's Subscriptions API: every 1 to 12 months, paid to the REST account.
                if months > checkout::subscription::MAX_MONTHS {
                    return Err(ButtonError::new(
                        format!("options[{i}].recurrence_months"),
                        format!(
                            "PayPal subscriptions (paypal.integration = \"checkout\") bill every 1 to {} months",
                            checkout::subscription::MAX_MONTHS
                        ),
                    ));
                }
                if !checkout::subscription::paid_to_the_plans_account(&self.config, button).unwrap_or(false) {
                    return Err(ButtonError::new(
                        format!("payment_options.paypal.{PAYPAL_EMAIL}"),
                        checkout::subscription::not_the_plans_account(),
                    ));
                }
            }
            #[cfg(not(feature = "reqwest"))]
            if self.config.integration() == PaypalIntegration::Checkout && option.recurrence_months().is_some() {
                return Err(ButtonError::new(
                    format!("options[{i}].recurrence_months"),
                    "PayPal Checkout needs the reqwest feature",
                ));
            }
            currency::format_amount(option.amount()).map_err(|reason| {
                let field = if supports_currency(option.amount().currency()) {
                    "amount"
                } else {
                    "currency"
                };
                ButtonError::new(format!("options[{i}].{field}"), reason)
            })?;
        }
        Ok(())
    }

    fn receiver(&self, button: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        receiver_for(&self.config, button).map(|email| Some(email.as_str().to_owned()))
    }

    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        let fields = form_fields(&self.config, request)?;
        Ok(HandOff::Form {
            action: self.config.webscr_url().to_owned(),
            fields,
        })
    }

    fn decode(&self, message: &IncomingMessage) -> DecodedFields {
        #[cfg(feature = "reqwest")]
        if message.route() == checkout::message::WEBHOOK_ROUTE {
            return checkout::message::decode(&message.body);
        }
        decode_ipn(&message.body)
    }

    fn order_key(&self, message: &IncomingMessage) -> Option<String> {
        #[cfg(feature = "reqwest")]
        if message.route() == checkout::message::WEBHOOK_ROUTE {
            let event = checkout::message::WebhookEvent::parse(&message.body).ok()?;
            if checkout::subscription::is_subscription_event(&event.event_type) {
                // A subscription's events name our payment in `custom_id` (a sale: `custom`).
                return checkout::subscription::payment_ref(&event.resource).map(str::to_owned);
            }
            return checkout::message::invoice_id(&event.resource).map(str::to_owned);
        }
        // `invoice` carries our payment id on every message about a payment, subscriptions included.
        decode_ipn(&message.body).fields.remove("invoice")
    }

    fn notify_routes(&self) -> &'static [NotifyRoute] {
        // The IPN stays mounted with Checkout: a merchant moving over loses nothing in flight.
        #[cfg(feature = "reqwest")]
        if self.checkout().is_some() {
            return &[NotifyRoute::MAIN, WEBHOOK_ROUTE];
        }
        &[NotifyRoute::MAIN]
    }

    #[cfg(feature = "reqwest")]
    fn api_hand_off(&self) -> Option<&dyn ApiHandOffs> {
        self.checkout().map(|_| self as &dyn ApiHandOffs)
    }

    #[cfg(feature = "reqwest")]
    fn buyer_return(&self) -> Option<&dyn BuyerReturn> {
        self.checkout().map(|_| self as &dyn BuyerReturn)
    }

    fn acknowledge(&self, _message: &IncomingMessage) -> Reply {
        Reply::empty_ok()
    }

    /// The verification alone; the engine calls [`Gateway::verify_with_calls`], which also gives PayPal's
    /// answers to log: the postback's for an IPN, verify-webhook-signature's for a Checkout webhook.
    async fn verify(&self, message: &IncomingMessage) -> Verification {
        self.verify_with_calls(message).await.verification
    }

    async fn verify_with_calls(&self, message: &IncomingMessage) -> VerificationWithCalls {
        #[cfg(feature = "reqwest")]
        if message.route() == checkout::message::WEBHOOK_ROUTE {
            return match (&self.api, &self.webhooks) {
                (Some(api), Some(webhooks)) => checkout::verify_webhook(api, &self.config, webhooks, message).await,
                _ => Verification::Rejected {
                    status: crate::notification::VerificationStatus::Error,
                    reason: "a Checkout webhook, and paypal.integration is not \"checkout\"".into(),
                    flags: vec![crate::notification::Flag::VerificationFailed],
                }
                .into(),
            };
        }
        verify::verify(self.postback.as_ref(), self.config.mode(), &message.body).await
    }

    fn label(&self, _language: &str) -> String {
        "PayPal".to_owned()
    }

    /// Always offered with the `reqwest` feature: [`Refunds::check`] says why a payment cannot be refunded
    /// (no REST credentials, another receiving account).
    #[cfg(feature = "reqwest")]
    fn refunds(&self) -> Option<&dyn Refunds> {
        Some(self)
    }

    /// Always offered with the `reqwest` feature: [`SubscriptionCancels::check`] says why a subscription
    /// cannot be cancelled (no NVP credentials for a Payments Standard one, no REST credentials for a
    /// Checkout one).
    #[cfg(feature = "reqwest")]
    fn subscription_cancels(&self) -> Option<&dyn SubscriptionCancels> {
        Some(self)
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl Refunds for PaypalGateway {
    fn check(&self, payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
        refund::check(&self.config, self.api.is_some(), payment)
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> RefundAttempt {
        match &self.api {
            Some(api) => refund::refund(api, &self.config, request).await,
            None => RefundAttempt {
                calls: Vec::new(),
                answer: crate::gateway::RefundAnswer::Failed {
                    reason: refund::check(&self.config, false, &request.payment)
                        .err()
                        .unwrap_or_default(),
                },
            },
        }
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl SubscriptionCancels for PaypalGateway {
    /// A subscription made through the Subscriptions API (Checkout) is cancelled through the REST API;
    /// one made with a Payments Standard form through the NVP API, whichever integration runs now.
    fn check(&self, payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
        if checkout::subscription::runs_on_checkout(payment) {
            return checkout::subscription::check_cancel(&self.config, self.api.is_some(), payment);
        }
        cancel::check(&self.config, self.api.is_some(), payment)
    }

    async fn cancel(&self, request: &CancelRequest<'_>) -> CancelAttempt {
        match &self.api {
            Some(api) if checkout::subscription::runs_on_checkout(&request.payment) => {
                checkout::subscription::cancel(api, &self.config, request).await
            }
            Some(api) => cancel::cancel(api, &self.config, request).await,
            None => CancelAttempt {
                calls: Vec::new(),
                answer: crate::gateway::CancelAnswer::Failed {
                    reason: cancel::check(&self.config, false, &request.payment)
                        .err()
                        .unwrap_or_default(),
                },
            },
        }
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl ApiHandOffs for PaypalGateway {
    async fn hand_off_via_api(
        &self,
        request: &PaymentRequest<'_>,
    ) -> (Result<HandOff, GatewayError>, Vec<GatewayCall>) {
        match &self.api {
            Some(api) if request.option().recurrence_months().is_some() => {
                checkout::subscription::create_subscription(api, &self.config, &self.plans, request).await
            }
            Some(api) => checkout::hand_off::create_order(api, &self.config, request).await,
            None => (
                Err(GatewayError::Configuration(
                    "the PayPal REST client is not built".into(),
                )),
                Vec::new(),
            ),
        }
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl BuyerReturn for PaypalGateway {
    async fn on_return(
        &self,
        payment: &StoredPaymentFacts<'_>,
        query: &[(String, String)],
        urls: &ServiceUrls,
    ) -> Returned {
        let to_status = HandOff::Redirect {
            location: urls.status(payment.payment_id),
        };
        // Back from approving a subscription (`subscription_id`, `ba_token`, `token`): nothing to capture;
        // its webhooks (ACTIVATED, then a sale per cycle) say what happened.
        if query.iter().any(|(k, _)| k == "subscription_id") {
            return Returned {
                calls: Vec::new(),
                notification: None,
                hand_off: to_status,
            };
        }
        let order = query
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_str())
            .filter(|o| checkout::capture::is_order_id(o));
        let (Some(api), Some(order)) = (&self.api, order) else {
            return Returned {
                calls: Vec::new(),
                notification: None,
                hand_off: to_status,
            };
        };
        let mut calls = Vec::new();
        let captured = checkout::capture::capture(api, &self.config, payment.payment_id, order, &mut calls).await;
        let notification = match captured {
            checkout::capture::Captured::Capture(n) => Some(crate::notification::Verified::new(n)),
            checkout::capture::Captured::Refused(reason) | checkout::capture::Captured::Retry(reason) => {
                // The status page says the payment is not confirmed yet; the webhook (or a reload of this
                // return) captures it later.
                tracing::warn!(payment = %payment.payment_id, reason = %reason, "capture on the buyer's return failed");
                None
            }
        };
        Returned {
            calls,
            notification,
            hand_off: to_status,
        }
    }
}
