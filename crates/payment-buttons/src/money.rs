//! Money: an amount in integer minor units of an ISO 4217 currency.
//!
//! Floats never appear here. Amounts enter as [`rust_decimal::Decimal`] (or decimal strings) and are
//! converted exactly, or refused when they do not fit the currency's minor unit.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The code is not an ISO 4217 currency this library knows.
    #[error("unknown currency {0:?} (expected an ISO 4217 code such as EUR)")]
    UnknownCurrency(String),
    /// The amount has more decimal places than the currency allows.
    #[error("{amount} has more decimal places than {currency} allows ({minor_units})")]
    TooPrecise {
        /// The amount as given.
        amount: String,
        /// The currency.
        currency: Currency,
        /// How many decimal places the currency has.
        minor_units: u32,
    },
    /// The amount is not a decimal number.
    #[error("{0:?} is not a decimal amount")]
    NotANumber(String),
    /// The amount does not fit in 64-bit minor units.
    #[error("amount is too large")]
    TooLarge,
}

/// An ISO 4217 currency known to this library, with its number of minor units.
///
/// ```
/// use payment_buttons::money::Currency;
/// let eur: Currency = "EUR".parse().unwrap();
/// assert_eq!(eur.minor_units(), 2);
/// assert!("eur".parse::<Currency>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

/// ISO 4217 codes and their minor units. Kept to currencies that payment gateways actually take.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("ZAR", 2),
];

impl Currency {
    /// The three upper-case letters.
    pub fn code(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of decimal places of the minor unit (2 for EUR, 0 for JPY, 3 for TND).
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == s)
            .map(|(code, minor)| {
                let b = code.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    minor_units: *minor,
                }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(s.chars().take(16).collect()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An exact amount of money: integer minor units and a currency.
///
/// ```
/// use payment_buttons::money::Money;
/// let m = Money::parse("12.5", "EUR").unwrap();
/// assert_eq!(m.minor_units(), 1250);
/// assert_eq!(m.to_string(), "12.50");
/// assert!(Money::parse("12.505", "EUR").is_err());
/// assert_eq!(Money::parse("1000", "JPY").unwrap().to_string(), "1000");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// From integer minor units (1250 EUR cents = 12.50 EUR).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// From a decimal; refused when it has more places than the currency's minor unit.
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let normalized = amount.normalize();
        if normalized.scale() > currency.minor_units() {
            return Err(MoneyError::TooPrecise {
                amount: amount.to_string(),
                currency,
                minor_units: currency.minor_units(),
            });
        }
        let mut scaled = normalized;
        scaled.rescale(currency.minor_units());
        // `i64::MIN` is refused too, as `parse` refuses it: every amount then has an exact opposite, so
        // `abs` of a refund never saturates (found by fuzzing, `fuzz/fuzz_targets/money_parse.rs`).
        let minor = i64::try_from(scaled.mantissa())
            .ok()
            .filter(|minor| *minor != i64::MIN)
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money { minor, currency })
    }

    /// From a decimal string and a currency code, as found in JSON and in gateway messages.
    ///
    /// The digits are read exactly, without any conversion that can round: an amount with more
    /// (non-zero) decimal places than the currency has is refused, however many places it has
    /// (`12.4999…9` with 30 nines is not 12.50).
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let currency: Currency = currency.parse()?;
        let not_a_number = || MoneyError::NotANumber(amount.chars().take(32).collect());
        let trimmed = amount.trim();
        // Plain decimals only: no exponent, sign `+`, separators or spaces inside.
        let (negative, unsigned) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits_only(whole) || !digits_only(fraction) {
            return Err(not_a_number());
        }
        let places = fraction.trim_end_matches('0');
        if places.len() > currency.minor_units() as usize {
            return Err(MoneyError::TooPrecise {
                amount: amount.chars().take(40).collect(),
                currency,
                minor_units: currency.minor_units(),
            });
        }
        let pad = currency.minor_units() as usize - places.len();
        let minor = whole
            .bytes()
            .chain(places.bytes())
            .chain(std::iter::repeat_n(b'0', pad))
            .try_fold(0i64, |acc, digit| {
                acc.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
            })
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money {
            minor: if negative { -minor } else { minor },
            currency,
        })
    }

    /// Integer minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The exact decimal value, with as many places as the currency's minor unit.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.minor_units())
    }

    /// True when strictly greater than zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// The sum, or `None` when the currencies differ or it would overflow.
    pub fn checked_add(&self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money {
            minor: self.minor.checked_add(other.minor)?,
            currency: self.currency,
        })
    }

    /// The difference, or `None` when the currencies differ or it would overflow.
    pub fn checked_sub(&self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money {
            minor: self.minor.checked_sub(other.minor)?,
            currency: self.currency,
        })
    }

    /// The absolute value (refunds arrive negative).
    pub fn abs(&self) -> Money {
        Money {
            minor: self.minor.saturating_abs(),
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    /// The plain decimal with the currency's places, no currency code: `12.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_the_currency_places() {
        assert_eq!(Money::parse("12.50", "EUR").unwrap().to_string(), "12.50");
        assert_eq!(Money::parse("12", "EUR").unwrap().to_string(), "12.00");
        assert_eq!(Money::parse("0.125", "TND").unwrap().minor_units(), 125);
        assert_eq!(Money::parse("-3.10", "USD").unwrap().minor_units(), -310);
    }

    #[test]
    fn exotic_number_forms_are_refused() {
        for bad in [
            "1e3", "", " ", "12,50", "1_000", "+1", "abc", "1.2.3", "-", ".", "--1", "1 000", "1.-5",
        ] {
            assert!(Money::parse(bad, "EUR").is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn too_many_places_is_refused() {
        assert!(matches!(Money::parse("1.5", "JPY"), Err(MoneyError::TooPrecise { .. })));
        // trailing zeros are not extra precision
        assert_eq!(Money::parse("1.500", "EUR").unwrap().minor_units(), 150);
    }

    #[test]
    fn more_places_than_the_decimal_type_holds_are_refused_not_rounded() {
        // 12.4999…9 with 30 nines: a 28-digit decimal type would round it to 12.50.
        let sneaky = format!("12.4{}", "9".repeat(30));
        assert!(
            matches!(Money::parse(&sneaky, "EUR"), Err(MoneyError::TooPrecise { .. })),
            "{sneaky} accepted"
        );
        assert!(matches!(
            Money::parse("0.0000000000000000000000000000001", "EUR"),
            Err(MoneyError::TooPrecise { .. })
        ));
        let zeros = format!("12.50{}", "0".repeat(40));
        assert_eq!(Money::parse(&zeros, "EUR").unwrap().minor_units(), 1250);
    }

    #[test]
    fn huge_amounts_are_too_large_not_wrapped() {
        assert_eq!(Money::parse(&"9".repeat(40), "EUR"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("92233720368547758.08", "EUR"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse("92233720368547758.07", "EUR").unwrap().minor_units(),
            i64::MAX
        );
        let leading = format!("{}12.50", "0".repeat(40));
        assert_eq!(Money::parse(&leading, "EUR").unwrap().minor_units(), 1250);
    }

    #[test]
    fn decimals_and_strings_have_the_same_range() {
        let clp: Currency = "CLP".parse().unwrap();
        let most_negative = Decimal::from(i64::MIN);
        assert_eq!(
            Money::parse(&most_negative.to_string(), "CLP"),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(Money::from_decimal(most_negative, clp), Err(MoneyError::TooLarge));
        let lowest = Money::from_decimal(Decimal::from(i64::MIN + 1), clp).unwrap();
        assert_eq!(Money::parse(&lowest.to_string(), "CLP"), Ok(lowest));
        assert_eq!(lowest.abs().minor_units(), i64::MAX, "exact, not saturated");
    }

    #[test]
    fn unknown_currency_is_refused() {
        assert!(matches!(Money::parse("1", "EURO"), Err(MoneyError::UnknownCurrency(_))));
        assert!(Money::parse("1", "eur").is_err());
    }
}
