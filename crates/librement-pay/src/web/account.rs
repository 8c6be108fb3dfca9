//! `/librement/account`: the balance per currency, the statement (paginated, CSV), adding money, and
//! asking for a payout.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use payment_buttons::actix::hand_off_response;
use payment_buttons::i18n::price;
use payment_buttons::identity::VouchedIdentity;
use payment_buttons::money::{Currency, Money};
use serde::{Deserialize, Serialize};

use super::{LangQuery, Librement, LibrementBackend, language, query_value, see_other};
use crate::accounts::User;
use crate::choice::gateway_words;
use crate::payout::{PayoutError, PayoutState};
use crate::session::Session;
use crate::statement::{self, CSV_MAX_LINES, Line, PAGE_SIZE, signed_price};
use crate::words::{Words, words};

/// The path of the account page in `lang`, with `extra` query pairs.
pub(super) fn account_path(lang: &str, extra: &str) -> String {
    let mut query: Vec<String> = Vec::new();
    if lang == "fr" {
        query.push("lang=fr".into());
    }
    if !extra.is_empty() {
        query.push(extra.to_owned());
    }
    if query.is_empty() {
        "/librement/account".to_owned()
    } else {
        format!("/librement/account?{}", query.join("&"))
    }
}

/// The sign-in page in `lang`, leading back to the page of `req` (its path and query).
pub(super) fn sign_in_and_back(req: &HttpRequest, lang: &str) -> String {
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/librement/account");
    format!(
        "/librement/sign-in?{}next={}",
        if lang == "fr" { "lang=fr&" } else { "" },
        query_value(here)
    )
}

/// The signed-in user of the request, or the answer that sends the browser to sign in and back to
/// `here` (the page's own path and query, so that `lang` and the page survive the sign-in).
pub(super) async fn signed_in<S: LibrementBackend>(
    state: &Librement<S>,
    req: &HttpRequest,
    lang: &str,
) -> Result<(Session, User), HttpResponse> {
    let now = Utc::now();
    let sign_in = sign_in_and_back(req, lang);
    let Some(session) = state.session(req, now).filter(|s| s.user.is_some()) else {
        return Err(see_other(&sign_in, None));
    };
    match state.signed_in_user(session).await {
        Ok((session, Some(user))) => Ok((session, user)),
        Ok((_, None)) => Err(see_other(&sign_in, Some(state.removal_cookie()))),
        Err(e) => Err(state.store_failed(lang, &e)),
    }
}

/// Query of the account page.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    lang: Option<String>,
    /// Keyset cursor: lines older than this transaction.
    before: Option<i64>,
    /// What just happened, by name (never text from the query).
    notice: Option<String>,
}

#[derive(Serialize)]
struct LineView {
    date: String,
    kind: &'static str,
    kind_id: statement::LineKind,
    order_reference: Option<String>,
    seller: Option<String>,
    description: Option<String>,
    amount: String,
    negative: bool,
    balance_after: String,
    payout: Option<&'static str>,
}

fn payout_word(state: PayoutState, t: &Words) -> &'static str {
    match state {
        PayoutState::Requested => t.payout_requested_state,
        PayoutState::Paid => t.payout_paid_state,
        PayoutState::Rejected => t.payout_rejected_state,
    }
}

fn line_view(l: &Line, lang: &str) -> LineView {
    let t = words(lang);
    LineView {
        date: l.at.format("%Y-%m-%d %H:%M UTC").to_string(),
        kind: l.kind.words(lang),
        kind_id: l.kind,
        order_reference: l.order_reference.clone(),
        seller: l.seller.clone(),
        description: l.description.clone(),
        amount: signed_price(&l.amount, lang),
        negative: l.amount.minor_units() < 0,
        balance_after: price(&l.balance_after, None, lang),
        payout: l.payout.map(|p| payout_word(p, t)),
    }
}

#[derive(Serialize)]
struct WithdrawView {
    currency: String,
    amount: String,
    plain: String,
}

/// What the account page shows besides the account: which page of the statement, and what just happened.
struct Shown<'a> {
    before: Option<i64>,
    notice: Option<&'a str>,
    error: Option<String>,
    status: StatusCode,
}

/// Renders the account page.
async fn render_account<S: LibrementBackend>(
    state: &Librement<S>,
    session: &Session,
    user: &User,
    lang: &str,
    shown: Shown<'_>,
) -> HttpResponse {
    let Shown {
        before,
        notice,
        error,
        status,
    } = shown;
    let now = Utc::now();
    let t = words(lang);
    let balances = match state.store.balances(user.id).await {
        Ok(b) => b,
        Err(e) => return state.store_failed(lang, &e),
    };
    let page = match statement::statement(state.store.as_ref(), user.id, before, PAGE_SIZE).await {
        Ok(p) => p,
        Err(e) => return state.store_failed(lang, &e),
    };
    let mut withdrawable = Vec::new();
    for b in &balances {
        match state
            .store
            .withdrawable(user.id, b.currency(), state.accounts.payout_hold, now)
            .await
        {
            Ok(w) if w.minor_units() > 0 => withdrawable.push(WithdrawView {
                currency: w.currency().code().to_owned(),
                amount: price(&w, None, lang),
                plain: w.to_string(),
            }),
            Ok(_) => {}
            Err(e) => return state.store_failed(lang, &e),
        }
    }
    let mut ctx = state.context(lang, session);
    ctx.insert("name", &user.display_name);
    ctx.insert("email", user.email.as_str());
    ctx.insert("verified", &user.email_verified);
    let shown: Vec<String> = balances.iter().map(|b| price(b, None, lang)).collect();
    ctx.insert("balances", &shown);
    ctx.insert(
        "lines",
        &page.lines.iter().map(|l| line_view(l, lang)).collect::<Vec<_>>(),
    );
    ctx.insert(
        "older_href",
        &page.older.map(|c| account_path(lang, &format!("before={c}"))),
    );
    ctx.insert("newest_href", &before.map(|_| account_path(lang, "")));
    ctx.insert("csv_href", &format!("/librement/account/statement.csv?lang={lang}"));
    ctx.insert("top_up_href", &format!("/librement/account/top-up?lang={lang}"));
    ctx.insert("withdrawable", &withdrawable);
    let notice = match notice {
        Some("sent") => Some(t.verification_sent),
        Some("payout") => Some(t.payout_requested),
        Some("verified") => Some(t.verified),
        _ => None,
    };
    if let Some(n) = notice {
        ctx.insert("notice", n);
    }
    if let Some(e) = error {
        ctx.insert("error", &e);
    }
    state.render(status, "librement/account.html", &ctx, None)
}

/// `GET /librement/account`: balances, statement, adding money, payouts; a sign-in first otherwise.
pub async fn show<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<AccountQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let shown = Shown {
        before: q.before,
        notice: q.notice.as_deref(),
        error: None,
        status: StatusCode::OK,
    };
    render_account(&state, &session, &user, lang, shown).await
}

/// `GET /librement/account/statement.csv`: the whole statement, newest first.
pub async fn csv<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let (_, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let page = match statement::statement(state.store.as_ref(), user.id, None, CSV_MAX_LINES).await {
        Ok(p) => p,
        Err(e) => return state.store_failed(lang, &e),
    };
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"librement-statement.csv\"",
        ))
        // A byte-order mark: spreadsheets then read the file as UTF-8.
        .body(format!("\u{feff}{}", statement::csv(&page.lines, lang)))
}

#[derive(Serialize)]
struct GatewayView {
    value: String,
    label: String,
}

/// Renders the top-up form.
fn render_top_up<S: LibrementBackend>(
    state: &Librement<S>,
    session: &Session,
    lang: &str,
    currencies: &[String],
    form: (&str, &str, &str),
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let t = words(lang);
    let mut ctx = state.context(lang, session);
    let gateways: Vec<GatewayView> = state
        .gateways
        .iter()
        .map(|g| GatewayView {
            value: g.clone(),
            label: gateway_words(g, lang),
        })
        .collect();
    ctx.insert("gateways", &gateways);
    ctx.insert("currencies", currencies);
    let (amount, currency, gateway) = form;
    ctx.insert("amount", amount);
    ctx.insert("currency", currency);
    ctx.insert("gateway", gateway);
    let bounds = t
        .top_up_bounds
        .replace("{min}", &bound_text(state.accounts.top_up.min, currency, lang))
        .replace("{max}", &bound_text(state.accounts.top_up.max, currency, lang));
    ctx.insert("bounds", &bounds);
    ctx.insert("account_href", &account_path(lang, ""));
    if let Some(e) = error {
        ctx.insert("error", e);
    }
    state.render(status, "librement/top_up.html", &ctx, None)
}

fn bound_text(bound: rust_decimal::Decimal, currency: &str, lang: &str) -> String {
    match currency.parse::<Currency>().map(|c| Money::from_decimal(bound, c)) {
        Ok(Ok(m)) => price(&m, None, lang),
        _ => bound.to_string(),
    }
}

/// The currencies offered: the euro, and those the account holds.
async fn currencies<S: LibrementBackend>(state: &Librement<S>, user: &User) -> Vec<String> {
    let mut all = vec!["EUR".to_owned()];
    if let Ok(balances) = state.store.balances(user.id).await {
        for b in balances {
            let code = b.currency().code().to_owned();
            if !all.contains(&code) {
                all.push(code);
            }
        }
    }
    all
}

/// `GET /librement/account/top-up`.
pub async fn top_up_page<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let currencies = currencies(&state, &user).await;
    let first = state.gateways.first().cloned().unwrap_or_default();
    render_top_up(
        &state,
        &session,
        lang,
        &currencies,
        ("", "EUR", &first),
        None,
        StatusCode::OK,
    )
}

/// The top-up form.
#[derive(Deserialize)]
pub struct TopUpForm {
    csrf: String,
    amount: String,
    currency: Option<String>,
    gateway: Option<String>,
    lang: Option<String>,
}

/// `POST /librement/account/top-up`: starts an ordinary gateway payment of the amount, linked to the
/// account; the amount is posted to it when the gateway accepts it.
pub async fn top_up<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<TopUpForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let t = words(lang);
    if state.checked_session(&req, &form.csrf, now).is_none() {
        return state.stale_form(&req, lang, now);
    }
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let currencies = currencies(&state, &user).await;
    let currency = form.currency.clone().unwrap_or_else(|| "EUR".into());
    let gateway = form.gateway.clone().unwrap_or_default();
    let refuse = |error: &str| {
        render_top_up(
            &state,
            &session,
            lang,
            &currencies,
            (form.amount.trim(), &currency, &gateway),
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if !state.gateways.contains(&gateway) || !currencies.contains(&currency) {
        return refuse(t.stale_form);
    }
    // The French page may be typed with a decimal comma.
    let typed = form.amount.trim().replace(',', ".");
    let Ok(amount) = Money::parse(&typed, &currency) else {
        return refuse(t.bad_amount);
    };
    let bounds = state.accounts.top_up;
    let within = |bound, above: bool| {
        Money::from_decimal(bound, amount.currency()).is_ok_and(|b: Money| {
            if above {
                amount.minor_units() >= b.minor_units()
            } else {
                amount.minor_units() <= b.minor_units()
            }
        })
    };
    if !(within(bounds.min, true) && within(bounds.max, false)) {
        return refuse(t.amount_out_of_bounds);
    }
    let base = state.engine.urls().base().trim_end_matches('/').to_owned();
    let back = format!("{base}{}", account_path(lang, ""));
    let config = serde_json::json!({
        "order_reference": format!("librement-top-up-{}", user.id),
        "language": lang,
        "email": user.email.as_str(),
        "options": [{ "description": t.top_up_title, "amount": amount.to_string(),
                      "currency": amount.currency().code() }],
        "payment_options": { gateway.as_str(): {} },
        "urls": { "back": back, "accepted": back, "declined": back },
    });
    let button = match payment_buttons::button::ButtonConfig::from_json(&config.to_string()) {
        Ok(b) => b,
        Err(e) => return refuse(&e.to_string()),
    };
    let identity = VouchedIdentity::signed_in(crate::accounts::IDENTITY_ORIGIN, user.id).ok();
    let started = match state
        .engine
        .start_payment_of(button, &gateway, Some(user.email.as_str()), identity.as_ref(), now)
        .await
    {
        Ok(s) => s,
        Err(e) => return refuse(&e.to_string()),
    };
    if let Err(e) = state.store.link_account_top_up(&started.payment_id, user.id, now).await {
        // Never hand the buyer over for money that could not be linked to the account.
        return state.store_failed(lang, &e);
    }
    hand_off_response(&started.hand_off, lang, state.engine.urls(), None)
}

/// The payout form.
#[derive(Deserialize)]
pub struct PayoutForm {
    csrf: String,
    amount: String,
    currency: String,
    lang: Option<String>,
}

/// `POST /librement/account/payout`: asks for a payout, held at once.
pub async fn payout<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<PayoutForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let t = words(lang);
    if state.checked_session(&req, &form.csrf, now).is_none() {
        return state.stale_form(&req, lang, now);
    }
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let typed = form.amount.trim().replace(',', ".");
    let refused = |error: String| {
        let state = state.clone();
        let (session, user) = (session.clone(), user.clone());
        async move {
            let shown = Shown {
                before: None,
                notice: None,
                error: Some(error),
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_account(&state, &session, &user, lang, shown).await
        }
    };
    let Ok(amount) = Money::parse(&typed, form.currency.trim()) else {
        return refused(t.bad_amount.to_owned()).await;
    };
    match state
        .store
        .request_payout(user.id, amount, state.accounts.payout_hold, lang, now)
        .await
    {
        Ok(_) => see_other(&account_path(lang, "notice=payout"), None),
        Err(e @ (PayoutError::NotPositive | PayoutError::AboveWithdrawable { .. })) => {
            refused(payout_error_words(&e, lang)).await
        }
        Err(e) => state.store_failed(lang, &e),
    }
}

fn payout_error_words(e: &PayoutError, lang: &str) -> String {
    match (e, lang == "fr") {
        (PayoutError::AboveWithdrawable { withdrawable }, true) => {
            format!(
                "Vous pouvez retirer au plus {} maintenant.",
                price(withdrawable, None, lang)
            )
        }
        (PayoutError::AboveWithdrawable { withdrawable }, false) => {
            format!("You can withdraw at most {} now.", price(withdrawable, None, lang))
        }
        (PayoutError::NotPositive, true) => "Le montant doit être supérieur à zéro.".into(),
        (other, _) => other.to_string(),
    }
}
