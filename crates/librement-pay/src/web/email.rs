//! The pages of the e-mail links: verifying an address (`/librement/verify`), and resetting a forgotten
//! password (`/librement/password-reset`, then `/librement/password-reset/{token}` from the e-mail).
//!
//! A verification link works only in a browser signed in to the account it was sent for: the link proves
//! the mailbox, the session proves the password, and an address is verified only when both meet. Someone
//! who signed up with another person's address and waits for that person to click the link gets nothing.
//! A reset link proves the mailbox alone; it ends every session of the account, so whoever held it before
//! is out, and it verifies the address.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use payment_buttons::i18n::price;
use serde::Deserialize;

use super::account::{account_path, sign_in_and_back, signed_in};
use super::{LangQuery, Librement, LibrementBackend, client_ip, language, query_value, see_other};
use crate::accounts::{AccountError, Email, Password, User};
use crate::email_tokens::{EmailToken, Purpose, Verified};
use crate::mail;
use crate::session::Session;
use crate::words::{account_error, words};

/// The absolute link of `path` (which starts with `/`).
fn absolute<S: LibrementBackend>(state: &Librement<S>, path: &str) -> String {
    format!("{}{path}", state.engine.urls().base().trim_end_matches('/'))
}

fn with_lang(path: String, lang: &str) -> String {
    if lang == "fr" { format!("{path}&lang=fr") } else { path }
}

/// Issues a verification link for `user` and queues its e-mail.
pub(super) async fn send_verification<S: LibrementBackend>(
    state: &Librement<S>,
    user: &User,
    lang: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let token = EmailToken::new(Purpose::Verify, user.id, now);
    state.store.record_token(&token, now).await.map_err(|e| e.to_string())?;
    let path = with_lang(
        format!("/librement/verify?token={}", query_value(&token.encode(&state.key))),
        lang,
    );
    let mut m = mail::verification(&user.email, &user.display_name, &absolute(state, &path), lang);
    m.key = format!("verify:{}", token.digest());
    state.store.enqueue(m, now).await.map_err(|e| e.to_string())?;
    state.accounts.mail_wake.notify_one();
    Ok(())
}

/// The resend form.
#[derive(Deserialize)]
pub struct ResendForm {
    csrf: String,
    lang: Option<String>,
}

/// `POST /librement/account/verify-email`: sends the verification link again (throttled).
pub async fn resend_verification<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<ResendForm>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(form.lang.as_deref());
    let t = words(lang);
    if state.checked_session(&req, &form.csrf, now).is_none() {
        return state.stale_form(&req, lang, now);
    }
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if user.email_verified {
        return see_other(&account_path(lang, ""), None);
    }
    match state
        .store
        .reserve_mail_request(
            Purpose::Verify,
            &user.email,
            &client_ip(&req),
            state.accounts.mail_throttle,
            now,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return state.message(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                &session,
                t.account_title,
                t.too_many_mails,
                Some((&account_path(lang, ""), t.account_title)),
            );
        }
        Err(e) => return state.store_failed(lang, &e),
    }
    match send_verification(&state, &user, lang, now).await {
        Ok(()) => see_other(&account_path(lang, "notice=sent"), None),
        Err(e) => state.store_failed(lang, &e),
    }
}

/// Query of the verification link.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    token: Option<String>,
    lang: Option<String>,
}

/// `GET /librement/verify?token=…`: verifies the address of the signed-in account the link was sent
/// for, and moves the earnings that waited for it. Not signed in as that account: sign in first.
pub async fn verify<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<VerifyQuery>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(q.lang.as_deref());
    let t = words(lang);
    let anonymous = Session::anonymous(now);
    let refused = |session: &Session| {
        state.message(
            StatusCode::BAD_REQUEST,
            lang,
            session,
            t.account_title,
            t.link_refused,
            Some((&account_path(lang, ""), t.account_title)),
        )
    };
    let Some(token) = q
        .token
        .as_deref()
        .and_then(|v| EmailToken::decode(&state.key, Purpose::Verify, v, now))
    else {
        return refused(&anonymous);
    };
    let (session, user) = match signed_in(&state, &req, lang).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if user.id != token.user {
        // Another account is signed in here: the link is for the account it was sent to.
        return see_other(&sign_in_and_back(&req, lang), None);
    }
    match state.store.verify_email(&token, now).await {
        Ok(Verified::Now { claimed }) => {
            let mut text = t.verified.to_owned();
            if !claimed.is_empty() {
                let amounts: Vec<String> = claimed.iter().map(|m| price(m, None, lang)).collect();
                text = format!("{text} {} {}.", t.verified_earnings, amounts.join(", "));
            }
            state.message(
                StatusCode::OK,
                lang,
                &session,
                t.account_title,
                &text,
                Some((&account_path(lang, ""), t.account_title)),
            )
        }
        Ok(Verified::Refused) => refused(&session),
        Err(e) => state.store_failed(lang, &e),
    }
}

fn reset_form<S: LibrementBackend>(
    state: &Librement<S>,
    session: &Session,
    lang: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
    set_session: bool,
) -> HttpResponse {
    let mut ctx = state.context(lang, session);
    ctx.insert("email", email);
    if let Some(e) = error {
        ctx.insert("error", e);
    }
    state.render(
        status,
        "librement/password_reset.html",
        &ctx,
        set_session.then_some(session),
    )
}

/// `GET /librement/password-reset`: asks for the account's address.
pub async fn reset_page<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = language(q.lang.as_deref());
    let (session, new) = state.session_or_new(&req, Utc::now());
    reset_form(&state, &session, lang, "", None, StatusCode::OK, new)
}

/// The reset request.
#[derive(Deserialize)]
pub struct ResetRequestForm {
    csrf: String,
    email: String,
    lang: Option<String>,
}

/// `POST /librement/password-reset`: sends a reset link when an account uses the address. The answer is
/// the same whether or not one does; requests are throttled per address and per source address before
/// the address is even looked up.
pub async fn reset_request<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<ResetRequestForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let t = words(lang);
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&req, lang, now);
    };
    let Ok(email) = Email::parse(&form.email) else {
        return reset_form(
            &state,
            &session,
            lang,
            form.email.trim(),
            Some(&account_error(lang, &AccountError::BadEmail)),
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
        );
    };
    match state
        .store
        .reserve_mail_request(
            Purpose::Reset,
            &email,
            &client_ip(&req),
            state.accounts.mail_throttle,
            now,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return reset_form(
                &state,
                &session,
                lang,
                email.as_str(),
                Some(t.too_many_mails),
                StatusCode::TOO_MANY_REQUESTS,
                false,
            );
        }
        Err(e) => return state.store_failed(lang, &e),
    }
    let user = match state.store.user_by_email(&email).await {
        Ok(u) => u,
        Err(e) => return state.store_failed(lang, &e),
    };
    if let Some(user) = user {
        let token = EmailToken::new(Purpose::Reset, user.id, now);
        let path = format!(
            "/librement/password-reset/{}{}",
            query_value(&token.encode(&state.key)),
            if lang == "fr" { "?lang=fr" } else { "" }
        );
        let mut m = mail::password_reset(&user.email, &absolute(&state, &path), lang);
        m.key = format!("reset:{}", token.digest());
        let queued = match state.store.record_token(&token, now).await {
            Ok(()) => state.store.enqueue(m, now).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = queued {
            return state.store_failed(lang, &e);
        }
        state.accounts.mail_wake.notify_one();
    }
    state.message(
        StatusCode::OK,
        lang,
        &session,
        t.reset_title,
        t.reset_sent,
        Some((
            if lang == "fr" {
                "/librement/sign-in?lang=fr"
            } else {
                "/librement/sign-in"
            },
            t.sign_in,
        )),
    )
}

fn new_password_form<S: LibrementBackend>(
    state: &Librement<S>,
    session: &Session,
    lang: &str,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
    set_session: bool,
) -> HttpResponse {
    let mut ctx = state.context(lang, session);
    ctx.insert("token", token);
    if let Some(e) = error {
        ctx.insert("error", e);
    }
    state.render(
        status,
        "librement/password_new.html",
        &ctx,
        set_session.then_some(session),
    )
}

fn link_refused<S: LibrementBackend>(state: &Librement<S>, session: &Session, lang: &str) -> HttpResponse {
    let t = words(lang);
    state.message(
        StatusCode::BAD_REQUEST,
        lang,
        session,
        t.reset_title,
        t.link_refused,
        Some((
            if lang == "fr" {
                "/librement/password-reset?lang=fr"
            } else {
                "/librement/password-reset"
            },
            t.reset_title,
        )),
    )
}

/// `GET /librement/password-reset/{token}`: the new password's form, while the link is usable.
pub async fn new_password_page<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(q.lang.as_deref());
    let (session, new) = state.session_or_new(&req, now);
    let usable = match EmailToken::decode(&state.key, Purpose::Reset, &path, now) {
        Some(token) => match state.store.token_usable(&token, now).await {
            Ok(u) => u,
            Err(e) => return state.store_failed(lang, &e),
        },
        None => false,
    };
    if !usable {
        return link_refused(&state, &session, lang);
    }
    new_password_form(&state, &session, lang, &path, None, StatusCode::OK, new)
}

/// The new password.
#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    password: String,
    lang: Option<String>,
}

/// `POST /librement/password-reset/{token}`: sets the new password, ends every session of the account,
/// verifies its address, and sends the browser to sign in.
pub async fn new_password<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<NewPasswordForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&req, lang, now);
    };
    let Some(token) = EmailToken::decode(&state.key, Purpose::Reset, &path, now) else {
        return link_refused(&state, &session, lang);
    };
    let user = match state.store.user_by_id(token.user).await {
        Ok(Some(u)) => u,
        Ok(None) => return link_refused(&state, &session, lang),
        Err(e) => return state.store_failed(lang, &e),
    };
    let password = Password::new(form.password);
    let personal = [user.email.as_str().to_owned(), user.display_name.clone()];
    let hashing = state.hashing.clone();
    let hashed = state
        .slots
        .run(move || {
            let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
            password.check_new(&personal)?;
            hashing.hash(&password)
        })
        .await;
    let hash = match hashed {
        Ok(Ok(h)) => h,
        Ok(Err(e @ (AccountError::WeakPassword(_) | AccountError::BadPassword))) => {
            return new_password_form(
                &state,
                &session,
                lang,
                &path,
                Some(&account_error(lang, &e)),
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
            );
        }
        Err(AccountError::Busy) => return state.busy(lang),
        Ok(Err(e)) | Err(e) => return state.store_failed(lang, &e),
    };
    match state.store.reset_password(&token, &hash, now).await {
        Ok(true) => see_other(
            if lang == "fr" {
                "/librement/sign-in?lang=fr&notice=reset"
            } else {
                "/librement/sign-in?notice=reset"
            },
            Some(state.removal_cookie()),
        ),
        Ok(false) => link_refused(&state, &session, lang),
        Err(e) => state.store_failed(lang, &e),
    }
}
