//! What the simulated bank remembers: payment forms waiting for the buyer, and cards saved for Express
//! Payment under their alias (never a full card number). All in memory and bounded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

use super::cards::{CardFacts, CvvDigest};
use super::checkout::PaymentForm;

/// How long a payment session can wait for the buyer.
const SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// Bounds on what memory holds, so that a flood of forms cannot exhaust it.
const MAX_SESSIONS: usize = 10_000;
const MAX_SAVED_CARDS: usize = 10_000;

/// A payment form waiting for the buyer.
struct Session {
    form: PaymentForm,
    opened: Instant,
}

/// A card saved under an alias: what the bank reports about it, never its full number, and the digest of
/// the security code given when it was saved.
#[derive(Clone)]
pub struct SavedCard {
    /// What the bank reports about the card.
    pub facts: CardFacts,
    /// `vld`: its expiry, `MMYY`.
    pub vld: String,
    /// The digest of its security code.
    pub cvv: CvvDigest,
}

/// The sessions and the saved cards.
#[derive(Default)]
pub struct Ledger {
    sessions: HashMap<String, Session>,
    saved_cards: HashMap<String, SavedCard>,
}

impl Ledger {
    /// Keeps `form` waiting for the buyer; gives its session id, or `None` when memory is full.
    pub fn open_session(&mut self, form: PaymentForm) -> Option<String> {
        self.sessions.retain(|_, s| s.opened.elapsed() < SESSION_TTL);
        if self.sessions.len() >= MAX_SESSIONS {
            return None;
        }
        let id = hex::encode(rand::rng().random::<[u8; 16]>());
        self.sessions.insert(
            id.clone(),
            Session {
                form,
                opened: Instant::now(),
            },
        );
        Some(id)
    }

    /// The form waiting under `id`, unless it expired.
    pub fn session(&self, id: &str) -> Option<PaymentForm> {
        self.sessions
            .get(id)
            .filter(|s| s.opened.elapsed() < SESSION_TTL)
            .map(|s| s.form.clone())
    }

    /// Removes the session: a form can be paid once.
    pub fn close_session(&mut self, id: &str) -> Option<PaymentForm> {
        self.sessions
            .remove(id)
            .filter(|s| s.opened.elapsed() < SESSION_TTL)
            .map(|s| s.form)
    }

    /// The card saved under `alias`.
    pub fn saved_card(&self, alias: Option<&str>) -> Option<SavedCard> {
        alias.and_then(|alias| self.saved_cards.get(alias).cloned())
    }

    /// Saves `card` under `alias`; false when memory is full.
    pub fn save_card(&mut self, alias: &str, card: SavedCard) -> bool {
        if self.saved_cards.len() >= MAX_SAVED_CARDS && !self.saved_cards.contains_key(alias) {
            return false;
        }
        self.saved_cards.insert(alias.to_owned(), card);
        true
    }
}
