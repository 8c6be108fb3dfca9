//! Sign-up, sign-in, sign-out, the account page, and the password check they share with the payment flow.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Librement, LibrementBackend, client_ip, insert_next, language, safe_next, see_other};
use crate::accounts::{
    AccountError, Attempt, Email, NewUser, Password, PasswordCheck, Reservation, User, display_name,
};
use crate::words::{account_error, words};

/// Why a password confirmation failed.
pub(super) enum AuthFailure {
    /// Wrong e-mail or password: the same answer for both.
    Wrong,
    /// Too many failures for this account or from this address.
    Throttled,
    /// No hashing slot came in time: the password was not checked (and not counted).
    Busy,
    /// Storage failed.
    Store(AccountError),
}

/// Checks an e-mail and password, with throttling. The attempt is reserved in the database before
/// argon2 runs, so that concurrent guesses cannot all be checked against one count; a right password
/// releases its reservation, a wrong one leaves it as the failure. An unknown or malformed e-mail costs
/// the same argon2 work as a wrong password (a dummy hash is verified), and gets the same answer.
pub(super) async fn authenticate<S: LibrementBackend>(
    state: &Librement<S>,
    req: &HttpRequest,
    email: &str,
    password: String,
    now: DateTime<Utc>,
) -> Result<User, AuthFailure> {
    // A malformed address is counted under its raw (bounded) text, so that it is throttled too.
    let email = Email::parse(email).unwrap_or_else(|_| Email::raw_for_throttling(email));
    let user = state.store.user_by_email(&email).await.map_err(AuthFailure::Store)?;
    // A browser where this account signed in before has a throttle bucket of its own.
    let device = state
        .device(req, now)
        .filter(|d| user.as_ref().is_some_and(|u| u.id == d.user))
        .map(|d| d.id);
    let attempt = Attempt {
        email,
        ip: client_ip(req),
        device,
    };
    let reserved = match state.store.reserve_attempt(attempt, state.throttle, now).await {
        Ok(Reservation::Granted(id)) => id,
        Ok(Reservation::Throttled) => return Err(AuthFailure::Throttled),
        Err(e) => return Err(AuthFailure::Store(e)),
    };
    let hashing = state.hashing.clone();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = Password::new(password);
    let check = state
        .slots
        .run(move || hashing.check(&password, stored.as_deref()))
        .await;
    let release = || async {
        if let Err(e) = state.store.release_attempt(reserved).await {
            // The attempt stays counted as a failure: the safe side.
            tracing::warn!(error = %e, "librement: a sign-in reservation was not released");
        }
    };
    match (check, user) {
        (Ok(PasswordCheck::Right { rehash }), Some(user)) => {
            release().await;
            if let Some(hash) = rehash
                && let Err(e) = state.store.set_password_hash(user.id, &hash).await
            {
                // The old hash still works; the rehash is tried again at the next sign-in.
                tracing::warn!(error = %e, "librement: rehash not saved");
            }
            Ok(user)
        }
        (Ok(_), _) => Err(AuthFailure::Wrong),
        (Err(e), _) => {
            // Never checked: not a guess.
            release().await;
            Err(match e {
                AccountError::Busy => AuthFailure::Busy,
                e => AuthFailure::Store(e),
            })
        }
    }
}

/// Query of the sign-in and sign-up pages.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    next: Option<String>,
    lang: Option<String>,
    /// Sign-up: the address to pre-fill (the demo's buyer, a shop's customer).
    email: Option<String>,
    /// Sign-in: what just happened, by name (`reset`).
    notice: Option<String>,
}

/// `GET /librement/sign-in`.
pub async fn sign_in_page<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(q.lang.as_deref());
    let (session, new) = state.session_or_new(&req, now);
    let mut ctx = state.context(lang, &session);
    let next = safe_next(q.next.as_deref());
    let t = words(lang);
    if q.notice.as_deref() == Some("reset") {
        ctx.insert("notice", t.password_changed);
    } else if next.starts_with("/librement/verify") {
        ctx.insert("notice", t.sign_in_to_verify);
    }
    insert_next(&mut ctx, &next);
    ctx.insert("email", "");
    state.render(StatusCode::OK, "librement/sign_in.html", &ctx, new.then_some(&session))
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
    lang: Option<String>,
}

/// `POST /librement/sign-in`.
pub async fn sign_in<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&req, lang, now);
    };
    let next = safe_next(form.next.as_deref());
    let t = words(lang);
    let failed = |status, error: &str| {
        let mut ctx = state.context(lang, &session);
        insert_next(&mut ctx, &next);
        ctx.insert("email", form.email.trim());
        ctx.insert("error", error);
        state.render(status, "librement/sign_in.html", &ctx, None)
    };
    match authenticate(&state, &req, &form.email, form.password.clone(), now).await {
        Ok(user) => {
            let session = state.cookie(&session.signed_in(user.id, user.session_epoch, now));
            let device = state.device_cookie_after_sign_in(&req, user.id, now);
            see_other(&next, [Some(session), device].into_iter().flatten())
        }
        Err(AuthFailure::Wrong) => failed(StatusCode::OK, t.wrong_credentials),
        Err(AuthFailure::Throttled) => failed(StatusCode::TOO_MANY_REQUESTS, t.too_many_attempts),
        Err(AuthFailure::Busy) => state.busy(lang),
        Err(AuthFailure::Store(e)) => state.store_failed(lang, &e),
    }
}

/// `GET /librement/sign-up`.
pub async fn sign_up_page<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(q.lang.as_deref());
    let (session, new) = state.session_or_new(&req, now);
    let mut ctx = state.context(lang, &session);
    insert_next(&mut ctx, &safe_next(q.next.as_deref()));
    // Only a well-formed address is pre-filled; it proves nothing (the link sent to it will).
    let prefill = q.email.as_deref().and_then(|e| Email::parse(e).ok());
    ctx.insert("email", prefill.as_ref().map(Email::as_str).unwrap_or(""));
    ctx.insert("display_name", "");
    state.render(StatusCode::OK, "librement/sign_up.html", &ctx, new.then_some(&session))
}

/// The sign-up form.
#[derive(Deserialize)]
pub struct SignUpForm {
    csrf: String,
    email: String,
    display_name: String,
    password: String,
    next: Option<String>,
    lang: Option<String>,
}

/// `POST /librement/sign-up`: creates the account and signs in.
pub async fn sign_up<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<SignUpForm>,
) -> HttpResponse {
    let now = Utc::now();
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&req, lang, now);
    };
    let next = safe_next(form.next.as_deref());
    let refused = |e: AccountError| {
        let mut ctx = state.context(lang, &session);
        insert_next(&mut ctx, &next);
        ctx.insert("email", form.email.trim());
        ctx.insert("display_name", form.display_name.trim());
        ctx.insert("error", &account_error(lang, &e));
        state.render(StatusCode::UNPROCESSABLE_ENTITY, "librement/sign_up.html", &ctx, None)
    };
    let checked = Email::parse(&form.email).and_then(|email| {
        let name = display_name(&form.display_name)?;
        Ok((email, name))
    });
    let (email, name) = match checked {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    // The strength estimate costs milliseconds of CPU, the hash tens: both in one hashing slot.
    let password = Password::new(form.password.clone());
    let personal = [email.as_str().to_owned(), name.clone()];
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
        Ok(Err(e @ (AccountError::WeakPassword(_) | AccountError::BadPassword))) => return refused(e),
        Err(AccountError::Busy) => return state.busy(lang),
        Ok(Err(e)) | Err(e) => return state.store_failed(lang, &e),
    };
    let new = NewUser {
        email: email.clone(),
        display_name: name.clone(),
        password_hash: hash,
        created_at: now,
    };
    match state.store.create_user(new).await {
        // A new account starts at epoch 0.
        Ok(id) => {
            let user = User {
                id,
                email,
                display_name: name,
                password_hash: String::new(),
                session_epoch: 0,
                email_verified: false,
            };
            if let Err(e) = super::email::send_verification(&state, &user, lang, now).await {
                // The account exists; the link can be sent again from the account page.
                tracing::warn!(error = %e, "librement: verification e-mail not queued");
            }
            let session = state.cookie(&session.signed_in(id, 0, now));
            let device = state.device_cookie_after_sign_in(&req, id, now);
            see_other(&next, [Some(session), device].into_iter().flatten())
        }
        Err(AccountError::EmailTaken) => refused(AccountError::EmailTaken),
        Err(e) => state.store_failed(lang, &e),
    }
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
    lang: Option<String>,
}

/// `POST /librement/sign-out`: ends the account's sessions in every browser and clears this one's cookie.
pub async fn sign_out<S: LibrementBackend>(
    state: web::Data<Librement<S>>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
) -> HttpResponse {
    let now = Utc::now();
    let lang = language(form.lang.as_deref());
    let Some(session) = state.checked_session(&req, &form.csrf, now) else {
        return state.stale_form(&req, lang, now);
    };
    // Ends the account's sessions everywhere, not only this cookie: a copy of it (another device, a
    // stolen cookie) is signed out too.
    match state.signed_in_user(session).await {
        Ok((_, Some(user))) => {
            if let Err(e) = state.store.end_sessions(user.id).await {
                return state.store_failed(lang, &e);
            }
        }
        Ok((_, None)) => {}
        Err(e) => return state.store_failed(lang, &e),
    }
    let target = if lang == "fr" {
        "/librement/sign-in?lang=fr"
    } else {
        "/librement/sign-in"
    };
    see_other(target, Some(state.removal_cookie()))
}
