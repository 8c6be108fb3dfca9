//! Paying the part a balance does not cover through a gateway: a top-up of the user's account by
//! exactly that amount (or, for a buyer without an account, a guest payment of the whole price), and
//! what the purchase becomes when the core applies an outcome to that gateway payment.
//!
//! The top-up is an ordinary payment of the core through `cmcic` or `paypal`, linked to its purchase.
//! When its state changes, the store calls [`plan_completion`] inside the same transaction: the ledger
//! transactions and the purchase's new state and events are written with the top-up's change, and the
//! top-up's own events are not (top-ups emit no webhooks of their own).

use chrono::{DateTime, Utc};
use payment_buttons::button::{ButtonConfig, ButtonError};
use payment_buttons::event::Event;
use payment_buttons::money::Money;
use payment_buttons::notification::Outcome;
use payment_buttons::payment::PaymentState;
use payment_buttons::store::StoredPayment;
use payment_buttons::transition::{events_for, next_state};

use crate::ledger::{Account, Entry, NewTransaction, TransactionKind, UserId};
use crate::purchase::{PurchaseError, purchase_key, seller};

/// The purchase's detail naming the top-up (or guest payment) that paid it.
pub const TOP_UP_DETAIL: &str = "librement_top_up";

/// The configuration of the gateway payment for `purchase`: one option of `amount`, paid through
/// `gateway`, sending the buyer back to the purchase's status page whatever happens.
pub fn top_up_button(
    purchase: &StoredPayment,
    gateway: &str,
    amount: Money,
    email: Option<&str>,
    status_url: &str,
) -> Result<ButtonConfig, ButtonError> {
    let button = &purchase.button;
    let description = button
        .options()
        .get(purchase.option_index)
        .map(|o| o.description().to_owned())
        .unwrap_or_default();
    let mut config = serde_json::json!({
        "order_reference": format!("librement-{}", purchase.id),
        "language": button.language().as_str(),
        "options": [{ "description": description, "amount": amount.to_string(),
                      "currency": amount.currency().code() }],
        "payment_options": { gateway: {} },
        "urls": { "back": status_url, "accepted": status_url, "declined": status_url },
    });
    if let Some(email) = email {
        config["email"] = email.into();
    }
    ButtonConfig::from_json(&config.to_string())
}

/// What completing a purchase after its top-up changed writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The money that came in through the gateway: into the user's account, or (a guest's payment for a
    /// purchase settled otherwise) into the guest clearing account, to be refunded by an operator.
    pub top_up: Option<NewTransaction>,
    /// The purchase itself. If the store finds the balance spent meanwhile, it leaves the purchase unpaid
    /// and keeps [`Completion::top_up`]: the money stays in the user's account.
    pub purchase: Option<NewTransaction>,
    /// The purchase's new state, when it changes.
    pub purchase_state: Option<PaymentState>,
    /// Details merged into the purchase's.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The purchase's events (they replace the top-up's).
    pub events: Vec<Event>,
}

/// Plans the purchase's completion after `top_up` (as just updated) moved to `top_up_state`. `user`
/// is `None` for a guest; `payee` is the account the sale credits ([`crate::ledger::payee`]).
/// `gateway_message_id` is the log row that changed the top-up.
#[allow(clippy::too_many_arguments)]
pub fn plan_completion(
    top_up: &StoredPayment,
    top_up_state: PaymentState,
    purchase: &StoredPayment,
    user: Option<UserId>,
    payee: Account,
    gateway_message_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Completion, PurchaseError> {
    let mut details = serde_json::Map::new();
    details.insert(TOP_UP_DETAIL.into(), top_up.id.as_str().into());
    details.insert("paid_through".into(), top_up.gateway.clone().into());
    let mut completion = Completion {
        top_up: None,
        purchase: None,
        purchase_state: None,
        details,
        events: Vec::new(),
    };
    let outcome = match top_up_state {
        PaymentState::Accepted => Outcome::Accepted,
        PaymentState::Declined => Outcome::Declined,
        PaymentState::Pending => Outcome::Pending,
        // Refunds and reversals are planned by `crate::reversal`; cancellations do not happen to one-off
        // payments.
        _ => return Ok(completion),
    };
    completion.purchase_state = next_state(purchase.state, &outcome);
    if top_up_state == PaymentState::Accepted {
        seller(&purchase.button).map_err(|e| PurchaseError::Button(e.to_string()))?;
        let key = format!("topup:{}", top_up.id);
        let open = completion.purchase_state.is_some();
        match user {
            Some(user) => {
                completion.top_up = Some(NewTransaction::top_up(key, user, &top_up.gateway, top_up.amount)?);
                if open {
                    completion.purchase = Some(NewTransaction::purchase_to(
                        purchase_key(&purchase.id),
                        user,
                        payee,
                        purchase.amount,
                    )?);
                }
            }
            None if open => {
                completion.purchase = Some(NewTransaction::guest_purchase_to(
                    purchase_key(&purchase.id),
                    &top_up.gateway,
                    payee,
                    purchase.amount,
                )?)
            }
            None => {
                completion.top_up = Some(NewTransaction::new(
                    key,
                    TransactionKind::GuestPurchase,
                    vec![
                        Entry {
                            account: Account::GatewayClearing(top_up.gateway.clone()),
                            amount: Money::from_minor(-top_up.amount.minor_units(), top_up.amount.currency()),
                        },
                        Entry {
                            account: Account::GuestClearing,
                            amount: top_up.amount,
                        },
                    ],
                )?)
            }
        }
    }
    if let Some(state) = completion.purchase_state {
        completion.events = events_for(purchase, state, None, &completion.details, gateway_message_id, now);
    }
    Ok(completion)
}

/// Storage of the links between gateway payments and the purchases they pay.
#[async_trait::async_trait]
pub trait TopUps: Send + Sync + 'static {
    /// Records that `top_up` pays (part of) `purchase`, for `user` (`None`: a guest). Written before the
    /// buyer is handed to the gateway, so that no outcome can arrive for an unlinked top-up.
    async fn link_top_up(
        &self,
        top_up: &payment_buttons::payment::PaymentId,
        purchase: &payment_buttons::payment::PaymentId,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), crate::ledger::LedgerError>;

    /// Records that `top_up` adds money to `user`'s account, with no purchase
    /// (`/librement/account/top-up`). Written before the buyer is handed to the gateway.
    async fn link_account_top_up(
        &self,
        top_up: &payment_buttons::payment::PaymentId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), crate::ledger::LedgerError>;
}
