//! What a genuine return ("CGI2") says about a payment: `code-retour` and the [`Notification`] it maps to.

use serde_json::{Map, Value};

use super::config::{CmcicConfig, CmcicMode};
use super::fraud;
use super::mac::{self, Protocol};
use super::message::{mask_card, parse_montant};
use super::refund;
use crate::notification::{Flag, Notification, Outcome, Target};
use crate::urlencoded::FormFields;

/// Return fields copied into a notification's details when present and not empty. Card data here is
/// masked (`cbmasquee`), hashed (`hpancb`) or partial (`bincb`): the bank never sends a full number.
const DETAIL_FIELDS: [&str; 18] = [
    "brand",
    "cbmasquee",
    "cbenregistree",
    "bincb",
    "hpancb",
    "originecb",
    "motifrefus",
    "motifrefusautorisation",
    "ipclient",
    "originetr",
    "veres",
    "pares",
    "status3ds",
    "modepaiement",
    "typecompte",
    "ecard",
    "montantech",
    "filtrage_etat",
];

/// What `code-retour` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeRetour {
    /// `paiement`: accepted.
    Paiement,
    /// `payetest`: accepted on the bank's test server.
    PayeTest,
    /// `Annulation`: refused (by the bank, 3-D Secure, or fraud prevention); the bank may still accept the
    /// same payment later, if the buyer tries again.
    Annulation,
    /// `paiement_pfN`: instalment `N` accepted.
    PaiementInstalment(u32),
    /// `Annulation_pfN`: instalment `N` refused.
    AnnulationInstalment(u32),
}

impl CodeRetour {
    /// Reads `code-retour`; `None` for a value this library does not know.
    pub fn parse(code: &str) -> Option<Self> {
        let instalment = |rest: &str| rest.parse::<u32>().ok().filter(|n| *n >= 1);
        match code {
            "paiement" => Some(CodeRetour::Paiement),
            "payetest" => Some(CodeRetour::PayeTest),
            "Annulation" => Some(CodeRetour::Annulation),
            _ => {
                if let Some(rest) = code.strip_prefix("paiement_pf") {
                    instalment(rest).map(CodeRetour::PaiementInstalment)
                } else if let Some(rest) = code.strip_prefix("Annulation_pf") {
                    instalment(rest).map(CodeRetour::AnnulationInstalment)
                } else {
                    None
                }
            }
        }
    }

    /// What it means for the payment.
    pub fn outcome(&self) -> Outcome {
        match self {
            CodeRetour::Paiement | CodeRetour::PayeTest | CodeRetour::PaiementInstalment(_) => Outcome::Accepted,
            CodeRetour::Annulation | CodeRetour::AnnulationInstalment(_) => Outcome::Declined,
        }
    }
}

/// Turns a return whose seal is valid into a [`Notification`]. Never fails: what is missing or odd
/// becomes a flag.
pub fn notification(config: &CmcicConfig, form: &FormFields) -> Notification {
    let mut flags = Vec::new();
    let mut details = Map::new();

    let code_text = form.text("code-retour").unwrap_or_default();
    let code = CodeRetour::parse(&code_text);
    if code.is_none() {
        flags.push(Flag::UnknownStatus);
    }
    let test = code == Some(CodeRetour::PayeTest);
    if test && config.mode() == CmcicMode::Production {
        flags.push(Flag::TestInLive);
    }

    let reference = form.non_empty("reference").map(str::to_owned);
    if reference.is_none() {
        flags.push(Flag::MalformedField);
    }
    let amount = form.non_empty("montant").and_then(parse_montant);
    if amount.is_none() {
        flags.push(Flag::MalformedField);
    }
    if form.has_repeated_names() {
        flags.push(Flag::MalformedField);
    }
    flags.dedup();

    details.insert("code_retour".into(), Value::String(code_text.clone()));
    if code.map(|c| c.outcome()) == Some(Outcome::Accepted) {
        // What a refund ("recrédit") must quote beside the authorisation number (the gateway reference):
        // the remittance day, which with immediate capture is the day of the authorisation (see `refund`).
        if let Some(day) = form.non_empty("date").and_then(refund::remittance_day) {
            details.insert(refund::DATE_REMISE_DETAIL.into(), Value::String(day));
        }
    }
    if let Some(CodeRetour::PaiementInstalment(n) | CodeRetour::AnnulationInstalment(n)) = code {
        details.insert("instalment".into(), Value::from(n));
    }
    for name in DETAIL_FIELDS {
        if let Some(value) = form.text(name).filter(|v| !v.is_empty()) {
            let value = if name == "cbmasquee" { mask_card(&value) } else { value };
            details.insert(name.into(), Value::String(value));
        }
    }
    let causes = fraud::parse(
        form.text("filtragecause").as_deref(),
        form.text("filtragevaleur").as_deref(),
        form.text("filtrage_etat").as_deref(),
    );
    if !causes.is_empty() {
        details.insert("fraud".into(), serde_json::to_value(&causes).unwrap_or(Value::Null));
    }
    if config.protocol() == Protocol::Legacy {
        // The legacy seal does not cover fraud or express-payment fields: say which facts are unsealed.
        let unsealed: Vec<Value> = form
            .pairs()
            .iter()
            .filter(|(name, _)| !mac::legacy_return_covers(name))
            .map(|(name, _)| Value::String(String::from_utf8_lossy(name).into_owned()))
            .collect();
        if !unsealed.is_empty() {
            details.insert("unsealed_fields".into(), Value::Array(unsealed));
        }
    }

    let summary = match form.text("motifrefus").filter(|m| !m.is_empty()) {
        Some(motif) => format!("{code_text} ({motif})"),
        None => code_text.clone(),
    };
    Notification {
        idempotency_key: format!("{}:{code_text}", reference.as_deref().unwrap_or_default()),
        payment_ref: reference,
        target: Target::Payment,
        outcome: code.map(|c| c.outcome()),
        gateway_reference: form.non_empty("numauto").map(str::to_owned),
        subscription: None,
        amount,
        receiver: form.non_empty("TPE").map(str::to_owned),
        test,
        details,
        flags,
        summary: summary.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instalment_codes_carry_their_number() {
        assert_eq!(
            CodeRetour::parse("Annulation_pf3"),
            Some(CodeRetour::AnnulationInstalment(3))
        );
        assert_eq!(CodeRetour::parse("paiement_pf"), None);
        assert_eq!(CodeRetour::parse("paiement_pf0"), None);
        assert_eq!(CodeRetour::AnnulationInstalment(3).outcome(), Outcome::Declined);
        assert_eq!(CodeRetour::PayeTest.outcome(), Outcome::Accepted);
    }

    #[test]
    fn code_retour_is_read_case_sensitively_with_instalments() {
        use super::CodeRetour;
        assert_eq!(
            CodeRetour::parse("paiement_pf2"),
            Some(CodeRetour::PaiementInstalment(2))
        );
        assert_eq!(CodeRetour::parse("Annulation"), Some(CodeRetour::Annulation));
        assert_eq!(CodeRetour::parse("annulation"), None);
    }
}
