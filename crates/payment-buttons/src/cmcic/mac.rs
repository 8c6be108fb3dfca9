//! The seal (`MAC`): HMAC-SHA1 over a string built from the fields, in one of two generations.
//!
//! - [`Protocol::Monetico`] (current): every field except `MAC`, sorted by name in byte order, written
//!   `name=value` and joined by `*`; empty fields count.
//! - [`Protocol::Legacy`] (CM-CIC v3.0): fixed positional strings, 19 positions for a request
//!   ([`LEGACY_REQUEST_POSITIONS`]) and 20 positions plus a trailing `*` for a return
//!   ([`LEGACY_RETURN_POSITIONS`]), whose `TPE` and `version` come from the merchant configuration.
//!   Fields outside those positions (fraud, express payment) are not sealed in this generation.
//!
//! Requests are sealed in lower-case hex; the bank's returns arrive upper-case, so received seals are
//! compared case-insensitively, in constant time.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::key::UsableKey;
use crate::urlencoded::FormFields;

/// The name of the seal field, which is never part of what it seals.
pub(crate) const MAC_FIELD: &str = "MAC";

/// The positions of a legacy (CM-CIC v3.0) request's sealed string.
pub(crate) const LEGACY_REQUEST_POSITIONS: [&str; 19] = [
    "TPE",
    "date",
    "montant",
    "reference",
    "texte-libre",
    "version",
    "lgue",
    "societe",
    "mail",
    "nbrech",
    "dateech1",
    "montantech1",
    "dateech2",
    "montantech2",
    "dateech3",
    "montantech3",
    "dateech4",
    "montantech4",
    "options",
];

/// The positions of a legacy return's sealed string (`TPE` and `version` from the merchant configuration).
pub(crate) const LEGACY_RETURN_POSITIONS: [&str; 20] = [
    "TPE",
    "date",
    "montant",
    "reference",
    "texte-libre",
    "version",
    "code-retour",
    "cvx",
    "vld",
    "brand",
    "status3ds",
    "numauto",
    "motifrefus",
    "originecb",
    "bincb",
    "hpancb",
    "ipclient",
    "originetr",
    "veres",
    "pares",
];

/// The positions of a legacy refund ("recrédit") request's sealed string, followed by a trailing `*`.
/// The legacy recredit seal covers neither the dates nor the authorisation number: only the amounts, the
/// order and the merchant.
#[cfg_attr(not(any(feature = "reqwest", feature = "simulator")), allow(dead_code))]
pub(crate) const LEGACY_RECREDIT_POSITIONS: [&str; 9] = [
    "TPE",
    "date",
    "montant_recredit",
    "montant_possible",
    "reference",
    "texte-libre",
    "version",
    "lgue",
    "societe",
];

/// Which generation of the protocol seals the fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Monetico paiement: sorted `name=value` fields (the default).
    #[default]
    Monetico,
    /// CM-CIC paiement v3.0: positional fields.
    Legacy,
}

impl Protocol {
    /// The configuration name: `monetico` or `legacy`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Monetico => "monetico",
            Protocol::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = crate::gateway::GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "monetico" => Ok(Protocol::Monetico),
            "legacy" => Ok(Protocol::Legacy),
            other => Err(super::config::refused(
                "protocol",
                &format!(
                    "unknown CM-CIC protocol {:?} (expected \"monetico\" or \"legacy\")",
                    other.chars().take(32).collect::<String>()
                ),
            )),
        }
    }
}

/// HMAC-SHA1 of `input` under `key`.
pub(crate) fn seal(key: &UsableKey, input: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(input);
    mac.finalize().into_bytes().into()
}

/// The seal of `input` as the bank expects it in a request: 40 lower-case hex digits.
pub fn seal_hex(key: &UsableKey, input: &[u8]) -> String {
    hex::encode(seal(key, input))
}

/// True when `received` (hex, either case) is the seal of `input`. Constant time in the seal's content.
pub fn seal_matches(key: &UsableKey, input: &[u8], received: &[u8]) -> bool {
    let mut claimed = [0u8; 20];
    if hex::decode_to_slice(received.trim_ascii(), &mut claimed).is_err() {
        return false;
    }
    seal(key, input).ct_eq(&claimed).into()
}

/// The Monetico sealed string: every pair except `MAC`, sorted by name in byte order (a stable sort, so
/// a repeated name keeps the order received), `name=value` joined by `*`.
pub fn monetico_input(fields: &FormFields) -> Vec<u8> {
    let mut pairs: Vec<&(Vec<u8>, Vec<u8>)> = fields
        .pairs()
        .iter()
        .filter(|(name, _)| name != MAC_FIELD.as_bytes())
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b'*');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
    out
}

/// The legacy request sealed string: the 19 positions joined by `*` (a missing field is empty).
pub fn legacy_request_input(fields: &FormFields) -> Vec<u8> {
    join_positions(
        LEGACY_REQUEST_POSITIONS
            .iter()
            .map(|name| fields.get(name).unwrap_or_default()),
    )
}

/// The legacy return sealed string: 20 positions and a trailing `*`. `tpe` and `version` are the merchant's
/// configuration, whatever the message says; the other positions are the first value received (or empty).
pub(crate) fn legacy_return_input(fields: &FormFields, tpe: &str, version: &str) -> Vec<u8> {
    let values = LEGACY_RETURN_POSITIONS.iter().map(|name| match *name {
        "TPE" => tpe.as_bytes(),
        "version" => version.as_bytes(),
        other => fields.get(other).unwrap_or_default(),
    });
    let mut out = join_positions(values);
    out.push(b'*');
    out
}

/// The legacy recredit sealed string: the 9 positions joined by `*`, and a trailing `*`.
#[cfg_attr(not(any(feature = "reqwest", feature = "simulator")), allow(dead_code))]
pub(crate) fn legacy_recredit_input(fields: &FormFields) -> Vec<u8> {
    let mut out = join_positions(
        LEGACY_RECREDIT_POSITIONS
            .iter()
            .map(|name| fields.get(name).unwrap_or_default()),
    );
    out.push(b'*');
    out
}

fn join_positions<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b'*');
        }
        out.extend_from_slice(value);
    }
    out
}

/// The names a legacy return seals, for telling which received fields are not covered.
pub(crate) fn legacy_return_covers(name: &[u8]) -> bool {
    name == MAC_FIELD.as_bytes() || LEGACY_RETURN_POSITIONS.iter().any(|p| p.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> UsableKey {
        UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap()
    }

    #[test]
    fn monetico_sorts_names_in_byte_order_and_skips_the_mac() {
        let form = FormFields::parse(b"reference=R&TPE=1&MAC=ff&3dsdebrayable=&a=x");
        assert_eq!(monetico_input(&form), b"3dsdebrayable=*TPE=1*a=x*reference=R");
    }

    #[test]
    fn received_seals_match_in_either_case_and_nothing_else_matches() {
        let input = b"CtlHmac3.01234567";
        assert!(seal_matches(&key(), input, b"9822fbeaf60b32dad3ede9fe6e2ad9c0b18bff39"));
        assert!(seal_matches(&key(), input, b"9822FBEAF60B32DAD3EDE9FE6E2AD9C0B18BFF39"));
        assert!(!seal_matches(
            &key(),
            input,
            b"9822fbeaf60b32dad3ede9fe6e2ad9c0b18bff38"
        ));
        assert!(!seal_matches(&key(), input, b"9822fbeaf60b32dad3ede9fe6e2ad9c0b18bff"));
        assert!(!seal_matches(&key(), input, b""));
        assert!(!seal_matches(
            &key(),
            input,
            b"not hex at all, not hex at all, not hex!"
        ));
    }

    #[test]
    fn a_legacy_return_takes_tpe_and_version_from_the_configuration() {
        let form = FormFields::parse(b"TPE=9999999&reference=R&code-retour=paiement");
        let input = legacy_return_input(&form, "1234567", "3.0");
        // 13 empty positions after code-retour, then the trailing star.
        let expected = format!("1234567***R**3.0*paiement{}*", "*".repeat(13));
        assert_eq!(input, expected.as_bytes());
    }

    #[test]
    fn protocol_names_parse() {
        assert_eq!("legacy".parse::<Protocol>().unwrap(), Protocol::Legacy);
        assert_eq!("monetico".parse::<Protocol>().unwrap(), Protocol::Monetico);
        assert!("Monetico".parse::<Protocol>().is_err());
    }

    #[test]
    fn a_request_seal_is_40_lower_case_hex_digits() {
        use super::seal_hex;
        use crate::cmcic::UsableKey;
        let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        assert_eq!(
            seal_hex(&key, b"CtlHmac3.01234567"),
            "9822fbeaf60b32dad3ede9fe6e2ad9c0b18bff39"
        );
    }
}
