//! The HTTP side of the simulated bank: forms in, pages and redirects out.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use payment_buttons::urlencoded::FormFields;

use super::CmcicSimulator;
use super::actions::{Payment, Refused};
use super::checkout;
use super::views::{self, CardForm};
use super::words::words;
use payment_buttons::cmcic::simulator::answer_body;

/// `POST /simulator/cmcic`: the merchant's payment form.
pub async fn checkout(sim: web::Data<CmcicSimulator>, body: web::Bytes) -> HttpResponse {
    let fields: Vec<(String, String)> = FormFields::parse(&body)
        .pairs()
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let lgue = fields.iter().find(|(n, _)| n == "lgue").map(|(_, v)| v.as_str());
    let language = checkout::language(lgue);
    let w = words(language);
    match sim.open_checkout(&fields) {
        Ok(opened) => {
            let card_form = CardForm::of(opened.saved.as_ref());
            views::card_page(&sim, &opened.session, &opened.form, card_form, None, StatusCode::OK)
        }
        Err(Refused::Seal) => {
            views::error_page(&sim, StatusCode::BAD_REQUEST, language, w.refused_title, w.seal_invalid)
        }
        Err(Refused::Form(e)) => {
            views::error_page(&sim, StatusCode::BAD_REQUEST, language, w.refused_title, &e.to_string())
        }
        Err(Refused::Busy) => {
            views::error_page(&sim, StatusCode::SERVICE_UNAVAILABLE, language, w.refused_title, w.busy)
        }
    }
}

/// Query of `GET /simulator/cmcic/{session}`.
#[derive(Debug, serde::Deserialize)]
pub struct ShowQuery {
    /// `new` to type another card than the saved one.
    card: Option<String>,
}

/// `GET /simulator/cmcic/{session}`: the card page again.
pub async fn show(
    sim: web::Data<CmcicSimulator>,
    session: web::Path<String>,
    query: Option<web::Query<ShowQuery>>,
) -> HttpResponse {
    let another_card = query.is_some_and(|q| q.card.as_deref() == Some("new"));
    match sim.waiting(&session, another_card) {
        Some((form, saved)) => views::card_page(
            &sim,
            &session,
            &form,
            CardForm::of(saved.as_ref()),
            None,
            StatusCode::OK,
        ),
        None => views::expired_page(&sim),
    }
}

/// `POST /simulator/cmcic/{session}/pay`: the buyer pays.
pub async fn pay(
    sim: web::Data<CmcicSimulator>,
    session: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let input = FormFields::parse(&body);
    let ip_client = request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    match sim.pay(&session, &input, ip_client).await {
        Payment::Expired => views::expired_page(&sim),
        Payment::Unusable { form, saved, error } => {
            let reason = words(form.language).error(error);
            let card_form = CardForm::of(saved.as_ref());
            views::card_page(
                &sim,
                &session,
                &form,
                card_form,
                Some(reason),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Payment::Acknowledged { next } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish(),
        Payment::NotAcknowledged { form, next, answer } => views::not_acknowledged_page(&sim, &form, &next, &answer),
    }
}

/// `POST /simulator/cmcic/recredit_paiement.cgi`: a merchant's refund, server to server. Answers as the
/// bank does: 200 `text/plain`, `name=value` lines with `cdr` and `lib`.
pub async fn recredit(sim: web::Data<CmcicSimulator>, body: web::Bytes) -> HttpResponse {
    let form = FormFields::parse(&body);
    let answer = sim.recredit(&form);
    let reference = form.text("reference").unwrap_or_default();
    // Echo only what a reference may hold: the answer is plain `name=value` lines.
    let reference: String = reference
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(50)
        .collect();
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(answer_body(&reference, answer.cdr(), answer.lib()))
}

/// `GET /simulator/cmcic/payments`: the accepted payments and their refunds.
pub async fn payments(sim: web::Data<CmcicSimulator>) -> HttpResponse {
    views::payments_page(&sim)
}
