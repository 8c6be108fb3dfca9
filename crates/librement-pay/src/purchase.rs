//! Paying a purchase entirely from a Librement balance: the pure plan (ledger transaction, new state,
//! events) and the storage trait that applies it in one database transaction.

use chrono::{DateTime, Utc};
use payment_buttons::button::{ButtonConfig, ButtonError};
use payment_buttons::event::Event;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::StoredPayment;
use payment_buttons::transition::events_for;

use crate::accounts::Email;
use crate::ledger::{Account, LedgerError, NewTransaction, UserId};

/// The payment-method name, in `payment_options`, routes and events.
pub const METHOD: &str = "librement";

/// Why a purchase could not be paid from a balance. Display texts are safe to show to the buyer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    /// No such payment.
    #[error("there is no such payment")]
    NotFound,
    /// The payment was not made with the Librement button.
    #[error("this payment is not a Librement payment")]
    NotLibrement,
    /// The payment is no longer waiting to be paid.
    #[error("this payment is already {0}")]
    NotOpen(PaymentState),
    /// Subscriptions cannot be paid from a balance yet.
    #[error("subscriptions cannot be paid from a Librement account yet")]
    Recurring,
    /// The button's `librement` block is wrong.
    #[error("{0}")]
    Button(String),
    /// The ledger refused (insufficient funds) or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The seller named by a button's `payment_options.librement.seller`.
///
/// ```
/// use payment_buttons::button::ButtonConfig;
/// let button = ButtonConfig::from_json(r#"{"order_reference": "A-1",
///   "options": [{"description": "Book", "amount": "30.00", "currency": "EUR"}],
///   "payment_options": {"librement": {"seller": "Author@Example.org"}},
///   "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#).unwrap();
/// assert_eq!(librement_pay::purchase::seller(&button).unwrap().as_str(), "author@example.org");
/// ```
pub fn seller(button: &ButtonConfig) -> Result<Email, ButtonError> {
    let field = "payment_options.librement";
    let block = button
        .payment_option(METHOD)
        .ok_or_else(|| ButtonError::new(field, "the librement payment option is missing"))?;
    if let Some(unknown) = block.keys().find(|k| k.as_str() != "seller") {
        return Err(ButtonError::new(
            format!("{field}.{unknown}"),
            "unknown key (only \"seller\" is accepted)",
        ));
    }
    let seller = block
        .get("seller")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ButtonError::new(format!("{field}.seller"), "the seller's e-mail address is required"))?;
    Email::parse(seller).map_err(|_| ButtonError::new(format!("{field}.seller"), "not an e-mail address"))
}

/// What paying `payment` from a balance writes.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancePlan {
    /// The ledger transaction: the amount from the user to the seller, keyed by the payment.
    pub transaction: NewTransaction,
    /// The payment's new state (`accepted`).
    pub new_state: PaymentState,
    /// Details merged into the payment's.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The events for the outbox: `payment_processed`, `payment_accepted`, without a gateway message.
    pub events: Vec<Event>,
}

/// The idempotency key of the ledger transaction paying `payment`: a purchase is paid at most once.
pub fn purchase_key(payment: &PaymentId) -> String {
    format!("purchase:{payment}")
}

/// Plans paying `payment` (as locked in the caller's transaction) from `user`'s balance to `payee` (the
/// account [`crate::ledger::payee`] names for the button's seller).
pub fn plan_balance_payment(
    payment: &StoredPayment,
    user: UserId,
    payee: Account,
    now: DateTime<Utc>,
) -> Result<BalancePlan, PurchaseError> {
    if payment.gateway != METHOD {
        return Err(PurchaseError::NotLibrement);
    }
    if payment.state != PaymentState::Created {
        return Err(PurchaseError::NotOpen(payment.state));
    }
    if payment.recurrence_months().is_some() {
        return Err(PurchaseError::Recurring);
    }
    seller(&payment.button).map_err(|e| PurchaseError::Button(e.to_string()))?;
    let transaction = NewTransaction::purchase_to(purchase_key(&payment.id), user, payee, payment.amount)?;
    let mut details = serde_json::Map::new();
    details.insert("paid_from".into(), "librement_balance".into());
    details.insert("librement_user".into(), user.into());
    let events = events_for(payment, PaymentState::Accepted, None, &details, None, now);
    Ok(BalancePlan {
        transaction,
        new_state: PaymentState::Accepted,
        details,
        events,
    })
}

/// What [`BalancePayments::pay_from_balance`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BalancePayment {
    /// Paid now; these events were written to the outbox.
    Paid {
        /// The events, in order.
        events: Vec<Event>,
    },
    /// It had been paid from the balance before (a double submit, a second tab): nothing was written.
    AlreadyPaid,
}

/// Storage that pays a purchase from a balance atomically.
#[async_trait::async_trait]
pub trait BalancePayments: Send + Sync + 'static {
    /// In ONE transaction: lock the payment, [`plan_balance_payment`] against it, post the ledger
    /// transaction (locking and checking the user's balance), set the payment `accepted` and write the
    /// events to the outbox. A payment already paid this way answers [`BalancePayment::AlreadyPaid`].
    async fn pay_from_balance(
        &self,
        payment: &PaymentId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<BalancePayment, PurchaseError>;
}
