//! Money of a top-up or a guest's payment that goes back through its gateway (a chargeback: PayPal
//! `Reversed`; or a refund), and the gateway giving it back (`Canceled_Reversal`).
//!
//! The policy (docs/librement.md, "Chargebacks and refunds of top-ups"): the reversed amount is taken back
//! from where the money went, in this order, each as far as its balance allows, so that no user's or
//! seller's balance ever goes below zero:
//!
//! 1. the part of the top-up still on the buyer's balance (for a guest, in the `guest` clearing account):
//!    a top-up that paid its purchase left nothing there; one whose purchase was paid otherwise left it all;
//! 2. the seller's credit, when this top-up paid the purchase;
//! 3. the rest is carried by the `disputes` account (negative: what an operator has to recover).
//!
//! When the top-up paid the purchase, the purchase becomes `refunded` with a `payment_refunded` event
//! carrying the reversed amount, so the shop learns it. A cancelled reversal undoes every reversal of the
//! top-up not undone yet, entry by entry, and brings the purchase it had refunded back to `accepted`.
//!
//! These are pure functions: the store gathers the facts with the accounts locked, inside the core's apply
//! transaction, and writes what they return.

use chrono::{DateTime, Utc};
use payment_buttons::event::{Event, EventKind};
use payment_buttons::money::Money;
use payment_buttons::notification::Outcome;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::{MessageId, StoredPayment};
use payment_buttons::transition::{REFUND_AMOUNT_DETAIL, events_for, next_state, refund_events, state_after_refund};

use crate::ledger::{Account, Entry, LedgerError, NewTransaction, TransactionKind};
use crate::topup::TOP_UP_DETAIL;

/// Details of the top-up's notification copied into the purchase's events (why the money went back).
const COPIED_DETAILS: &[&str] = &["payment_status", "reason_code"];

/// The ledger key of the reversal applied by the gateway message `message_id` to `top_up`. The core
/// applies a notification once (its idempotency key), and the key makes the posting idempotent too.
pub fn reversal_key(top_up: &PaymentId, message_id: MessageId) -> String {
    format!("{}{message_id}", reversal_prefix(top_up))
}

/// What every reversal key of `top_up` starts with (a payment id holds no `LIKE` wildcards).
pub fn reversal_prefix(top_up: &PaymentId) -> String {
    format!("reversal:{top_up}:")
}

/// The ledger key of the transaction that undoes the reversal keyed `reversal_key`: it is undone once.
pub fn cancellation_key(reversal_key: &str) -> String {
    format!("cancelled:{reversal_key}")
}

/// A reversal of the top-up posted earlier and not undone yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReversal {
    /// Its ledger key.
    pub key: String,
    /// Its entries.
    pub entries: Vec<Entry>,
}

/// Where the top-up's money went, as the store found it with the accounts locked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReversalFacts {
    /// The top-up (or guest payment) whose money went back.
    pub top_up: PaymentId,
    /// Its gateway (`clearing:{gateway}` gets the money back out).
    pub gateway: String,
    /// Its amount.
    pub amount: Money,
    /// What the gateway says went back; `None`: the whole top-up.
    pub requested: Option<Money>,
    /// The buyer's account (`user:{id}`) or, for a guest, the `guest` clearing account.
    pub source: Account,
    /// Its balance now.
    pub source_balance: Money,
    /// When this top-up paid its purchase: the seller's account and its balance now.
    pub seller: Option<(Account, Money)>,
    /// How much of the top-up the purchase took (zero when the purchase was paid otherwise).
    pub spent_on_purchase: Money,
    /// Earlier reversals of this top-up, not undone.
    pub open: Vec<OpenReversal>,
}

/// How a reversal is split between the accounts, in minor units of the top-up's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversalSplit {
    /// What goes back out through the gateway (the requested amount, capped by what is left to reverse).
    pub reversed: i64,
    /// Taken from the buyer's balance (or the guest clearing account).
    pub from_source: i64,
    /// Taken from the seller.
    pub from_seller: i64,
    /// Carried by the `disputes` account.
    pub to_disputes: i64,
}

impl ReversalFacts {
    /// Sum over the open reversals of the entries on `account`.
    fn open_on(&self, account: &Account) -> i64 {
        self.open
            .iter()
            .flat_map(|r| &r.entries)
            .filter(|e| &e.account == account)
            .map(|e| e.amount.minor_units())
            .sum()
    }

    /// Splits the reversal; `None` when nothing is left to reverse (the top-up went back in full already).
    pub fn split(&self) -> Result<Option<ReversalSplit>, LedgerError> {
        let currency = self.amount.currency();
        if let Some(requested) = self.requested
            && requested.currency() != currency
        {
            return Err(LedgerError::Unbalanced(requested.currency()));
        }
        let clearing = Account::GatewayClearing(self.gateway.clone());
        let already = self.open_on(&clearing);
        let requested = self
            .requested
            .map_or(self.amount.minor_units(), |m| m.minor_units().abs());
        let reversed = requested.min(self.amount.minor_units() - already);
        if reversed <= 0 {
            return Ok(None);
        }
        // Taken from the buyer by earlier reversals is negative on the source account.
        let left = self.amount.minor_units() - self.spent_on_purchase.minor_units() + self.open_on(&self.source);
        let from_source = reversed.min(left.max(0)).min(self.source_balance.minor_units().max(0));
        let from_seller = match &self.seller {
            Some((_, balance)) => (reversed - from_source).min(balance.minor_units().max(0)),
            None => 0,
        };
        Ok(Some(ReversalSplit {
            reversed,
            from_source,
            from_seller,
            to_disputes: reversed - from_source - from_seller,
        }))
    }

    /// The ledger transaction of the reversal keyed `key`, with the split it posts; `None` when nothing
    /// is left to reverse.
    pub fn transaction(&self, key: String) -> Result<Option<(NewTransaction, ReversalSplit)>, LedgerError> {
        let Some(split) = self.split()? else {
            return Ok(None);
        };
        let currency = self.amount.currency();
        let mut entries = vec![Entry {
            account: Account::GatewayClearing(self.gateway.clone()),
            amount: Money::from_minor(split.reversed, currency),
        }];
        let mut take = |account: &Account, minor: i64| {
            if minor > 0 {
                entries.push(Entry {
                    account: account.clone(),
                    amount: Money::from_minor(-minor, currency),
                });
            }
        };
        take(&self.source, split.from_source);
        if let Some((seller, _)) = &self.seller {
            take(seller, split.from_seller);
        }
        take(&Account::Disputes, split.to_disputes);
        Ok(Some((
            NewTransaction::new(key, TransactionKind::Reversal, entries)?,
            split,
        )))
    }
}

/// The transactions that undo `open` (every reversal of a top-up not undone yet), entry by entry: the
/// seller and the buyer get back what was taken from them, and the `disputes` account what it carried.
pub fn cancellations(open: &[OpenReversal]) -> Result<Vec<NewTransaction>, LedgerError> {
    open.iter()
        .map(|r| {
            let entries = r
                .entries
                .iter()
                .map(|e| Entry {
                    account: e.account.clone(),
                    amount: Money::from_minor(-e.amount.minor_units(), e.amount.currency()),
                })
                .collect();
            NewTransaction::new(cancellation_key(&r.key), TransactionKind::ReversalCancelled, entries)
        })
        .collect()
}

/// True when `top_up` is the payment that paid `purchase` (the completion recorded it in the purchase's
/// details): only then does its reversal refund the purchase and take from the seller.
pub fn paid_by(purchase: &StoredPayment, top_up: &PaymentId) -> bool {
    matches!(purchase.state, PaymentState::Accepted | PaymentState::Refunded)
        && purchase.details.get(TOP_UP_DETAIL).and_then(|v| v.as_str()) == Some(top_up.as_str())
}

/// A new state of the purchase, with the details merged into its own and the events for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseChange {
    /// The purchase's new state.
    pub state: PaymentState,
    /// The purchase's refunded sum after the change (never more than its amount).
    pub refunded: Money,
    /// Details merged into the purchase's.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// `payment_processed` and the outcome's event.
    pub events: Vec<Event>,
}

/// What the purchase paid by `top_up` becomes when `reversed` of it went back through the gateway:
/// `refunded` (or still `accepted` when only part of it went back), its `payment_refunded` carrying this
/// reversal's `refund_amount` and why (`payment_status`, `reason_code`).
pub fn refund_purchase(
    purchase: &StoredPayment,
    top_up: &StoredPayment,
    reversed: Money,
    message_id: MessageId,
    now: DateTime<Utc>,
) -> Option<PurchaseChange> {
    next_state(purchase.state, &Outcome::Refunded { amount: Some(reversed) })?;
    let mut details = serde_json::Map::new();
    details.insert(TOP_UP_DETAIL.into(), top_up.id.as_str().into());
    details.insert("paid_through".into(), top_up.gateway.clone().into());
    details.insert(REFUND_AMOUNT_DETAIL.into(), reversed.to_string().into());
    for name in COPIED_DETAILS {
        if let Some(value) = top_up.details.get(*name) {
            details.insert((*name).into(), value.clone());
        }
    }
    // The purchase's running refunded sum, capped at what it cost (the split's card part is less).
    let total = purchase.refunded.checked_add(reversed).unwrap_or(purchase.amount);
    let refunded = if total.minor_units() > purchase.amount.minor_units() {
        purchase.amount
    } else {
        total
    };
    let state = state_after_refund(purchase.amount, refunded);
    Some(change(purchase, state, refunded, details, message_id, now, true))
}

/// What the purchase refunded by a reversal of `top_up` becomes when the gateway gave the money back:
/// `accepted` again, with its events.
pub fn reinstate_purchase(
    purchase: &StoredPayment,
    top_up: &StoredPayment,
    message_id: MessageId,
    now: DateTime<Utc>,
) -> Option<PurchaseChange> {
    // A partly refunded purchase is still `accepted`: what matters is that something was taken back.
    if !purchase.refunded.is_positive() {
        return None;
    }
    let state = next_state(purchase.state, &Outcome::ReversalCancelled { amount: None })?;
    let mut details = serde_json::Map::new();
    details.insert(TOP_UP_DETAIL.into(), top_up.id.as_str().into());
    details.insert("paid_through".into(), top_up.gateway.clone().into());
    details.insert("reversal_cancelled".into(), true.into());
    if let Some(status) = top_up.details.get("payment_status") {
        details.insert("payment_status".into(), status.clone());
    }
    // Every open reversal of the top-up is undone at once (see `give_back`): nothing stays refunded.
    let refunded = Money::from_minor(0, purchase.amount.currency());
    let mut reinstated = change(purchase, state, refunded, details, message_id, now, false);
    // As in the core's planner: the purchase was announced accepted once; `payment_processed` says it is again.
    reinstated.events.retain(|e| e.kind == EventKind::PaymentProcessed);
    Some(reinstated)
}

fn change(
    purchase: &StoredPayment,
    state: PaymentState,
    refunded: Money,
    details: serde_json::Map<String, serde_json::Value>,
    message_id: MessageId,
    now: DateTime<Utc>,
    is_refund: bool,
) -> PurchaseChange {
    // The events carry the purchase as it is after the change.
    let mut changed = purchase.clone();
    changed.refunded = refunded;
    let events = if is_refund {
        refund_events(&changed, state, None, &details, Some(message_id), now)
    } else {
        events_for(&changed, state, None, &details, Some(message_id), now)
    };
    PurchaseChange {
        state,
        refunded,
        details,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    /// A 12.50 top-up through PayPal of user 7, all of it spent on a purchase of seller `s`.
    fn spent(seller_balance: &str) -> ReversalFacts {
        ReversalFacts {
            top_up: PaymentId::parse("Xk3f9QpL2mZa").unwrap(),
            gateway: "paypal".into(),
            amount: eur("12.50"),
            requested: Some(eur("12.50")),
            source: Account::User(7),
            source_balance: eur("0.00"),
            seller: Some((Account::Seller("s".into()), eur(seller_balance))),
            spent_on_purchase: eur("12.50"),
            open: Vec::new(),
        }
    }

    fn split(reversed: i64, from_source: i64, from_seller: i64, to_disputes: i64) -> Option<ReversalSplit> {
        Some(ReversalSplit {
            reversed,
            from_source,
            from_seller,
            to_disputes,
        })
    }

    #[test]
    fn a_reversal_of_a_spent_top_up_is_taken_from_the_seller() {
        assert_eq!(spent("42.50").split().unwrap(), split(1250, 0, 1250, 0));
    }

    #[test]
    fn what_the_seller_does_not_hold_is_carried_by_disputes() {
        assert_eq!(spent("5.00").split().unwrap(), split(1250, 0, 500, 750));
        let (tx, _) = spent("0.00").transaction("reversal:x:1".into()).unwrap().unwrap();
        assert_eq!(tx.entries().len(), 2, "no zero entry for the seller: {tx:?}");
        assert_eq!(tx.entries()[1].account, Account::Disputes);
        assert_eq!(tx.entries()[1].amount, eur("-12.50"));
    }

    #[test]
    fn a_top_up_left_on_the_balance_is_taken_from_it_first_as_far_as_it_exists() {
        let mut facts = spent("42.50");
        facts.seller = None;
        facts.spent_on_purchase = eur("0.00");
        facts.source_balance = eur("20.00");
        assert_eq!(facts.split().unwrap(), split(1250, 1250, 0, 0));
        facts.source_balance = eur("4.00");
        assert_eq!(facts.split().unwrap(), split(1250, 400, 0, 850), "never below zero");
    }

    #[test]
    fn the_buyers_other_money_is_not_taken_for_a_top_up_the_purchase_spent() {
        let mut facts = spent("42.50");
        facts.source_balance = eur("100.00");
        assert_eq!(facts.split().unwrap(), split(1250, 0, 1250, 0));
    }

    #[test]
    fn reversals_of_one_top_up_never_add_up_to_more_than_it() {
        let mut facts = spent("42.50");
        let (first, _) = facts.transaction("reversal:x:1".into()).unwrap().unwrap();
        facts.open.push(OpenReversal {
            key: first.key().into(),
            entries: first.entries().to_vec(),
        });
        assert_eq!(facts.split().unwrap(), None);
        facts.open[0].entries[0].amount = eur("10.00");
        assert_eq!(facts.split().unwrap(), split(250, 0, 250, 0), "2.50 left to reverse");
    }

    #[test]
    fn a_cancellation_undoes_each_entry_of_each_open_reversal_once() {
        let (tx, _) = spent("5.00").transaction("reversal:x:1".into()).unwrap().unwrap();
        let open = [OpenReversal {
            key: tx.key().into(),
            entries: tx.entries().to_vec(),
        }];
        let undo = cancellations(&open).unwrap();
        assert_eq!(undo.len(), 1);
        assert_eq!(undo[0].key(), "cancelled:reversal:x:1");
        assert!(undo[0].debits_to_check().is_empty(), "it only gives back");
        let amounts: Vec<_> = undo[0].entries().iter().map(|e| e.amount.to_string()).collect();
        assert_eq!(amounts, ["-12.50", "5.00", "7.50"]);
    }
}
