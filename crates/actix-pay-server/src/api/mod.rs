//! The HTTP API a shop calls, for services written in any language: `POST /api/buttons`, the payments
//! (`/api/payments`: read, refund, cancel a subscription), and the description of it all,
//! `GET /api/openapi.json`. `docs/api.md` documents it for people, with examples
//! that a test sends to the real routes and checks against the served document.
//!
//! The OpenAPI document is generated from this module: each handler carries a `#[utoipa::path]`
//! attribute, its request and answer bodies derive [`utoipa::ToSchema`], and [`openapi::ApiDoc`] lists the
//! handlers. To add a route:
//!
//! 1. write the handler in a module of its own here (`payments.rs`, say), taking [`Authorized`] when it
//!    needs the bearer key and answering `Result<_, `[`ApiError`]`>`, so that its errors have the one
//!    shape `{"error", "field"}`;
//! 2. annotate it with `#[utoipa::path(...)]` (method, path, `tag`, `security(("api_key" = []))`, request
//!    body, every answer with its status and body type), derive `ToSchema` on its bodies;
//! 3. mount it in [`configure`] and name it in `paths(...)` of [`openapi::ApiDoc`];
//! 4. document it in `docs/api.md`: a row of the routes table and at least one example request with its
//!    answer (`tests/api_docs.rs` fails until every operation of the document has one, and while an example
//!    does not validate against the document or gets another answer from the real route).

pub mod auth;
pub mod buttons;
pub mod error;
pub mod openapi;
pub mod payments;

use actix_web::web;
use payment_buttons::store::Store;

pub use auth::Authorized;
pub use error::{ApiError, ErrorBody};

/// Mounts every `/api` route. The app must hold `web::Data<AppState<S>>` and `web::Data<ApiKeys>`
/// ([`crate::app::configure`] registers both).
pub fn configure<S: Store>(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/buttons", web::post().to(buttons::create_button::<S>))
        .route("/api/payments", web::get().to(payments::list_payments::<S>))
        .route("/api/payments/{id}", web::get().to(payments::get_payment::<S>))
        .route(
            "/api/payments/{id}/refunds",
            web::post().to(payments::refund_payment::<S>),
        )
        .route(
            "/api/payments/{id}/cancel",
            web::post().to(payments::cancel_subscription::<S>),
        )
        .route(openapi::PATH, web::get().to(openapi::serve::<S>));
}
