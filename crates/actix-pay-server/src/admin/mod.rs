//! The operator console: operator accounts (`librement-server operator ...`), and the pages under
//! `/admin` where operators see every payment, message, delivery and ledger entry, and act on them.
//!
//! - Operators sign in with their own e-mail and password (argon2id in the hashing slots Librement uses,
//!   throttled like Librement's sign-in, with the same reservations table under an `operator:` bucket).
//!   A session is a random token in the `pay_admin` cookie (`HttpOnly`, `SameSite=Strict`, path `/admin`);
//!   the database keeps only its SHA-256 digest, with the CSRF token every form of the session carries.
//!   The sign-in form itself is protected by a double-submit token (cookie `pay_admin_csrf`).
//! - `viewer`s read everything; every action (resend a delivery or a payment's events, re-enable, mark a payout paid or reject it) needs the
//!   `operator` role (403 otherwise) and is written to the append-only audit, whatever its outcome.
//! - Every answer under `/admin` is `Cache-Control: no-store`; the application's security headers (no
//!   framing, no inline script) apply as everywhere.
//!
//! The refund button of the issue waits for the refunds feature (no refund API exists yet).

pub mod accounts;
mod actions;
mod pages;
mod session;
mod words;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, middleware, web};
use librement_pay::accounts::{PasswordHashing, Throttle};
use librement_pay::web::HashingSlots;

use crate::store::ServerStore;
use crate::webhooks::Endpoint;

pub use session::{ADMIN_COOKIE, CSRF_COOKIE};

/// What the console's handlers share.
pub struct Console {
    /// The database.
    pub store: ServerStore,
    /// The server's templates (`admin/*.html` among them).
    pub templates: Arc<tera::Tera>,
    /// argon2id parameters.
    pub hashing: PasswordHashing,
    /// The bound on hashes in flight, shared with Librement's pages.
    pub slots: Arc<HashingSlots>,
    /// Sign-in throttling.
    pub throttle: Throttle,
    /// `Secure` cookies (the public URL is https).
    pub secure_cookies: bool,
    /// Simulator banner.
    pub simulator: bool,
    /// The configured webhook endpoints, by index (pages and forms name an endpoint by its index, never
    /// by its URL, which may carry a secret).
    pub endpoints: Vec<Endpoint>,
    /// Wakes the webhook worker after a resend.
    pub webhook_wake: Option<Arc<tokio::sync::Notify>>,
    /// Wakes the message worker after "verify again".
    pub engine_wake: Option<Arc<tokio::sync::Notify>>,
    /// The payment engine: refunds from the payment page.
    pub engine: Arc<payment_buttons::engine::Engine<ServerStore>>,
}

impl Console {
    /// Renders `template` with `ctx`.
    fn render(&self, status: StatusCode, template: &str, ctx: &tera::Context) -> HttpResponse {
        crate::pages::render(&self.templates, template, ctx, status)
    }

    /// A short page saying `reason`, with `status`.
    fn notice(&self, status: StatusCode, lang: &str, reason: &str) -> HttpResponse {
        let t = words::words(lang);
        crate::pages::error(&self.templates, status, lang, self.simulator, t.console, reason)
    }

    /// The page for a failed database read or write: says nothing of the cause (it is logged).
    fn failed(&self, lang: &str, e: &dyn std::fmt::Display) -> HttpResponse {
        tracing::error!(error = %e, "admin: the database failed");
        let reason = if lang == "fr" {
            "La base de données n'a pas répondu. Réessayez."
        } else {
            "The database did not answer. Try again."
        };
        self.notice(StatusCode::SERVICE_UNAVAILABLE, lang, reason)
    }
}

/// Mounts `/admin` and its pages.
pub fn configure(console: Arc<Console>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("/admin")
                .app_data(web::Data::from(console))
                // Payment data must not stay in caches or history.
                .wrap(middleware::DefaultHeaders::new().add(("Cache-Control", "no-store")))
                .route("", web::get().to(pages::home))
                .route("/sign-in", web::post().to(session::sign_in))
                .route("/sign-out", web::post().to(session::sign_out))
                .route("/payments", web::get().to(pages::payments))
                .route("/payments/{id}", web::get().to(pages::payment))
                .route("/payments/{id}/resend", web::post().to(actions::resend_payment))
                .route("/payments/{id}/refund", web::post().to(actions::refund_payment))
                .route("/messages", web::get().to(pages::messages))
                .route("/messages/{id}", web::get().to(pages::message))
                .route("/messages/verify-again", web::post().to(actions::verify_again))
                .route("/webhooks", web::get().to(pages::webhooks))
                .route("/webhooks/resend", web::post().to(actions::resend_delivery))
                .route("/webhooks/resend-failed", web::post().to(actions::resend_failed))
                .route("/webhooks/enable", web::post().to(actions::enable_endpoint))
                .route("/librement", web::get().to(pages::librement))
                .route("/librement/payouts/{outcome}", web::post().to(actions::payout_decided))
                .route("/audit", web::get().to(pages::audit)),
        );
    }
}
