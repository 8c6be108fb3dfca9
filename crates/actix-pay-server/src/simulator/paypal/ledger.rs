//! What the simulator remembers: checkouts waiting on the payment page, simulated payments and
//! subscriptions, and every IPN body it sent (for the postback). All in memory and bounded: the oldest
//! entries are forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use payment_buttons::money::Money;

use super::checkout::Checkout;
use super::messages::Payer;

/// Checkouts kept waiting for Pay or Cancel.
const MAX_CHECKOUTS: usize = 1_000;
/// Payments and subscriptions listed.
const MAX_RECORDS: usize = 1_000;
/// IPN bodies remembered for the postback; an older body is answered `INVALID`.
const MAX_SENT: usize = 10_000;
/// OAuth tokens remembered; an older token is answered 401, as an expired one.
const MAX_TOKENS: usize = 1_000;

/// The state of a simulated transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TxnStatus {
    /// An eCheck waiting to clear.
    Pending,
    /// Money received.
    Completed,
    /// Fully refunded.
    Refunded,
}

/// One simulated transaction: a Buy Now payment or a subscription cycle.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// PayPal's transaction id.
    pub txn_id: String,
    /// The form it came from.
    pub checkout: Arc<Checkout>,
    /// The buyer.
    pub payer: Payer,
    /// The subscription it is a cycle of.
    pub subscr_id: Option<String>,
    /// Where it stands.
    pub status: TxnStatus,
    /// Its refunds, oldest first (from the payments page or the REST API).
    pub refunds: Vec<Refund>,
}

/// One refund of a simulated transaction.
#[derive(Debug, Clone)]
pub struct Refund {
    /// The refund's own transaction id (the `txn_id` of its IPN, the `id` of the REST answer).
    pub id: String,
    /// How much.
    pub amount: Money,
    /// The `PayPal-Request-Id` it was made with, when made through the API.
    pub request_id: Option<String>,
    /// The API's `custom_id`.
    pub custom_id: Option<String>,
    /// The API's `note_to_payer`.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl Transaction {
    /// The amount paid.
    pub fn amount(&self) -> Option<Money> {
        Money::parse(&self.checkout.amount, &self.checkout.currency).ok()
    }

    /// What is left to refund.
    pub fn refundable(&self) -> Option<Money> {
        let mut left = self.amount()?;
        for refund in &self.refunds {
            left = left.checked_sub(refund.amount)?;
        }
        Some(left)
    }
}

/// One simulated subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// PayPal's subscription id.
    pub subscr_id: String,
    /// The form it came from.
    pub checkout: Arc<Checkout>,
    /// The subscriber.
    pub payer: Payer,
    /// False once cancelled.
    pub active: bool,
}

/// Whether a sent IPN reached its `notify_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Being sent.
    Sending,
    /// Answered 200.
    Delivered,
    /// Not delivered, and why.
    Failed(String),
}

/// One IPN the simulator sent.
#[derive(Debug, Clone)]
pub struct SentIpn {
    /// When.
    pub at: DateTime<Utc>,
    /// `web_accept Completed`, ...
    pub summary: String,
    /// Where.
    pub notify_url: String,
    /// The exact body.
    pub body: Vec<u8>,
    /// Whether it arrived.
    pub delivery: Delivery,
}

/// Everything the simulator remembers.
#[derive(Debug, Default)]
pub struct Ledger {
    checkouts: HashMap<String, Arc<Checkout>>,
    checkout_order: VecDeque<String>,
    transactions: VecDeque<Transaction>,
    subscriptions: VecDeque<Subscription>,
    sent: VecDeque<(u64, SentIpn)>,
    next_sent: u64,
    tokens: VecDeque<(String, DateTime<Utc>)>,
}

impl Ledger {
    /// Keeps a checkout under `id`, forgetting the oldest beyond the limit.
    pub fn add_checkout(&mut self, id: String, checkout: Checkout) {
        self.checkouts.insert(id.clone(), Arc::new(checkout));
        self.checkout_order.push_back(id);
        while self.checkout_order.len() > MAX_CHECKOUTS {
            if let Some(oldest) = self.checkout_order.pop_front() {
                self.checkouts.remove(&oldest);
            }
        }
    }

    /// The checkout under `id`, when it is still waiting.
    pub fn checkout(&self, id: &str) -> Option<Arc<Checkout>> {
        self.checkouts.get(id).cloned()
    }

    /// Takes the checkout out: paid or cancelled, it cannot be used again.
    pub fn take_checkout(&mut self, id: &str) -> Option<Arc<Checkout>> {
        let checkout = self.checkouts.remove(id)?;
        self.checkout_order.retain(|kept| kept != id);
        Some(checkout)
    }

    /// Puts a checkout back after a failed payment, so that the buyer can try again.
    pub fn restore_checkout(&mut self, id: String, checkout: Arc<Checkout>) {
        self.checkouts.insert(id.clone(), checkout);
        self.checkout_order.push_back(id);
    }

    /// Records a transaction.
    pub fn add_transaction(&mut self, transaction: Transaction) {
        self.transactions.push_back(transaction);
        if self.transactions.len() > MAX_RECORDS {
            self.transactions.pop_front();
        }
    }

    /// Records a subscription.
    pub fn add_subscription(&mut self, subscription: Subscription) {
        self.subscriptions.push_back(subscription);
        if self.subscriptions.len() > MAX_RECORDS {
            self.subscriptions.pop_front();
        }
    }

    /// The transaction `txn_id`.
    pub fn transaction_mut(&mut self, txn_id: &str) -> Option<&mut Transaction> {
        self.transactions.iter_mut().find(|t| t.txn_id == txn_id)
    }

    /// The subscription `subscr_id`.
    pub fn subscription_mut(&mut self, subscr_id: &str) -> Option<&mut Subscription> {
        self.subscriptions.iter_mut().find(|s| s.subscr_id == subscr_id)
    }

    /// Transactions, oldest first.
    pub fn transactions(&self) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.transactions.iter()
    }

    /// Subscriptions, oldest first.
    pub fn subscriptions(&self) -> impl DoubleEndedIterator<Item = &Subscription> {
        self.subscriptions.iter()
    }

    /// Remembers a body about to be sent, before it is sent: the receiver may post it back before the
    /// delivery returns. Gives a handle for [`Ledger::set_delivery`].
    pub fn remember_sent(&mut self, sent: SentIpn) -> u64 {
        let handle = self.next_sent;
        self.next_sent += 1;
        self.sent.push_back((handle, sent));
        if self.sent.len() > MAX_SENT {
            self.sent.pop_front();
        }
        handle
    }

    /// Records whether a sent body arrived.
    pub fn set_delivery(&mut self, handle: u64, delivery: Delivery) {
        if let Some((_, sent)) = self.sent.iter_mut().find(|(h, _)| *h == handle) {
            sent.delivery = delivery;
        }
    }

    /// True when `body` is, byte for byte, a body this simulator sent.
    pub fn was_sent(&self, body: &[u8]) -> bool {
        self.sent.iter().any(|(_, sent)| sent.body == body)
    }

    /// Remembers an OAuth token valid until `expires_at`.
    pub fn add_token(&mut self, token: String, expires_at: DateTime<Utc>) {
        self.tokens.push_back((token, expires_at));
        if self.tokens.len() > MAX_TOKENS {
            self.tokens.pop_front();
        }
    }

    /// Whether `token` was issued here and has not expired.
    pub fn token_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.tokens.iter().any(|(t, until)| t == token && now < *until)
    }

    /// Records a refund of `txn_id`; the transaction becomes `Refunded` once nothing is left.
    pub fn record_refund(&mut self, txn_id: &str, refund: Refund) {
        if let Some(transaction) = self.transaction_mut(txn_id) {
            transaction.refunds.push(refund);
            if transaction.refundable().is_some_and(|left| !left.is_positive()) {
                transaction.status = TxnStatus::Refunded;
            }
        }
    }

    /// The refund made with `request_id` (`PayPal-Request-Id`), and the transaction it refunded.
    pub fn refund_by_request_id(&self, request_id: &str) -> Option<(&Transaction, &Refund)> {
        self.transactions.iter().find_map(|t| {
            t.refunds
                .iter()
                .find(|r| r.request_id.as_deref() == Some(request_id))
                .map(|r| (t, r))
        })
    }

    /// Sent IPNs, oldest first.
    pub fn sent(&self) -> impl DoubleEndedIterator<Item = &SentIpn> {
        self.sent.iter().map(|(_, sent)| sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(body: &[u8]) -> SentIpn {
        SentIpn {
            at: Utc::now(),
            summary: "web_accept Completed".to_owned(),
            notify_url: "http://127.0.0.1/notify/paypal".to_owned(),
            body: body.to_vec(),
            delivery: Delivery::Sending,
        }
    }

    #[test]
    fn only_bodies_sent_byte_for_byte_are_known() {
        let mut ledger = Ledger::default();
        ledger.remember_sent(sent(b"txn_id=A&mc_gross=1.00"));
        assert!(ledger.was_sent(b"txn_id=A&mc_gross=1.00"));
        assert!(!ledger.was_sent(b"txn_id=A&mc_gross=1.01"));
        assert!(!ledger.was_sent(b"txn_id=A&mc_gross=1.00&"));
        assert!(!ledger.was_sent(b""));
    }

    #[test]
    fn the_oldest_bodies_are_forgotten_beyond_the_limit() {
        let mut ledger = Ledger::default();
        for i in 0..=MAX_SENT {
            ledger.remember_sent(sent(format!("n={i}").as_bytes()));
        }
        assert!(!ledger.was_sent(b"n=0"));
        assert!(ledger.was_sent(b"n=1"));
        assert!(ledger.was_sent(format!("n={MAX_SENT}").as_bytes()));
    }

    #[test]
    fn delivery_results_are_recorded_against_their_body() {
        let mut ledger = Ledger::default();
        let first = ledger.remember_sent(sent(b"a=1"));
        let second = ledger.remember_sent(sent(b"a=2"));
        ledger.set_delivery(second, Delivery::Failed("HTTP 500".to_owned()));
        ledger.set_delivery(first, Delivery::Delivered);
        let deliveries: Vec<_> = ledger.sent().map(|s| s.delivery.clone()).collect();
        assert_eq!(
            deliveries,
            [Delivery::Delivered, Delivery::Failed("HTTP 500".to_owned())]
        );
    }
}
