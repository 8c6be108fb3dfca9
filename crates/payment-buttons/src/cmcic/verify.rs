//! Verification of the bank's return: its seal, and that the sealed message is a return.

use super::config::{CmcicConfig, VERSION};
use super::mac::{self, MAC_FIELD, Protocol};
use super::status::{self, CodeRetour};
use crate::notification::{Flag, Verification, VerificationStatus, Verified};
use crate::urlencoded::FormFields;

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
pub(crate) const REQUEST_ONLY_FIELDS: [&str; 11] = [
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
pub(crate) enum ReturnCheck {
    /// Sealed, with a `code-retour` this library reads, and none of our form's own fields.
    Genuine,
    /// The seal is missing or does not match.
    BadSeal(SealCheck),
    /// Sealed, but not a return: the reason, for the log.
    NotAReturn(&'static str),
}

/// Checks the seal, then that the sealed message is a return from the bank and not something else the key
/// seals (our own payment form).
pub(crate) fn check_return(config: &CmcicConfig, form: &FormFields) -> ReturnCheck {
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

/// A return body sealed as the bank seals it: the fields as given, then `MAC` in upper-case hex. A `MAC`
/// among `fields` is dropped first. (The simulator's and the test kit's; the gateway itself only checks.)
#[cfg_attr(not(any(feature = "simulator", feature = "testing")), allow(dead_code))]
pub(crate) fn sealed_return_body(config: &CmcicConfig, fields: FormFields) -> Vec<u8> {
    let mut unsealed = FormFields::new();
    for (name, value) in fields.pairs().iter().filter(|(n, _)| n != MAC_FIELD.as_bytes()) {
        unsealed.push(name.clone(), value.clone());
    }
    let seal = mac::seal_hex(config.key(), &sealed_input(config, &unsealed));
    unsealed.push(MAC_FIELD, seal.to_ascii_uppercase());
    unsealed.to_body()
}

/// Reads a message and checks it as the bank's return.
pub(crate) fn check_message(config: &CmcicConfig, body: &[u8]) -> (FormFields, ReturnCheck) {
    let form = FormFields::parse(body);
    let check = check_return(config, &form);
    (form, check)
}

/// Verifies a logged message: a genuine return becomes a [`Verified`] notification, anything else is
/// rejected with the reason and flag the log shows.
pub(crate) fn verify(config: &CmcicConfig, body: &[u8]) -> Verification {
    let (form, check) = check_message(config, body);
    let reason = match check {
        ReturnCheck::Genuine => {
            return Verification::Verified(Verified::new(status::notification(config, &form)));
        }
        ReturnCheck::NotAReturn(reason) => {
            return Verification::Rejected {
                status: VerificationStatus::Invalid,
                reason: reason.into(),
                flags: vec![Flag::NotAReturn],
            };
        }
        ReturnCheck::BadSeal(SealCheck::Missing) => "no MAC field in the return",
        ReturnCheck::BadSeal(_) => "the MAC does not seal the fields received",
    };
    Verification::Rejected {
        status: VerificationStatus::BadMac,
        reason: reason.into(),
        flags: vec![Flag::BadMac],
    }
}
