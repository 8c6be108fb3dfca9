//! The Librement pages, mounted under `/librement` by one [`configure`] call: sign-up, sign-in,
//! sign-out, the account page and the payment flow (`/librement/pay/{id}`).
//!
//! Every form carries the session's CSRF token; sessions live in signed cookies (`HttpOnly`,
//! `SameSite=Lax`, `Secure` unless the service runs on localhost). Pages work without JavaScript.

mod account;
mod auth;
mod email;
mod pay;
mod slots;
mod templates;

pub use slots::{DEFAULT_WAIT, HashingSlots};
pub use templates::TEMPLATES;

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::{DateTime, Utc};
use payment_buttons::engine::Engine;
use payment_buttons::store::Store;
use serde::{Deserialize, Serialize};

use crate::accounts::{AccountError, PasswordHashing, Throttle, User, UserStore};
use crate::email_tokens::{EmailTokens, MailThrottle};
use crate::ledger::{LedgerStore, UserId};
use crate::mail::MailQueue;
use crate::payout::Payouts;
use crate::purchase::BalancePayments;
use crate::session::{COOKIE, DEVICE_COOKIE, DEVICE_MAX_AGE, Device, Session, SessionKey};
use crate::statement::Statements;
use crate::topup::TopUps;
use crate::words::words;

/// What the storage behind the pages must offer.
pub trait LibrementBackend:
    Store + LedgerStore + UserStore + BalancePayments + TopUps + Statements + Payouts + EmailTokens + MailQueue
{
}
impl<T> LibrementBackend for T where
    T: Store + LedgerStore + UserStore + BalancePayments + TopUps + Statements + Payouts + EmailTokens + MailQueue
{
}

/// `librement.top_up_min` and `librement.top_up_max`: the bounds of money added to an account, in the
/// currency added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopUpBounds {
    /// The least (default 5.00).
    pub min: rust_decimal::Decimal,
    /// The most (default 500.00).
    pub max: rust_decimal::Decimal,
}

impl Default for TopUpBounds {
    fn default() -> Self {
        TopUpBounds {
            min: rust_decimal::Decimal::new(500, 2),
            max: rust_decimal::Decimal::new(50_000, 2),
        }
    }
}

/// What the account pages need beyond the payment flow: the bounds of top-ups, the payout hold, e-mail.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// `librement.top_up_min`, `librement.top_up_max`.
    pub top_up: TopUpBounds,
    /// `librement.payout_hold`: earnings become withdrawable after this (default 14 days).
    pub payout_hold: chrono::Duration,
    /// The throttle on verification and reset e-mails.
    pub mail_throttle: MailThrottle,
    /// Woken when a message is queued, so that it leaves at once.
    pub mail_wake: Arc<tokio::sync::Notify>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            top_up: TopUpBounds::default(),
            payout_hold: chrono::Duration::days(14),
            mail_throttle: MailThrottle::default(),
            mail_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// `librement.mode`: what a buyer without a known account sees. Serialized as the configuration writes
/// it: `embedded` or `non_embedded`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Straight on to the first gateway (the default).
    #[default]
    Embedded,
    /// A page offering to sign in, create an account or continue without one.
    NonEmbedded,
}

/// Everything the pages share.
pub struct Librement<S: LibrementBackend> {
    /// Storage.
    pub store: Arc<S>,
    /// The core's engine: top-ups and guest payments are ordinary payments through its gateways.
    pub engine: Arc<Engine<S>>,
    /// Templates holding this crate's [`TEMPLATES`] and the host's `base.html` (see [`TEMPLATES`]).
    pub templates: Arc<tera::Tera>,
    /// Signs session cookies.
    pub key: SessionKey,
    /// Password hashing parameters.
    pub hashing: PasswordHashing,
    /// The bound on hashes in flight, shared by sign-up, sign-in and password confirmation.
    pub slots: Arc<HashingSlots>,
    /// Sign-in throttling.
    pub throttle: Throttle,
    /// `librement.mode`.
    pub mode: Mode,
    /// `librement.gateways`: what "by card or PayPal" offers, in order.
    pub gateways: Vec<String>,
    /// Whether cookies get `Secure` (false only when the public URL is on localhost over http).
    pub secure_cookies: bool,
    /// Every gateway runs as a simulator: given to the host's layout, which says so on every page.
    pub simulator: bool,
    /// Top-ups, payouts, e-mail.
    pub accounts: AccountSettings,
}

/// True when cookies for `public_url` must be `Secure`: everywhere except plain-http localhost.
///
/// ```
/// use librement_pay::web::needs_secure_cookies;
/// assert!(!needs_secure_cookies("http://127.0.0.1:8080"));
/// assert!(!needs_secure_cookies("http://localhost:8080/"));
/// assert!(needs_secure_cookies("https://pay.example"));
/// assert!(needs_secure_cookies("http://pay.example"));
/// ```
pub fn needs_secure_cookies(public_url: &str) -> bool {
    let rest = match public_url.strip_prefix("http://") {
        Some(rest) => rest,
        None => return true,
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    !matches!(host, "localhost" | "127.0.0.1" | "[") && !rest.starts_with("[::1]")
}

/// Mounts the pages under `/librement`.
pub fn configure<S: LibrementBackend>(state: Arc<Librement<S>>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("/librement")
                .app_data(web::Data::from(state))
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .route("/sign-in", web::get().to(auth::sign_in_page::<S>))
                .route("/sign-in", web::post().to(auth::sign_in::<S>))
                .route("/sign-up", web::get().to(auth::sign_up_page::<S>))
                .route("/sign-up", web::post().to(auth::sign_up::<S>))
                .route("/sign-out", web::post().to(auth::sign_out::<S>))
                .route("/account", web::get().to(account::show::<S>))
                .route("/account/statement.csv", web::get().to(account::csv::<S>))
                .route("/account/top-up", web::get().to(account::top_up_page::<S>))
                .route("/account/top-up", web::post().to(account::top_up::<S>))
                .route("/account/payout", web::post().to(account::payout::<S>))
                .route("/account/verify-email", web::post().to(email::resend_verification::<S>))
                .route("/verify", web::get().to(email::verify::<S>))
                .route("/password-reset", web::get().to(email::reset_page::<S>))
                .route("/password-reset", web::post().to(email::reset_request::<S>))
                .route("/password-reset/{token}", web::get().to(email::new_password_page::<S>))
                .route("/password-reset/{token}", web::post().to(email::new_password::<S>))
                .route("/pay/{id}", web::get().to(pay::choose::<S>))
                .route("/pay/{id}", web::post().to(pay::submit::<S>)),
        );
    }
}

impl<S: LibrementBackend> Librement<S> {
    /// The user a session is signed in as, with the session itself. A session whose user is gone or
    /// has signed out since it was issued comes back without a user: every page then treats the
    /// browser as signed out, copied cookies included.
    async fn signed_in_user(&self, session: Session) -> Result<(Session, Option<User>), AccountError> {
        let Some(id) = session.user else {
            return Ok((session, None));
        };
        match self.store.user_by_id(id).await? {
            Some(user) if user.session_epoch == session.epoch => Ok((session, Some(user))),
            _ => Ok((session.without_user(), None)),
        }
    }

    /// The session in the request's cookie, when valid.
    fn session(&self, req: &HttpRequest, now: DateTime<Utc>) -> Option<Session> {
        req.cookie(COOKIE).and_then(|c| self.key.decode(c.value(), now))
    }

    /// The request's session, or a new anonymous one (then it must be set on the answer).
    fn session_or_new(&self, req: &HttpRequest, now: DateTime<Utc>) -> (Session, bool) {
        match self.session(req, now) {
            Some(s) => (s, false),
            None => (Session::anonymous(now), true),
        }
    }

    /// The device cookie of the request, when valid.
    fn device(&self, req: &HttpRequest, now: DateTime<Utc>) -> Option<Device> {
        req.cookie(DEVICE_COOKIE)
            .and_then(|c| self.key.decode_device(c.value(), now))
    }

    /// The device cookie to set after `user` typed the right password in this browser: none when the
    /// browser already carries one for this user (it keeps its bucket), a new one otherwise.
    fn device_cookie_after_sign_in(
        &self,
        req: &HttpRequest,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Option<Cookie<'static>> {
        if self.device(req, now).is_some_and(|d| d.user == user) {
            return None;
        }
        let value = self.key.encode_device(&Device::new(user, now));
        Some(
            Cookie::build(DEVICE_COOKIE, value)
                .path("/librement")
                .http_only(true)
                .secure(self.secure_cookies)
                // Only ever needed by our own forms: never sent along a request another site starts.
                .same_site(SameSite::Strict)
                .max_age(actix_web::cookie::time::Duration::seconds(DEVICE_MAX_AGE.num_seconds()))
                .finish(),
        )
    }

    /// The session of a form submission, when its CSRF token matches.
    fn checked_session(&self, req: &HttpRequest, csrf: &str, now: DateTime<Utc>) -> Option<Session> {
        self.session(req, now).filter(|s| s.csrf_matches(csrf))
    }

    fn cookie(&self, session: &Session) -> Cookie<'static> {
        Cookie::build(COOKIE, self.key.encode(session))
            .path("/librement")
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .finish()
    }

    fn removal_cookie(&self) -> Cookie<'static> {
        let mut c = Cookie::build(COOKIE, "")
            .path("/librement")
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .finish();
        c.make_removal();
        c
    }

    /// A page context with the common variables.
    fn context(&self, language: &str, session: &Session) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("lang", language);
        ctx.insert("t", words(language));
        ctx.insert("simulator", &self.simulator);
        ctx.insert("csrf", &session.csrf);
        ctx
    }

    /// Renders a page; sets the session cookie when `set_session` is given.
    fn render(
        &self,
        status: StatusCode,
        template: &str,
        ctx: &tera::Context,
        set_session: Option<&Session>,
    ) -> HttpResponse {
        match self.templates.render(template, ctx) {
            Ok(html) => {
                let mut b = HttpResponseBuilder::new(status);
                b.content_type(ContentType::html())
                    .insert_header(("Cache-Control", "no-store"));
                if let Some(s) = set_session {
                    b.cookie(self.cookie(s));
                }
                b.body(html)
            }
            Err(e) => {
                tracing::error!(template, error = ?e, "librement template failed");
                HttpResponse::InternalServerError()
                    .content_type(ContentType::plaintext())
                    .body("internal error\n")
            }
        }
    }

    /// A page with one message and a link.
    fn message(
        &self,
        status: StatusCode,
        language: &str,
        session: &Session,
        title: &str,
        text: &str,
        link: Option<(&str, &str)>,
    ) -> HttpResponse {
        let mut ctx = self.context(language, session);
        ctx.insert("title", title);
        ctx.insert("text", text);
        if let Some((href, label)) = link {
            ctx.insert("link_href", href);
            ctx.insert("link_label", label);
        }
        self.render(status, "librement/message.html", &ctx, None)
    }

    /// The 403 answer to a form without a valid session or CSRF token. A valid session is left as it
    /// is: a forged form from another site must not sign its victim out. Only a browser without one
    /// gets a new anonymous session, so that the form works once reloaded.
    fn stale_form(&self, req: &HttpRequest, language: &str, now: DateTime<Utc>) -> HttpResponse {
        let (session, new) = self.session_or_new(req, now);
        let t = words(language);
        let mut ctx = self.context(language, &session);
        ctx.insert("title", t.pay_title);
        ctx.insert("text", t.stale_form);
        self.render(
            StatusCode::FORBIDDEN,
            "librement/message.html",
            &ctx,
            new.then_some(&session),
        )
    }

    /// The 503 answer when no password-hashing slot came in time, with `Retry-After`.
    fn busy(&self, language: &str) -> HttpResponse {
        let t = words(language);
        let session = Session::anonymous(Utc::now());
        let mut answer = self.message(
            StatusCode::SERVICE_UNAVAILABLE,
            language,
            &session,
            t.busy_title,
            t.busy,
            None,
        );
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&self.slots.retry_after_seconds().to_string())
        {
            answer.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
        answer
    }

    fn store_failed(&self, language: &str, what: &dyn std::fmt::Display) -> HttpResponse {
        tracing::error!(error = %what, "librement: storage failed");
        let session = Session::anonymous(Utc::now());
        self.message(
            StatusCode::SERVICE_UNAVAILABLE,
            language,
            &session,
            "Try again",
            "The service is busy; please try again in a moment.",
            None,
        )
    }
}

/// The query of pages that take only the language.
#[derive(Debug, serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// `en` or `fr` from a form or query value.
fn language(value: Option<&str>) -> &'static str {
    if value == Some("fr") { "fr" } else { "en" }
}

/// A 303 to `location`, setting `cookies`.
fn see_other(location: &str, cookies: impl IntoIterator<Item = Cookie<'static>>) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    b.insert_header(("Location", location));
    for c in cookies {
        b.cookie(c);
    }
    b.finish()
}

/// Only our own Librement pages are valid `next` targets (no open redirect), written in visible ASCII
/// only: a control character (CR/LF, NUL, tab, DEL), a space or a non-ASCII one cannot be put in a
/// `Location` header, and our own links percent-encode them anyway.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/librement/")
                && n.chars().all(|c| c.is_ascii_graphic())
                && !n.contains("//")
                && !n.contains('\\')
                && !n.contains("..") =>
        {
            n.to_owned()
        }
        _ => "/librement/account".to_owned(),
    }
}

/// `next` for a query string: every byte outside `[A-Za-z0-9-._~]` percent-encoded.
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Inserts `next` and its query-string form `next_q`.
fn insert_next(ctx: &mut tera::Context, next: &str) {
    ctx.insert("next", next);
    ctx.insert("next_q", &query_value(next));
}

/// The client's address for throttling: the TCP peer, or what the app's trusted reverse proxies say
/// (`X-Forwarded-For` from anyone else can be forged and is ignored).
fn client_ip(req: &HttpRequest) -> String {
    payment_buttons::actix::client_ip(req)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_our_pages() {
        assert_eq!(
            safe_next(Some("/librement/pay/Xk3f9QpL2mZa")),
            "/librement/pay/Xk3f9QpL2mZa"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/librement//evil",
            "/admin",
            "/librement/../x",
            "/librement/pay/x\r\nSet-Cookie: a=b",
            "/librement/account\0",
            "/librement/\tx",
            "/librement/\x7f",
            "/librement/a b",
            "/librement/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/librement/account", "{bad}");
        }
    }
}
