//! PayPal's IPN dates: `HH:MM:SS Mon DD, YYYY PST` (or `PDT`), Pacific time.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

/// IPN fields that hold a date in PayPal's format.
pub(crate) const DATE_FIELDS: &[&str] = &[
    "auction_closing_date",
    "case_creation_date",
    "next_payment_date",
    "payment_date",
    "retry_at",
    "subscr_date",
    "subscr_effective",
    "time_created",
];

/// Reads a PayPal date. `None` when it is not in PayPal's format.
pub fn parse_paypal_date(value: &str) -> Option<DateTime<Utc>> {
    let (local, zone) = value.trim().rsplit_once(' ')?;
    // PayPal writes the zone as an abbreviation, which chrono cannot parse; only these two are documented.
    let offset_hours = match zone {
        "PST" => -8,
        "PDT" => -7,
        _ => return None,
    };
    let offset = FixedOffset::east_opt(offset_hours * 3600)?;
    let naive = NaiveDateTime::parse_from_str(local, "%H:%M:%S %b %d, %Y").ok()?;
    naive.and_local_timezone(offset).single().map(|d| d.with_timezone(&Utc))
}

/// True for values that say "no date" rather than a wrong one.
pub(crate) fn is_blank_date(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("N/A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daylight_time_is_seven_hours_behind_utc() {
        let date = parse_paypal_date("14:03:29 Mar 10, 2025 PDT").unwrap();
        assert_eq!(date.to_rfc3339(), "2025-03-10T21:03:29+00:00");
    }

    #[test]
    fn other_shapes_are_not_dates() {
        for bad in [
            "",
            "N/A",
            "23:04:06 Feb 02, 2009",
            "23:04:06 Feb 02, 2009 CET",
            "25:00:00 Feb 02, 2009 PST",
            "2009-02-02T23:04:06Z",
        ] {
            assert!(parse_paypal_date(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn blank_dates_are_tolerated() {
        assert!(is_blank_date("N/A"));
        assert!(is_blank_date(" "));
        assert!(!is_blank_date("yesterday"));
    }

    #[test]
    fn a_paypal_date_is_read_in_its_time_zone_and_other_shapes_are_refused() {
        use super::parse_paypal_date;
        let date = parse_paypal_date("10:41:07 Mar 03, 2025 PST").unwrap();
        assert_eq!(date.to_rfc3339(), "2025-03-03T18:41:07+00:00");
        assert!(parse_paypal_date("2015-10-25 01:21:32").is_none());
    }
}
