//! The choice screen's logic: which ways to pay apply, given the balance and the price.

use payment_buttons::i18n::price;
use payment_buttons::money::Money;

/// One way to pay a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Everything from the Librement balance.
    Balance,
    /// Everything by card or PayPal (the gateway's name).
    Gateway(String),
    /// The balance, and the rest through a gateway.
    Split {
        /// Taken from the balance.
        from_balance: Money,
        /// Paid through the gateway (a top-up of exactly this amount).
        by_gateway: Money,
        /// The gateway.
        gateway: String,
    },
}

/// The methods that apply. `balance` is `None` when it is not known yet (the buyer has not confirmed
/// the password): then every method is offered by name.
///
/// ```
/// use librement_pay::choice::{methods, Method};
/// use payment_buttons::money::Money;
/// let eur = |s| Money::parse(s, "EUR").unwrap();
/// let gateways = vec!["cmcic".to_owned()];
/// assert_eq!(methods(Some(eur("50.00")), eur("42.00"), &gateways),
///            vec![Method::Balance, Method::Gateway("cmcic".into())]);
/// assert_eq!(methods(Some(eur("0.00")), eur("42.00"), &gateways), vec![Method::Gateway("cmcic".into())]);
/// ```
pub fn methods(balance: Option<Money>, amount: Money, gateways: &[String]) -> Vec<Method> {
    let by_gateway = gateways.iter().map(|g| Method::Gateway(g.clone()));
    match balance {
        None => std::iter::once(Method::Balance).chain(by_gateway).collect(),
        Some(b) if b.currency() != amount.currency() || b.minor_units() <= 0 => by_gateway.collect(),
        Some(b) if b.minor_units() >= amount.minor_units() => {
            std::iter::once(Method::Balance).chain(by_gateway).collect()
        }
        Some(b) => {
            let rest = Money::from_minor(amount.minor_units() - b.minor_units(), amount.currency());
            gateways
                .iter()
                .map(|g| Method::Split {
                    from_balance: b,
                    by_gateway: rest,
                    gateway: g.clone(),
                })
                .chain(by_gateway)
                .collect()
        }
    }
}

/// "€30.00 from your Librement account and €12.00 by card", in English or French.
///
/// ```
/// use librement_pay::choice::split_words;
/// use payment_buttons::money::Money;
/// let eur = |s| Money::parse(s, "EUR").unwrap();
/// assert_eq!(split_words(eur("30.00"), eur("12.00"), "cmcic", "en"),
///            "€30.00 from your Librement account and €12.00 by card");
/// assert_eq!(split_words(eur("30.00"), eur("12.00"), "paypal", "fr"),
///            "30,00 € depuis votre compte Librement et 12,00 € par PayPal");
/// ```
pub fn split_words(from_balance: Money, by_gateway: Money, gateway: &str, language: &str) -> String {
    let a = price(&from_balance, None, language);
    let b = price(&by_gateway, None, language);
    let how = gateway_words(gateway, language);
    if language == "fr" {
        format!("{a} depuis votre compte Librement et {b} {how}")
    } else {
        format!("{a} from your Librement account and {b} {how}")
    }
}

/// "by card" / "by PayPal" (and French).
pub fn gateway_words(gateway: &str, language: &str) -> String {
    match (gateway, language == "fr") {
        ("cmcic", false) => "by card".into(),
        ("cmcic", true) => "par carte".into(),
        ("paypal", false) => "by PayPal".into(),
        ("paypal", true) => "par PayPal".into(),
        (other, false) => format!("through {other}"),
        (other, true) => format!("via {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn a_partial_balance_offers_the_exact_split() {
        let m = methods(Some(eur("30.00")), eur("42.00"), &["cmcic".into(), "paypal".into()]);
        assert_eq!(
            m[0],
            Method::Split {
                from_balance: eur("30.00"),
                by_gateway: eur("12.00"),
                gateway: "cmcic".into()
            }
        );
        assert_eq!(m.len(), 4);
        assert!(!m.contains(&Method::Balance));
    }

    #[test]
    fn an_unknown_balance_offers_every_method_by_name() {
        assert_eq!(
            methods(None, eur("1.00"), &["paypal".into()]),
            vec![Method::Balance, Method::Gateway("paypal".into())]
        );
    }

    #[test]
    fn a_balance_in_another_currency_does_not_count() {
        let usd = Money::parse("100.00", "USD").unwrap();
        assert_eq!(
            methods(Some(usd), eur("1.00"), &["paypal".into()]),
            vec![Method::Gateway("paypal".into())]
        );
    }
}
