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
//! Routes: `POST /pay` (the button's target), `GET /pay/hand-off.js` (the script that submits the
//! hand-off form), `POST /notify/{gateway}` and `POST /notify/{gateway}/{route}` (server-to-server
//! messages, on the routes each gateway lists), `GET /return/{gateway}/{payment_id}` (the buyer back from a
//! gateway with a server-side step, such as PayPal Checkout's capture) and `GET /payments/{id}` (the
//! buyer's status page, where every gateway sends the buyer back: see [`crate::status`]; your own look
//! with [`configure_with`]). Every response of these routes carries the [`security_headers`]; wrap the
//! whole app in them too (`App::new().wrap(...)`).
//! Processing of logged messages is the caller's: run [`Engine::process_due`] and
//! [`Engine::dispatch_events`] in a background task (see [`spawn_workers`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::engine::{Engine, PayError, ReceiveError, ReturnError};
use crate::forwarded::TrustedProxies;
use crate::gateway::{HandOff, IncomingMessage, Reply, ServiceUrls};
use crate::i18n;
use crate::payment::PaymentId;
use crate::status::{PlainStatusPage, StatusError, StatusPage, StatusView};
use crate::store::{Store, StoreError};

mod headers;

pub use headers::{CONTENT_SECURITY_POLICY, HAND_OFF_SCRIPT, HAND_OFF_SCRIPT_PATH, REFERRER_POLICY, security_headers};

/// How much of a notification body beyond [`Engine::notify_body_limit`] is read and thrown away, so that
/// a client that sent a little too much still reads its 413; past this the connection is closed.
const DRAIN_BYTES: usize = 1024 * 1024;
/// Largest `/pay` body accepted.
pub const MAX_PAY_BYTES: usize = 128 * 1024;

/// Mounts `/pay`, `/pay/hand-off.js`, `/notify/{gateway}` and `/payments/{id}` for `engine`, each wrapped
/// in the [`security_headers`] (so that a hand-off page has them even in an app that does not wrap them).
/// The status page is [`PlainStatusPage`]: see [`configure_with`] for your own.
pub fn configure<S: Store>(engine: Arc<Engine<S>>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    configure_with(engine, Arc::new(PlainStatusPage))
}

/// [`configure`], with the status page rendered by `status_page` (your template, your style: for
/// instance `tera::TeraStatusPage` with feature `tera`).
pub fn configure_with<S: Store>(
    engine: Arc<Engine<S>>,
    status_page: Arc<dyn StatusPage>,
) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(engine))
            .app_data(web::Data::new(StatusPages(status_page)))
            .service(
                web::resource("/payments/{id}")
                    .wrap(security_headers())
                    .route(web::get().to(status::<S>)),
            )
            .service(
                web::resource("/pay")
                    .wrap(security_headers())
                    .app_data(web::PayloadConfig::new(MAX_PAY_BYTES))
                    .route(web::post().to(pay::<S>)),
            )
            .service(
                web::resource(HAND_OFF_SCRIPT_PATH)
                    .wrap(security_headers())
                    .route(web::get().to(hand_off_script)),
            )
            .service(
                web::resource("/notify/{gateway}")
                    .wrap(security_headers())
                    .route(web::post().to(notify::<S>)),
            )
            .service(
                web::resource("/notify/{gateway}/{route}")
                    .wrap(security_headers())
                    .route(web::post().to(notify_on_route::<S>)),
            )
            .service(
                web::resource("/return/{gateway}/{payment_id}")
                    .wrap(security_headers())
                    .route(web::get().to(buyer_return::<S>)),
            );
    }
}

/// `GET /pay/hand-off.js`: [`HAND_OFF_SCRIPT`]. Cached for a day: it changes only with this library.
async fn hand_off_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(HAND_OFF_SCRIPT)
}

/// The address of the hand-off script for a service at `urls`: its path only (same origin whatever host
/// name the buyer used), under the path of the service's base URL when it has one.
///
/// ```
/// use payment_buttons::actix::hand_off_script_src;
/// use payment_buttons::gateway::ServiceUrls;
///
/// let urls = ServiceUrls::new("https://shop.example/payments").unwrap();
/// assert_eq!(hand_off_script_src(&urls), "/payments/pay/hand-off.js");
/// ```
pub fn hand_off_script_src(urls: &ServiceUrls) -> String {
    let base = url::Url::parse(urls.base())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{base}{HAND_OFF_SCRIPT_PATH}")
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

pub use crate::html::escape_html;

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
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(crate::html::error_page(title, reason))
}

/// The hand-off page: a form to `action` (the gateway's page, or the next step of the calling
/// application) that `script_src` (see [`hand_off_script_src`]) submits at once, with a visible button
/// saying `button_label` (by default "Continue to payment") when scripts are off. Nothing inline: it works
/// under [`CONTENT_SECURITY_POLICY`].
pub fn hand_off_page(
    action: &str,
    fields: &[(String, String)],
    language: &str,
    script_src: &str,
    button_label: Option<&str>,
) -> String {
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
         <body>\n<p>{text}</p>\n\
         <form method=\"post\" action=\"{action}\" accept-charset=\"utf-8\" data-auto-submit>\n{inputs}\
         <button type=\"submit\">{label}</button>\n</form>\n\
         <script src=\"{script}\"></script>\n</body></html>\n",
        lang = escape_html(language),
        title = escape_html(words.continue_to_payment),
        text = escape_html(words.redirecting),
        action = escape_html(action),
        label = escape_html(button_label.unwrap_or(words.continue_to_payment)),
        script = escape_html(script_src),
    )
}

/// The answer that hands the buyer over, for a service at `urls`: a 303 to a redirect's location, or the
/// auto-submitting [`hand_off_page`] of a form. Never cached: it carries one payment's fields.
pub fn hand_off_response(
    hand_off: &HandOff,
    language: &str,
    urls: &ServiceUrls,
    button_label: Option<&str>,
) -> HttpResponse {
    match hand_off {
        HandOff::Redirect { location } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location.as_str()))
            .finish(),
        HandOff::Form { action, fields } => HttpResponse::Ok()
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(hand_off_page(
                action,
                fields,
                language,
                &hand_off_script_src(urls),
                button_label,
            )),
    }
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
        Ok(started) => hand_off_response(&started.hand_off, started.language.as_str(), engine.urls(), None),
        Err(PayError::Store(e)) => {
            tracing::error!(error = %e, "could not record a payment");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Payment not started",
                "please try again in a moment",
            )
        }
        Err(e @ PayError::Gateway(crate::gateway::GatewayError::Unavailable(_))) => {
            tracing::warn!(error = %e, "a gateway's API did not take a payment");
            error_page(StatusCode::BAD_GATEWAY, "Payment not started", &e.to_string())
        }
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Payment not started", &e.to_string()),
    }
}

/// The status page renderer of [`configure_with`] (a newtype: `web::Data` of a trait object).
struct StatusPages(Arc<dyn StatusPage>);

/// `?cancelled=1`: the gateway sent the buyer back after a cancellation (PayPal's `cancel_return`).
#[derive(Debug, serde::Deserialize)]
struct StatusQuery {
    #[serde(default)]
    cancelled: Option<String>,
}

/// `GET /payments/{id}`: the buyer's status page. Public (the id is unguessable) and free of secrets.
async fn status<S: Store>(
    engine: web::Data<Engine<S>>,
    page: web::Data<StatusPages>,
    id: web::Path<String>,
    query: web::Query<StatusQuery>,
) -> HttpResponse {
    let page = &page.0;
    let failed = |error: StatusError| {
        HttpResponse::build(StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::NOT_FOUND))
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(page.error(error))
    };
    let Ok(id) = PaymentId::parse(&id) else {
        return failed(StatusError::NotFound);
    };
    let payment = match engine.store().payment(&id).await {
        Ok(Some(p)) => p,
        Ok(None) => return failed(StatusError::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "status page: store failed");
            return failed(StatusError::Unavailable);
        }
    };
    if let Some(target) = crate::status::paid_for(&payment, engine.urls()) {
        let target = if query.cancelled.is_some() {
            format!("{target}?cancelled=1")
        } else {
            target
        };
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, target))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    let view = StatusView::of(&payment, query.cancelled.is_some(), engine.urls(), Utc::now());
    match page.render(&view) {
        Ok(html) => HttpResponse::Ok()
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "status page: rendering failed");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("internal error\n")
        }
    }
}

fn reply_response(reply: Reply) -> HttpResponse {
    let mut builder = HttpResponse::build(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    if let Some(ct) = reply.content_type {
        builder.insert_header((header::CONTENT_TYPE, ct));
    }
    builder.body(reply.body)
}

/// Reads at most `keep + 1` bytes of `payload` (so that the engine sees that a body is too large without
/// holding more of it), then discards up to [`DRAIN_BYTES`] more. `None` when the client broke off.
async fn read_bounded(mut payload: web::Payload, keep: usize) -> Option<Vec<u8>> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        let room = (keep + 1).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        seen = seen.saturating_add(chunk.len());
        if seen > keep.saturating_add(DRAIN_BYTES) {
            break;
        }
    }
    Some(body)
}

async fn notify<S: Store>(
    engine: web::Data<Engine<S>>,
    gateway: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    receive(engine, gateway.into_inner(), None, request, payload).await
}

/// `POST /notify/{gateway}/{route}`: a second route of a gateway ([`crate::gateway::Gateway::notify_routes`],
/// such as PayPal Checkout's `webhook`); 404 for a route the gateway does not list.
async fn notify_on_route<S: Store>(
    engine: web::Data<Engine<S>>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (gateway, route) = path.into_inner();
    receive(engine, gateway, Some(route), request, payload).await
}

/// `GET /return/{gateway}/{payment_id}`: the buyer is back from a gateway that has a server-side step
/// ([`crate::gateway::Gateway::buyer_return`]); 404 for any other.
async fn buyer_return<S: Store>(
    engine: web::Data<Engine<S>>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
) -> HttpResponse {
    let (gateway, payment_id) = path.into_inner();
    let query = form_fields(request.query_string().as_bytes());
    match engine.buyer_return(&gateway, &payment_id, &query, Utc::now()).await {
        Ok(hand_off) => {
            let mut response = hand_off_response(&hand_off, "en", engine.urls(), None);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            response
        }
        Err(ReturnError::NotFound) => error_page(StatusCode::NOT_FOUND, "Not found", "no such payment"),
        Err(ReturnError::Store(e)) => {
            tracing::error!(error = %e, "buyer return: store failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "the payment could not be looked up; reload this page in a moment",
            )
        }
    }
}

/// Reads, logs and answers one gateway message that came on `route` (`None`: the gateway's main route).
async fn receive<S: Store>(
    engine: web::Data<Engine<S>>,
    gateway: String,
    route: Option<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let mut headers = std::collections::BTreeMap::new();
    if let Some(gw) = engine.gateways().get(&gateway) {
        let path = route.as_deref().unwrap_or("");
        let Some(declared) = gw.notify_routes().iter().find(|r| r.path == path) else {
            // Not a route of this gateway: nothing is read or logged.
            return HttpResponse::NotFound()
                .content_type(ContentType::plaintext())
                .body("no such notification route\n");
        };
        for name in declared.headers {
            if let Some(value) = request.headers().get(*name).and_then(|v| v.to_str().ok()) {
                headers.insert((*name).to_owned(), value.to_owned());
            }
        }
        if !path.is_empty() {
            headers.insert(crate::gateway::ROUTE_HEADER.to_owned(), path.to_owned());
        }
    }
    let Some(body) = read_bounded(payload, engine.notify_body_limit()).await else {
        return HttpResponse::BadRequest()
            .content_type(ContentType::plaintext())
            .body("the request body could not be read\n");
    };
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: client_ip(&request).map(|ip| ip.to_string()),
        method: request.method().as_str().to_owned(),
        content_type: request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        headers,
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
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Workers {
    /// Stops the workers.
    pub fn abort(&self) {
        for (_, t) in &self.tasks {
            t.abort();
        }
    }

    /// Each worker by name (`messages`, `events`, `refunds`, `abandon`) with a handle that tells whether it still
    /// runs ([`tokio::task::AbortHandle::is_finished`]): each loops forever, so a finished one has
    /// crashed, and a readiness probe should say so.
    pub fn handles(&self) -> impl Iterator<Item = (&'static str, tokio::task::AbortHandle)> + '_ {
        self.tasks.iter().map(|(name, t)| (*name, t.abort_handle()))
    }
}

/// Starts four background tasks on the current tokio runtime: one processes queued messages
/// ([`Engine::drain_messages`]: woken by `wake`, polling every `poll` for retries), one hands outbox events
/// to listeners, one sends again the refunds that are due ([`Engine::retry_due_refunds`], every 5 s or
/// `poll` if shorter), and one marks created payments nobody paid as abandoned, once a minute (see
/// [`Engine::with_abandon_after`]).
pub fn spawn_workers<S: Store>(engine: Arc<Engine<S>>, wake: Arc<tokio::sync::Notify>, poll: Duration) -> Workers {
    let events_wake = Arc::new(tokio::sync::Notify::new());
    let messages = {
        let engine = engine.clone();
        let events_wake = events_wake.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            // Applying messages wrote events: hand them on without waiting for the poll.
            let progress = move || events_wake.notify_one();
            engine.drain_messages(&wake, poll, &progress).await;
        })
    };
    let events = {
        let engine = engine.clone();
        work_loop("event dispatch", events_wake.clone(), poll, move || {
            let engine = engine.clone();
            async move { engine.dispatch_events(100).await }
        })
    };
    let refunds = {
        let engine = engine.clone();
        let events_wake = events_wake.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(REFUND_RETRY_EVERY.min(poll.max(Duration::from_millis(100))));
            loop {
                every.tick().await;
                match engine.retry_due_refunds(Utc::now(), 20).await {
                    Ok(0) => {}
                    // An applied refund wrote events: hand them on now.
                    Ok(_) => events_wake.notify_one(),
                    Err(e) => log_store_error("retrying refunds", &e),
                }
            }
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
        tasks: vec![
            ("messages", messages),
            ("events", events),
            ("refunds", refunds),
            ("abandon", abandon),
        ],
    }
}

/// How often at most [`spawn_workers`] sends again the refunds that are due ([`Engine::retry_due_refunds`]).
const REFUND_RETRY_EVERY: Duration = Duration::from_secs(5);

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
