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
//! It also stands in for the APIs the gateway calls (`api`): the OAuth2 token, the refund of a payment
//! (`/v2/payments/captures/{txn_id}/refund`, in full or in part, honouring `PayPal-Request-Id`), Transaction
//! Search (refunds), and the NVP `ManageRecurringPaymentsProfileStatus` cancellation. A refund or a
//! cancellation made through them is followed by its IPN, as PayPal's are, and shows on the payments page.
//!
//! Everything is kept in memory, bounded, and lost at restart.
//!
//! The files have the same roles as the CM-CIC simulator's: `handlers` (HTTP in and out), `actions` (what
//! PayPal does), `views` (the pages), `words`, `ledger` (what it remembers), `delivery` (posting IPNs to
//! the merchant), `error`, `checkout` (the merchant's form, read), `messages` (the IPNs it sends) and
//! `api` (what the REST and NVP APIs do).

mod actions;
mod api;
mod checkout;
mod delivery;
mod error;
mod handlers;
mod ledger;
mod messages;
mod orders;
mod subscriptions;
mod views;
mod words;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web;

pub use api::{ApiAnswer, ApiCredentials};
pub use checkout::{Checkout, Kind, Language, PeriodUnit, Recurrence};
pub use delivery::{DELIVERY_TIMEOUT, default_client};
pub use error::SimulatorError;
pub use ledger::TxnStatus;
pub use orders::{CERT_PATH, CheckoutWebhooks, WEBHOOK_CA_PEM, sign_webhook};
pub use words::every;

use ledger::Ledger;

/// Where the simulator is mounted: the `webscr_url` of simulator mode.
pub const BASE_PATH: &str = "/simulator/paypal";
/// The page listing simulated payments.
pub const PAYMENTS_PATH: &str = "/simulator/paypal/payments";
/// The `postback_url` of simulator mode.
pub const POSTBACK_PATH: &str = "/simulator/paypal/postback";
/// The `api_url` of simulator mode: the REST API's paths (`/v1/oauth2/token`...) are under it.
pub const API_PATH: &str = BASE_PATH;
/// The `nvp_url` of simulator mode.
pub const NVP_PATH: &str = "/simulator/paypal/nvp";

/// The simulated PayPal: its memory, its HTTP client and the pages' templates.
pub struct PaypalSimulator {
    templates: Arc<tera::Tera>,
    client: reqwest::Client,
    notify_prefix: Option<String>,
    api: Option<ApiCredentials>,
    ledger: Mutex<Ledger>,
    /// Checkout's orders (`orders.rs`).
    orders: Mutex<orders::Orders>,
    /// Checkout's products, plans and subscriptions (`subscriptions.rs`).
    billing: Mutex<subscriptions::Billing>,
    /// Where Checkout webhooks go, when the server runs Checkout.
    checkout_webhooks: Option<CheckoutWebhooks>,
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
            api: None,
            ledger: Mutex::new(Ledger::default()),
            orders: Mutex::new(orders::Orders::default()),
            billing: Mutex::new(subscriptions::Billing::default()),
            checkout_webhooks: None,
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

    /// Opens the simulated REST and NVP APIs to `credentials` (the server's gateway's). Without it they
    /// refuse every call.
    pub fn with_api_credentials(mut self, credentials: ApiCredentials) -> Self {
        self.api = Some(credentials);
        self
    }

    /// Sends signed Checkout webhooks as `webhooks` says (the server does so in simulator mode with
    /// `paypal.integration = "checkout"`).
    pub fn with_checkout_webhooks(mut self, webhooks: CheckoutWebhooks) -> Self {
        self.checkout_webhooks = Some(webhooks);
        self
    }

    /// The account the simulated REST credentials belong to, which owns the plans (`paypal.business`).
    fn plans_account(&self) -> Option<String> {
        self.api.as_ref().and_then(|a| a.account.clone())
    }

    fn orders(&self) -> MutexGuard<'_, orders::Orders> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger holds no invariant a panic could break half-way; keep serving.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Mounts the simulator's routes under [`BASE_PATH`]. The server mounts it only in simulator mode.
pub fn configure(sim: Arc<PaypalSimulator>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            subscriptions::routes(orders::routes(web::scope(BASE_PATH)))
                .app_data(web::Data::from(sim))
                .route("", web::post().to(handlers::checkout))
                .route("/postback", web::post().to(handlers::postback))
                .route("/v1/oauth2/token", web::post().to(handlers::oauth_token))
                .route(
                    "/v2/payments/captures/{txn_id}/refund",
                    web::post().to(handlers::api_refund),
                )
                .route(
                    "/v1/reporting/transactions",
                    web::get().to(handlers::transaction_search),
                )
                .route("/nvp", web::post().to(handlers::nvp))
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
