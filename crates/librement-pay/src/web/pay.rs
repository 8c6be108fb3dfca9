//! `/librement/pay/{id}`: the choice screen and paying from the balance.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use payment_buttons::i18n::price;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::StoredPayment;
use serde::{Deserialize, Serialize};

use super::auth::{AuthFailure, authenticate};
use super::{Librement, LibrementBackend, Mode, client_ip, insert_next, see_other};
use crate::accounts::{Email, User};
use crate::choice::{Method, gateway_words, methods, split_words};
use crate::ledger::{Account, LedgerError};
use crate::purchase::{BalancePayment, METHOD, PurchaseError};
use crate::session::Session;
use crate::topup::top_up_button;
use crate::words::words;
use payment_buttons::actix::hand_off_page;
use payment_buttons::gateway::HandOff;

/// One method as the template shows it.
#[derive(Serialize)]
struct MethodView {
    /// `balance`, `gateway` or `split`.
    kind: &'static str,
    /// The form's `method` value: `balance`, `gateway:cmcic`, `split:paypal`...
    value: String,
    /// What it does, in words.
    label: String,
    /// True when it uses the account: the e-mail and password are confirmed first.
    needs_password: bool,
}

fn view(method: &Method, amount: &str, language: &str) -> MethodView {
    let t = words(language);
    match method {
        Method::Balance => MethodView {
            kind: "balance",
            value: "balance".into(),
            label: format!("{} ({amount})", t.pay_from_balance),
            needs_password: true,
        },
        Method::Gateway(g) => MethodView {
            kind: "gateway",
            value: format!("gateway:{g}"),
            label: format!("{amount} {}", gateway_words(g, language)),
            needs_password: false,
        },
        Method::Split {
            from_balance,
            by_gateway,
            gateway,
        } => MethodView {
            kind: "split",
            value: format!("split:{gateway}"),
            label: split_words(*from_balance, *by_gateway, gateway, language),
            needs_password: true,
        },
    }
}

/// Loads a Librement payment, or the answer to give instead.
async fn load<S: LibrementBackend>(state: &Librement<S>, id: &str) -> Result<StoredPayment, HttpResponse> {
    let not_found = || {
        let session = Session::anonymous(Utc::now());
        state.message(
            StatusCode::NOT_FOUND,
            "en",
            &session,
            "Payment not found",
            "There is no Librement payment with this number.",
            None,
        )
    };
    let Ok(id) = PaymentId::parse(id) else {
        return Err(not_found());
    };
    match state.store.payment(&id).await {
        Ok(Some(p)) if p.gateway == METHOD => Ok(p),
        Ok(_) => Err(not_found()),
        Err(e) => Err(state.store_failed("en", &e)),
    }
}

fn status_path(p: &StoredPayment) -> String {
    format!("/payments/{}", p.id)
}

/// Renders the choice screen for `payment`, for `user` when known (then with the balance).
#[allow(clippy::too_many_arguments)]
async fn choice_screen<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    set_session: bool,
    user: Option<&User>,
    prefill_email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let amount_text = price(&payment.amount, None, &lang);
    let balance = match user {
        Some(u) => match state
            .store
            .balance(&Account::User(u.id), payment.amount.currency())
            .await
        {
            Ok(b) => Some(b),
            Err(e) => return state.store_failed(&lang, &e),
        },
        None => None,
    };
    let offered: Vec<MethodView> = methods(balance, payment.amount, &state.gateways)
        .iter()
        .map(|m| view(m, &amount_text, &lang))
        .collect();
    let mut ctx = state.context(&lang, session);
    ctx.insert("payment_id", payment.id.as_str());
    ctx.insert(
        "description",
        payment
            .button
            .options()
            .get(payment.option_index)
            .map(|o| o.description())
            .unwrap_or(""),
    );
    ctx.insert("price", &amount_text);
    ctx.insert("order_reference", payment.button.order_reference());
    ctx.insert("back_url", payment.button.urls().back().as_str());
    ctx.insert("methods", &offered);
    ctx.insert("email", prefill_email);
    if let Some(u) = user {
        ctx.insert("user_name", &u.display_name);
    }
    if let Some(b) = balance {
        ctx.insert("balance", &price(&b, None, &lang));
    }
    if let Some(e) = error {
        ctx.insert("error", e);
    }
    state.render(status, "librement/choose.html", &ctx, set_session.then_some(session))
}

/// `GET /librement/pay/{id}`.
pub async fn choose<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let now = Utc::now();
    let payment = match load(&state, &id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    if payment.state != PaymentState::Created {
        return see_other(&status_path(&payment), None);
    }
    let (session, new) = state.session_or_new(&req, now);
    let lang = payment.button.language().as_str().to_owned();
    let signed_in = match session.user {
        Some(id) => match state.store.user_by_id(id).await {
            Ok(u) => u,
            Err(e) => return state.store_failed(&lang, &e),
        },
        None => None,
    };
    let button_email = payment.button.email().and_then(|e| Email::parse(e.as_str()).ok());
    let button_user = match (&signed_in, &button_email) {
        (None, Some(email)) => match state.store.user_by_email(email).await {
            Ok(u) => u,
            Err(e) => return state.store_failed(&lang, &e),
        },
        _ => None,
    };
    if signed_in.is_none() && button_user.is_none() && state.mode == Mode::NonEmbedded {
        let mut ctx = state.context(&lang, &session);
        let next = format!("/librement/pay/{}", payment.id);
        insert_next(&mut ctx, &next);
        ctx.insert("price", &price(&payment.amount, None, &lang));
        ctx.insert("back_url", payment.button.urls().back().as_str());
        ctx.insert("payment_id", payment.id.as_str());
        ctx.insert(
            "first_gateway",
            state.gateways.first().map(String::as_str).unwrap_or(""),
        );
        return state.render(StatusCode::OK, "librement/start.html", &ctx, new.then_some(&session));
    }
    let first_gateway = state.gateways.first().cloned();
    let unknown = signed_in.is_none() && button_user.is_none();
    if let (Some(gateway), true) = (&first_gateway, unknown || signed_in.is_some()) {
        let zero_balance = match &signed_in {
            Some(u) => match state
                .store
                .balance(&Account::User(u.id), payment.amount.currency())
                .await
            {
                Ok(b) => b.minor_units() <= 0,
                Err(e) => return state.store_failed(&lang, &e),
            },
            None => false,
        };
        if unknown || zero_balance {
            return forward(&state, &payment, &session, new, gateway);
        }
    }
    let prefill = signed_in
        .as_ref()
        .map(|u| u.email.as_str().to_owned())
        .or_else(|| button_email.map(|e| e.as_str().to_owned()))
        .unwrap_or_default();
    choice_screen(
        &state,
        &payment,
        &session,
        new,
        signed_in.as_ref(),
        &prefill,
        None,
        StatusCode::OK,
    )
    .await
}

/// The choice form.
#[derive(Deserialize)]
pub struct PayForm {
    csrf: String,
    method: String,
    email: Option<String>,
    password: Option<String>,
}

/// `POST /librement/pay/{id}`: pays from the balance once the e-mail and password are confirmed.
pub async fn submit<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PayForm>,
) -> HttpResponse {
    let now: DateTime<Utc> = Utc::now();
    let payment = match load(&state, &id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let lang = payment.button.language().as_str().to_owned();
    let t = words(&lang);
    let form = form.into_inner();
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&lang, now);
    };
    // A second submit (double click, back button, another tab) finds the payment paid.
    if payment.state != PaymentState::Created {
        return see_other(&status_path(&payment), None);
    }
    let (kind, gateway) = match form.method.split_once(':') {
        Some((kind @ ("gateway" | "split"), g)) if state.gateways.iter().any(|x| x == g) => (kind, Some(g.to_owned())),
        None if form.method == "balance" => ("balance", None),
        _ => {
            return state.message(
                StatusCode::BAD_REQUEST,
                &lang,
                &session,
                t.pay_title,
                t.stale_form,
                Some((payment.button.urls().back().as_str(), t.back_to_shop)),
            );
        }
    };
    if let ("gateway", Some(gateway)) = (kind, &gateway) {
        // Everything by card or PayPal: through the signed-in user's account (a top-up of the whole
        // price, paid from it at once), or as a guest. The balance is not touched: no password needed.
        let user = match session.user {
            Some(id) => match state.store.user_by_id(id).await {
                Ok(u) => u,
                Err(e) => return state.store_failed(&lang, &e),
            },
            None => None,
        };
        return start_gateway_payment(&state, &payment, &session, user.as_ref(), gateway, payment.amount, now).await;
    }
    let email = form.email.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let user = match authenticate(&state, &email, password, &client_ip(&req), now).await {
        Ok(u) => u,
        Err(failure) => {
            let (error, status) = match failure {
                AuthFailure::Wrong => (t.wrong_credentials, StatusCode::OK),
                AuthFailure::Throttled => (t.too_many_attempts, StatusCode::TOO_MANY_REQUESTS),
                AuthFailure::Store(e) => return state.store_failed(&lang, &e),
            };
            let signed_in = match session.user {
                Some(id) => state.store.user_by_id(id).await.ok().flatten(),
                None => None,
            };
            return choice_screen(
                &state,
                &payment,
                &session,
                false,
                signed_in.as_ref(),
                email.trim(),
                Some(error),
                status,
            )
            .await;
        }
    };
    // Confirmed: this browser is now signed in as that user (a new CSRF token).
    let session = if session.user == Some(user.id) {
        session
    } else {
        session.signed_in(user.id, now)
    };
    if let Some(gateway) = &gateway {
        // The balance and the rest through the gateway: a top-up of exactly the missing amount.
        let balance = match state
            .store
            .balance(&Account::User(user.id), payment.amount.currency())
            .await
        {
            Ok(b) => b,
            Err(e) => return state.store_failed(&lang, &e),
        };
        let missing = payment.amount.minor_units() - balance.minor_units();
        if balance.minor_units() <= 0 || missing <= 0 {
            // The balance changed since the page was shown: show the methods that apply now.
            return choice_screen(
                &state,
                &payment,
                &session,
                true,
                Some(&user),
                user.email.as_str(),
                None,
                StatusCode::OK,
            )
            .await;
        }
        let missing = payment_buttons::money::Money::from_minor(missing, payment.amount.currency());
        return start_gateway_payment(&state, &payment, &session, Some(&user), gateway, missing, now).await;
    }
    match state.store.pay_from_balance(&payment.id, user.id, now).await {
        Ok(BalancePayment::Paid { .. } | BalancePayment::AlreadyPaid) => {
            see_other(&status_path(&payment), Some(state.cookie(&session)))
        }
        Err(PurchaseError::NotOpen(_)) => see_other(&status_path(&payment), Some(state.cookie(&session))),
        Err(PurchaseError::Ledger(LedgerError::InsufficientFunds { .. })) => {
            choice_screen(
                &state,
                &payment,
                &session,
                true,
                Some(&user),
                user.email.as_str(),
                Some(t.insufficient),
                StatusCode::OK,
            )
            .await
        }
        Err(e @ (PurchaseError::Recurring | PurchaseError::Button(_) | PurchaseError::NotLibrement)) => state.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &lang,
            &session,
            t.pay_title,
            &e.to_string(),
            Some((payment.button.urls().back().as_str(), t.back_to_shop)),
        ),
        Err(e) => state.store_failed(&lang, &e),
    }
}

/// The page that goes straight on to `gateway`: an auto-submitting form (a visible button without
/// JavaScript), so that nothing is started by a GET.
fn forward<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    set_session: bool,
    gateway: &str,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let mut ctx = state.context(&lang, session);
    ctx.insert("payment_id", payment.id.as_str());
    ctx.insert("method", &format!("gateway:{gateway}"));
    ctx.insert(
        "label",
        &format!(
            "{} {}",
            price(&payment.amount, None, &lang),
            gateway_words(gateway, &lang)
        ),
    );
    state.render(
        StatusCode::OK,
        "librement/forward.html",
        &ctx,
        set_session.then_some(session),
    )
}

/// Starts the gateway payment of `amount` for `payment`: a top-up of `user`'s account, or a guest's
/// payment. The link to the purchase is stored before the buyer is handed to the gateway.
async fn start_gateway_payment<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    user: Option<&User>,
    gateway: &str,
    amount: payment_buttons::money::Money,
    now: DateTime<Utc>,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let t = words(&lang);
    let email = user
        .map(|u| u.email.as_str().to_owned())
        .or_else(|| payment.button.email().map(|e| e.as_str().to_owned()));
    let status_url = state.engine.urls().status(&payment.id);
    let refused = |reason: String| {
        tracing::warn!(payment = %payment.id, gateway, reason, "librement: cannot start the gateway payment");
        state.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &lang,
            session,
            t.pay_title,
            &reason,
            Some((payment.button.urls().back().as_str(), t.back_to_shop)),
        )
    };
    let button = match top_up_button(payment, gateway, amount, email.as_deref(), &status_url) {
        Ok(b) => b,
        Err(e) => return refused(e.to_string()),
    };
    let token = match state.engine.sign_button(&button, now) {
        Ok(t) => t,
        Err(e) => return refused(e.to_string()),
    };
    let started = match state
        .engine
        .start_payment(&token, None, Some(gateway), email.as_deref(), now)
        .await
    {
        Ok(s) => s,
        Err(e) => return refused(e.to_string()),
    };
    if let Err(e) = state
        .store
        .link_top_up(&started.payment_id, &payment.id, user.map(|u| u.id), now)
        .await
    {
        // Never hand the buyer over for a payment that could not be linked to its purchase.
        return state.store_failed(&lang, &e);
    }
    match started.hand_off {
        HandOff::Form { action, fields } => HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::html())
            .insert_header(("Cache-Control", "no-store"))
            .body(hand_off_page(&action, &fields, &lang)),
        HandOff::Redirect { location } => see_other(&location, None),
    }
}
