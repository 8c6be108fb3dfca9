//! `POST /api/buttons`: a button for services not written in Rust. JSON configuration in (CONTRACT.md),
//! `{"token", "html"}` out; 400 `{"error", "field"}`; 401 for a missing or wrong bearer key.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use payment_buttons::button::ButtonConfig;
use payment_buttons::store::Store;
use serde_json::json;

use crate::app::AppState;

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn bad_request(error: &str, field: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error, "field": field }))
}

/// The handler.
pub async fn create_button<S: Store>(
    state: web::Data<AppState<S>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !bearer(&request).is_some_and(|key| state.api_keys.accepts(key)) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(json!({ "error": "missing or wrong API key", "field": null }));
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad_request("the body is not UTF-8 JSON", "");
    };
    let config = match ButtonConfig::from_json(text) {
        Ok(c) => c,
        Err(e) => return bad_request(&e.reason, &e.field),
    };
    let now = chrono::Utc::now();
    let token = match state.engine.sign_button(&config, now) {
        Ok(t) => t,
        Err(e) => return bad_request(&e.reason, &e.field),
    };
    match state.buttons.render_with_token(&config, &token) {
        Ok(html) => HttpResponse::Ok().json(json!({ "token": token, "html": html })),
        Err(e) => {
            tracing::error!(error = %e, "button template failed");
            HttpResponse::InternalServerError()
                .json(json!({ "error": "the button could not be rendered", "field": null }))
        }
    }
}
