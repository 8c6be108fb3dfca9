//! Operator sign-in, sessions and CSRF (see the module documentation of `crate::admin`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use librement_pay::accounts::{Attempt, Email, Password, PasswordCheck, Reservation, UserStore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Console;
use super::words::{language, words};
use crate::store::Operator;

/// The session cookie.
pub const ADMIN_COOKIE: &str = "pay_admin";
/// The sign-in form's double-submit cookie.
pub const CSRF_COOKIE: &str = "pay_admin_csrf";
/// How long a session lasts.
const SESSION_HOURS: i64 = 8;

/// A signed-in operator and the CSRF token of its session.
pub(super) struct Signed {
    pub(super) operator: Operator,
    pub(super) csrf: String,
}

/// 32 random bytes, hex.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a session token.
fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// True when `a` and `b` are the same non-empty token (constant time).
pub(super) fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn cookie<'a>(console: &Console, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(console.secure_cookies)
        .finish()
}

/// The operator signed in on this request, if any (an expired or unknown token is no one).
pub(super) async fn signed_in(console: &Console, req: &HttpRequest) -> Result<Option<Signed>, HttpResponse> {
    let Some(token) = req.cookie(ADMIN_COOKIE) else {
        return Ok(None);
    };
    match console.store.operator_session(&digest(token.value()), Utc::now()).await {
        Ok(found) => Ok(found.map(|(operator, csrf)| Signed { operator, csrf })),
        Err(e) => Err(console.failed("en", &e)),
    }
}

/// The sign-in page, with a fresh double-submit token (or the browser's, when it has one).
pub(super) fn sign_in_page(
    console: &Console,
    req: &HttpRequest,
    lang: &str,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> HttpResponse {
    let token = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64)
        .unwrap_or_else(random_token);
    let mut ctx = crate::pages::context(lang, console.simulator);
    ctx.insert("w", words(lang));
    ctx.insert("csrf", &token);
    ctx.insert("email", email);
    if let Some(error) = error {
        ctx.insert("error", error);
    }
    let mut response = console.render(status, "admin/sign_in.html", &ctx);
    let _ = response.add_cookie(&cookie(console, CSRF_COOKIE, token));
    response
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: String,
    lang: Option<String>,
}

/// `POST /admin/sign-in`.
pub async fn sign_in(console: web::Data<Console>, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    let lang = language(form.lang.as_deref());
    let t = words(lang);
    let expected = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !same_token(&expected, &form.csrf) {
        return console.notice(StatusCode::FORBIDDEN, lang, t.stale_form);
    }
    let now = Utc::now();
    let typed = form.email.trim().to_lowercase();
    let operator = match console.store.operator_by_email(&typed).await {
        Ok(o) => o,
        Err(e) => return console.failed(lang, &e),
    };
    // Librement's reservations, in buckets of their own: an operator's address never shares a count with
    // a Librement account of the same address.
    let attempt = Attempt {
        email: Email::raw_for_throttling(&format!("operator:{typed}")),
        ip: payment_buttons::actix::client_ip(&req).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        device: None,
    };
    let reserved = match UserStore::reserve_attempt(&console.store, attempt, console.throttle, now).await {
        Ok(Reservation::Granted(id)) => id,
        Ok(Reservation::Throttled) => {
            tracing::warn!("admin: sign-in throttled");
            return sign_in_page(
                &console,
                &req,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                &typed,
                Some(t.too_many_attempts),
            );
        }
        Err(e) => return console.failed(lang, &e),
    };
    let hashing = console.hashing.clone();
    let stored = operator.as_ref().map(|o| o.password_hash.clone());
    let password = Password::new(form.password);
    let check = console
        .slots
        .run(move || hashing.check(&password, stored.as_deref()))
        .await;
    let release = || async {
        if let Err(e) = UserStore::release_attempt(&console.store, reserved).await {
            tracing::warn!(error = %e, "admin: a sign-in reservation was not released");
        }
    };
    match (check, operator) {
        (Ok(PasswordCheck::Right { rehash }), Some(operator)) => {
            release().await;
            if let Some(hash) = rehash
                && let Err(e) = console.store.set_operator_password_hash(operator.id, &hash).await
            {
                tracing::warn!(error = %e, "admin: rehash not saved");
            }
            let token = random_token();
            let expires = now + Duration::hours(SESSION_HOURS);
            if let Err(e) = console
                .store
                .create_operator_session(&digest(&token), operator.id, &random_token(), now, expires)
                .await
            {
                return console.failed(lang, &e);
            }
            tracing::info!(operator = %operator.email, role = operator.role.as_str(), "admin: operator signed in");
            let target = if lang == "fr" {
                "/admin/payments?lang=fr"
            } else {
                "/admin/payments"
            };
            let mut session = cookie(&console, ADMIN_COOKIE, token);
            session.set_max_age(actix_web::cookie::time::Duration::hours(SESSION_HOURS));
            HttpResponse::SeeOther()
                .insert_header(("Location", target))
                .cookie(session)
                .finish()
        }
        (Ok(_), _) => {
            tracing::warn!("admin: wrong operator e-mail or password");
            sign_in_page(
                &console,
                &req,
                lang,
                StatusCode::UNAUTHORIZED,
                &typed,
                Some(t.wrong_credentials),
            )
        }
        (Err(_), _) => {
            // Never checked: not a guess.
            release().await;
            console.notice(StatusCode::SERVICE_UNAVAILABLE, lang, t.busy)
        }
    }
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
    lang: Option<String>,
}

/// `POST /admin/sign-out`: ends this session.
pub async fn sign_out(console: web::Data<Console>, req: HttpRequest, form: web::Form<SignOutForm>) -> HttpResponse {
    let lang = language(form.lang.as_deref());
    let signed = match signed_in(&console, &req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(signed) = signed.filter(|s| same_token(&s.csrf, &form.csrf)) else {
        return console.notice(StatusCode::FORBIDDEN, lang, words(lang).stale_form);
    };
    if let Some(token) = req.cookie(ADMIN_COOKIE)
        && let Err(e) = console
            .store
            .end_operator_session(&digest(token.value()), Utc::now())
            .await
    {
        return console.failed(lang, &e);
    }
    tracing::info!(operator = %signed.operator.email, "admin: operator signed out");
    let mut removal = cookie(&console, ADMIN_COOKIE, String::new());
    removal.make_removal();
    let target = if lang == "fr" { "/admin?lang=fr" } else { "/admin" };
    HttpResponse::SeeOther()
        .insert_header(("Location", target))
        .cookie(removal)
        .finish()
}
