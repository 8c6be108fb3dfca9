//! The currencies PayPal takes, and how it wants their amounts written.

use rust_decimal::Decimal;

use crate::money::{Currency, Money};

/// Currencies PayPal accepts for payments and balances. PayPal refuses a form in any other currency only
/// after the buyer has been sent to it, so buttons are checked against this list when they are signed.
const SUPPORTED: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY", "MXN", "MYR", "NOK",
    "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];

/// Currencies PayPal takes in whole units only, although ISO 4217 gives HUF and TWD a minor unit.
const WHOLE_UNITS_ONLY: &[&str] = &["HUF", "JPY", "TWD"];

/// True when PayPal accepts payments in `currency`.
pub(crate) fn supports_currency(currency: Currency) -> bool {
    SUPPORTED.contains(&currency.code())
}

/// The amount as PayPal's `amount`/`a3` fields take it, or why PayPal cannot take it.
pub(crate) fn format_amount(amount: Money) -> Result<String, String> {
    let currency = amount.currency();
    let code = currency.code();
    if !supports_currency(amount.currency()) {
        return Err(format!("PayPal does not accept payments in {code}"));
    }
    if WHOLE_UNITS_ONLY.contains(&code) {
        let value = amount.to_decimal();
        if value.fract() != Decimal::ZERO {
            return Err(format!("PayPal takes {code} amounts in whole units only"));
        }
        return Ok(value.trunc().normalize().to_string());
    }
    Ok(amount.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str, currency: &str) -> Money {
        Money::parse(amount, currency).unwrap()
    }

    #[test]
    fn decimal_currencies_keep_their_places() {
        assert_eq!(format_amount(money("12.5", "EUR")).unwrap(), "12.50");
        assert_eq!(format_amount(money("9", "USD")).unwrap(), "9.00");
    }

    #[test]
    fn whole_unit_currencies_drop_the_iso_minor_unit() {
        assert_eq!(format_amount(money("1000", "JPY")).unwrap(), "1000");
        assert_eq!(format_amount(money("1500.00", "HUF")).unwrap(), "1500");
        assert!(
            format_amount(money("1500.50", "HUF"))
                .unwrap_err()
                .contains("whole units")
        );
    }

    #[test]
    fn currencies_paypal_does_not_take_are_refused() {
        assert!(format_amount(money("1.000", "TND")).unwrap_err().contains("TND"));
    }

    #[test]
    fn paypal_takes_euros_but_not_tunisian_dinars() {
        use super::supports_currency;
        use crate::money::Currency;
        assert!(supports_currency("EUR".parse::<Currency>().unwrap()));
        assert!(!supports_currency("TND".parse::<Currency>().unwrap()));
    }
}
