//! The bank's server-to-server return ("CGI2"): its seal, and what it says about a payment.

use serde_json::{Map, Value};

use super::config::{CmcicConfig, CmcicMode, VERSION};
use super::form::FormFields;
use super::fraud;
use super::mac::{self, MAC_FIELD, Protocol};
use crate::money::Money;
use crate::notification::{Flag, Notification, Outcome, Target};

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

/// The state of a return's seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealCheck {
    /// The `MAC` seals the fields: the message comes from the bank.
    Valid,
    /// There is no `MAC` field.
    Missing,
    /// The `MAC` does not seal these fields (forged, altered, or another key).
    Mismatch,
}

/// Fields that only our payment form carries, never the bank's return. The form the buyer's browser posts
/// to the bank is sealed with the same key and, in the current protocol, the same way (every field, sorted),
/// so a buyer could post it unchanged to `/notify/cmcic`: these fields tell it apart.
pub const REQUEST_ONLY_FIELDS: [&str; 11] = [
    "url_retour",
    "url_retour_ok",
    "url_retour_err",
    "contexte_commande",
    "lgue",
    "societe",
    "mail",
    "aliascb",
    "forcesaisiecb",
    "options",
    "nbrech",
];

/// Whether a message sealed with the merchant key is the bank's return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnCheck {
    /// Sealed, with a `code-retour` this library reads, and none of our form's own fields.
    Genuine,
    /// The seal is missing or does not match.
    BadSeal(SealCheck),
    /// Sealed, but not a return: the reason, for the log.
    NotAReturn(&'static str),
}

/// Checks the seal, then that the sealed message is a return from the bank and not something else the key
/// seals (our own payment form).
pub fn check_return(config: &CmcicConfig, form: &FormFields) -> ReturnCheck {
    match check_seal(config, form) {
        SealCheck::Valid => {}
        other => return ReturnCheck::BadSeal(other),
    }
    if REQUEST_ONLY_FIELDS.iter().any(|name| form.get(name).is_some()) {
        return ReturnCheck::NotAReturn("sealed fields of our payment form, not a return from the bank");
    }
    match form.text("code-retour").as_deref().and_then(CodeRetour::parse) {
        Some(_) => ReturnCheck::Genuine,
        None => ReturnCheck::NotAReturn("no code-retour the protocol defines"),
    }
}

/// What `code-retour` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRetour {
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
    ///
    /// ```
    /// use payment_buttons::cmcic::retour::CodeRetour;
    /// assert_eq!(CodeRetour::parse("paiement_pf2"), Some(CodeRetour::PaiementInstalment(2)));
    /// assert_eq!(CodeRetour::parse("Annulation"), Some(CodeRetour::Annulation));
    /// assert_eq!(CodeRetour::parse("annulation"), None);
    /// ```
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

/// The string the return's seal covers, in the configured protocol.
pub fn sealed_input(config: &CmcicConfig, form: &FormFields) -> Vec<u8> {
    match config.protocol() {
        Protocol::Monetico => mac::monetico_input(form),
        Protocol::Legacy => mac::legacy_return_input(form, config.tpe(), VERSION),
    }
}

/// Checks the seal of a return over exactly the fields received (empty ones included).
pub fn check_seal(config: &CmcicConfig, form: &FormFields) -> SealCheck {
    match form.get(MAC_FIELD) {
        None => SealCheck::Missing,
        Some(received) if mac::seal_matches(config.key(), &sealed_input(config, form), received) => SealCheck::Valid,
        Some(_) => SealCheck::Mismatch,
    }
}

/// Reads `montant` (`62.73EUR`): a decimal amount followed by an ISO 4217 code.
///
/// ```
/// use payment_buttons::cmcic::retour::parse_montant;
/// assert_eq!(parse_montant("62.73EUR").unwrap().minor_units(), 6273);
/// assert!(parse_montant("62.73").is_none());
/// ```
pub fn parse_montant(montant: &str) -> Option<Money> {
    let split = montant.len().checked_sub(3)?;
    if !montant.is_char_boundary(split) {
        return None;
    }
    let (number, currency) = montant.split_at(split);
    Money::parse(number, currency).ok()
}

/// Masks a card number that would arrive unmasked: keeps the first 6 and last 4 digits. Values that are
/// already masked (they hold non-digits) are returned as they are.
pub fn mask_card(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() < 12 || !digits.iter().all(char::is_ascii_digit) {
        return value.to_owned();
    }
    let hidden = digits.len() - 10;
    digits[..6]
        .iter()
        .chain(std::iter::repeat_n(&'X', hidden))
        .chain(&digits[digits.len() - 4..])
        .collect()
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
    fn montant_needs_a_known_currency_and_a_plain_number() {
        assert_eq!(parse_montant("1234567.89USD").unwrap().minor_units(), 123456789);
        assert!(parse_montant("62,73EUR").is_none());
        assert!(parse_montant("62.73XYZ").is_none());
        assert!(parse_montant("EU").is_none());
        assert!(parse_montant("1é€").is_none());
    }

    #[test]
    fn an_unmasked_card_number_never_reaches_the_details() {
        assert_eq!(mask_card("4970101234560000"), "497010XXXXXX0000");
        assert_eq!(mask_card("497010XXXXXX0000"), "497010XXXXXX0000");
        assert_eq!(mask_card("1234XXXXXXXXXXX1234"), "1234XXXXXXXXXXX1234");
    }
}
