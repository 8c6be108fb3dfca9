//! `Money`: decimal strings and currency codes as they arrive in JSON, IPNs and CM-CIC returns, and
//! `Decimal` values as the API hands them over.
//!
//! Input: one selector byte choosing the currency (a known code, or, for the last values, the first three
//! characters of the text as the code), then the amount text. The same bytes, read as a `Decimal`'s 16-byte
//! representation, feed `Money::from_decimal`.
//!
//! Invariants: nothing panics; an accepted amount is exactly the number written (never rounded), has no
//! more places than its currency, and reads back from its display as the same `Money`; `montant`
//! (`<amount><code>`) agrees with `Money::parse`; `from_decimal` keeps the exact value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_buttons::cmcic::simulator::parse_montant;
use payment_buttons::money::{Currency, Money};
use rust_decimal::Decimal;

const CODES: &[&str] = &["EUR", "USD", "JPY", "TND", "KWD", "CLP", "GBP", "CHF", "XOF", "BHD"];

fn check_accepted(money: Money, written: &str) {
    let display = money.to_string();
    assert!(
        librement_pay_fuzz::same_decimal(written, &display),
        "{written:?} was taken as {display}"
    );
    let places = display.split_once('.').map_or(0, |(_, f)| f.len());
    assert_eq!(places as u32, money.currency().minor_units());
    assert_eq!(Money::parse(&display, money.currency().code()), Ok(money));
    assert_eq!(Money::from_decimal(money.to_decimal(), money.currency()), Ok(money));
    assert_eq!(money.abs().minor_units(), money.minor_units().saturating_abs());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let choice = usize::from(selector) % (CODES.len() + 1);
    let (amount, code) = match CODES.get(choice) {
        Some(code) => (&text[..], *code),
        None => match text.char_indices().nth(3) {
            Some((at, _)) => (&text[at..], &text[..at]),
            None => ("", &text[..]),
        },
    };
    let _ = code.parse::<Currency>();

    let parsed = Money::parse(amount, code);
    if let Ok(money) = parsed {
        check_accepted(money, amount);
    }

    // The CM-CIC form of the same amount: `<amount><code>`.
    let montant = format!("{amount}{code}");
    assert_eq!(
        parse_montant(&montant),
        Money::parse(amount, code).ok().filter(|_| code.len() == 3)
    );
    let _ = parse_montant(&text);

    // Any Decimal the API might be handed.
    if rest.len() >= 16 {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&rest[..16]);
        let decimal = Decimal::deserialize(bytes);
        if let Ok(currency) = code.parse::<Currency>()
            && let Ok(money) = Money::from_decimal(decimal, currency)
        {
            assert_eq!(
                money.to_decimal().normalize(),
                decimal.normalize(),
                "{decimal} changed value"
            );
            check_accepted(money, &money.to_string());
        }
    }
});
