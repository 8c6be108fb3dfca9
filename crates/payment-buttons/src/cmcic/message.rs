//! Decoding what the bank sends: the return's body and the values of its fields.

use crate::gateway::DecodedFields;
use crate::money::Money;
use crate::notification::Flag;
use crate::urlencoded::FormFields;

/// Reads `montant` (`62.73EUR`): a decimal amount followed by an ISO 4217 code.
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
pub(crate) fn mask_card(value: &str) -> String {
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

/// Decodes a return's fields for the log; a value that is not UTF-8 is flagged.
pub(crate) fn decode(body: &[u8]) -> DecodedFields {
    let (fields, not_utf8) = FormFields::parse(body).decoded();
    DecodedFields {
        fields,
        flags: if not_utf8 {
            vec![Flag::UnknownCharset]
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn montant_needs_a_known_currency_and_a_plain_number() {
        assert_eq!(parse_montant("62.73EUR").unwrap().minor_units(), 6273);
        assert_eq!(parse_montant("1234567.89USD").unwrap().minor_units(), 123456789);
        assert!(parse_montant("62.73").is_none());
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
