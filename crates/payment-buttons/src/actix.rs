//! Feature `actix`: `/pay` and the gateway notification routes, mountable in any actix-web app.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use payment_buttons::{engine::Engine, store::Store};
//! # fn app<S: Store>(engine: Arc<Engine<S>>) {
//! let app = actix_web::App::new().configure(payment_buttons::actix::configure(engine));
//! # }
//! ```
//!
//! Routes: `POST /pay` (the button's target) and `POST /notify/{gateway}` (server-to-server messages).
//! Processing of logged messages is the caller's: run [`Engine::process_due`] and
//! [`Engine::dispatch_events`] in a background task (see [`spawn_workers`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::engine::{Engine, PayError, ReceiveError};
use crate::forwarded::TrustedProxies;
use crate::gateway::{HandOff, IncomingMessage, Reply};
use crate::i18n;
use crate::store::{Store, StoreError};

/// Largest notification body accepted (gateway messages are a few kilobytes).
pub const MAX_NOTIFICATION_BYTES: usize = 256 * 1024;
/// Largest `/pay` body accepted.
pub const MAX_PAY_BYTES: usize = 128 * 1024;

/// Mounts `/pay` and `/notify/{gateway}` for `engine`.
pub fn configure<S: Store>(engine: Arc<Engine<S>>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(engine))
            .service(
                web::resource("/pay")
                    .app_data(web::PayloadConfig::new(MAX_PAY_BYTES))
                    .route(web::post().to(pay::<S>)),
            )
            .service(
                web::resource("/notify/{gateway}")
                    .app_data(web::PayloadConfig::new(MAX_NOTIFICATION_BYTES))
                    .route(web::post().to(notify::<S>)),
            );
    }
}

/// The client's address: the TCP peer, or, when the app registered its reverse proxies as
/// `web::Data<TrustedProxies>`, the address those proxies say they received the request from
/// (see [`crate::forwarded`]). `None` only when actix knows no peer (in some tests).
///
/// ```
/// use actix_web::{test::TestRequest, web};
/// use payment_buttons::actix::client_ip;
/// use payment_buttons::forwarded::TrustedProxies;
///
/// let proxies = TrustedProxies::parse(["127.0.0.1"]).unwrap();
/// let request = TestRequest::default()
///     .peer_addr("127.0.0.1:40000".parse().unwrap())
///     .insert_header(("X-Forwarded-For", "203.0.113.7"))
///     .app_data(web::Data::new(proxies))
///     .to_http_request();
/// assert_eq!(client_ip(&request), Some("203.0.113.7".parse().unwrap()));
/// ```
pub fn client_ip(request: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = request.peer_addr()?.ip();
    let Some(proxies) = request.app_data::<web::Data<TrustedProxies>>() else {
        return Some(peer);
    };
    let forwarded_for = request
        .headers()
        .get_all("x-forwarded-for")
        // Not skipped: a value that is not text stops the walk where it stands.
        .map(|value| value.to_str().unwrap_or("unreadable"));
    Some(proxies.client_ip(peer, forwarded_for))
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// An error page for the buyer: the reason, no internals.
fn error_page(status: StatusCode, title: &str, reason: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{r}</p></body></html>",
        t = escape_html(title),
        r = escape_html(reason)
    );
    HttpResponse::build(status).content_type(ContentType::html()).body(html)
}

/// The hand-off page: an auto-submitting form to the gateway, with a visible button when scripts are off.
pub fn hand_off_page(action: &str, fields: &[(String, String)], language: &str) -> String {
    let words = i18n::words(language);
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape_html(k),
                escape_html(v)
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body onload=\"document.forms[0].submit()\">\n<p>{text}</p>\n\
         <form method=\"post\" action=\"{action}\" accept-charset=\"utf-8\">\n{inputs}\
         <button type=\"submit\">{title}</button>\n</form>\n</body></html>\n",
        lang = escape_html(language),
        title = escape_html(words.continue_to_payment),
        text = escape_html(words.redirecting),
        action = escape_html(action),
    )
}

async fn pay<S: Store>(engine: web::Data<Engine<S>>, body: web::Bytes) -> HttpResponse {
    let fields = form_fields(&body);
    let Some(token) = field(&fields, "button") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Payment not started",
            "the form has no `button` field",
        );
    };
    let started = engine
        .start_payment(
            token,
            field(&fields, "option"),
            field(&fields, "gateway"),
            None,
            None,
            Utc::now(),
        )
        .await;
    match started {
        Ok(started) => match started.hand_off {
            HandOff::Redirect { location } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish(),
            HandOff::Form { action, fields } => {
                let language = engine
                    .signer()
                    .verify(token, Utc::now())
                    .map(|b| b.language().as_str().to_owned())
                    .unwrap_or_else(|_| "en".into());
                HttpResponse::Ok()
                    .content_type(ContentType::html())
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .body(hand_off_page(&action, &fields, &language))
            }
        },
        Err(PayError::Store(e)) => {
            tracing::error!(error = %e, "could not record a payment");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Payment not started",
                "please try again in a moment",
            )
        }
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Payment not started", &e.to_string()),
    }
}

fn reply_response(reply: Reply) -> HttpResponse {
    let mut builder = HttpResponse::build(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    if let Some(ct) = reply.content_type {
        builder.insert_header((header::CONTENT_TYPE, ct));
    }
    builder.body(reply.body)
}

async fn notify<S: Store>(
    engine: web::Data<Engine<S>>,
    gateway: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: client_ip(&request).map(|ip| ip.to_string()),
        method: request.method().as_str().to_owned(),
        content_type: request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
    };
    match engine.receive(&gateway, message).await {
        Ok(reply) => reply_response(reply),
        Err(ReceiveError::UnknownGateway(name)) => HttpResponse::NotFound()
            .content_type(ContentType::plaintext())
            .body(format!("no gateway {name:?}\n")),
        Err(ReceiveError::Store(e)) => {
            // The gateway will send the message again: nothing is lost.
            tracing::error!(error = %e, gateway = %gateway, "could not log a gateway message; answering 503");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// Handles for the background workers started by [`spawn_workers`].
#[derive(Debug)]
pub struct Workers {
    /// Wake the message worker now (call after logging a message; [`Engine::with_wakeup`] can do it).
    pub wake: Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Stops the workers.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts three background tasks on the current tokio runtime: one processes queued messages (woken by
/// `wake`, and polling every `poll` for retries), one hands outbox events to listeners, and one marks
/// created payments nobody paid as abandoned, once a minute (see [`Engine::with_abandon_after`]).
pub fn spawn_workers<S: Store>(engine: Arc<Engine<S>>, wake: Arc<tokio::sync::Notify>, poll: Duration) -> Workers {
    let events_wake = Arc::new(tokio::sync::Notify::new());
    let messages = {
        let engine = engine.clone();
        let events_wake = events_wake.clone();
        work_loop("message processing", wake.clone(), poll, move || {
            let engine = engine.clone();
            let events_wake = events_wake.clone();
            async move {
                let n = engine.process_due(Utc::now(), engine.concurrency()).await?;
                if n > 0 {
                    // Applying messages wrote events: hand them on without waiting for the poll.
                    events_wake.notify_one();
                }
                Ok(n)
            }
        })
    };
    let events = {
        let engine = engine.clone();
        work_loop("event dispatch", events_wake, poll, move || {
            let engine = engine.clone();
            async move { engine.dispatch_events(100).await }
        })
    };
    let abandon = tokio::spawn(async move {
        let mut every = tokio::time::interval(ABANDON_SWEEP_EVERY);
        loop {
            every.tick().await;
            match engine.abandon_unpaid(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(payments = n, "created payments nobody paid are now abandoned"),
                Err(e) => log_store_error("marking abandoned payments", &e),
            }
        }
    });
    Workers {
        wake,
        tasks: vec![messages, events, abandon],
    }
}

/// How often [`spawn_workers`] looks for created payments to mark abandoned.
const ABANDON_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Runs `step` again at once while it finds work, otherwise when woken or after `poll`.
fn work_loop<F, Fut>(
    what: &'static str,
    wake: Arc<tokio::sync::Notify>,
    poll: Duration,
    step: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize, StoreError>> + Send,
{
    tokio::spawn(async move {
        loop {
            match step().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => log_store_error(what, &e),
            }
            let _ = tokio::time::timeout(poll, wake.notified()).await;
        }
    })
}

fn log_store_error(what: &str, e: &StoreError) {
    tracing::error!(error = %e, "{what} failed; retrying");
}
