//! `/librement/pay/{id}`: the choice screen and paying from the balance.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use payment_buttons::i18n::price;
use payment_buttons::identity::VouchedIdentity;
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::StoredPayment;
use serde::{Deserialize, Serialize};

use super::auth::{AuthFailure, authenticate};
use super::{Librement, LibrementBackend, Mode, insert_next, see_other};
use crate::accounts::{Email, User};
use crate::choice::{Method, gateway_words, methods, split_words};
use crate::ledger::{Account, LedgerError};
use crate::purchase::{BalancePayment, METHOD, PurchaseError};
use crate::session::Session;
use crate::topup::top_up_button;
use crate::words::words;
use payment_buttons::actix::hand_off_response;
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

/// What the choice screen shows besides the payment.
struct Screen<'a> {
    session: &'a Session,
    /// Set the session cookie on the answer (a new or newly signed-in session).
    set_session: bool,
    /// The signed-in user: then the balance and the exact split are shown.
    user: Option<&'a User>,
    prefill_email: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// The method the buyer chose before (it stays chosen: after "Password confirmed", say).
    chosen: Option<&'a str>,
    status: StatusCode,
}

impl<'a> Screen<'a> {
    fn new(session: &'a Session, user: Option<&'a User>, prefill_email: &'a str) -> Self {
        Screen {
            session,
            set_session: false,
            user,
            prefill_email,
            error: None,
            notice: None,
            chosen: None,
            status: StatusCode::OK,
        }
    }
}

/// The methods that apply for `user` (every method by name when nobody is signed in), as the templates
/// show them, or the storage error.
async fn offered<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    user: Option<&User>,
) -> Result<(Vec<MethodView>, Option<Money>), LedgerError> {
    let lang = payment.button.language().as_str();
    let amount_text = price(&payment.amount, None, lang);
    let balance = match user {
        Some(u) => Some(
            state
                .store
                .balance(&Account::User(u.id), payment.amount.currency())
                .await?,
        ),
        None => None,
    };
    let views = methods(balance, payment.amount, &state.gateways)
        .iter()
        .map(|m| view(m, &amount_text, lang))
        .collect();
    Ok((views, balance))
}

/// The context every payment page shares: what is bought, for how much, and where "back" leads.
fn payment_context<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
) -> tera::Context {
    let lang = payment.button.language().as_str().to_owned();
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
    ctx.insert("price", &price(&payment.amount, None, &lang));
    ctx.insert("order_reference", payment.button.order_reference());
    ctx.insert("back_url", payment.button.urls().back().as_str());
    ctx
}

/// Renders the choice screen: one radio per method and one submit. The e-mail and password fields are
/// in the page but hidden and disabled; the page's script shows them in place when a method that uses
/// the account is chosen. Without JavaScript they are never sent, and the submit leads to
/// [`confirm_page`]. Once the password was confirmed in this session (`recently_confirmed`), no field
/// is asked and the submit is the final confirmation.
async fn choice_screen<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    screen: Screen<'_>,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let (views, balance) = match offered(state, payment, screen.user).await {
        Ok(v) => v,
        Err(e) => return state.store_failed(&lang, &e),
    };
    let confirmed =
        screen.user.is_some_and(|u| screen.session.user == Some(u.id)) && screen.session.recently_confirmed(Utc::now());
    let mut ctx = payment_context(state, payment, screen.session);
    ctx.insert("methods", &views);
    ctx.insert("email", screen.prefill_email);
    ctx.insert("confirmed", &confirmed);
    if let Some(u) = screen.user {
        ctx.insert("user_name", &u.display_name);
    }
    if let Some(b) = balance {
        ctx.insert("balance", &price(&b, None, &lang));
    }
    if let Some(e) = screen.error {
        ctx.insert("error", e);
    }
    if let Some(n) = screen.notice {
        ctx.insert("notice", n);
    }
    // A method still offered stays chosen; a split whose amounts changed is offered anew.
    let chosen = screen.chosen.filter(|c| views.iter().any(|v| v.value == *c));
    ctx.insert("chosen", chosen.unwrap_or(""));
    state.render(
        screen.status,
        "librement/choose.html",
        &ctx,
        screen.set_session.then_some(screen.session),
    )
}

/// The page that asks the e-mail and password for a method that uses the account: where the choice
/// screen's submit leads without JavaScript, and where a wrong password is answered.
#[allow(clippy::too_many_arguments)]
async fn confirm_page<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    user: Option<&User>,
    method: &str,
    prefill_email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let (views, _) = match offered(state, payment, user).await {
        Ok(v) => v,
        Err(e) => return state.store_failed(&lang, &e),
    };
    // The method's words as the choice screen showed them; a split chosen on an older page (the
    // balance changed since) is still named by its gateway.
    let label = views
        .into_iter()
        .find(|v| v.value == method)
        .map(|v| v.label)
        .unwrap_or_else(|| words(&lang).pay_from_balance.to_owned());
    let mut ctx = payment_context(state, payment, session);
    ctx.insert("method", method);
    ctx.insert("method_label", &label);
    ctx.insert("email", prefill_email);
    if let Some(e) = error {
        ctx.insert("error", e);
    }
    state.render(status, "librement/confirm.html", &ctx, None)
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
    let (session, signed_in) = match state.signed_in_user(session).await {
        Ok(found) => found,
        Err(e) => return state.store_failed(&lang, &e),
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
    let mut screen = Screen::new(&session, signed_in.as_ref(), &prefill);
    screen.set_session = new;
    choice_screen(&state, &payment, screen).await
}

/// The choice form, and the confirmation form (the same fields).
#[derive(Deserialize)]
pub struct PayForm {
    csrf: String,
    /// Absent when no radio was chosen.
    method: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

/// `POST /librement/pay/{id}`. A method by card or PayPal starts the gateway payment at once. A method
/// that uses the account needs the password: without it (the choice screen without JavaScript) the
/// answer is the confirmation form. A buyer who was not signed in and confirms it is signed in and sees
/// the balance and the exact split before a final confirmation; a signed-in buyer's confirmation pays.
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
        return state.stale_form(&req, &lang, now);
    };
    // A second submit (double click, back button, another tab) finds the payment paid.
    if payment.state != PaymentState::Created {
        return see_other(&status_path(&payment), None);
    }
    let (session, signed_in) = match state.signed_in_user(session).await {
        Ok(found) => found,
        Err(e) => return state.store_failed(&lang, &e),
    };
    let prefill = signed_in
        .as_ref()
        .map(|u| u.email.as_str().to_owned())
        .or_else(|| form.email.as_ref().map(|e| e.trim().to_owned()))
        .or_else(|| payment.button.email().map(|e| e.as_str().to_owned()))
        .unwrap_or_default();
    let Some(method) = form.method.as_deref() else {
        let mut screen = Screen::new(&session, signed_in.as_ref(), &prefill);
        screen.error = Some(t.choose_method);
        return choice_screen(&state, &payment, screen).await;
    };
    let (kind, gateway) = match method.split_once(':') {
        Some((kind @ ("gateway" | "split"), g)) if state.gateways.iter().any(|x| x == g) => (kind, Some(g.to_owned())),
        None if method == "balance" => ("balance", None),
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
        // price, paid from it at once), or as a guest, even when the button's e-mail has an account
        // (docs/librement.md). The balance is not touched: no password needed.
        return start_gateway_payment(
            &state,
            &payment,
            &session,
            signed_in.as_ref(),
            gateway,
            payment.amount,
            now,
        )
        .await;
    }
    let password = form.password.filter(|p| !p.is_empty());
    let user = match (password, &signed_in) {
        (None, Some(u)) if session.recently_confirmed(now) => u.clone(),
        (None, _) => {
            return confirm_page(
                &state,
                &payment,
                &session,
                signed_in.as_ref(),
                method,
                &prefill,
                None,
                StatusCode::OK,
            )
            .await;
        }
        (Some(password), _) => {
            let email = form.email.unwrap_or_default();
            match authenticate(&state, &req, &email, password, now).await {
                Ok(u) => u,
                Err(failure) => {
                    let (error, status) = match failure {
                        AuthFailure::Wrong => (t.wrong_credentials, StatusCode::OK),
                        AuthFailure::Throttled => (t.too_many_attempts, StatusCode::TOO_MANY_REQUESTS),
                        AuthFailure::Busy => return state.busy(&lang),
                        AuthFailure::Store(e) => return state.store_failed(&lang, &e),
                    };
                    return confirm_page(
                        &state,
                        &payment,
                        &session,
                        signed_in.as_ref(),
                        method,
                        email.trim(),
                        Some(error),
                        status,
                    )
                    .await;
                }
            }
        }
    };
    if session.user != Some(user.id) {
        // Confirmed by someone who was not signed in as this user: sign in (a new CSRF token), and show
        // the balance and the exact split before anything is debited.
        let session = session.signed_in(user.id, user.session_epoch, now);
        let mut screen = Screen::new(&session, Some(&user), user.email.as_str());
        screen.set_session = true;
        screen.notice = Some(t.now_confirmed);
        screen.chosen = Some(method);
        let mut answer = choice_screen(&state, &payment, screen).await;
        if let Some(device) = state.device_cookie_after_sign_in(&req, user.id, now)
            && let Err(e) = answer.add_cookie(&device)
        {
            // Only the browser's own throttle bucket is lost; the sign-in itself stands.
            tracing::warn!(error = %e, "librement: device cookie not set");
        }
        return answer;
    }
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
            let mut screen = Screen::new(&session, Some(&user), user.email.as_str());
            screen.chosen = Some(method);
            return choice_screen(&state, &payment, screen).await;
        }
        let missing = Money::from_minor(missing, payment.amount.currency());
        return start_gateway_payment(&state, &payment, &session, Some(&user), gateway, missing, now).await;
    }
    match state.store.pay_from_balance(&payment.id, user.id, now).await {
        Ok(BalancePayment::Paid { .. } | BalancePayment::AlreadyPaid) | Err(PurchaseError::NotOpen(_)) => {
            see_other(&status_path(&payment), None)
        }
        Err(PurchaseError::Ledger(LedgerError::InsufficientFunds { .. })) => {
            let mut screen = Screen::new(&session, Some(&user), user.email.as_str());
            screen.error = Some(t.insufficient);
            screen.chosen = Some(method);
            choice_screen(&state, &payment, screen).await
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

/// The page that goes straight on to `gateway`: the core's auto-submitting hand-off page (a visible button
/// without JavaScript) posting the choice back here, so that nothing is started by a GET.
fn forward<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    set_session: bool,
    gateway: &str,
) -> HttpResponse {
    let lang = payment.button.language().as_str().to_owned();
    let choice = HandOff::Form {
        action: format!("/librement/pay/{}", payment.id),
        fields: vec![
            ("csrf".to_owned(), session.csrf.clone()),
            ("method".to_owned(), format!("gateway:{gateway}")),
        ],
    };
    let label = format!(
        "{} {}",
        price(&payment.amount, None, &lang),
        gateway_words(gateway, &lang)
    );
    let mut answer = hand_off_response(&choice, &lang, state.engine.urls(), Some(&label));
    if set_session && let Err(e) = answer.add_cookie(&state.cookie(session)) {
        tracing::warn!(error = %e, "librement: session cookie not set");
    }
    answer
}

/// Starts the gateway payment of `amount` for `payment`: a top-up of `user`'s account, or a guest's
/// payment. The link to the purchase is stored before the buyer is handed to the gateway.
async fn start_gateway_payment<S: LibrementBackend>(
    state: &Librement<S>,
    payment: &StoredPayment,
    session: &Session,
    user: Option<&User>,
    gateway: &str,
    amount: Money,
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
    // A saved card is keyed on who someone vouched for: the signed-in account (never its e-mail), or for a
    // guest the shop's signed customer id.
    let identity = match user {
        Some(u) => VouchedIdentity::signed_in(crate::accounts::IDENTITY_ORIGIN, u.id).ok(),
        None => payment.button.customer_id().map(VouchedIdentity::customer),
    };
    let started = match state
        .engine
        .start_payment_of(button, gateway, email.as_deref(), identity.as_ref(), now)
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
    hand_off_response(&started.hand_off, &lang, state.engine.urls(), None)
}
