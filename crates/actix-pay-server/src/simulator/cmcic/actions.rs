//! What the simulated bank does: take a sealed payment form, and decide a payment when the buyer pays,
//! then tell the merchant with a sealed return (see [`delivery`](super::delivery)).

use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator::{VERSION, parse_montant, recredit_seal_matches};
use payment_buttons::cmcic::{CmcicMode, NAME};
use payment_buttons::urlencoded::FormFields;
use rand::Rng;

use super::CmcicSimulator;
use super::cards::{CardBehaviour, CardError, CardFacts, CardNumber, CvvDigest, Expiry};
use super::checkout::{FormError, PaymentForm};
use super::ledger::{Recredit, SavedCard, Settled};
use super::messages::{self, Attempt};

/// Why a payment form was not taken.
pub enum Refused {
    /// Its seal does not match the merchant's key.
    Seal,
    /// It is sealed but cannot be paid.
    Form(FormError),
    /// Memory holds as many waiting forms as it may.
    Busy,
}

/// A payment form waiting for the buyer.
pub struct Opened {
    /// The session id in the card page's URLs.
    pub session: String,
    /// The form.
    pub form: PaymentForm,
    /// The card saved under the form's alias, when there is one.
    pub saved: Option<CardFacts>,
}

/// What became of the buyer's "Pay".
pub enum Payment {
    /// The session is unknown, expired or already paid.
    Expired,
    /// What the buyer typed is unusable: the same form again, with the reason.
    Unusable {
        /// The form.
        form: PaymentForm,
        /// The saved card whose security code was asked, or `None` for the full card form.
        saved: Option<CardFacts>,
        /// What is wrong.
        error: CardError,
    },
    /// The bank decided and the merchant acknowledged the return: the buyer goes on to `next`.
    Acknowledged {
        /// `url_retour_ok` or `url_retour_err`.
        next: String,
    },
    /// The bank decided but the merchant did not acknowledge the return.
    NotAcknowledged {
        /// The form.
        form: PaymentForm,
        /// Where the buyer would have gone.
        next: String,
        /// What came back instead.
        answer: String,
    },
}

impl CmcicSimulator {
    /// Takes the fields a merchant's page posted: a session when the seal is the merchant's and the form
    /// can be paid.
    pub(super) fn open_checkout(&self, fields: &[(String, String)]) -> Result<Opened, Refused> {
        if !self.gateway.request_seal_matches(fields) {
            tracing::info!(gateway = NAME, "simulator: payment form refused, its seal is invalid");
            return Err(Refused::Seal);
        }
        let form = PaymentForm::read(fields, self.gateway.config()).map_err(|e| {
            tracing::info!(gateway = NAME, error = %e, "simulator: payment form refused");
            Refused::Form(e)
        })?;
        let mut ledger = self.ledger();
        let saved = ledger.saved_card(form.alias.as_deref()).map(|card| card.facts);
        let session = ledger.open_session(form.clone()).ok_or(Refused::Busy)?;
        Ok(Opened { session, form, saved })
    }

    /// The form waiting under `session`, with the card saved under its alias unless the buyer asked to type
    /// `another_card`.
    pub(super) fn waiting(&self, session: &str, another_card: bool) -> Option<(PaymentForm, Option<CardFacts>)> {
        let ledger = self.ledger();
        let form = ledger.session(session)?;
        let saved = ledger
            .saved_card(form.alias.as_deref())
            .filter(|_| !another_card)
            .map(|card| card.facts);
        Some((form, saved))
    }

    /// The buyer pays the form under `session` with what they typed (`input`), from `ip_client`: the bank
    /// decides from the card, saves it when asked, and posts the sealed return to the merchant.
    pub(super) async fn pay(&self, session: &str, input: &FormFields, ip_client: String) -> Payment {
        let Some(form) = self.ledger().session(session) else {
            return Payment::Expired;
        };
        let typed = |name: &str| input.text(name).unwrap_or_default();
        let saved = self.ledger().saved_card(form.alias.as_deref());
        let use_saved = typed("saved") == "1";
        let card = match (use_saved, saved) {
            (true, Some(mut saved)) => {
                let typed_cvv = match CvvDigest::of(&typed("cvv"), &self.card_hash_key) {
                    Ok(cvv) => cvv,
                    Err(error) => {
                        let saved = Some(saved.facts);
                        return Payment::Unusable { form, saved, error };
                    }
                };
                // As at the bank: the saved card is paid only with its own security code; another one declines.
                if !saved.cvv.matches(&typed_cvv) {
                    saved.facts.behaviour = CardBehaviour::Declined;
                }
                saved
            }
            // A saved card that is gone (or a forged `saved`) falls back to the full form.
            (true, None) | (false, _) => match read_new_card(&typed, &self.card_hash_key) {
                Ok(card) => card,
                Err(error) => {
                    return Payment::Unusable {
                        form,
                        saved: None,
                        error,
                    };
                }
            },
        };
        let Some(form) = self.ledger().close_session(session) else {
            return Payment::Expired;
        };
        let accepted = card.facts.behaviour.accepted();
        let card_saved = form.alias.as_deref().map(|alias| {
            if use_saved {
                true
            } else {
                let remember = typed("remember") == "1";
                accepted && remember && self.ledger().save_card(alias, card.clone())
            }
        });
        let authorisation = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
        let at = chrono::Utc::now();
        if accepted {
            // Kept for refunds; immediate capture, so remitted the day it is authorised.
            self.ledger().settle(Settled {
                tpe: form.tpe.clone(),
                reference: form.reference.clone(),
                amount: form.amount,
                numauto: authorisation.clone(),
                date_commande: form.order_day.clone(),
                date_remise: at.format("%d/%m/%Y").to_string(),
                paid_at: at,
                refunds: Vec::new(),
            });
        }
        let fields = messages::fields(&Attempt {
            form: &form,
            card: &card.facts,
            vld: &card.vld,
            ip_client: &ip_client,
            test_server: self.gateway.config().mode() == CmcicMode::Test,
            card_saved,
            authorisation: &authorisation,
            at,
        });
        let body = self.gateway.sealed_return_body(fields);
        let next = if accepted {
            form.url_ok.clone()
        } else {
            form.url_err.clone()
        };
        match self.send(body).await {
            Ok(()) => Payment::Acknowledged { next },
            Err(answer) => {
                tracing::warn!(
                    gateway = NAME,
                    reference = %form.reference,
                    notify_url = %self.notify_url,
                    problem = %answer,
                    "simulator: the merchant did not acknowledge the return with version=2 cdr=0"
                );
                Payment::NotAcknowledged { form, next, answer }
            }
        }
    }
}

/// What the simulated bank answers a refund ("recrédit"): its `cdr` and `lib`. The negative codes are the
/// simulator's own reading of the bank's refusals (see `docs/cmcic.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecreditAnswer {
    /// `cdr=0`: refunded.
    Done,
    /// `cdr=-1`: the seal does not match the merchant's key.
    BadSeal,
    /// `cdr=-2`: a field is missing or malformed, or names another terminal.
    BadField,
    /// `cdr=-3`: no accepted payment matches the order, authorisation number and dates.
    UnknownOrder,
    /// `cdr=-46`: the order is already refunded in full.
    NothingLeft,
    /// `cdr=-48`: more than what is left.
    TooMuch,
    /// `cdr=-52`: `montant_possible` is not what is left.
    WrongPossible,
}

impl RecreditAnswer {
    /// `cdr`.
    pub fn cdr(self) -> i32 {
        match self {
            RecreditAnswer::Done => 0,
            RecreditAnswer::BadSeal => -1,
            RecreditAnswer::BadField => -2,
            RecreditAnswer::UnknownOrder => -3,
            RecreditAnswer::NothingLeft => -46,
            RecreditAnswer::TooMuch => -48,
            RecreditAnswer::WrongPossible => -52,
        }
    }

    /// `lib`, as the bank writes it (ASCII French).
    pub fn lib(self) -> &'static str {
        match self {
            RecreditAnswer::Done => "recredit effectue",
            RecreditAnswer::BadSeal => "commande non authentifiee",
            RecreditAnswer::BadField => "parametres manquants ou invalides",
            RecreditAnswer::UnknownOrder => "commande inconnue",
            RecreditAnswer::NothingLeft => "commande deja entierement recreditee",
            RecreditAnswer::TooMuch => "montant de recredit superieur au montant possible",
            RecreditAnswer::WrongPossible => "montant possible incorrect",
        }
    }
}

impl CmcicSimulator {
    /// A merchant's refund ("recrédit"): checked as the bank checks it (seal, terminal, the order's
    /// authorisation and dates, what is left), then recorded. One lock from check to record, so that two
    /// refunds at once cannot both take what is left.
    pub(super) fn recredit(&self, form: &FormFields) -> RecreditAnswer {
        if !recredit_seal_matches(self.gateway.config(), form) {
            tracing::info!(gateway = NAME, "simulator: recredit refused, its seal is invalid");
            return RecreditAnswer::BadSeal;
        }
        let text = |name: &str| form.non_empty(name);
        let (Some(tpe), Some(reference), Some(numauto), Some(date_commande), Some(date_remise)) = (
            text("TPE"),
            text("reference"),
            text("num_autorisation"),
            text("date_commande"),
            text("date_remise"),
        ) else {
            return RecreditAnswer::BadField;
        };
        let amount = |name: &str| text(name).and_then(parse_montant);
        let (Some(montant), Some(recredit), Some(possible)) = (
            amount("montant"),
            amount("montant_recredit"),
            amount("montant_possible"),
        ) else {
            return RecreditAnswer::BadField;
        };
        if tpe != self.gateway.config().tpe() || text("version") != Some(VERSION) {
            return RecreditAnswer::BadField;
        }
        let mut ledger = self.ledger();
        let Some(payment) = ledger.settled_mut(tpe, reference).filter(|p| {
            p.numauto == numauto
                && p.date_commande == date_commande
                && p.date_remise == date_remise
                && p.amount == montant
        }) else {
            return RecreditAnswer::UnknownOrder;
        };
        let left = payment.left();
        if !left.is_positive() {
            return RecreditAnswer::NothingLeft;
        }
        if possible != left {
            return RecreditAnswer::WrongPossible;
        }
        if recredit.currency() != left.currency() || !recredit.is_positive() {
            return RecreditAnswer::BadField;
        }
        if recredit.minor_units() > left.minor_units() {
            return RecreditAnswer::TooMuch;
        }
        payment.refunds.push(Recredit {
            amount: recredit,
            at: chrono::Utc::now(),
            texte_libre: form.text("texte-libre").unwrap_or_default(),
        });
        RecreditAnswer::Done
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
