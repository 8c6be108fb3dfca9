//! Reading an IPN body: form-decoding to bytes, then text in the message's own charset, with every
//! oddity turned into a flag. Decoding never fails: the raw body is the log's record of truth.

use std::collections::BTreeMap;

use crate::gateway::DecodedFields;
use crate::notification::Flag;
use crate::urlencoded::FormFields;

use super::charset::charset_for;
use super::date::{DATE_FIELDS, is_blank_date, parse_paypal_date};

/// Longest values PayPal documents for IPN variables, in characters. Longer values are flagged but kept:
/// PayPal has sent longer ones, and refusing a genuine payment for it helps nobody.
const MAX_LENGTHS: &[(&str, usize)] = &[
    ("address_city", 40),
    ("address_country", 64),
    ("address_country_code", 2),
    ("address_name", 128),
    ("address_state", 40),
    ("address_street", 200),
    ("address_zip", 20),
    ("business", 127),
    ("contact_phone", 20),
    ("custom", 255),
    ("first_name", 64),
    ("invoice", 127),
    ("item_name", 127),
    ("item_number", 127),
    ("last_name", 64),
    ("memo", 255),
    ("option_name1", 64),
    ("option_name2", 64),
    ("option_selection1", 200),
    ("option_selection2", 200),
    ("parent_txn_id", 19),
    ("payer_business_name", 127),
    ("payer_email", 127),
    ("payer_id", 13),
    ("receiver_email", 127),
    ("receiver_id", 13),
    ("subscr_id", 19),
    ("txn_id", 19),
];

/// Decodes an IPN body into its fields (a repeated name keeps its first value) and flags.
///
/// `+` is a space and `%XX` a byte; values are then decoded with the charset the message names in its
/// `charset` field (windows-1252 when absent).
pub fn decode_ipn(body: &[u8]) -> DecodedFields {
    let form = FormFields::parse(body);
    let (encoding, known) = charset_for(form.get("charset"));

    let mut decoded = DecodedFields::default();
    if !known {
        decoded.flags.push(Flag::UnknownCharset);
    }
    let mut undecodable = false;
    for (name, value) in form.pairs() {
        let (name, name_errors) = encoding.decode_without_bom_handling(name);
        let (value, value_errors) = encoding.decode_without_bom_handling(value);
        undecodable |= name_errors || value_errors;
        decoded
            .fields
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    if undecodable {
        decoded.flags.push(Flag::MalformedField);
    }
    check_dates(&decoded.fields, &mut decoded.flags);
    check_lengths(&decoded.fields, &mut decoded.flags);
    decoded
}

fn check_dates(fields: &BTreeMap<String, String>, flags: &mut Vec<Flag>) {
    let malformed = DATE_FIELDS
        .iter()
        .filter_map(|name| fields.get(*name))
        .any(|value| !is_blank_date(value) && parse_paypal_date(value).is_none());
    if malformed {
        flags.push(Flag::MalformedDate);
    }
}

fn check_lengths(fields: &BTreeMap<String, String>, flags: &mut Vec<Flag>) {
    let overlong = MAX_LENGTHS
        .iter()
        .any(|(name, max)| fields.get(*name).is_some_and(|value| value.chars().count() > *max));
    if overlong {
        flags.push(Flag::OverlongField);
    }
}

/// The fields whose documented length a decoded message exceeds, for a log reader.
#[cfg(any(feature = "simulator", test))]
pub fn overlong_fields(fields: &BTreeMap<String, String>) -> Vec<&'static str> {
    MAX_LENGTHS
        .iter()
        .filter(|(name, max)| fields.get(*name).is_some_and(|value| value.chars().count() > *max))
        .map(|(name, _)| *name)
        .collect()
}

/// Builds an IPN body as PayPal would post it: form-encoded UTF-8, with `charset=UTF-8` added when the
/// fields name no charset. For simulators and tests that need realistic messages.
#[cfg(any(feature = "simulator", feature = "testing", test))]
pub fn encode_ipn<I, K, V>(fields: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    let mut has_charset = false;
    for (name, value) in fields {
        has_charset |= name.as_ref() == "charset";
        serializer.append_pair(name.as_ref(), value.as_ref());
    }
    if !has_charset {
        serializer.append_pair("charset", "UTF-8");
    }
    serializer.finish().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_name_keeps_its_first_value() {
        let decoded = decode_ipn(b"invoice=first&invoice=second&charset=UTF-8");
        assert_eq!(decoded.fields["invoice"], "first");
    }

    #[test]
    fn garbage_decodes_without_panicking() {
        let decoded = decode_ipn(b"&&=&%&%zz=%4&txn_id&==x&charset=UTF-8&bad=%FF%FE");
        assert_eq!(decoded.fields["%zz"], "%4");
        assert_eq!(decoded.fields["txn_id"], "");
        assert_eq!(decoded.fields["bad"], "\u{fffd}\u{fffd}");
        assert_eq!(decoded.flags, vec![Flag::MalformedField]);
    }

    #[test]
    fn an_empty_body_has_no_fields_and_no_flags() {
        assert_eq!(decode_ipn(b""), DecodedFields::default());
    }

    #[test]
    fn not_available_dates_are_not_malformed() {
        let decoded = decode_ipn(b"payment_date=N%2FA&subscr_date=&charset=UTF-8");
        assert!(decoded.flags.is_empty(), "{:?}", decoded.flags);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        // 64 two-byte characters: 128 bytes, but within first_name's 64 characters.
        let body = format!("first_name={}&charset=UTF-8", "%C3%A9".repeat(64));
        assert!(decode_ipn(body.as_bytes()).flags.is_empty());
        let body = format!("first_name={}&charset=UTF-8", "%C3%A9".repeat(65));
        assert_eq!(decode_ipn(body.as_bytes()).flags, vec![Flag::OverlongField]);
    }

    #[test]
    fn an_ipn_is_decoded_in_the_charset_it_names_and_flags_a_malformed_date() {
        use super::decode_ipn;
        use crate::notification::Flag;
        let decoded = decode_ipn(b"first_name=J%F6rg&charset=windows-1252&payment_date=yesterday");
        assert_eq!(decoded.fields["first_name"], "J\u{f6}rg");
        assert_eq!(decoded.flags, vec![Flag::MalformedDate]);
    }

    #[test]
    fn overlong_fields_names_the_fields_longer_than_documented() {
        use super::{decode_ipn, overlong_fields};
        let body = format!("item_name={}&txn_id=4RT73920XK118345L", "x".repeat(130));
        assert_eq!(overlong_fields(&decode_ipn(body.as_bytes()).fields), vec!["item_name"]);
    }

    #[test]
    fn encode_ipn_percent_encodes_utf8_and_adds_the_charset() {
        use super::{decode_ipn, encode_ipn};
        let body = encode_ipn([("txn_type", "web_accept"), ("first_name", "Zoé"), ("custom", "a=b&c")]);
        assert_eq!(
            body,
            b"txn_type=web_accept&first_name=Zo%C3%A9&custom=a%3Db%26c&charset=UTF-8"
        );
        assert_eq!(decode_ipn(&body).fields["first_name"], "Zoé");
    }
}
