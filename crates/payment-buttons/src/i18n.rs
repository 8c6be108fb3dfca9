//! The few words the button and the hand-off page say, in English and French (English for other
//! languages), and prices written the way each language writes them.

use crate::money::Money;

/// Words for one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// Default button text.
    pub pay: &'static str,
    /// Label of the buying-option drop-down.
    pub choose: &'static str,
    /// Hand-off page title and button.
    pub continue_to_payment: &'static str,
    /// Hand-off page explanation.
    pub redirecting: &'static str,
}

const EN: Words = Words {
    pay: "Pay",
    choose: "Choose an option",
    continue_to_payment: "Continue to payment",
    redirecting: "You are being taken to the payment page.",
};

const FR: Words = Words {
    pay: "Payer",
    choose: "Choisissez une option",
    continue_to_payment: "Continuer vers le paiement",
    redirecting: "Vous allez être dirigé vers la page de paiement.",
};

/// The words for `language` (English unless French).
pub fn words(language: &str) -> &'static Words {
    match language {
        "fr" => &FR,
        _ => &EN,
    }
}

fn symbol(code: &str) -> Option<&'static str> {
    match code {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// A price as the buyer reads it: `€12.50` in English, `12,50 €` in French, with the recurrence.
///
/// ```
/// use payment_buttons::money::Money;
/// use payment_buttons::i18n::price;
/// let m = Money::parse("1234.5", "EUR").unwrap();
/// assert_eq!(price(&m, None, "en"), "€1,234.50");
/// assert_eq!(price(&m, None, "fr"), "1 234,50 €");
/// assert_eq!(price(&m, Some(1), "en"), "€1,234.50 every month");
/// assert_eq!(price(&m, Some(3), "fr"), "1 234,50 € tous les 3 mois");
/// ```
pub fn price(amount: &Money, recurrence_months: Option<u8>, language: &str) -> String {
    let plain = amount.to_string();
    let (int, frac) = plain
        .split_once('.')
        .map_or((plain.as_str(), None), |(i, f)| (i, Some(f)));
    let (negative, int) = int.strip_prefix('-').map_or((false, int), |rest| (true, rest));
    let french = language == "fr";
    let group = if french { ' ' } else { ',' };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let number = match frac {
        Some(f) => format!("{grouped}{}{f}", if french { ',' } else { '.' }),
        None => grouped,
    };
    let sign = if negative { "-" } else { "" };
    let currency = amount.currency();
    let code = currency.code();
    let base = match (symbol(code), french) {
        (Some(s), false) => format!("{sign}{s}{number}"),
        (Some(s), true) => format!("{sign}{number} {s}"),
        (None, _) => format!("{sign}{number} {code}"),
    };
    match (recurrence_months, french) {
        (None, _) => base,
        (Some(1), false) => format!("{base} every month"),
        (Some(n), false) => format!("{base} every {n} months"),
        (Some(1), true) => format!("{base} par mois"),
        (Some(n), true) => format!("{base} tous les {n} mois"),
    }
}
