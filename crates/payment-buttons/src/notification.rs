//! What a gateway's message says, once verified, in gateway-independent terms.

use std::fmt;

use crate::money::Money;

/// A value that can only be obtained from a gateway's verification (postback, MAC).
///
/// What it means: a [`Gateway::verify`](crate::gateway::Gateway::verify) vouched for the message it came
/// from. The engine only ever takes one out of the [`Verification`] that a gateway's `verify` returned
/// for a message the engine itself logged (nothing else in the public API accepts a `Verified`), so a
/// notification reaches the transition and the store only through some gateway's verification.
///
/// The gateways of this crate build it with a crate-private constructor. A gateway written outside the
/// crate builds it with [`Verified::vouched_by_gateway`], which is that gateway's claim, made in its
/// `verify` after checking the message against the gateway (signature, postback, API): the type cannot
/// check that claim, so call it nowhere else.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// Wraps a value whose source was just verified. Crate-private on purpose.
    pub(crate) fn new(value: T) -> Self {
        Verified(value)
    }
    /// For a gateway written outside this crate, in its `Gateway::verify` only: wraps what the gateway
    /// verified. See the type's documentation for what the engine relies on.
    pub fn vouched_by_gateway(value: T) -> Self {
        Verified(value)
    }
    /// The verified value.
    pub fn get(&self) -> &T {
        &self.0
    }
    /// Unwraps it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// The verification state of a logged message (`gateway_messages.verification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Not verified yet (or verification is being retried).
    Pending,
    /// The gateway confirmed it (PayPal `VERIFIED`, a valid CM-CIC MAC).
    Verified,
    /// The gateway denied it (PayPal `INVALID`).
    Invalid,
    /// The seal does not match (CM-CIC).
    BadMac,
    /// It could not be verified and will not be retried (unparseable, gave up).
    Error,
}

impl VerificationStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            VerificationStatus::Pending => "pending",
            VerificationStatus::Verified => "verified",
            VerificationStatus::Invalid => "invalid",
            VerificationStatus::BadMac => "bad_mac",
            VerificationStatus::Error => "error",
        }
    }
}

impl fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a logged message needs a look (`gateway_messages.flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Already applied: a resend.
    Duplicate,
    /// Paid to another account than the payment's.
    ReceiverMismatch,
    /// Amount or currency differs from the stored payment.
    AmountMismatch,
    /// Names no payment of ours.
    UnknownPayment,
    /// A test message reached a live gateway.
    TestInLive,
    /// The message's charset is unknown; decoded as windows-1252.
    UnknownCharset,
    /// A status this library does not map.
    UnknownStatus,
    /// A message type this library does not handle.
    UnknownType,
    /// A date that could not be read.
    MalformedDate,
    /// A field longer than the gateway documents.
    OverlongField,
    /// The body was larger than the notification limit: logged truncated, never verified.
    Oversize,
    /// A required field is missing or malformed.
    MalformedField,
    /// The gateway said the message is not genuine.
    Invalid,
    /// The seal does not match.
    BadMac,
    /// Verification gave up after retries.
    VerificationFailed,
    /// A message for a payment made through another gateway.
    WrongGateway,
    /// A transition that makes no sense for the payment's state (e.g. pending after accepted).
    StaleStatus,
    /// Sealed with the merchant key but not a return from the bank (our own payment form posted back, or
    /// no valid `code-retour`).
    NotAReturn,
    /// A subscription message about a payment that started no subscription.
    NotASubscription,
    /// A subscription message naming another subscription than the one recorded at sign-up.
    SubscriptionMismatch,
    /// A refund or reversal that would take back more than was paid.
    RefundExceedsAmount,
}

impl Flag {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Flag::Duplicate => "duplicate",
            Flag::ReceiverMismatch => "receiver_mismatch",
            Flag::AmountMismatch => "amount_mismatch",
            Flag::UnknownPayment => "unknown_payment",
            Flag::TestInLive => "test_in_live",
            Flag::UnknownCharset => "unknown_charset",
            Flag::UnknownStatus => "unknown_status",
            Flag::UnknownType => "unknown_type",
            Flag::MalformedDate => "malformed_date",
            Flag::OverlongField => "overlong_field",
            Flag::Oversize => "oversize",
            Flag::MalformedField => "malformed_field",
            Flag::Invalid => "invalid",
            Flag::BadMac => "bad_mac",
            Flag::VerificationFailed => "verification_failed",
            Flag::WrongGateway => "wrong_gateway",
            Flag::StaleStatus => "stale_status",
            Flag::NotAReturn => "not_a_return",
            Flag::NotASubscription => "not_a_subscription",
            Flag::SubscriptionMismatch => "subscription_mismatch",
            Flag::RefundExceedsAmount => "refund_exceeds_amount",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a notification means for a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Money received.
    Accepted,
    /// Refused, failed, expired (not always final).
    Declined,
    /// Not final yet.
    Pending,
    /// Money returned; `amount` is the refunded amount (positive) when the gateway says it.
    Refunded {
        /// How much was refunded, as a positive amount.
        amount: Option<Money>,
    },
    /// A reversal (chargeback) was decided in the seller's favour: the money comes back (PayPal
    /// `Canceled_Reversal`). Only a refunded or reversed payment can receive it.
    ReversalCancelled {
        /// How much comes back, as a positive amount, when the gateway says it (else all that was reversed).
        amount: Option<Money>,
    },
    /// A subscription was cancelled or reached its end of term.
    SubscriptionCancelled,
}

/// Which payment a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The payment named by the message (`invoice`, `reference`).
    Payment,
    /// One cycle of the subscription started by the named payment: the first cycle is that payment
    /// itself, every later one a new payment whose `subscription_id` is the named one.
    SubscriptionCycle,
}

/// The subscription a message names, and whether that message may be the one that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRef {
    /// The gateway's id of the subscription (PayPal `subscr_id`).
    pub id: String,
    /// True for the messages that start a subscription (a sign-up, a cycle's payment): when the payment has
    /// no subscription recorded yet, such a message records this one. Any other message (a cancellation,
    /// a failure, a modification, a refund) needs the recorded one to match.
    pub may_record: bool,
}

/// A gateway message, parsed into gateway-independent terms. Only meaningful inside [`Verified`].
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Our payment id as the message carries it (`invoice`, `reference`); `None` when absent.
    pub payment_ref: Option<String>,
    /// Which payment it concerns.
    pub target: Target,
    /// What applying it means; `None` for messages that change no state (a subscription sign-up).
    pub outcome: Option<Outcome>,
    /// What makes it unique: applying the same key twice is a duplicate (e.g. `txn_id` + status).
    pub idempotency_key: String,
    /// The gateway's reference of the transaction (`txn_id`, `numauto`), kept on the payment.
    pub gateway_reference: Option<String>,
    /// For a message about a subscription, the gateway's id of the subscription it names (PayPal
    /// `subscr_id`): it applies only to a payment that started a subscription, and only when this matches
    /// the one recorded at sign-up.
    pub subscription: Option<SubscriptionRef>,
    /// The amount and currency the message states, compared with the stored payment.
    pub amount: Option<Money>,
    /// The account that received the money (PayPal `receiver_email`, CM-CIC `TPE`).
    pub receiver: Option<String>,
    /// A test message (PayPal `test_ipn=1`, CM-CIC `payetest`).
    pub test: bool,
    /// Gateway facts for the event payload (pending reason, masked card, fraud causes...).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Oddities noticed while parsing.
    pub flags: Vec<Flag>,
    /// A short human summary for the log's `outcome` column (e.g. `web_accept Completed`).
    pub summary: String,
}

/// The result of verifying one message.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // One per message, built and consumed once: a box would buy nothing.
pub enum Verification {
    /// Genuine; here is what it says.
    Verified(Verified<Notification>),
    /// Genuine but about nothing we act on (an unknown `txn_type`): acknowledged and recorded.
    Ignored {
        /// Why, for the log.
        reason: String,
        /// Flags for the log.
        flags: Vec<Flag>,
    },
    /// Not genuine, or unreadable: logged, flagged, never applied.
    Rejected {
        /// `invalid`, `bad_mac` or `error`.
        status: VerificationStatus,
        /// Why, for the log (no secrets).
        reason: String,
        /// Flags for the log.
        flags: Vec<Flag>,
    },
    /// Could not be verified now (timeout, HTML error page, 5xx): try again later.
    Retry {
        /// Why, for the log.
        reason: String,
    },
    /// Genuine, and it asks for the gateway's return step ([`crate::gateway::BuyerReturn`]) to run for
    /// `payment`, as if the buyer had come back with `query` (PayPal Checkout's `CHECKOUT.ORDER.APPROVED`:
    /// the buyer approved but may never come back, so the order is captured now). The engine runs it only
    /// for a payment it has, of this gateway: it logs the step's answers first, then applies what they say
    /// as the last answer's log row. No answer, or a server error, puts the message back in the queue.
    Return {
        /// Our payment the message names.
        payment: crate::payment::PaymentId,
        /// The query the return step reads (PayPal: `token` = the order).
        query: Vec<(String, String)>,
    },
}
