//! `POST /api/buttons`: a signed button for a service not written in Rust. The button configuration in,
//! its token and its HTML out.

use actix_web::web;
use chrono::Utc;
use payment_buttons::button::ButtonConfig;
use payment_buttons::store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, Authorized, ErrorBody};
use crate::app::AppState;

/// A signed button, ready to be put in a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ButtonCreated {
    /// The signed button token: what the button's form posts to `/pay` as `button`. Valid for
    /// `server.button_token_ttl` (30 days unless configured); opaque.
    #[schema(example = "eyJ2IjoxLCJjIjp7Im9yZGVy…")]
    pub token: String,
    /// The button's HTML: a `<form>` posting to this service's absolute `/pay` URL, with one submit per
    /// payment method, to put as it is in any page.
    #[schema(example = "<form method=\"post\" action=\"https://pay.example.com/pay\" …")]
    pub html: String,
}

/// Signs a button configuration and renders its HTML.
///
/// The configuration is checked against the gateways this service runs, signed (the token is valid for
/// `server.button_token_ttl`), and rendered: a `<form>` posting to this service's absolute `/pay` URL, to
/// put as it is in any page.
#[utoipa::path(
    post,
    path = "/api/buttons",
    tag = "buttons",
    operation_id = "create_button",
    security(("api_key" = [])),
    request_body(content = ButtonConfig, content_type = "application/json"),
    responses(
        (status = 200, description = "The signed button", body = ButtonCreated),
        (status = 400, description = "The configuration is refused: `field` names where (a JSON path)", body = ErrorBody),
        (status = 401, description = "No API key, or not one of `server.api_keys`", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
    )
)]
pub async fn create_button<S: Store>(
    _key: Authorized,
    state: web::Data<AppState<S>>,
    body: web::Bytes,
) -> Result<web::Json<ButtonCreated>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8 JSON", ""))?;
    let config = ButtonConfig::from_json(text).map_err(|e| ApiError::bad_request(e.reason, e.field))?;
    let token = state
        .engine
        .sign_button(&config, Utc::now())
        .map_err(|e| ApiError::bad_request(e.reason, e.field))?;
    match state.buttons.render_with_token(&config, &token) {
        Ok(html) => Ok(web::Json(ButtonCreated { token, html })),
        Err(e) => {
            tracing::error!(error = %e, "button template failed");
            Err(ApiError::internal("the button could not be rendered"))
        }
    }
}
