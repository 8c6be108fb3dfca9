//! Durations written the way operators write them: `30d`, `12h`, `90s`, `1h30m`.

use std::time::Duration;

/// Parses a duration made of one or more `<number><unit>` parts, units `s`, `m`, `h`, `d`.
///
/// Zero, an empty string, a missing unit or an overflow are refused; the error says what was expected.
///
/// ```
/// use std::time::Duration;
/// use actix_pay_server::config::parse_duration;
/// assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
/// assert!(parse_duration("30").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as 90s, 15m, 12h or 30d";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(EXPECTED.to_owned());
        }
        let (number, after) = rest.split_at(digits);
        let number: u64 = number.parse().map_err(|_| "is too long".to_owned())?;
        let mut chars = after.chars();
        let seconds_per_unit = match chars.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3_600,
            Some('d') => 86_400,
            _ => return Err(EXPECTED.to_owned()),
        };
        total = number
            .checked_mul(seconds_per_unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| "is too long".to_owned())?;
        rest = chars.as_str();
    }
    if total == 0 {
        return Err("must be longer than zero".to_owned());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_understood() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
    }

    #[test]
    fn parts_add_up() {
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in ["", "30", "d", "3 days", "3w", "-3d", "1.5h", "3d!"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn zero_and_overflow_are_refused() {
        assert_eq!(parse_duration("0s"), Err("must be longer than zero".to_owned()));
        assert_eq!(parse_duration("99999999999999999999d"), Err("is too long".to_owned()));
        assert_eq!(parse_duration("999999999999999999d"), Err("is too long".to_owned()));
    }
}
