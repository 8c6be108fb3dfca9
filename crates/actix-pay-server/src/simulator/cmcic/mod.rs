//! `/simulator/cmcic`: a stand-in for the bank's payment page that speaks the real protocol.
//!
//! The merchant's page posts its sealed payment form here exactly as it would to the bank. The simulator
//! checks the seal with the configured key, shows a card form, and when the buyer pays it posts a return
//! sealed as the bank seals it to `{public_url}/notify/cmcic`, checks that the answer is
//! `version=2\ncdr=0\n`, then sends the buyer to `url_retour_ok` or `url_retour_err`.
//!
//! Routes, under [`BASE_PATH`]:
//! - `POST /simulator/cmcic`: the payment form arrives; answers the card page, or 400 when the seal is wrong.
//! - `GET /simulator/cmcic/{session}`: the card page again (`?card=new` to type another card than the saved one).
//! - `POST /simulator/cmcic/{session}/pay`: the buyer pays; answers 303 to the merchant's return URL.
//! - `POST /simulator/cmcic/recredit_paiement.cgi`: a refund, server to server, sealed like every request;
//!   answers `cdr`/`lib` lines as the bank does (the codes are listed in `actions.rs`).
//! - `GET /simulator/cmcic/payments`: the accepted payments and their refunds.
//!
//! Everything lives in memory: pending sessions (one hour), accepted payments (for refunds), and cards saved
//! for Express Payment by alias, of which only the masked number and the facts of the card are kept, never
//! the full number.
//!
//! The files have the same roles as the PayPal simulator's: `handlers` (HTTP in and out), `actions` (what
//! the bank does), `views` (the pages), `words`, `ledger` (what it remembers), `delivery` (posting to the
//! merchant), `error`, `checkout` (the merchant's form, read) and `messages` (what the bank posts back);
//! `cards` holds the test cards, which PayPal has no use for.

mod actions;
pub mod cards;
pub mod checkout;
mod delivery;
mod error;
mod handlers;
mod ledger;
pub mod messages;
mod views;
pub mod words;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::{CmcicGateway, NAME};
use payment_buttons::gateway::ServiceUrls;

pub use delivery::{DELIVERY_TIMEOUT, default_client};
pub use error::SimulatorError;

use ledger::Ledger;

/// Where the simulator is mounted; `CmcicConfig::payment_url` points here in simulator mode.
pub const BASE_PATH: &str = "/simulator/cmcic";

/// The refund service under [`BASE_PATH`], named as at the bank (`CmcicConfig::recredit_url` points here
/// in simulator mode).
pub const RECREDIT_ROUTE: &str = "/recredit_paiement.cgi";

/// The page listing accepted payments and their refunds, under [`BASE_PATH`].
pub const PAYMENTS_ROUTE: &str = "/payments";

/// Largest form accepted (the bank's forms are a few kilobytes).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The simulated bank: its configuration, its pending payments and its saved cards.
pub struct CmcicSimulator {
    gateway: Arc<CmcicGateway>,
    templates: Arc<tera::Tera>,
    notify_url: String,
    pages_url: String,
    client: reqwest::Client,
    card_hash_key: UsableKey,
    ledger: Mutex<Ledger>,
}

impl fmt::Debug for CmcicSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmcicSimulator")
            .field("notify_url", &self.notify_url)
            .field("pages_url", &self.pages_url)
            .finish_non_exhaustive()
    }
}

impl CmcicSimulator {
    /// A simulator for `gateway` (whose key checks forms and seals returns), rendering with the server's
    /// `templates`, posting returns to `urls.notify("cmcic")`.
    pub fn new(
        gateway: Arc<CmcicGateway>,
        templates: Arc<tera::Tera>,
        urls: &ServiceUrls,
    ) -> Result<Self, SimulatorError> {
        let client = default_client().map_err(SimulatorError::Client)?;
        Ok(Self::with_client(gateway, templates, urls, client))
    }

    /// The same with a given HTTP client.
    pub fn with_client(
        gateway: Arc<CmcicGateway>,
        templates: Arc<tera::Tera>,
        urls: &ServiceUrls,
        client: reqwest::Client,
    ) -> Self {
        CmcicSimulator {
            gateway,
            templates,
            notify_url: urls.notify(NAME),
            pages_url: format!("{}{BASE_PATH}", urls.base()),
            client,
            card_hash_key: cards::random_hash_key(),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    /// Where returns are posted.
    pub fn notify_url(&self) -> &str {
        &self.notify_url
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger stays consistent whatever a panicking holder was doing: every update is a single
        // insert or remove.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Mounts the simulator's routes under [`BASE_PATH`] (only in simulator mode).
pub fn configure(sim: Arc<CmcicSimulator>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope(BASE_PATH)
                .app_data(web::Data::from(sim))
                .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
                .route("", web::post().to(handlers::checkout))
                // Before `/{session}`, which would take these names for sessions.
                .route(RECREDIT_ROUTE, web::post().to(handlers::recredit))
                .route(PAYMENTS_ROUTE, web::get().to(handlers::payments))
                .route("/{session}", web::get().to(handlers::show))
                .route("/{session}/pay", web::post().to(handlers::pay)),
        );
    }
}
