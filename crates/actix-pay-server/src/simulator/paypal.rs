//! A stand-in for PayPal Payments Standard that speaks the real protocol to the real code paths.
//!
//! The buyer's browser posts the hand-off form to `POST /simulator/paypal` (the `webscr_url` in simulator
//! mode) and sees a payment page. "Pay" sends real IPNs, form-encoded UTF-8 as PayPal sends them, to the
//! form's `notify_url`, waits for each to be answered 200, then sends the browser to `return`. "Cancel"
//! sends it to `cancel_return` and sends nothing. `POST /simulator/paypal/postback` (the `postback_url`)
//! answers `VERIFIED` for a body this simulator sent, byte for byte, and `INVALID` for anything else.
//! `GET /simulator/paypal/payments` lists the simulated payments with the later messages PayPal would send:
//! an eCheck clearing, a refund, the next subscription payment, a cancellation.
//!
//! Everything is kept in memory, bounded, and lost at restart.

mod checkout;
mod delivery;
mod error;
mod handlers;
mod ledger;
mod messages;
mod views;
mod words;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web;
use chrono::Utc;
use payment_buttons::paypal::PostbackAnswer;

pub use checkout::{Checkout, Kind, Language, PeriodUnit, Recurrence};
pub use delivery::{DELIVERY_TIMEOUT, default_client};
pub use error::SimulatorError;
pub use ledger::TxnStatus;
pub use words::every;

use ledger::{Delivery, Ledger, SentIpn, Subscription, Transaction};
use messages::{Ipn, Payer, PaymentStatus};

/// Where the simulator is mounted: the `webscr_url` of simulator mode.
pub const BASE_PATH: &str = "/simulator/paypal";
/// The page listing simulated payments.
pub const PAYMENTS_PATH: &str = "/simulator/paypal/payments";
/// The `postback_url` of simulator mode.
pub const POSTBACK_PATH: &str = "/simulator/paypal/postback";

/// The prefix PayPal expects before the IPN body in a verification postback.
const POSTBACK_PREFIX: &[u8] = b"cmd=_notify-validate&";

/// The simulated PayPal: its memory, its HTTP client and the pages' templates.
pub struct PaypalSimulator {
    templates: Arc<tera::Tera>,
    client: reqwest::Client,
    notify_prefix: Option<String>,
    ledger: Mutex<Ledger>,
    /// One action at a time, from the state check to the state change, with the deliveries in between:
    /// two clicks on "Refund" must not send two refunds. The ledger itself is locked only briefly, so
    /// that postbacks are answered while an IPN is being delivered.
    actions: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PaypalSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaypalSimulator")
            .field("notify_prefix", &self.notify_prefix)
            .finish_non_exhaustive()
    }
}

impl PaypalSimulator {
    /// A simulator rendering its pages with the server's `templates` (from
    /// [`pages::templates`](crate::pages::templates)) and delivering IPNs with `client` (see
    /// [`default_client`]).
    pub fn new(templates: Arc<tera::Tera>, client: reqwest::Client) -> Self {
        PaypalSimulator {
            templates,
            client,
            notify_prefix: None,
            ledger: Mutex::new(Ledger::default()),
            actions: tokio::sync::Mutex::new(()),
        }
    }

    /// Refuses checkout forms whose `notify_url` does not start with `prefix`.
    ///
    /// Without it the simulator posts to whatever URL a form names, which lets anyone who can reach the
    /// server make it send requests elsewhere. A server should pass `{public_url}/notify/`.
    pub fn only_notify_under(mut self, prefix: impl Into<String>) -> Self {
        self.notify_prefix = Some(prefix.into());
        self
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger holds no invariant a panic could break half-way; keep serving.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

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
            refund_txn_id: None,
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

    /// Refunds a completed payment in full: `payment_status=Refunded`, negative `mc_gross`,
    /// `parent_txn_id`, `reason_code=refund`, a new `txn_id`.
    pub async fn refund(&self, txn_id: &str) -> Result<(), SimulatorError> {
        let _turn = self.actions.lock().await;
        let transaction = self.transaction(txn_id)?;
        if transaction.status != TxnStatus::Completed {
            return Err(SimulatorError::WrongState(format!(
                "payment {txn_id} is not completed: only a completed payment can be refunded"
            )));
        }
        let refund_txn_id = messages::new_txn_id();
        let ipn = messages::refund(
            &transaction.checkout,
            &transaction.payer,
            txn_id,
            transaction.subscr_id.as_deref(),
            &refund_txn_id,
            Utc::now(),
        );
        self.send(&transaction.checkout.notify_url, &[ipn]).await?;
        if let Some(kept) = self.ledger().transaction_mut(txn_id) {
            kept.status = TxnStatus::Refunded;
            kept.refund_txn_id = Some(refund_txn_id);
        }
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
            refund_txn_id: None,
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

    fn transaction(&self, txn_id: &str) -> Result<Transaction, SimulatorError> {
        self.ledger()
            .transaction_mut(txn_id)
            .map(|t| t.clone())
            .ok_or_else(|| SimulatorError::UnknownPayment(txn_id.to_owned()))
    }

    fn active_subscription(&self, subscr_id: &str, verb: &str) -> Result<Subscription, SimulatorError> {
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

    /// Delivers the messages in order, each remembered before it leaves (the receiver may post it back
    /// before answering), stopping at the first failure.
    async fn send(&self, notify_url: &str, ipns: &[Ipn]) -> Result<(), SimulatorError> {
        for ipn in ipns {
            let body = ipn.encode();
            let handle = self.ledger().remember_sent(SentIpn {
                at: Utc::now(),
                summary: ipn.summary(),
                notify_url: notify_url.to_owned(),
                body: body.clone(),
                delivery: Delivery::Sending,
            });
            let result = delivery::deliver(&self.client, notify_url, body).await;
            let delivery = match &result {
                Ok(()) => Delivery::Delivered,
                Err(e) => Delivery::Failed(e.to_string()),
            };
            self.ledger().set_delivery(handle, delivery);
            if let Err(e) = result {
                tracing::warn!(notify_url, error = %e, "simulated IPN not delivered");
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Mounts the simulator's routes under [`BASE_PATH`]. The server mounts it only in simulator mode.
pub fn configure(sim: Arc<PaypalSimulator>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope(BASE_PATH)
                .app_data(web::Data::from(sim))
                .route("", web::post().to(handlers::checkout))
                .route("/postback", web::post().to(handlers::postback))
                .route("/payments", web::get().to(handlers::payments))
                .route("/payments/{txn_id}/complete", web::post().to(handlers::complete))
                .route("/payments/{txn_id}/refund", web::post().to(handlers::refund))
                .route(
                    "/subscriptions/{subscr_id}/next",
                    web::post().to(handlers::next_payment),
                )
                .route(
                    "/subscriptions/{subscr_id}/cancel",
                    web::post().to(handlers::cancel_subscription),
                )
                .route("/{checkout}/pay", web::post().to(handlers::pay))
                .route("/{checkout}/cancel", web::post().to(handlers::cancel)),
        );
    }
}
