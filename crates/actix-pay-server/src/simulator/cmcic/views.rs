//! The simulated bank's pages: the card form, the page shown when the merchant did not acknowledge a
//! return, and errors.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use payment_buttons::i18n;

use super::CmcicSimulator;
use super::cards::CardFacts;
use super::checkout::PaymentForm;
use super::words::{Words, words};
use crate::pages;

const CARD_TEMPLATE: &str = "simulator/cmcic.html";
const NOT_ACKNOWLEDGED_TEMPLATE: &str = "simulator/cmcic_notify_failed.html";
const PAYMENTS_TEMPLATE: &str = "simulator/cmcic_payments.html";

/// Which card form to show.
pub enum CardForm<'a> {
    /// Only the security code of the card saved under the alias.
    Saved(&'a CardFacts),
    /// The full form.
    New,
}

impl<'a> CardForm<'a> {
    /// The saved card's form when there is one, else the full form.
    pub fn of(saved: Option<&'a CardFacts>) -> Self {
        match saved {
            Some(card) => CardForm::Saved(card),
            None => CardForm::New,
        }
    }
}

/// The card page of `form`, waiting under `session`, with `error` about what was typed.
pub fn card_page(
    sim: &CmcicSimulator,
    session: &str,
    form: &PaymentForm,
    card_form: CardForm<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let w: &Words = words(form.language);
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
    pages::render(&sim.templates, CARD_TEMPLATE, &ctx, status)
}

/// The page shown when the merchant did not acknowledge the return: what came back, and the link on.
pub fn not_acknowledged_page(sim: &CmcicSimulator, form: &PaymentForm, next: &str, answer: &str) -> HttpResponse {
    let mut ctx = pages::context(form.language, true);
    ctx.insert("w", words(form.language));
    ctx.insert("answer", answer);
    ctx.insert("next_url", next);
    pages::render(&sim.templates, NOT_ACKNOWLEDGED_TEMPLATE, &ctx, StatusCode::BAD_GATEWAY)
}

/// An error page.
pub fn error_page(sim: &CmcicSimulator, status: StatusCode, language: &str, title: &str, reason: &str) -> HttpResponse {
    pages::error(&sim.templates, status, language, true, title, reason)
}

/// The page of a session that is unknown, expired or already paid.
pub fn expired_page(sim: &CmcicSimulator) -> HttpResponse {
    // The session held the language; without it, English.
    let w = words("en");
    error_page(sim, StatusCode::NOT_FOUND, "en", w.expired_title, w.expired)
}

/// One accepted payment on the payments page.
#[derive(serde::Serialize)]
struct PaymentRow {
    reference: String,
    amount: String,
    numauto: String,
    paid_at: String,
    refunded: String,
    left: String,
    refunds: Vec<RefundRow>,
}

/// One refund on the payments page.
#[derive(serde::Serialize)]
struct RefundRow {
    amount: String,
    at: String,
    texte_libre: String,
}

/// The accepted payments, newest first, with their refunds. In English: the simulator's own pages are for
/// the developer, not the buyer.
pub fn payments_page(sim: &CmcicSimulator) -> HttpResponse {
    let money = |m: &payment_buttons::money::Money| format!("{m} {}", m.currency().code());
    let rows: Vec<PaymentRow> = sim
        .ledger()
        .settled()
        .map(|p| PaymentRow {
            reference: p.reference.clone(),
            amount: money(&p.amount),
            numauto: p.numauto.clone(),
            paid_at: p.paid_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            refunded: money(&p.refunded()),
            left: money(&p.left()),
            refunds: p
                .refunds
                .iter()
                .map(|r| RefundRow {
                    amount: money(&r.amount),
                    at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    texte_libre: r.texte_libre.clone(),
                })
                .collect(),
        })
        .collect();
    let mut ctx = pages::context("en", true);
    ctx.insert("payments", &rows);
    pages::render(&sim.templates, PAYMENTS_TEMPLATE, &ctx, StatusCode::OK)
}
