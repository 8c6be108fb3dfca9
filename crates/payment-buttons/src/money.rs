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
        let minor = i64::try_from(scaled.mantissa()).map_err(|_| MoneyError::TooLarge)?;
        Ok(Money { minor, currency })
    }

    /// From a decimal string and a currency code, as found in JSON and in gateway messages.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let currency: Currency = currency.parse()?;
        let trimmed = amount.trim();
        // Decimal::from_str accepts forms such as "1e3" or "_"; gateways and JSON send plain decimals only.
        let plain = !trimmed.is_empty()
            && trimmed
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && c == '-'));
        if !plain {
            return Err(MoneyError::NotANumber(amount.chars().take(32).collect()));
        }
        let d = Decimal::from_str(trimmed).map_err(|_| MoneyError::NotANumber(amount.chars().take(32).collect()))?;
        Money::from_decimal(d, currency)
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
        for bad in ["1e3", "", " ", "12,50", "1_000", "+1", "abc", "1.2.3"] {
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
    fn unknown_currency_is_refused() {
        assert!(matches!(Money::parse("1", "EURO"), Err(MoneyError::UnknownCurrency(_))));
        assert!(Money::parse("1", "eur").is_err());
    }
}
