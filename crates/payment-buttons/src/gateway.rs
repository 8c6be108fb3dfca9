//! The boundary between the gateway-independent core and one payment gateway.
//!
//! A gateway module (`paypal`, `cmcic`) implements [`Gateway`]: it builds the hand-off for a payment,
//! answers the gateway right after a message is logged, and turns a raw message into a
//! [`Verified`](crate::notification::Verified) [`Notification`](crate::notification::Notification) (or says
//! why not). Everything else (logging, checking against the stored payment, idempotency, events) is the
//! engine's, and knows no gateway names.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::button::{ButtonConfig, ButtonError, BuyingOption};
use crate::identity::VouchedIdentity;
use crate::money::Money;
use crate::notification::Verification;
use crate::payment::PaymentId;

/// Errors a gateway reports while building a hand-off or reading its configuration: the one error type of
/// every gateway (PayPal's and CM-CIC's settings are refused as [`GatewayError::Configuration`] naming the
/// setting, `paypal.business: ...` or `cmcic.tpe: ...`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The gateway's configuration or the button's payment option lacks something (named).
    #[error("configuration: {0}")]
    Configuration(String),
    /// An HTTP client the gateway needs could not be built (its TLS set-up, say): `client` names it, and
    /// the HTTP library's error is kept as the [`source`](std::error::Error::source).
    #[error("configuration: {client}: {source}")]
    Client {
        /// Which client: `paypal postback client`, `paypal API client`, `cmcic recredit client`...
        client: &'static str,
        /// The HTTP library's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// This gateway cannot serve this button or option (e.g. a subscription through CM-CIC).
    #[error("{0}")]
    Unsupported(String),
    /// The gateway's API did not take the payment (unreachable, or it refused: the reason, no secrets).
    /// The buyer may try again; the front end answers 502.
    #[error("the payment service did not answer as expected: {0}")]
    Unavailable(String),
}

impl GatewayError {
    /// A [`GatewayError::Client`] keeping `source`.
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    pub(crate) fn client(client: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        GatewayError::Client {
            client,
            source: Arc::new(source),
        }
    }
}

/// URLs of the service that gateways send buyers and notifications to.
///
/// ```
/// use payment_buttons::gateway::ServiceUrls;
/// let urls = ServiceUrls::new("https://pay.example/").unwrap();
/// assert_eq!(urls.notify("paypal"), "https://pay.example/notify/paypal");
/// assert_eq!(urls.pay(), "https://pay.example/pay");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrls {
    base: String,
}

impl ServiceUrls {
    /// From the service's public base URL (`server.public_url`).
    pub fn new(public_url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(public_url).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("must be an http or https URL".into());
        }
        Ok(ServiceUrls {
            base: public_url.trim_end_matches('/').to_owned(),
        })
    }
    /// The base, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }
    /// Where buttons post: `{base}/pay`.
    pub fn pay(&self) -> String {
        format!("{}/pay", self.base)
    }
    /// Where a gateway sends its server-to-server messages: `{base}/notify/{gateway}`.
    pub fn notify(&self, gateway: &str) -> String {
        format!("{}/notify/{gateway}", self.base)
    }
    /// The buyer's status page for a payment: `{base}/payments/{id}`.
    pub fn status(&self, payment: &PaymentId) -> String {
        format!("{}/payments/{payment}", self.base)
    }
    /// Where a buyer who cancelled at the gateway comes back: the status page, told so.
    pub fn status_cancelled(&self, payment: &PaymentId) -> String {
        format!("{}/payments/{payment}?cancelled=1", self.base)
    }
}

/// Everything a gateway needs to build the hand-off of one payment.
#[derive(Debug, Clone)]
pub struct PaymentRequest<'a> {
    /// Our id (PayPal `invoice`, CM-CIC `reference`).
    pub payment_id: &'a PaymentId,
    /// The validated button the buyer pressed.
    pub button: &'a ButtonConfig,
    /// Index of the chosen buying option.
    pub option_index: usize,
    /// The buyer's e-mail when known (the button's, or a signed-in account's), to prefill the gateway's
    /// pages. It proves nothing: never key anything on it.
    pub buyer_email: Option<&'a str>,
    /// The buyer when someone vouched for who they are (the shop's signed `customer_id`, or an account
    /// the application signed in): the only thing a saved card may be keyed on.
    pub identity: Option<&'a VouchedIdentity>,
    /// Our URLs.
    pub urls: &'a ServiceUrls,
    /// When the payment was recorded.
    pub created_at: DateTime<Utc>,
}

impl PaymentRequest<'_> {
    /// The chosen buying option. Callers build requests only with an index they checked.
    pub fn option(&self) -> &BuyingOption {
        &self.button.options()[self.option_index.min(self.button.options().len() - 1)]
    }
}

/// How the buyer's browser is handed to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOff {
    /// An auto-submitting POST form to the gateway's page (with a visible button when JavaScript is off).
    Form {
        /// The gateway's URL.
        action: String,
        /// Fields in the order they are sent.
        fields: Vec<(String, String)>,
    },
    /// A 303 redirect (same-site pages of ours, such as the Librement flow).
    Redirect {
        /// Where to.
        location: String,
    },
}

/// A message as a gateway sent it, exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The peer's address, when known.
    pub remote_addr: Option<String>,
    /// HTTP method.
    pub method: String,
    /// `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The raw body bytes, never re-encoded.
    pub body: Vec<u8>,
    /// The request headers a verification needs (lower-case names; `gateway_messages.headers`), as the
    /// route's [`NotifyRoute::headers`] lists them, and the pseudo-header [`ROUTE_HEADER`] naming the route
    /// when it is not [`NotifyRoute::MAIN`]. Empty for the main route of a gateway that needs none.
    pub headers: BTreeMap<String, String>,
}

/// The pseudo-header of [`IncomingMessage::headers`] that names the route a message came on (its
/// [`NotifyRoute::path`], such as `webhook`): a gateway with several routes reads it in `verify`. A colon
/// opens it, as HTTP/2's pseudo-headers, so no real request header can be taken for it.
pub const ROUTE_HEADER: &str = ":route";

impl IncomingMessage {
    /// The [`NotifyRoute::path`] the message came on (`""` for the main route).
    pub fn route(&self) -> &str {
        self.headers.get(ROUTE_HEADER).map(String::as_str).unwrap_or("")
    }
}

/// An HTTP answer to a gateway, independent of the web framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type, when there is a body.
    pub content_type: Option<&'static str>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with an empty body.
    pub fn empty_ok() -> Self {
        Reply {
            status: 200,
            content_type: None,
            body: Vec::new(),
        }
    }
    /// 200 `text/plain`.
    pub fn text(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            content_type: Some("text/plain; charset=utf-8"),
            body: body.into(),
        }
    }
}

/// The fields of a message decoded for the log (`gateway_messages.fields`), with what was odd about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedFields {
    /// Field names and decoded values, in the order received (a repeated name keeps its first value).
    pub fields: BTreeMap<String, String>,
    /// Flags noticed while decoding (e.g. `unknown_charset`).
    pub flags: Vec<crate::notification::Flag>,
}

/// One payment gateway. See the module documentation.
#[async_trait::async_trait]
pub trait Gateway: Send + Sync + 'static {
    /// The identifier used in routes, config sections, `payment_options` and events (`paypal`, `cmcic`).
    fn name(&self) -> &'static str;

    /// Checks this gateway's block of a button's `payment_options` and that the gateway can serve every
    /// buying option (CM-CIC refuses recurring ones). Called when a button is signed and when it is used.
    fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError>;

    /// The account that must receive the money for this button (PayPal: the receiver e-mail; CM-CIC: the
    /// TPE). Stored with the payment and compared with every notification about it.
    fn receiver(&self, button: &ButtonConfig) -> Result<Option<String>, GatewayError>;

    /// Builds the hand-off of one payment.
    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError>;

    /// Decodes a message's fields for the log. Never fails: oddities become flags.
    fn decode(&self, message: &IncomingMessage) -> DecodedFields;

    /// The payment a logged message is about, read before verification (PayPal: `invoice`; CM-CIC:
    /// `reference`), or `None` when it names none. Messages with the same key are applied in log order;
    /// messages with different keys are verified and applied independently; all `None` messages of a
    /// gateway are applied in log order among themselves. Only parses: no network, no trust (the
    /// verified notification still names the payment that is checked and changed).
    fn order_key(&self, message: &IncomingMessage) -> Option<String> {
        let _ = message;
        None
    }

    /// The answer the gateway gets once the message is logged (PayPal: 200 empty; CM-CIC: `cdr=0`/`cdr=1`
    /// depending on the seal). Must be quick: no network.
    fn acknowledge(&self, message: &IncomingMessage) -> Reply;

    /// Verifies a logged message and parses it (PayPal: the postback; CM-CIC: the MAC).
    async fn verify(&self, message: &IncomingMessage) -> Verification;

    /// What the engine calls: [`Gateway::verify`], with the answers of the calls the verification made to
    /// the gateway's API, which the engine writes to the log (direction `answer`) before it acts on the
    /// verification in any way. The default makes [`Gateway::verify`]'s result carry no answer; a gateway
    /// whose verification calls an API that answers in a way worth keeping (PayPal Checkout's
    /// verify-webhook-signature) overrides this, and its `verify` gives the same verification without
    /// the answers.
    async fn verify_with_calls(&self, message: &IncomingMessage) -> VerificationWithCalls {
        self.verify(message).await.into()
    }

    /// What the buyer sees on this gateway's submit button, in `language` (`en`, `fr`...).
    fn label(&self, language: &str) -> String {
        let _ = language;
        self.name().to_owned()
    }

    /// The routes this gateway receives server-to-server messages on, under `/notify/{name}`: the
    /// default is the one route `/notify/{name}` itself ([`NotifyRoute::MAIN`]). A gateway with more
    /// than one kind of message (PayPal Checkout's webhooks beside the IPN) lists each.
    ///
    /// The front end (`actix::configure`) mounts each, records the headers each names
    /// ([`NotifyRoute::headers`]) with the message, and tells `verify` the route through
    /// [`IncomingMessage::route`].
    fn notify_routes(&self) -> &'static [NotifyRoute] {
        &[NotifyRoute::MAIN]
    }

    /// A hand-off that calls the gateway's API first (PayPal Checkout), when the gateway has one; `None`
    /// by default, and [`Gateway::hand_off`] alone builds the buyer's form or redirect. The answers of
    /// such calls are logged like messages (see [`GatewayCall`]); the engine's `start_payment` wires this
    /// records the payment first, then calls it, logs every answer (direction `answer`) and only then
    /// hands the buyer over.
    fn api_hand_off(&self) -> Option<&dyn ApiHandOffs> {
        None
    }

    /// The gateway's refund capability, when it has one (`None` by default). The engine asks for it
    /// rather than assuming every gateway can refund: CM-CIC refunds through a separate API, PayPal
    /// Standard not at all.
    fn refunds(&self) -> Option<&dyn Refunds> {
        None
    }

    /// The gateway's capability to cancel a subscription it runs, when it has one (`None` by default).
    fn subscription_cancels(&self) -> Option<&dyn SubscriptionCancels> {
        None
    }

    /// What the gateway does when the buyer comes back to `GET /return/{name}/{payment_id}` (PayPal
    /// Checkout captures the order there). `None` by default: the buyer goes to the status page and
    /// no such route is needed.
    fn buyer_return(&self) -> Option<&dyn BuyerReturn> {
        None
    }
}

/// One route a gateway receives messages on, named by its path under `/notify/{gateway}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifyRoute {
    /// The path segment after `/notify/{gateway}` (`""` for the route itself, `"webhook"` for
    /// `/notify/{gateway}/webhook`).
    pub path: &'static str,
    /// The request headers (lower-case names) its verification needs, logged with the message in
    /// `gateway_messages.headers` (PayPal's webhook transmission headers).
    pub headers: &'static [&'static str],
}

impl NotifyRoute {
    /// `/notify/{gateway}`: the one route of PayPal Standard's IPN and of CM-CIC's return.
    pub const MAIN: NotifyRoute = NotifyRoute { path: "", headers: &[] };
}

/// A call we made to a gateway's API and its answer, exactly as received. Every such answer is
/// written to the log like a message the gateway sent, before anything is decided from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCall {
    /// When the answer arrived.
    pub received_at: DateTime<Utc>,
    /// What we called (method and URL, no credentials).
    pub request: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// `Content-Type` of the answer, when present.
    pub content_type: Option<String>,
    /// The raw answer body.
    pub body: Vec<u8>,
}

/// A verification and the answers of the calls it made ([`Gateway::verify_with_calls`]): the engine logs
/// `calls` (direction `answer`), in order, before it acts on `verification`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationWithCalls {
    /// What the verification says.
    pub verification: Verification,
    /// The gateway's answers to the calls made to verify (an OAuth token, redacted; the verification
    /// call), in the order received. Empty when no call was made or none was answered.
    pub calls: Vec<GatewayCall>,
}

impl From<Verification> for VerificationWithCalls {
    fn from(verification: Verification) -> Self {
        VerificationWithCalls {
            verification,
            calls: Vec::new(),
        }
    }
}

/// A hand-off that needed the gateway's API (PayPal Checkout creates an order first): the buyer's
/// hand-off, and the answers to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHandOff {
    /// Where the buyer goes.
    pub hand_off: HandOff,
    /// The gateway's answers, in the order received, to be logged like messages.
    pub calls: Vec<GatewayCall>,
}

/// A gateway whose hand-off calls its API before the buyer leaves. Form-only gateways (PayPal
/// Standard, CM-CIC) implement [`Gateway::hand_off`] alone.
#[async_trait::async_trait]
pub trait ApiHandOffs: Send + Sync {
    /// Builds the hand-off of one payment, calling the gateway's API; the answers come back for the log
    /// even when the hand-off fails ([`GatewayError`] then says why).
    async fn hand_off_via_api(&self, request: &PaymentRequest<'_>)
    -> (Result<HandOff, GatewayError>, Vec<GatewayCall>);
}

/// The payment a refund or a cancellation is about, as stored: what a gateway may check before anything is
/// recorded ([`Refunds::check`], [`SubscriptionCancels::check`]).
#[derive(Debug, Clone)]
pub struct StoredPaymentFacts<'a> {
    /// Our payment.
    pub payment_id: &'a PaymentId,
    /// The gateway's reference of the payment (PayPal `txn_id`, CM-CIC's authorisation number `numauto`), when
    /// known: the payment's `gateway_reference`.
    pub gateway_reference: Option<&'a str>,
    /// The account that received the money (PayPal: the receiver e-mail; CM-CIC: the TPE).
    pub receiver: Option<&'a str>,
    /// The payment's amount.
    pub amount: Money,
    /// How much was refunded before this request.
    pub refunded_before: Money,
    /// When the payment was recorded.
    pub created_at: DateTime<Utc>,
    /// The gateway facts recorded from its notifications (`details`: CM-CIC's `date` and authorisation
    /// number, PayPal's `payment_date`...).
    pub details: &'a serde_json::Map<String, serde_json::Value>,
    /// The gateway's id of the subscription this payment started or belongs to (PayPal `subscr_id`).
    pub gateway_subscription_id: Option<&'a str>,
}

/// What one refund asks of a gateway.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    /// The payment, as stored.
    pub payment: StoredPaymentFacts<'a>,
    /// Our id of this refund, the same on every attempt: the idempotency key for gateways that take one
    /// (PayPal's `PayPal-Request-Id`).
    pub refund_id: &'a str,
    /// How much to refund, in the payment's currency (at most what is left).
    pub amount: Money,
    /// Why, as the operator or the shop wrote it (may be shown to the buyer by the gateway).
    pub reason: Option<&'a str>,
    /// When this refund was first sent to the gateway; `None` on the first attempt. A gateway whose
    /// idempotency key is honoured only for a while (PayPal) looks the refund up instead of sending it
    /// again once that window has passed.
    pub first_sent_at: Option<DateTime<Utc>>,
    /// Now, as the engine sees it.
    pub now: DateTime<Utc>,
}

/// What the gateway's answer to a refund means. The engine logs the answers first, then acts on this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    /// The money went back. `idempotency_key` is the key the gateway's own later notification of this
    /// refund carries (PayPal: the IPN `Refunded` of the refund's transaction id), so that the refund is
    /// applied once whichever of the answer and the notification comes first.
    Succeeded {
        /// The gateway's id of the refund, when it gives one.
        gateway_refund_id: Option<String>,
        /// The applied-once key shared with the gateway's notification of the same refund.
        idempotency_key: String,
    },
    /// The gateway took the refund but has not completed it (PayPal `PENDING`): its notification, or a
    /// later attempt, settles it.
    Pending {
        /// The gateway's id of the refund, when it gives one.
        gateway_refund_id: Option<String>,
    },
    /// The gateway refused it: final, with the gateway's reason.
    Failed {
        /// The gateway's reason, for the operator and the shop.
        reason: String,
    },
    /// No usable answer (timeout, 5xx, connection refused) from a gateway that takes an idempotency key:
    /// the refund stays pending and is sent again, with the same key, later.
    Retry {
        /// What went wrong, for the log.
        reason: String,
    },
    /// The refund may or may not have happened and sending it again could refund twice (CM-CIC has no
    /// idempotency key): never retried; an operator checks at the gateway.
    Unknown {
        /// What went wrong, for the operator.
        reason: String,
    },
}

/// One attempt at a refund: every answer the gateway gave (to be logged raw, direction `answer`, before
/// anything is decided), and what they mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAttempt {
    /// The gateway's answers in the order received (a look-up, then the refund, for instance). Empty when
    /// no answer came.
    pub calls: Vec<GatewayCall>,
    /// What the answers mean.
    pub answer: RefundAnswer,
}

/// A gateway's refund capability ([`Gateway::refunds`]). The refund is confirmed by the gateway's
/// answer or by a later notification, whichever comes first; the engine counts it once either way.
#[async_trait::async_trait]
pub trait Refunds: Send + Sync {
    /// Whether this gateway can refund this payment at all with its configuration (PayPal's REST
    /// credentials refund only payments received by their own account; CM-CIC needs the authorisation
    /// number). `Err` carries the reason given to the caller (HTTP 409). No network.
    fn check(&self, payment: &StoredPaymentFacts<'_>) -> Result<(), String>;

    /// Asks the gateway for the refund (or, past the gateway's idempotency window, looks it up first).
    async fn refund(&self, request: &RefundRequest<'_>) -> RefundAttempt;
}

/// What cancelling a subscription asks of a gateway.
#[derive(Debug, Clone)]
pub struct CancelRequest<'a> {
    /// The payment that started the subscription, as stored.
    pub payment: StoredPaymentFacts<'a>,
    /// Why, as the operator or the shop wrote it.
    pub reason: Option<&'a str>,
}

/// What the gateway's answer to a cancellation means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelAnswer {
    /// Cancelled. `idempotency_key` is the key of the gateway's own notification of the cancellation
    /// (PayPal: `subscr_cancel:{subscr_id}`), so `subscription_cancelled` is emitted once.
    Cancelled {
        /// The applied-once key shared with the gateway's notification of the same cancellation.
        idempotency_key: String,
    },
    /// The gateway refused (already cancelled, unknown profile...), with its reason.
    Failed {
        /// The gateway's reason.
        reason: String,
    },
    /// No usable answer: try again later (cancelling twice is harmless).
    Retry {
        /// What went wrong.
        reason: String,
    },
}

/// One attempt at a cancellation: the gateway's answers (logged first) and what they mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAttempt {
    /// The gateway's answers, in order.
    pub calls: Vec<GatewayCall>,
    /// What they mean.
    pub answer: CancelAnswer,
}

/// A gateway's capability to cancel a subscription it runs ([`Gateway::subscription_cancels`]).
#[async_trait::async_trait]
pub trait SubscriptionCancels: Send + Sync {
    /// Whether this gateway can cancel this subscription with its configuration (PayPal Standard needs
    /// NVP credentials: without them, "cancel it at PayPal"). `Err` is the reason (HTTP 409). No network.
    fn check(&self, payment: &StoredPaymentFacts<'_>) -> Result<(), String>;

    /// Asks the gateway to cancel the subscription.
    async fn cancel(&self, request: &CancelRequest<'_>) -> CancelAttempt;
}

/// What a gateway does when the buyer comes back from its pages ([`Gateway::buyer_return`]).
#[async_trait::async_trait]
pub trait BuyerReturn: Send + Sync {
    /// Handles `GET /return/{gateway}/{payment_id}` with its query pairs, for the stored payment: the calls
    /// made (the engine logs them first), what their answers say, and where the buyer goes next (usually
    /// the status page). The query comes from the buyer's browser: it may pick what to call, never what is
    /// applied (that is read from the gateway's answers only).
    async fn on_return(
        &self,
        payment: &StoredPaymentFacts<'_>,
        query: &[(String, String)],
        urls: &ServiceUrls,
    ) -> Returned;
}

/// What [`BuyerReturn::on_return`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    /// The gateway's answers, in the order received, to be logged before anything else.
    pub calls: Vec<GatewayCall>,
    /// What the last answer says, to apply as a notification of the gateway (checked against the payment
    /// and applied once, by the same idempotency key as the gateway's own notification of it); `None` when
    /// there is nothing to apply.
    pub notification: Option<crate::notification::Verified<crate::notification::Notification>>,
    /// Where the buyer goes.
    pub hand_off: HandOff,
}

/// The gateways a service offers, by name.
#[derive(Clone, Default)]
pub struct Gateways {
    by_name: BTreeMap<&'static str, Arc<dyn Gateway>>,
}

impl std::fmt::Debug for Gateways {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Gateways {
    /// No gateway.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a gateway under its name.
    pub fn with(mut self, gateway: Arc<dyn Gateway>) -> Self {
        self.by_name.insert(gateway.name(), gateway);
        self
    }

    /// The gateway called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Gateway>> {
        self.by_name.get(name)
    }

    /// Names of all gateways.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    /// Checks a button against the gateways it names: each one's own [`Gateway::check_button`]. A payment
    /// method that is not among these gateways is refused; a method handled elsewhere (Librement's
    /// balance, say) is a [`Gateway`] of its own, added with [`Gateways::with`].
    pub fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        for name in button.payment_options().keys() {
            match self.get(name) {
                Some(g) => g.check_button(button)?,
                None => {
                    return Err(ButtonError::new(
                        "payment_options",
                        format!("{name:?} is not a payment method offered by this service"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::GatewayError;

    #[test]
    fn a_client_that_cannot_be_built_keeps_the_http_librarys_error_as_its_source() {
        let err = GatewayError::client("paypal postback client", std::io::Error::other("no TLS provider"));
        assert_eq!(
            err.to_string(),
            "configuration: paypal postback client: no TLS provider"
        );
        let source = err.source().expect("the underlying error is kept");
        assert_eq!(source.to_string(), "no TLS provider");
        // The error stays `Clone`: a clone keeps the source.
        assert_eq!(
            err.clone().source().map(ToString::to_string).as_deref(),
            Some("no TLS provider")
        );
    }
}
