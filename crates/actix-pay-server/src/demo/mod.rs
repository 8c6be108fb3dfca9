//! The demo shop at `/` (only when `server.demo` is on): a page of payment buttons rendered through the
//! public Tera function, exactly as a shop would, pages to land on after paying, and a live panel of the
//! events an in-process listener received.
//!
//! Routes: `GET /` (the shop; `?lang=fr` for French), `GET /demo/events` (the panel's JSON),
//! `GET /demo/button.svg` (the image button), `GET /demo/thanks` and `GET /demo/sorry` (the shop's accepted
//! and declined URLs).

pub mod catalogue;
pub mod feed;
mod handlers;
mod words;

use std::sync::Arc;

use actix_web::web;
use payment_buttons::tera::ButtonFunction;

pub use catalogue::Offered;
pub use feed::EventFeed;

/// Everything the demo's routes share.
pub struct Demo {
    templates: tera::Tera,
    feed: Arc<EventFeed>,
    base_url: String,
    offered: Offered,
    simulator: bool,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// The demo over the server's templates, with `buttons` registered as `payment_button` (as a shop would
    /// register it on its own Tera), the events `feed` (register it on the engine with
    /// `Engine::with_listener`), the public URL `base_url` (button URLs are absolute), the gateways
    /// `offered` and whether the simulator banner is shown.
    pub fn new(
        buttons: ButtonFunction,
        feed: Arc<EventFeed>,
        base_url: &str,
        offered: Offered,
        simulator: bool,
    ) -> Result<Self, tera::Error> {
        let mut templates = crate::pages::templates()?;
        templates.register_function("payment_button", buttons);
        Ok(Demo {
            templates,
            feed,
            base_url: base_url.trim_end_matches('/').to_owned(),
            offered,
            simulator,
        })
    }

    /// The events received so far.
    pub fn feed(&self) -> &Arc<EventFeed> {
        &self.feed
    }
}

/// Mounts the demo's routes.
pub fn configure(demo: Arc<Demo>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(demo))
            .route("/", web::get().to(handlers::shop))
            .route("/demo/events", web::get().to(handlers::events))
            .route("/demo/button.svg", web::get().to(handlers::button_image))
            .route("/demo/thanks", web::get().to(handlers::thanks))
            .route("/demo/sorry", web::get().to(handlers::sorry));
    }
}
