//! The words of the simulated bank's pages, in English and French.

use serde::Serialize;

use super::cards::{CardBehaviour, CardError, TEST_CARDS};

/// Labels of the payment pages.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Words {
    /// Page title.
    pub title: &'static str,
    /// "Merchant".
    pub merchant: &'static str,
    /// "Amount".
    pub amount: &'static str,
    /// "Reference".
    pub reference: &'static str,
    /// Card number label.
    pub card_number: &'static str,
    /// Expiry date label.
    pub expiry: &'static str,
    /// Security code label.
    pub cvv: &'static str,
    /// The Express Payment checkbox.
    pub remember: &'static str,
    /// The submit button.
    pub pay: &'static str,
    /// Heading of the saved-card form.
    pub saved_card: &'static str,
    /// Link to type another card instead of the saved one.
    pub other_card: &'static str,
    /// Heading of the test-card hint.
    pub test_cards: &'static str,
    /// Column: what the card does.
    pub outcome: &'static str,
    /// Heading of the page shown when the merchant did not acknowledge the return.
    pub notify_failed_title: &'static str,
    /// What that page says.
    pub notify_failed: &'static str,
    /// Its link to carry on.
    pub continue_label: &'static str,
    /// Title of the page refusing a payment form.
    pub refused_title: &'static str,
    /// What the bank says about a payment form whose seal is wrong (and nothing more).
    pub seal_invalid: &'static str,
    /// Title of the page for an unknown or used payment session.
    pub expired_title: &'static str,
    /// What that page says.
    pub expired: &'static str,
    /// What the page says when too many payments are in progress.
    pub busy: &'static str,
    behaviours: [&'static str; 4],
    errors: [&'static str; 4],
}

const EN: Words = Words {
    title: "Card payment",
    merchant: "Merchant",
    amount: "Amount",
    reference: "Reference",
    card_number: "Card number",
    expiry: "Expiry date (MM/YY)",
    cvv: "Security code (3 digits on the back of the card)",
    remember: "Remember this card for my next purchases",
    pay: "Pay",
    saved_card: "Pay with your saved card",
    other_card: "Use another card",
    test_cards: "Test cards of the simulator (any expiry date not yet past, any 3-digit code)",
    outcome: "Outcome",
    notify_failed_title: "The shop did not confirm the payment notification",
    notify_failed: "The bank told the shop's server about this payment, but the server did not answer \"version=2 cdr=0\" as the protocol requires. The shop may not know the outcome yet. Its answer was:",
    continue_label: "Back to the shop",
    refused_title: "Payment request refused",
    seal_invalid: "The seal is invalid.",
    expired_title: "Payment session not found",
    expired: "This payment session has expired or was already used. Go back to the shop and start the payment again.",
    busy: "Too many payments are in progress. Please try again in a moment.",
    behaviours: [
        "accepted",
        "declined by the card issuer",
        "refused by two fraud filters (card country, card country vs IP country)",
        "accepted; a fraud filter (card BIN) reports in information mode",
    ],
    errors: [
        "Enter the card number: 12 to 19 digits.",
        "Enter the expiry date as MM/YY, for example 12/30.",
        "This card has expired: use a card whose expiry date is this month or later.",
        "Enter the 3-digit security code printed on the back of the card.",
    ],
};

const FR: Words = Words {
    title: "Paiement par carte",
    merchant: "Commerçant",
    amount: "Montant",
    reference: "Référence",
    card_number: "Numéro de carte",
    expiry: "Date d'expiration (MM/AA)",
    cvv: "Cryptogramme visuel (3 chiffres au dos de la carte)",
    remember: "Enregistrer cette carte pour mes prochains achats",
    pay: "Payer",
    saved_card: "Payer avec votre carte enregistrée",
    other_card: "Utiliser une autre carte",
    test_cards: "Cartes de test du simulateur (toute date d'expiration non dépassée, tout code à 3 chiffres)",
    outcome: "Résultat",
    notify_failed_title: "La boutique n'a pas confirmé la notification de paiement",
    notify_failed: "La banque a informé le serveur de la boutique de ce paiement, mais celui-ci n'a pas répondu « version=2 cdr=0 » comme le protocole l'exige. La boutique ne connaît peut-être pas encore le résultat. Sa réponse :",
    continue_label: "Retour à la boutique",
    refused_title: "Demande de paiement refusée",
    seal_invalid: "Le sceau est invalide.",
    expired_title: "Session de paiement introuvable",
    expired: "Cette session de paiement a expiré ou a déjà servi. Revenez à la boutique et recommencez le paiement.",
    busy: "Trop de paiements sont en cours. Veuillez réessayer dans un instant.",
    behaviours: [
        "accepté",
        "refusé par la banque de la carte",
        "refusé par deux filtres anti-fraude (pays de la carte, pays de la carte et pays de l'IP)",
        "accepté ; un filtre anti-fraude (BIN de la carte) signale en mode information",
    ],
    errors: [
        "Saisissez le numéro de carte : 12 à 19 chiffres.",
        "Saisissez la date d'expiration au format MM/AA, par exemple 12/30.",
        "Cette carte a expiré : utilisez une carte qui expire ce mois-ci ou plus tard.",
        "Saisissez le cryptogramme visuel de 3 chiffres imprimé au dos de la carte.",
    ],
};

/// The words for a page language (`fr` or `en`).
pub fn words(language: &str) -> &'static Words {
    if language == "fr" { &FR } else { &EN }
}

impl Words {
    /// What to tell the buyer about a card error.
    pub fn error(&self, error: CardError) -> &'static str {
        self.errors[match error {
            CardError::Number => 0,
            CardError::Expiry => 1,
            CardError::Expired => 2,
            CardError::Cvv => 3,
        }]
    }

    /// What a test card does, in words.
    pub fn behaviour(&self, behaviour: CardBehaviour) -> &'static str {
        self.behaviours[match behaviour {
            CardBehaviour::Accepted => 0,
            CardBehaviour::Declined => 1,
            CardBehaviour::FraudRefused => 2,
            CardBehaviour::FraudInformation => 3,
        }]
    }

    /// The test-card hint: each documented card and what it does.
    pub fn test_cards_hint(&self) -> Vec<TestCardHint> {
        TEST_CARDS
            .iter()
            .map(|(number, behaviour)| TestCardHint {
                number,
                outcome: self.behaviour(*behaviour),
            })
            .collect()
    }
}

/// One line of the test-card hint.
#[derive(Debug, Clone, Serialize)]
pub struct TestCardHint {
    /// The number as printed.
    pub number: &'static str,
    /// What it does.
    pub outcome: &'static str,
}
