//! `GET /payments/{id}`: the buyer's status page. Public (the id is unguessable) and free of secrets.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use payment_buttons::i18n;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;

use crate::app::AppState;

/// How long the page keeps reloading itself for a payment the gateway has said nothing about.
const STOP_WAITING_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// Seconds before a known outcome sends the buyer on, and between refreshes while waiting.
const REFRESH_SECONDS: u32 = 3;

struct Texts {
    headline: &'static str,
    next_label: &'static str,
}

fn texts(state: PaymentState, french: bool) -> Texts {
    use PaymentState::*;
    let (headline, next_label) = match (state, french) {
        // An abandoned payment's headline is replaced below: nothing was confirmed.
        (Created | Abandoned, false) => (
            "Waiting for the payment service to confirm your payment…",
            "Back to the shop",
        ),
        (Created | Abandoned, true) => (
            "En attente de la confirmation du service de paiement…",
            "Retour à la boutique",
        ),
        (Pending, false) => (
            "Your payment is pending: the payment service has not completed it yet.",
            "Back to the shop",
        ),
        (Pending, true) => (
            "Votre paiement est en attente : le service de paiement ne l'a pas encore finalisé.",
            "Retour à la boutique",
        ),
        (Accepted, false) => ("Thank you: your payment was accepted.", "Continue"),
        (Accepted, true) => ("Merci : votre paiement a été accepté.", "Continuer"),
        (Declined, false) => ("Your payment was declined. No money was taken.", "Continue"),
        (Declined, true) => (
            "Votre paiement a été refusé. Aucun montant n'a été débité.",
            "Continuer",
        ),
        (Refunded, false) => ("This payment was refunded.", "Back to the shop"),
        (Refunded, true) => ("Ce paiement a été remboursé.", "Retour à la boutique"),
        (Cancelled, false) => ("This subscription was cancelled.", "Back to the shop"),
        (Cancelled, true) => ("Cet abonnement a été annulé.", "Retour à la boutique"),
    };
    Texts { headline, next_label }
}

/// The status page of the payment that `payment` pays for, when every one of its return URLs is that
/// page (how a Librement top-up is made: `librement_pay::topup::top_up_button`). `own` is `payment`'s own
/// status page URL; the target must be another status page of this service.
fn paid_for(payment: &payment_buttons::store::StoredPayment, own: &str) -> Option<String> {
    let urls = payment.button.urls();
    let target = urls.accepted().as_str();
    let prefix = own.rsplit_once('/').map(|(p, _)| format!("{p}/"))?;
    let id = target.strip_prefix(&prefix)?;
    (urls.declined().as_str() == target
        && urls.back().as_str() == target
        && target != own
        && PaymentId::parse(id).is_ok())
    .then(|| target.to_owned())
}

/// `?cancelled=1`: the gateway sent the buyer back after a cancellation (PayPal's `cancel_return`).
#[derive(Debug, serde::Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    cancelled: Option<String>,
}

/// The status page handler.
pub async fn show<S: Store>(
    state: web::Data<AppState<S>>,
    id: web::Path<String>,
    query: web::Query<StatusQuery>,
) -> HttpResponse {
    let simulator = state.simulator;
    let not_found = |language: &str| {
        super::error(
            &state.templates,
            StatusCode::NOT_FOUND,
            language,
            simulator,
            "Payment not found",
            "There is no payment with this number.",
        )
    };
    let Ok(id) = PaymentId::parse(&id) else {
        return not_found("en");
    };
    let payment = match state.engine.store().payment(&id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found("en"),
        Err(e) => {
            tracing::error!(error = %e, "status page: store failed");
            return super::error(
                &state.templates,
                StatusCode::SERVICE_UNAVAILABLE,
                "en",
                simulator,
                "Try again",
                "The service is busy; please reload this page in a moment.",
            );
        }
    };
    if let Some(target) = paid_for(&payment, &state.engine.urls().status(&payment.id)) {
        // A payment made for another of our payments (a Librement top-up paying a purchase): the buyer
        // pays that purchase, so sees its page straight away, which follows the top-up's outcome.
        let target = if query.cancelled.is_some() {
            format!("{target}?cancelled=1")
        } else {
            target
        };
        return HttpResponse::SeeOther()
            .insert_header(("Location", target))
            .insert_header(("Cache-Control", "no-store"))
            .finish();
    }
    let language = payment.button.language().as_str().to_owned();
    let french = language == "fr";
    // A buyer who cancelled at the gateway, for a payment still untouched, goes back to the shop.
    let cancelled = query.cancelled.is_some() && payment.state == PaymentState::Created;
    let mut t = texts(payment.state, french);
    // Nothing heard for a long time (the buyer closed the gateway's page, say): stop reloading, say so.
    let abandoned = payment.state == PaymentState::Abandoned
        || (payment.state == PaymentState::Created
            && !cancelled
            && chrono::Utc::now() - payment.created_at > STOP_WAITING_AFTER);
    if cancelled {
        t.headline = if french {
            "Vous avez annulé le paiement : rien n'a été débité."
        } else {
            "You cancelled the payment: nothing was charged."
        };
    } else if abandoned {
        t.headline = if french {
            "Le service de paiement ne nous a rien confirmé pour ce paiement. Si vous avez payé, cette page le dira dès la confirmation reçue."
        } else {
            "The payment service has confirmed nothing for this payment. If you did pay, this page will say so as soon as the confirmation arrives."
        };
    }
    let urls = payment.button.urls();
    let next_url = match payment.state {
        PaymentState::Accepted => urls.accepted().as_str(),
        PaymentState::Declined => urls.declined().as_str(),
        _ => urls.back().as_str(),
    };
    // A known outcome sends the buyer on; while waiting, the page reloads itself.
    let refresh_url = match payment.state {
        _ if cancelled => next_url.to_owned(),
        _ if abandoned => String::new(),
        PaymentState::Created | PaymentState::Pending => state.engine.urls().status(&payment.id),
        _ => next_url.to_owned(),
    };
    let option = payment.button.options().get(payment.option_index);
    let mut ctx = super::context(&language, simulator);
    ctx.insert("state", payment.state.as_str());
    ctx.insert("headline", t.headline);
    ctx.insert("description", option.map(|o| o.description()).unwrap_or(""));
    ctx.insert(
        "price",
        &i18n::price(&payment.amount, payment.recurrence_months(), &language),
    );
    ctx.insert("order_reference", payment.button.order_reference());
    ctx.insert("next_url", next_url);
    ctx.insert("next_label", t.next_label);
    ctx.insert("refresh_url", &refresh_url);
    ctx.insert("refresh_seconds", &REFRESH_SECONDS);
    super::render(&state.templates, "status.html", &ctx, StatusCode::OK)
}
