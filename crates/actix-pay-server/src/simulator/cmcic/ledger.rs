//! What the simulated bank remembers: payment forms waiting for the buyer, and cards saved for Express
//! Payment under their alias (never a full card number). All in memory and bounded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use payment_buttons::money::Money;
use rand::Rng;

use super::cards::{CardFacts, CvvDigest};
use super::checkout::PaymentForm;

/// How long a payment session can wait for the buyer.
const SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// Bounds on what memory holds, so that a flood of forms cannot exhaust it.
const MAX_SESSIONS: usize = 10_000;
const MAX_SAVED_CARDS: usize = 10_000;
const MAX_SETTLED: usize = 10_000;

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

/// An accepted payment, as the bank keeps it for refunds ("recrédit").
#[derive(Debug, Clone)]
pub struct Settled {
    /// `TPE`.
    pub tpe: String,
    /// `reference`: the merchant's order.
    pub reference: String,
    /// The amount paid.
    pub amount: Money,
    /// `numauto`: the authorisation number.
    pub numauto: String,
    /// The order's day (`dd/mm/yyyy`), from the payment form's `date`.
    pub date_commande: String,
    /// The remittance day (`dd/mm/yyyy`): immediate capture, so the day of the authorisation.
    pub date_remise: String,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// The refunds made, in order.
    pub refunds: Vec<Recredit>,
}

impl Settled {
    /// What was refunded so far.
    pub fn refunded(&self) -> Money {
        let zero = Money::from_minor(0, self.amount.currency());
        self.refunds
            .iter()
            .fold(zero, |sum, r| sum.checked_add(r.amount).unwrap_or(sum))
    }

    /// What is left to refund.
    pub fn left(&self) -> Money {
        self.amount
            .checked_sub(self.refunded())
            .unwrap_or(Money::from_minor(0, self.amount.currency()))
    }
}

/// One refund made by the bank.
#[derive(Debug, Clone)]
pub struct Recredit {
    /// How much.
    pub amount: Money,
    /// When.
    pub at: DateTime<Utc>,
    /// The merchant's `texte-libre` (our refund id).
    pub texte_libre: String,
}

/// The sessions, the saved cards and the accepted payments.
#[derive(Default)]
pub struct Ledger {
    sessions: HashMap<String, Session>,
    saved_cards: HashMap<String, SavedCard>,
    settled: Vec<Settled>,
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

    /// Records an accepted payment; the oldest is forgotten when memory is full.
    pub fn settle(&mut self, payment: Settled) {
        if self.settled.len() >= MAX_SETTLED {
            self.settled.remove(0);
        }
        self.settled.push(payment);
    }

    /// The accepted payment of order `reference` at terminal `tpe`.
    pub fn settled_mut(&mut self, tpe: &str, reference: &str) -> Option<&mut Settled> {
        self.settled
            .iter_mut()
            .rev()
            .find(|p| p.tpe == tpe && p.reference == reference)
    }

    /// The accepted payments, newest first.
    pub fn settled(&self) -> impl Iterator<Item = &Settled> {
        self.settled.iter().rev()
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
