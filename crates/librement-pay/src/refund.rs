//! Refunds of Librement purchases asked by a shop (the payments API) or an operator (the console)
//! (docs/librement.md, "Refunds of purchases").
//!
//! A purchase is paid by at most two parts: the buyer's balance, and a top-up (or a guest's payment) made
//! through a gateway for what the balance did not cover. A refund is split by [`plan`]:
//!
//! - **the gateway part first**, as far as that payment has something left: the money goes back where it
//!   came from. It is an ordinary refund of the top-up through its gateway (`Engine::refund` on it); the
//!   reversal policy ([`crate::reversal`]) then takes it back from the seller in the ledger and reports it
//!   on the purchase (`payment_refunded`), in the apply transaction of the gateway's answer or notification;
//! - **then the balance part**: a refund of the purchase itself through [`LibrementGateway`]'s [`Refunds`]
//!   capability, which answers at once (no gateway to call; its idempotency key is [`idempotency_key`]).
//!   The server's apply hook posts [`BalanceRefund::transaction`] in the same transaction as the purchase's
//!   new state and its `payment_refunded`: from the seller (as far as the seller's balance allows; the rest
//!   is carried by `disputes`, never a negative balance) back to the buyer's balance.
//!
//! These are pure functions and the capability; the server gathers the facts and runs the parts.

use chrono::Utc;
use payment_buttons::gateway::{GatewayCall, RefundAnswer, RefundAttempt, RefundRequest, Refunds, StoredPaymentFacts};
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::refund::{RefundRefusal, check_new};
use payment_buttons::store::StoredPayment;

use crate::gateway::LibrementGateway;
use crate::ledger::{Account, Entry, LedgerError, NewTransaction, TransactionKind, UserId};
use crate::reversal::paid_by;
use crate::topup::TOP_UP_DETAIL;

/// What the idempotency key of a balance refund's outcome starts with (followed by the refund id): the
/// core applies it once.
pub const IDEMPOTENCY_PREFIX: &str = "librement-refund:";

/// The idempotency key of the outcome of the balance refund `refund_id`.
pub fn idempotency_key(refund_id: &str) -> String {
    format!("{IDEMPOTENCY_PREFIX}{refund_id}")
}

/// The ledger key of the balance refund `refund_id` of `purchase`: posted at most once.
///
/// ```
/// use librement_pay::refund::ledger_key;
/// use payment_buttons::payment::PaymentId;
/// let p = PaymentId::parse("Xk3f9QpL2mZa").unwrap();
/// assert_eq!(ledger_key(&p, "rfd_1"), "refund:Xk3f9QpL2mZa:rfd_1");
/// ```
pub fn ledger_key(purchase: &PaymentId, refund_id: &str) -> String {
    format!("{}{refund_id}", ledger_prefix(purchase))
}

/// What every balance refund key of `purchase` starts with (a payment id holds no `LIKE` wildcards).
pub fn ledger_prefix(purchase: &PaymentId) -> String {
    format!("refund:{purchase}:")
}

/// The idempotency key of the gateway part of the caller's request `caller_key` on `purchase`, used for
/// the refund of the top-up (the balance part is a refund of the purchase under the caller's own key).
pub fn gateway_part_key(purchase: &PaymentId, caller_key: &str) -> String {
    format!("librement:{purchase}:{caller_key}")
}

/// The top-up (or guest payment) that paid `purchase`, when one did.
pub fn paying_top_up(purchase: &StoredPayment) -> Option<PaymentId> {
    let id = purchase.details.get(TOP_UP_DETAIL)?.as_str()?;
    let id = PaymentId::parse(id).ok()?;
    paid_by(purchase, &id).then_some(id)
}

/// The payment whose refunds are the gateway parts of a refund of `payment`: for a Librement purchase paid
/// (in part or in whole) by a top-up or a guest's payment, that payment. Pages and the API list its refunds
/// with the purchase's own.
pub fn gateway_parts_payment(payment: &StoredPayment) -> Option<PaymentId> {
    (payment.gateway == crate::purchase::METHOD)
        .then(|| paying_top_up(payment))
        .flatten()
}

/// How one refund request is split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    /// A refund of the top-up (or guest payment) that paid the purchase, through its gateway.
    pub gateway_part: Option<(PaymentId, Money)>,
    /// A refund of the purchase to the buyer's balance.
    pub balance_part: Option<Money>,
}

/// Splits a refund of `amount` (`None`: everything left) of `purchase`, paid in part or in whole by
/// `top_up` (when it is the payment that paid it): the gateway part first, as far as the top-up has
/// something left, then the balance.
pub fn plan(
    purchase: &StoredPayment,
    top_up: Option<&StoredPayment>,
    amount: Option<Money>,
) -> Result<RefundPlan, RefundRefusal> {
    let total = check_new(purchase, None, amount)?;
    let currency = purchase.amount.currency();
    let top_up = top_up.filter(|t| paid_by(purchase, &t.id) && t.amount.currency() == currency);
    let gateway_left = top_up.map_or(0, |t| (t.amount.minor_units() - t.refunded.minor_units()).max(0));
    let left = purchase.amount.minor_units() - purchase.refunded.minor_units();
    let gateway = total.minor_units().min(gateway_left);
    let balance = total.minor_units() - gateway;
    // What the balance paid and is not refunded yet; less when the gateway part went back otherwise.
    if balance > (left - gateway_left).max(0) {
        return Err(RefundRefusal::ExceedsLeft {
            left: Money::from_minor(gateway_left + (left - gateway_left).max(0), currency).to_string(),
        });
    }
    Ok(RefundPlan {
        gateway_part: top_up
            .filter(|_| gateway > 0)
            .map(|t| (t.id.clone(), Money::from_minor(gateway, currency))),
        balance_part: (balance > 0).then(|| Money::from_minor(balance, currency)),
    })
}

/// The buyer who paid a purchase from a balance: the user account debited by the purchase's ledger
/// transaction (`purchase:{id}`). A guest's purchase has none.
pub fn buyer_of(purchase_entries: &[Entry]) -> Option<UserId> {
    purchase_entries.iter().find_map(|e| match e.account {
        Account::User(u) if e.amount.minor_units() < 0 => Some(u),
        _ => None,
    })
}

/// A balance refund, as the store found it with the seller's account locked.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceRefund {
    /// The buyer's account, credited with the whole amount.
    pub buyer: UserId,
    /// Where the sale's money is now (the seller's verified account, else `seller:{email}`).
    pub payee: Account,
    /// Its balance now.
    pub payee_balance: Money,
    /// What goes back to the buyer.
    pub amount: Money,
}

/// How a balance refund is covered, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceRefundSplit {
    /// Taken back from the seller.
    pub from_payee: i64,
    /// Carried by `disputes` (the seller's balance did not cover it: spent, or paid out).
    pub to_disputes: i64,
}

impl BalanceRefund {
    /// The ledger transaction keyed `key`: the buyer gets the whole amount back, the seller gives what
    /// its balance holds, `disputes` carries the rest.
    pub fn transaction(&self, key: String) -> Result<(NewTransaction, BalanceRefundSplit), LedgerError> {
        let currency = self.amount.currency();
        if self.payee_balance.currency() != currency {
            return Err(LedgerError::Unbalanced(currency));
        }
        let amount = self.amount.minor_units();
        let from_payee = amount.min(self.payee_balance.minor_units().max(0));
        let split = BalanceRefundSplit {
            from_payee,
            to_disputes: amount - from_payee,
        };
        let mut entries = vec![Entry {
            account: Account::User(self.buyer),
            amount: self.amount,
        }];
        for (account, minor) in [
            (self.payee.clone(), split.from_payee),
            (Account::Disputes, split.to_disputes),
        ] {
            if minor > 0 {
                entries.push(Entry {
                    account,
                    amount: Money::from_minor(-minor, currency),
                });
            }
        }
        Ok((NewTransaction::new(key, TransactionKind::Refund, entries)?, split))
    }
}

/// The balance part of a refund: no gateway to call, the refund succeeds at once and the server's apply
/// hook moves the money in the ledger, in the transaction that applies it. The log gets the service's own
/// answer (what was asked, to the balance), like any gateway's.
#[async_trait::async_trait]
impl Refunds for LibrementGateway {
    fn check(&self, _payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
        Ok(())
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> RefundAttempt {
        let body = serde_json::json!({
            "refund_id": request.refund_id,
            "payment_id": request.payment.payment_id.as_str(),
            "amount": request.amount.to_string(),
            "currency": request.amount.currency().code(),
            "to": "balance",
        });
        RefundAttempt {
            calls: vec![GatewayCall {
                received_at: Utc::now(),
                request: "LEDGER refund to the buyer's Librement balance".into(),
                status: 200,
                content_type: Some("application/json".into()),
                body: body.to_string().into_bytes(),
            }],
            answer: RefundAnswer::Succeeded {
                gateway_refund_id: None,
                idempotency_key: idempotency_key(request.refund_id),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn a_seller_who_holds_enough_gives_it_all_back() {
        let r = BalanceRefund {
            buyer: 7,
            payee: Account::User(9),
            payee_balance: eur("50.00"),
            amount: eur("42.00"),
        };
        let (tx, split) = r.transaction("refund:x:1".into()).unwrap();
        assert_eq!(
            split,
            BalanceRefundSplit {
                from_payee: 4200,
                to_disputes: 0
            }
        );
        assert_eq!(tx.entries().len(), 2);
    }

    #[test]
    fn what_the_seller_paid_out_is_carried_by_disputes() {
        let r = BalanceRefund {
            buyer: 7,
            payee: Account::Seller("a@example.org".into()),
            payee_balance: eur("10.00"),
            amount: eur("42.00"),
        };
        let (tx, split) = r.transaction("refund:x:1".into()).unwrap();
        assert_eq!(
            split,
            BalanceRefundSplit {
                from_payee: 1000,
                to_disputes: 3200
            }
        );
        let disputes: i64 = tx
            .entries()
            .iter()
            .filter(|e| e.account == Account::Disputes)
            .map(|e| e.amount.minor_units())
            .sum();
        assert_eq!(disputes, -3200);
        assert!(tx.entries().iter().all(|e| e.amount.currency().code() == "EUR"));
    }

    #[test]
    fn the_buyer_is_the_user_the_purchase_debited() {
        let entries = [
            Entry {
                account: Account::User(7),
                amount: eur("-42.00"),
            },
            Entry {
                account: Account::User(9),
                amount: eur("42.00"),
            },
        ];
        assert_eq!(buyer_of(&entries), Some(7));
        let guest = [
            Entry {
                account: Account::GuestClearing,
                amount: eur("-42.00"),
            },
            Entry {
                account: Account::User(9),
                amount: eur("42.00"),
            },
        ];
        assert_eq!(buyer_of(&guest), None);
    }
}
