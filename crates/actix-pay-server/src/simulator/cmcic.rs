//! `/simulator/cmcic`: a stand-in for the bank's payment page that speaks the real protocol.
//!
//! The merchant's page posts its sealed payment form here exactly as it would to the bank. The simulator
//! checks the seal with the configured key, shows a card form, and when the buyer pays it posts a return
//! sealed as the bank seals it to `{public_url}/notify/cmcic`, checks that the answer is
//! `version=2\ncdr=0\n`, then sends the buyer to `url_retour_ok` or `url_retour_err`.
//!
//! Routes, under [`MOUNT`]:
//! - `POST /simulator/cmcic`: the payment form arrives; answers the card page, or 400 when the seal is wrong.
//! - `GET /simulator/cmcic/{session}`: the card page again (`?card=new` to type another card than the saved one).
//! - `POST /simulator/cmcic/{session}/pay`: the buyer pays; answers 303 to the merchant's return URL.
//!
//! Everything lives in memory: pending sessions (one hour), and cards saved for Express Payment by alias,
//! of which only the masked number and the facts of the card are kept, never the full number.

pub mod bank_return;
pub mod cards;
pub mod form;
pub mod words;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use payment_buttons::cmcic::form::FormFields;
use payment_buttons::cmcic::key::UsableKey;
use payment_buttons::cmcic::{ACK_VALID, CmcicGateway, NAME};
use payment_buttons::gateway::ServiceUrls;
use payment_buttons::i18n;
use rand::Rng;

use crate::pages;
use bank_return::Attempt;
use cards::{CardBehaviour, CardError, CardFacts, CardNumber, CvvDigest, Expiry};
use form::PaymentForm;
use words::Words;

/// Where the simulator is mounted; `CmcicConfig::payment_url` points here in simulator mode.
pub const MOUNT: &str = "/simulator/cmcic";

/// How long a payment session can wait for the buyer.
const SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// Bounds on what memory holds, so that a flood of forms cannot exhaust it.
const MAX_SESSIONS: usize = 10_000;
const MAX_SAVED_CARDS: usize = 10_000;
/// Largest form accepted (the bank's forms are a few kilobytes).
const MAX_FORM_BYTES: usize = 64 * 1024;
/// How long the merchant's server has to answer a return.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an unexpected answer is shown and logged.
const ANSWER_EXCERPT_CHARS: usize = 300;

/// Why the simulator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The HTTP client for the returns could not be built.
    #[error("cmcic simulator: cannot build its HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A payment form waiting for the buyer.
struct Session {
    form: PaymentForm,
    opened: Instant,
}

/// A card saved under an alias: what the bank reports about it, never its full number, and the digest of
/// the security code given when it was saved.
#[derive(Clone)]
struct SavedCard {
    facts: CardFacts,
    vld: String,
    cvv: CvvDigest,
}

/// The simulated bank: its configuration, its pending payments and its saved cards.
pub struct CmcicSimulator {
    gateway: Arc<CmcicGateway>,
    templates: Arc<tera::Tera>,
    notify_url: String,
    pages_url: String,
    client: reqwest::Client,
    card_hash_key: UsableKey,
    sessions: Mutex<HashMap<String, Session>>,
    saved_cards: Mutex<HashMap<String, SavedCard>>,
}

impl fmt::Debug for CmcicSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmcicSimulator")
            .field("notify_url", &self.notify_url)
            .field("pages_url", &self.pages_url)
            .finish_non_exhaustive()
    }
}

impl CmcicSimulator {
    /// A simulator for `gateway` (whose key checks forms and seals returns), rendering with the server's
    /// `templates`, posting returns to `urls.notify("cmcic")`.
    pub fn new(
        gateway: Arc<CmcicGateway>,
        templates: Arc<tera::Tera>,
        urls: &ServiceUrls,
    ) -> Result<Self, SimulatorError> {
        // reqwest is built without a default TLS provider; installing one twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(NOTIFY_TIMEOUT)
            .build()
            .map_err(SimulatorError::Client)?;
        Ok(Self::with_client(gateway, templates, urls, client))
    }

    /// The same with a given HTTP client.
    pub fn with_client(
        gateway: Arc<CmcicGateway>,
        templates: Arc<tera::Tera>,
        urls: &ServiceUrls,
        client: reqwest::Client,
    ) -> Self {
        CmcicSimulator {
            gateway,
            templates,
            notify_url: urls.notify(NAME),
            pages_url: format!("{}{MOUNT}", urls.base()),
            client,
            card_hash_key: random_hash_key(),
            sessions: Mutex::new(HashMap::new()),
            saved_cards: Mutex::new(HashMap::new()),
        }
    }

    /// Where returns are posted.
    pub fn notify_url(&self) -> &str {
        &self.notify_url
    }

    fn open_session(&self, form: PaymentForm) -> Option<String> {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.opened.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS {
            return None;
        }
        let id = hex::encode(rand::rng().random::<[u8; 16]>());
        sessions.insert(
            id.clone(),
            Session {
                form,
                opened: Instant::now(),
            },
        );
        Some(id)
    }

    fn session(&self, id: &str) -> Option<PaymentForm> {
        lock(&self.sessions)
            .get(id)
            .filter(|s| s.opened.elapsed() < SESSION_TTL)
            .map(|s| s.form.clone())
    }

    /// Removes the session: a form can be paid once.
    fn close_session(&self, id: &str) -> Option<PaymentForm> {
        lock(&self.sessions)
            .remove(id)
            .filter(|s| s.opened.elapsed() < SESSION_TTL)
            .map(|s| s.form)
    }

    fn saved_card(&self, alias: Option<&str>) -> Option<SavedCard> {
        alias.and_then(|alias| lock(&self.saved_cards).get(alias).cloned())
    }

    fn save_card(&self, alias: &str, card: SavedCard) -> bool {
        let mut saved = lock(&self.saved_cards);
        if saved.len() >= MAX_SAVED_CARDS && !saved.contains_key(alias) {
            return false;
        }
        saved.insert(alias.to_owned(), card);
        true
    }

    /// Posts a sealed return to the merchant, as the bank does, and reads the acknowledgement.
    async fn notify(&self, body: Vec<u8>) -> Result<(), String> {
        let response = self
            .client
            .post(&self.notify_url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .map_err(|e| format!("HTTP {status}, unreadable answer: {e}"))?;
        if status.is_success() && answer.as_ref() == ACK_VALID.as_bytes() {
            Ok(())
        } else {
            let excerpt: String = String::from_utf8_lossy(&answer)
                .chars()
                .take(ANSWER_EXCERPT_CHARS)
                .collect();
            Err(format!("HTTP {}: {excerpt:?}", status.as_u16()))
        }
    }
}

/// A fresh random key for `hpancb` (the keyed hash of a card number), for the life of the process.
fn random_hash_key() -> UsableKey {
    let hex_key = hex::encode_upper(rand::rng().random::<[u8; 20]>());
    UsableKey::from_merchant_key(&hex_key).expect("40 hexadecimal digits are always a valid key")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent whatever a panicking holder was doing: every update is a single insert or remove.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Mounts the simulator's routes under [`MOUNT`] (only in simulator mode).
pub fn configure(sim: Arc<CmcicSimulator>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope(MOUNT)
                .app_data(web::Data::from(sim))
                .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
                .route("", web::post().to(start))
                .route("/{session}", web::get().to(show))
                .route("/{session}/pay", web::post().to(pay)),
        );
    }
}

/// Which card form to show.
enum CardForm<'a> {
    /// Only the security code of the card saved under the alias.
    Saved(&'a CardFacts),
    /// The full form.
    New,
}

/// `POST /simulator/cmcic`: the merchant's payment form.
async fn start(sim: web::Data<CmcicSimulator>, body: web::Bytes) -> HttpResponse {
    let fields: Vec<(String, String)> = FormFields::parse(&body)
        .pairs()
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let lgue = fields.iter().find(|(n, _)| n == "lgue").map(|(_, v)| v.as_str());
    let language = form::language(lgue);
    let w = words::words(language);
    if !sim.gateway.request_seal_matches(&fields) {
        tracing::info!(gateway = NAME, "simulator: payment form refused, its seal is invalid");
        return error_page(&sim, StatusCode::BAD_REQUEST, language, w.refused_title, w.seal_invalid);
    }
    let form = match PaymentForm::read(&fields, sim.gateway.config()) {
        Ok(form) => form,
        Err(e) => {
            tracing::info!(gateway = NAME, error = %e, "simulator: payment form refused");
            return error_page(&sim, StatusCode::BAD_REQUEST, language, w.refused_title, &e.to_string());
        }
    };
    let saved = sim.saved_card(form.alias.as_deref());
    let Some(session) = sim.open_session(form.clone()) else {
        return error_page(&sim, StatusCode::SERVICE_UNAVAILABLE, language, w.refused_title, w.busy);
    };
    let card_form = match &saved {
        Some(card) => CardForm::Saved(&card.facts),
        None => CardForm::New,
    };
    card_page(&sim, &session, &form, card_form, None, StatusCode::OK)
}

/// Query of `GET /simulator/cmcic/{session}`.
#[derive(Debug, serde::Deserialize)]
struct ShowQuery {
    /// `new` to type another card than the saved one.
    card: Option<String>,
}

/// `GET /simulator/cmcic/{session}`: the card page again.
async fn show(
    sim: web::Data<CmcicSimulator>,
    session: web::Path<String>,
    query: Option<web::Query<ShowQuery>>,
) -> HttpResponse {
    let Some(form) = sim.session(&session) else {
        return expired_page(&sim);
    };
    let another_card = query.is_some_and(|q| q.card.as_deref() == Some("new"));
    let saved = sim.saved_card(form.alias.as_deref()).filter(|_| !another_card);
    let card_form = match &saved {
        Some(card) => CardForm::Saved(&card.facts),
        None => CardForm::New,
    };
    card_page(&sim, &session, &form, card_form, None, StatusCode::OK)
}

/// `POST /simulator/cmcic/{session}/pay`: the buyer pays.
async fn pay(
    sim: web::Data<CmcicSimulator>,
    session: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(form) = sim.session(&session) else {
        return expired_page(&sim);
    };
    let w = words::words(form.language);
    let input = FormFields::parse(&body);
    let typed = |name: &str| input.text(name).unwrap_or_default();
    let saved = sim.saved_card(form.alias.as_deref());
    let use_saved = typed("saved") == "1";

    // What the buyer typed is unusable: the same form again, with the reason.
    let refused = |page: CardForm<'_>, e: CardError| {
        card_page(
            &sim,
            &session,
            &form,
            page,
            Some(w.error(e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let card = match (use_saved, saved) {
        (true, Some(mut saved)) => {
            let typed_cvv = match CvvDigest::of(&typed("cvv"), &sim.card_hash_key) {
                Ok(cvv) => cvv,
                Err(e) => return refused(CardForm::Saved(&saved.facts), e),
            };
            // As at the bank: the saved card is paid only with its own security code; another one declines.
            if !saved.cvv.matches(&typed_cvv) {
                saved.facts.behaviour = CardBehaviour::Declined;
            }
            saved
        }
        // A saved card that is gone (or a forged `saved`) falls back to the full form.
        (true, None) | (false, _) => match read_new_card(&typed, &sim.card_hash_key) {
            Ok(card) => card,
            Err(e) => return refused(CardForm::New, e),
        },
    };
    let Some(form) = sim.close_session(&session) else {
        return expired_page(&sim);
    };
    let accepted = card.facts.behaviour.accepted();
    let card_saved = form.alias.as_deref().map(|alias| {
        if use_saved {
            true
        } else {
            let remember = typed("remember") == "1";
            accepted && remember && sim.save_card(alias, card.clone())
        }
    });
    let ip_client = request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let authorisation = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let fields = bank_return::fields(&Attempt {
        form: &form,
        card: &card.facts,
        vld: &card.vld,
        ip_client: &ip_client,
        test_server: sim.gateway.config().mode() == payment_buttons::cmcic::config::CmcicMode::Test,
        card_saved,
        authorisation: &authorisation,
        at: chrono::Utc::now(),
    });
    let body = sim.gateway.sealed_return_body(fields);
    let next = if accepted { &form.url_ok } else { &form.url_err };
    match sim.notify(body).await {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next.as_str()))
            .finish(),
        Err(problem) => {
            tracing::warn!(
                gateway = NAME,
                reference = %form.reference,
                notify_url = %sim.notify_url,
                problem = %problem,
                "simulator: the merchant did not acknowledge the return with version=2 cdr=0"
            );
            let mut ctx = pages::context(form.language, true);
            ctx.insert("w", w);
            ctx.insert("answer", &problem);
            ctx.insert("next_url", next);
            pages::render(
                &sim.templates,
                "simulator/cmcic_notify_failed.html",
                &ctx,
                StatusCode::BAD_GATEWAY,
            )
        }
    }
}

/// Reads a typed card: number, expiry date and security code. The full number does not outlive this call.
fn read_new_card(typed: &impl Fn(&str) -> String, hash_key: &UsableKey) -> Result<SavedCard, CardError> {
    let number = CardNumber::parse(&typed("card_number"))?;
    let expiry = Expiry::parse(&typed("expiry"), chrono::Utc::now().date_naive())?;
    let cvv = CvvDigest::of(&typed("cvv"), hash_key)?;
    Ok(SavedCard {
        facts: CardFacts::of(&number, hash_key),
        vld: expiry.vld(),
        cvv,
    })
}

fn card_page(
    sim: &CmcicSimulator,
    session: &str,
    form: &PaymentForm,
    card_form: CardForm<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let w: &Words = words::words(form.language);
    let mut ctx = pages::context(form.language, true);
    ctx.insert("w", w);
    ctx.insert("test_cards", &w.test_cards_hint());
    ctx.insert("merchant", &form.societe);
    ctx.insert("amount", &i18n::price(&form.amount, None, form.language));
    ctx.insert("reference", &form.reference);
    ctx.insert("pay_url", &format!("{}/{session}/pay", sim.pages_url));
    ctx.insert("other_card_url", &format!("{}/{session}?card=new", sim.pages_url));
    ctx.insert("error", &error);
    match card_form {
        CardForm::Saved(card) => ctx.insert("saved_card", card.last_four()),
        CardForm::New => ctx.insert("saved_card", &None::<&str>),
    }
    ctx.insert("offer_remember", &form.alias.is_some());
    pages::render(&sim.templates, "simulator/cmcic.html", &ctx, status)
}

fn error_page(sim: &CmcicSimulator, status: StatusCode, language: &str, title: &str, reason: &str) -> HttpResponse {
    pages::error(&sim.templates, status, language, true, title, reason)
}

fn expired_page(sim: &CmcicSimulator) -> HttpResponse {
    // The session held the language; without it, English.
    let w = words::words("en");
    error_page(sim, StatusCode::NOT_FOUND, "en", w.expired_title, w.expired)
}
