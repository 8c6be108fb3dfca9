//! What the simulated bank does: take a sealed payment form, and decide a payment when the buyer pays,
//! then tell the merchant with a sealed return (see [`delivery`](super::delivery)).

use payment_buttons::cmcic::NAME;
use payment_buttons::cmcic::config::CmcicMode;
use payment_buttons::cmcic::key::UsableKey;
use payment_buttons::urlencoded::FormFields;
use rand::Rng;

use super::CmcicSimulator;
use super::cards::{CardBehaviour, CardError, CardFacts, CardNumber, CvvDigest, Expiry};
use super::checkout::{FormError, PaymentForm};
use super::ledger::SavedCard;
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
        let fields = messages::fields(&Attempt {
            form: &form,
            card: &card.facts,
            vld: &card.vld,
            ip_client: &ip_client,
            test_server: self.gateway.config().mode() == CmcicMode::Test,
            card_saved,
            authorisation: &authorisation,
            at: chrono::Utc::now(),
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
