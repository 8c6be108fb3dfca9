//! Fraud-prevention filters reported in a return (`filtragecause`, `filtragevaleur`, `filtrage_etat`).
//!
//! The bank reports which filters fired as numbers joined by `-`, with the value that fired each one in the
//! same order. In `information` mode the filters only report: the payment is not blocked, so an accepted
//! payment stays accepted and the causes are kept for the merchant to read.

use serde::Serialize;

/// One filter that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FraudCause {
    /// The bank's filter number (`None` when the bank sent something that is not a number).
    pub code: Option<u32>,
    /// What the filter checks, in words.
    pub reason: String,
    /// The value that fired it (an IP address, a country, a count...), when the bank gave one.
    pub value: Option<String>,
    /// True when the filter only reported (`filtrage_etat=information`) and did not block the payment.
    pub information_only: bool,
}

/// What filter number `code` checks.
pub(crate) fn reason(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "IP address",
        2 => "card number",
        3 => "card BIN",
        4 => "card country",
        5 => "IP country",
        6 => "card country vs IP country",
        7 => "disposable e-mail address",
        8 => "amount per card per period",
        9 => "transactions per card per period",
        11 => "transactions per alias",
        12 => "amount per alias",
        13 => "amount per IP address",
        14 => "transactions per IP address",
        15 => "card testers",
        16 => "aliases per card",
        _ => return None,
    })
}

/// Reads the filters of a return. `causes` is `filtragecause`, `values` is `filtragevaleur`, `state` is
/// `filtrage_etat`. An empty or absent `filtragecause` means no filter fired.
///
/// Values are split into as many parts as there are causes, so a value that itself contains `-` stays
/// whole when it is the last one.
pub(crate) fn parse(causes: Option<&str>, values: Option<&str>, state: Option<&str>) -> Vec<FraudCause> {
    let Some(causes) = causes.map(str::trim).filter(|c| !c.is_empty()) else {
        return Vec::new();
    };
    let information_only = state.is_some_and(|s| s.trim().eq_ignore_ascii_case("information"));
    let codes: Vec<&str> = causes.split('-').collect();
    let mut values = values.unwrap_or_default().splitn(codes.len(), '-');
    codes
        .into_iter()
        .map(|raw| {
            let code = raw.trim().parse::<u32>().ok();
            let reason = match code.and_then(reason) {
                Some(r) => r.to_owned(),
                None => format!("unknown filter {:?}", raw.chars().take(16).collect::<String>()),
            };
            let value = values.next().filter(|v| !v.is_empty()).map(str::to_owned);
            FraudCause {
                code,
                reason,
                value,
                information_only,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_filters_pair_with_their_values_in_order() {
        let causes = parse(Some("4-5"), Some("USA-US"), None);
        assert_eq!(causes.len(), 2);
        assert_eq!((causes[0].code, causes[0].reason.as_str()), (Some(4), "card country"));
        assert_eq!(causes[0].value.as_deref(), Some("USA"));
        assert_eq!((causes[1].code, causes[1].value.as_deref()), (Some(5), Some("US")));
        assert!(causes.iter().all(|c| !c.information_only));
    }

    #[test]
    fn information_mode_marks_every_cause_as_information_only() {
        let causes = parse(Some("13"), Some("192.0.2.10"), Some("information"));
        assert_eq!(causes[0].reason, "amount per IP address");
        assert!(causes[0].information_only);
    }

    #[test]
    fn unknown_or_missing_parts_are_kept_and_named() {
        let causes = parse(Some("99-x"), None, None);
        assert_eq!(causes[0].code, Some(99));
        assert!(causes[0].reason.contains("unknown filter"));
        assert_eq!(causes[1].code, None);
        assert_eq!(causes[1].value, None);
        assert!(parse(Some(""), Some("v"), None).is_empty());
        assert!(parse(None, None, Some("information")).is_empty());
    }

    #[test]
    fn a_last_value_containing_a_dash_stays_whole() {
        let causes = parse(Some("1-7"), Some("192.0.2.1-mail-temp.example"), None);
        assert_eq!(causes[1].value.as_deref(), Some("mail-temp.example"));
    }

    #[test]
    fn a_filter_number_names_what_it_checks() {
        use super::reason;
        assert_eq!(reason(4), Some("card country"));
        assert_eq!(reason(10), None);
    }
}
