//! `GET /healthz`: 200 when the database answers, 503 otherwise.

use actix_web::{HttpResponse, web};
use payment_buttons::store::Store;

use crate::app::AppState;

/// The health check handler.
pub async fn check<S: Store>(state: web::Data<AppState<S>>) -> HttpResponse {
    if state.engine.store().healthy().await {
        HttpResponse::Ok().content_type("text/plain").body("ok\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable\n")
    }
}
