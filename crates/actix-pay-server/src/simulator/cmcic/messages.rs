//! The return the simulated bank posts to `/notify/cmcic`: the fields a real bank sends, before sealing.

use chrono::{DateTime, Utc};
use payment_buttons::urlencoded::FormFields;

use super::cards::{CardBehaviour, CardFacts};
use super::checkout::PaymentForm;

/// The fraud filters that block [`CardBehaviour::FraudRefused`]: 4 (card country) and 6 (card country vs IP
/// country), with the values that fired them in the same order.
pub const FRAUD_REFUSED: (&str, &str) = ("4-6", "US-FR-US");

/// One simulated payment attempt.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The payment form.
    pub form: &'a PaymentForm,
    /// The card used.
    pub card: &'a CardFacts,
    /// `vld`: the card's expiry, `MMYY`.
    pub vld: &'a str,
    /// `ipclient`: the buyer's address as the bank saw it.
    pub ip_client: &'a str,
    /// True on the bank's test server, which answers `payetest` instead of `paiement`.
    pub test_server: bool,
    /// `cbenregistree` for an Express Payment form (`None` without `aliascb`): true when the card is saved
    /// under the alias.
    pub card_saved: Option<bool>,
    /// `numauto`, the authorisation number of an accepted payment.
    pub authorisation: &'a str,
    /// When the bank decided.
    pub at: DateTime<Utc>,
}

/// The return's fields, unsealed, in the order the bank posts them.
pub fn fields(attempt: &Attempt<'_>) -> FormFields {
    let behaviour = attempt.card.behaviour;
    let accepted = behaviour.accepted();
    let code_retour = match (accepted, attempt.test_server) {
        (true, true) => "payetest",
        (true, false) => "paiement",
        (false, _) => "Annulation",
    };
    let motifrefus = match behaviour {
        CardBehaviour::Accepted | CardBehaviour::FraudInformation => "",
        CardBehaviour::Declined => "Refus",
        CardBehaviour::FraudRefused => "filtrage",
    };
    let mut out = FormFields::new();
    let mut push = |name: &str, value: &str| out.push(name, value);
    push("TPE", &attempt.form.tpe);
    push("date", &attempt.at.format("%d/%m/%Y_a_%H:%M:%S").to_string());
    push("montant", &attempt.form.montant);
    push("reference", &attempt.form.reference);
    push("texte-libre", &attempt.form.texte_libre);
    push("code-retour", code_retour);
    push("cvx", "oui");
    push("vld", attempt.vld);
    push("brand", attempt.card.brand);
    // No 3-D Secure in the simulator: -1 says the payment was not authenticated, veres and pares stay empty.
    push("status3ds", "-1");
    push("numauto", if accepted { attempt.authorisation } else { "" });
    push("motifrefus", motifrefus);
    push("originecb", attempt.card.country);
    push("bincb", &attempt.card.bin);
    push("hpancb", &attempt.card.hashed);
    push("ipclient", attempt.ip_client);
    push("originetr", "FRA");
    push("veres", "");
    push("pares", "");
    push("modepaiement", "CB");
    match behaviour {
        CardBehaviour::FraudRefused => {
            push("filtragecause", FRAUD_REFUSED.0);
            push("filtragevaleur", FRAUD_REFUSED.1);
        }
        CardBehaviour::FraudInformation => {
            push("filtragecause", "3");
            push("filtragevaleur", &attempt.card.bin);
            push("filtrage_etat", "information");
        }
        CardBehaviour::Accepted | CardBehaviour::Declined => {}
    }
    if let Some(saved) = attempt.card_saved {
        push("cbenregistree", if saved { "1" } else { "0" });
    }
    push("cbmasquee", &attempt.card.masked);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::cmcic::cards::CardNumber;
    use payment_buttons::cmcic::UsableKey;

    fn form() -> PaymentForm {
        PaymentForm {
            tpe: "1234567".into(),
            montant: "12.50EUR".into(),
            amount: payment_buttons::money::Money::parse("12.50", "EUR").unwrap(),
            reference: "Xk3f9QpL2mZa".into(),
            texte_libre: "payment=Xk3f9QpL2mZa;order=ORDER-1".into(),
            order_day: "01/12/2026".into(),
            societe: "monSite1".into(),
            language: "en",
            alias: None,
            url_ok: "https://pay.example/ok".into(),
            url_err: "https://pay.example/err".into(),
        }
    }

    fn fields_for(number: &str, test_server: bool, card_saved: Option<bool>) -> FormFields {
        let key = UsableKey::from_merchant_key("00112233445566778899AABBCCDDEEFF00112233").unwrap();
        let card = CardFacts::of(&CardNumber::parse(number).unwrap(), &key);
        let form = form();
        fields(&Attempt {
            form: &form,
            card: &card,
            vld: "1228",
            ip_client: "192.0.2.10",
            test_server,
            card_saved,
            authorisation: "123456",
            at: chrono::DateTime::parse_from_rfc3339("2026-11-26T10:01:00Z")
                .unwrap()
                .to_utc(),
        })
    }

    #[test]
    fn an_accepted_payment_carries_the_authorisation_and_no_refusal() {
        let f = fields_for("4000000000000002", false, None);
        assert_eq!(f.get_str("code-retour"), Some("paiement"));
        assert_eq!(f.get_str("numauto"), Some("123456"));
        assert_eq!(f.get_str("motifrefus"), Some(""));
        assert_eq!(f.get_str("date"), Some("26/11/2026_a_10:01:00"));
        assert_eq!(f.get_str("cbmasquee"), Some("400000******0002"));
        assert_eq!(
            f.get("cbenregistree"),
            None,
            "no Express Payment field without an alias"
        );
        assert_eq!(f.get("filtragecause"), None);
        assert_eq!(
            fields_for("4000000000000002", true, None).get_str("code-retour"),
            Some("payetest")
        );
    }

    #[test]
    fn a_declined_payment_says_why_and_has_no_authorisation() {
        let f = fields_for("4000000000000010", true, Some(false));
        assert_eq!(f.get_str("code-retour"), Some("Annulation"));
        assert_eq!(f.get_str("motifrefus"), Some("Refus"));
        assert_eq!(f.get_str("numauto"), Some(""));
        assert_eq!(f.get_str("cbenregistree"), Some("0"));
    }

    #[test]
    fn fraud_cards_report_their_filters() {
        let refused = fields_for("4000000000000036", false, None);
        assert_eq!(refused.get_str("code-retour"), Some("Annulation"));
        assert_eq!(refused.get_str("motifrefus"), Some("filtrage"));
        assert_eq!(refused.get_str("filtragecause"), Some("4-6"));
        assert_eq!(refused.get_str("originecb"), Some("USA"));
        assert_eq!(refused.get("filtrage_etat"), None);
        let information = fields_for("4000000000000044", false, Some(true));
        assert_eq!(information.get_str("code-retour"), Some("paiement"));
        assert_eq!(information.get_str("filtragecause"), Some("3"));
        assert_eq!(information.get_str("filtragevaleur"), Some("400000"));
        assert_eq!(information.get_str("filtrage_etat"), Some("information"));
        assert_eq!(information.get_str("cbenregistree"), Some("1"));
    }
}
