//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the API, generated from the handlers and their
//! types by `utoipa`, with this service's public URL as its server.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use payment_buttons::button::ButtonConfig;
use payment_buttons::store::Store;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};
use utoipa::{Modify, OpenApi, ToSchema};

use super::ErrorBody;
use super::buttons::{self, ButtonCreated};
use super::payments::{self, CancelBody, EventRef, PaymentView, RefundBody, RefundView};
use crate::app::AppState;

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// The document: every route listed in `paths(...)`, with the types they name.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "librement-pay",
        description = "The HTTP API of librement-server that a shop calls: sign a button \
            (`POST /api/buttons`), the form its button posts (`POST /pay`), and what became of its payments, \
            their refunds and subscriptions (`/api/payments`). Errors of the JSON API are \
            `{\"error\", \"field\"}`. Documented with examples in the repository's docs/api.md.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        buttons::create_button,
        pay,
        payments::get_payment,
        payments::list_payments,
        payments::refund_payment,
        payments::cancel_subscription,
        openapi_document
    ),
    components(schemas(
        ButtonConfig,
        ButtonCreated,
        ErrorBody,
        PayForm,
        PaymentView,
        RefundView,
        EventRef,
        RefundBody,
        CancelBody
    )),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "buttons", description = "Signed payment buttons for pages of any language"),
        (name = "pay", description = "What a button does when the buyer presses it"),
        (name = "payments", description = "What became of a payment; refunds and subscription cancellation"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The `api_key` security scheme: `Authorization: Bearer <one of server.api_keys>`.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("One of the keys of `server.api_keys`.".to_owned());
        components.add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The document of a service whose public URL is `base`.
pub fn document(base: &str) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(base)]);
    doc
}

/// What a button's form posts to `/pay` (form-encoded): the button's own fields, filled in by its HTML.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayForm {
    /// The signed button token.
    pub button: String,
    /// The 0-based index of the buying option chosen. Absent: the first.
    #[schema(pattern = "^[0-9]+$", example = "0")]
    pub option: Option<String>,
    /// The payment method chosen, by name: the value of the submit button pressed. Required when the button
    /// offers more than one method, else optional.
    #[schema(example = "paypal")]
    pub gateway: Option<String>,
}

/// Starts the payment of a button and hands the buyer to the gateway.
///
/// What a button's form posts when the buyer presses it: a cross-site form post with no session, no CSRF
/// token and no API key; the signed token is its protection. (Served by the core,
/// `payment_buttons::actix`; described here because it is where a button sends the buyer.)
#[utoipa::path(
    post,
    path = "/pay",
    tag = "pay",
    operation_id = "pay",
    request_body(content = PayForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The hand-off page: a form to the gateway, submitted at once by a \
            script, with a visible button when scripts are off. The payment is recorded, `created`",
         content_type = "text/html", body = String),
        (status = 303, description = "A method that continues on this service's own pages (`librement`)",
         headers(("Location" = String, description = "The next page"))),
        (status = 400, description = "No payment started: the token is forged, expired or not this \
            service's, or the option or method is not one the button offers. A page saying why",
         content_type = "text/html", body = String),
        (status = 429, description = "Too many payments started from this address in the last minute \
            (`limits.pay_per_minute`)", headers(("Retry-After" = String, description = "Seconds"))),
        (status = 503, description = "The payment could not be recorded: try again", content_type = "text/html",
         body = String),
    )
)]
#[allow(dead_code)] // Served by payment_buttons::actix::configure; this is its description.
fn pay() {}

/// This document: the OpenAPI 3.1 description of these routes.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    operation_id = "openapi_document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
#[allow(dead_code)] // The handler is `serve`, generic over the store; utoipa describes it through this.
fn openapi_document() {}

/// The handler: the document, with the service's public URL as its server.
pub async fn serve<S: Store>(state: web::Data<AppState<S>>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(document(state.engine.urls().base()))
}
