//! The HTTP side of the simulator: forms in, pages, redirects and plain-text postback answers out.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use payment_buttons::paypal::PostbackAnswer;
use url::form_urlencoded;

use super::views::{checkout_page, error_page, payments_page};
use super::{ApiAnswer, PAYMENTS_PATH, PaypalSimulator, SimulatorError};

/// `POST /simulator/paypal`: the hand-off form arrives; show the payment page.
pub async fn checkout(sim: web::Data<PaypalSimulator>, form: web::Bytes) -> HttpResponse {
    match sim.open_checkout(&form) {
        Ok((id, checkout)) => checkout_page(&sim, &id, &checkout, None),
        Err(e) => error_page(&sim, &e),
    }
}

/// `POST /simulator/paypal/{checkout}/pay`.
pub async fn pay(sim: web::Data<PaypalSimulator>, id: web::Path<String>, form: web::Bytes) -> HttpResponse {
    let pending_echeck = form_urlencoded::parse(&form).any(|(name, value)| name == "echeck" && value == "1");
    match sim.pay(&id, pending_echeck).await {
        Ok(next) => see_other(&next),
        Err(e @ SimulatorError::Delivery { .. }) => match sim.checkout(&id) {
            Some(checkout) => checkout_page(&sim, &id, &checkout, Some(&e)),
            None => error_page(&sim, &e),
        },
        Err(e) => error_page(&sim, &e),
    }
}

/// `POST /simulator/paypal/{checkout}/cancel`.
pub async fn cancel(sim: web::Data<PaypalSimulator>, id: web::Path<String>) -> HttpResponse {
    match sim.cancel(&id) {
        Ok(next) => see_other(&next),
        Err(e) => error_page(&sim, &e),
    }
}

/// `POST /simulator/paypal/postback`: `VERIFIED` or `INVALID`, as PayPal answers.
pub async fn postback(sim: web::Data<PaypalSimulator>, body: web::Bytes) -> HttpResponse {
    let answer = match sim.answer_postback(&body) {
        PostbackAnswer::Verified => "VERIFIED",
        _ => "INVALID",
    };
    HttpResponse::Ok().content_type(ContentType::plaintext()).body(answer)
}

/// `GET /simulator/paypal/payments`.
pub async fn payments(sim: web::Data<PaypalSimulator>) -> HttpResponse {
    payments_page(&sim, None)
}

/// `POST /simulator/paypal/payments/{txn_id}/complete`.
pub async fn complete(sim: web::Data<PaypalSimulator>, txn_id: web::Path<String>) -> HttpResponse {
    after_action(&sim, sim.complete(&txn_id).await)
}

/// `POST /simulator/paypal/payments/{txn_id}/refund`.
pub async fn refund(sim: web::Data<PaypalSimulator>, txn_id: web::Path<String>) -> HttpResponse {
    after_action(&sim, sim.refund(&txn_id).await)
}

/// `POST /simulator/paypal/subscriptions/{subscr_id}/next`.
pub async fn next_payment(sim: web::Data<PaypalSimulator>, subscr_id: web::Path<String>) -> HttpResponse {
    after_action(&sim, sim.next_payment(&subscr_id).await)
}

/// `POST /simulator/paypal/subscriptions/{subscr_id}/cancel`.
pub async fn cancel_subscription(sim: web::Data<PaypalSimulator>, subscr_id: web::Path<String>) -> HttpResponse {
    after_action(&sim, sim.cancel_subscription(&subscr_id).await)
}

/// `POST /simulator/paypal/v1/oauth2/token`.
pub async fn oauth_token(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    json(sim.issue_token(authorization(&req), &body))
}

/// `POST /simulator/paypal/v2/payments/captures/{txn_id}/refund`.
pub async fn api_refund(
    sim: web::Data<PaypalSimulator>,
    req: HttpRequest,
    txn_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let request_id = req.headers().get("paypal-request-id").and_then(|v| v.to_str().ok());
    let sim = sim.into_inner();
    // A Checkout capture is refunded by the orders side, which sends the webhook Checkout expects.
    if sim.bearer_valid(authorization(&req)) {
        let info = req.connection_info();
        let suffix = format!("/v2/payments/captures/{txn_id}/refund");
        let base = req.path().strip_suffix(&suffix).unwrap_or(super::BASE_PATH);
        let api = format!("{}://{}{base}", info.scheme(), info.host());
        if let Some(answer) = sim.refund_checkout_capture(&txn_id, request_id, &body, &api) {
            return json(answer);
        }
    }
    json(sim.api_refund(authorization(&req), &txn_id, request_id, &body).await)
}

/// `GET /simulator/paypal/v1/reporting/transactions`.
pub async fn transaction_search(
    sim: web::Data<PaypalSimulator>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    json(sim.search_transactions(authorization(&req), &query))
}

/// `POST /simulator/paypal/nvp`.
pub async fn nvp(sim: web::Data<PaypalSimulator>, body: web::Bytes) -> HttpResponse {
    let sim = sim.into_inner();
    let answer = sim.nvp(&body).await;
    HttpResponse::Ok().content_type(ContentType::plaintext()).body(answer)
}

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

fn json(answer: ApiAnswer) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(answer.body)
}

/// Back to the payments page after an action (post, redirect, get), or the page with the error.
pub(super) fn after_action(sim: &PaypalSimulator, result: Result<(), SimulatorError>) -> HttpResponse {
    match result {
        Ok(()) => see_other(PAYMENTS_PATH),
        Err(e) => payments_page(sim, Some(&e)),
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
