//! What the simulated PayPal does when the buyer or the developer acts: open a checkout, pay, cancel,
//! clear an eCheck, refund, charge the next cycle of a subscription, cancel it, and answer postbacks.
//! Each action that tells the merchant anything sends real IPNs (see [`delivery`](super::delivery)).

use std::sync::Arc;

use chrono::Utc;
use payment_buttons::paypal::PostbackAnswer;

use super::checkout::{Checkout, Kind};
use super::ledger::{Refund, Subscription, Transaction, TxnStatus};
use super::messages::{self, Payer, PaymentStatus};
use super::{PAYMENTS_PATH, PaypalSimulator, SimulatorError};

/// The prefix PayPal expects before the IPN body in a verification postback.
const POSTBACK_PREFIX: &[u8] = b"cmd=_notify-validate&";

impl PaypalSimulator {
    /// Reads a posted checkout form and keeps it; gives the id of the payment page.
    pub fn open_checkout(&self, form: &[u8]) -> Result<(String, Arc<Checkout>), SimulatorError> {
        let checkout = Checkout::parse(form)?;
        if let Some(prefix) = &self.notify_prefix
            && !checkout.notify_url.starts_with(prefix.as_str())
        {
            return Err(SimulatorError::NotifyUrlNotAllowed {
                allowed: prefix.clone(),
            });
        }
        let id = messages::new_checkout_id();
        let mut ledger = self.ledger();
        ledger.add_checkout(id.clone(), checkout);
        let kept = ledger.checkout(&id).ok_or(SimulatorError::UnknownCheckout)?;
        Ok((id, kept))
    }

    /// The checkout waiting under `id`.
    pub fn checkout(&self, id: &str) -> Option<Arc<Checkout>> {
        self.ledger().checkout(id)
    }

    /// "Pay": sends the IPNs of the payment (`web_accept`, or `subscr_signup` then `subscr_payment`), each
    /// answered 200 before the next, and gives the URL to send the browser to. With `pending_echeck`, a
    /// Buy Now payment is `Pending` (`pending_reason=echeck`) until completed from the payments page.
    ///
    /// When a delivery fails nothing is recorded and the checkout stays open, so that the buyer can try
    /// again; the bodies already sent stay verifiable, as PayPal's would.
    pub async fn pay(&self, checkout_id: &str, pending_echeck: bool) -> Result<String, SimulatorError> {
        let _turn = self.actions.lock().await;
        let checkout = self
            .ledger()
            .take_checkout(checkout_id)
            .ok_or(SimulatorError::UnknownCheckout)?;
        let payer = Payer::new(checkout.language);
        let now = Utc::now();
        let txn_id = messages::new_txn_id();
        let (ipns, subscription) = match checkout.kind {
            Kind::BuyNow => {
                let status = if pending_echeck {
                    PaymentStatus::PendingEcheck
                } else {
                    PaymentStatus::Completed
                };
                (
                    vec![messages::web_accept(&checkout, &payer, &txn_id, status, now)],
                    None,
                )
            }
            Kind::Subscription { .. } => {
                let subscr_id = messages::new_subscr_id();
                let ipns = vec![
                    messages::subscr_signup(&checkout, &payer, &subscr_id, now),
                    messages::subscr_payment(&checkout, &payer, &subscr_id, &txn_id, now),
                ];
                (ipns, Some(subscr_id))
            }
        };
        if let Err(e) = self.send(&checkout.notify_url, &ipns).await {
            self.ledger().restore_checkout(checkout_id.to_owned(), checkout);
            return Err(e);
        }
        let status = match ipns.last().and_then(|ipn| ipn.get("payment_status")) {
            Some("Pending") => TxnStatus::Pending,
            _ => TxnStatus::Completed,
        };
        let next = checkout.return_url.clone().unwrap_or_else(|| PAYMENTS_PATH.to_owned());
        let mut ledger = self.ledger();
        if let Some(subscr_id) = &subscription {
            ledger.add_subscription(Subscription {
                subscr_id: subscr_id.clone(),
                checkout: checkout.clone(),
                payer: payer.clone(),
                active: true,
            });
        }
        ledger.add_transaction(Transaction {
            txn_id,
            checkout,
            payer,
            subscr_id: subscription,
            status,
            refunds: Vec::new(),
        });
        Ok(next)
    }

    /// "Cancel": forgets the checkout and gives the URL to send the browser to. No IPN.
    pub fn cancel(&self, checkout_id: &str) -> Result<String, SimulatorError> {
        let checkout = self
            .ledger()
            .take_checkout(checkout_id)
            .ok_or(SimulatorError::UnknownCheckout)?;
        Ok(checkout.cancel_url.clone().unwrap_or_else(|| PAYMENTS_PATH.to_owned()))
    }

    /// Clears a pending eCheck: `web_accept Completed` for the same `txn_id`.
    pub async fn complete(&self, txn_id: &str) -> Result<(), SimulatorError> {
        let _turn = self.actions.lock().await;
        let transaction = self.transaction(txn_id)?;
        if transaction.status != TxnStatus::Pending {
            return Err(SimulatorError::WrongState(format!(
                "payment {txn_id} is not pending: only a pending eCheck can be completed"
            )));
        }
        let ipn = messages::echeck_cleared(&transaction.checkout, &transaction.payer, txn_id, Utc::now());
        self.send(&transaction.checkout.notify_url, &[ipn]).await?;
        if let Some(kept) = self.ledger().transaction_mut(txn_id) {
            kept.status = TxnStatus::Completed;
        }
        Ok(())
    }

    /// Refunds what is left of a completed payment (all of it, unless the API refunded part already):
    /// `payment_status=Refunded`, negative `mc_gross`, `parent_txn_id`, `reason_code=refund`, a new
    /// `txn_id`. Recorded once the IPN is delivered.
    pub async fn refund(&self, txn_id: &str) -> Result<(), SimulatorError> {
        let _turn = self.actions.lock().await;
        let transaction = self.transaction(txn_id)?;
        if transaction.status != TxnStatus::Completed {
            return Err(SimulatorError::WrongState(format!(
                "payment {txn_id} is not completed: only a completed payment can be refunded"
            )));
        }
        let left = transaction
            .refundable()
            .filter(|left| left.is_positive())
            .ok_or_else(|| SimulatorError::WrongState(format!("payment {txn_id} has nothing left to refund")))?;
        let refund = Refund {
            id: messages::new_txn_id(),
            amount: left,
            request_id: None,
            custom_id: None,
            note: None,
            at: Utc::now(),
        };
        let ipn = refund_ipn(&transaction, &refund);
        self.send(&transaction.checkout.notify_url, &[ipn]).await?;
        self.ledger().record_refund(txn_id, refund);
        Ok(())
    }

    /// The next cycle of an active subscription: `subscr_payment Completed` with a new `txn_id`.
    pub async fn next_payment(&self, subscr_id: &str) -> Result<(), SimulatorError> {
        let _turn = self.actions.lock().await;
        let subscription = self.active_subscription(subscr_id, "charged")?;
        let txn_id = messages::new_txn_id();
        let ipn = messages::subscr_payment(
            &subscription.checkout,
            &subscription.payer,
            subscr_id,
            &txn_id,
            Utc::now(),
        );
        self.send(&subscription.checkout.notify_url, &[ipn]).await?;
        self.ledger().add_transaction(Transaction {
            txn_id,
            checkout: subscription.checkout,
            payer: subscription.payer,
            subscr_id: Some(subscription.subscr_id),
            status: TxnStatus::Completed,
            refunds: Vec::new(),
        });
        Ok(())
    }

    /// Cancels an active subscription: `subscr_cancel`.
    pub async fn cancel_subscription(&self, subscr_id: &str) -> Result<(), SimulatorError> {
        let _turn = self.actions.lock().await;
        let subscription = self.active_subscription(subscr_id, "cancelled")?;
        let ipn = messages::subscr_cancel(&subscription.checkout, &subscription.payer, subscr_id, Utc::now());
        self.send(&subscription.checkout.notify_url, &[ipn]).await?;
        if let Some(kept) = self.ledger().subscription_mut(subscr_id) {
            kept.active = false;
        }
        Ok(())
    }

    /// PayPal's answer to a verification postback (`cmd=_notify-validate&` then the IPN body): `Verified`
    /// only when the rest is, byte for byte, a body this simulator sent.
    pub fn answer_postback(&self, request_body: &[u8]) -> PostbackAnswer {
        match request_body.strip_prefix(POSTBACK_PREFIX) {
            Some(ipn) if self.ledger().was_sent(ipn) => PostbackAnswer::Verified,
            _ => PostbackAnswer::Invalid,
        }
    }

    /// Every IPN body sent and still remembered, oldest first.
    pub fn sent_bodies(&self) -> Vec<Vec<u8>> {
        self.ledger().sent().map(|sent| sent.body.clone()).collect()
    }

    pub(super) fn transaction(&self, txn_id: &str) -> Result<Transaction, SimulatorError> {
        self.ledger()
            .transaction_mut(txn_id)
            .map(|t| t.clone())
            .ok_or_else(|| SimulatorError::UnknownPayment(txn_id.to_owned()))
    }

    pub(super) fn active_subscription(&self, subscr_id: &str, verb: &str) -> Result<Subscription, SimulatorError> {
        let subscription = self
            .ledger()
            .subscription_mut(subscr_id)
            .map(|s| s.clone())
            .ok_or_else(|| SimulatorError::UnknownSubscription(subscr_id.to_owned()))?;
        if !subscription.active {
            return Err(SimulatorError::WrongState(format!(
                "subscription {subscr_id} is cancelled: it cannot be {verb} any more"
            )));
        }
        Ok(subscription)
    }
}

/// The IPN of `refund` of `transaction`.
pub(super) fn refund_ipn(transaction: &Transaction, refund: &Refund) -> messages::Ipn {
    messages::refund(
        &transaction.checkout,
        &transaction.payer,
        &transaction.txn_id,
        transaction.subscr_id.as_deref(),
        &refund.id,
        &refund.amount.to_string(),
        refund.at,
    )
}
