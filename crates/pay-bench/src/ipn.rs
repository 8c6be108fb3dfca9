//! Realistic IPN bodies: the `web_accept` fixture of the core crate with, per request, a distinct `txn_id`
//! and the `invoice` of a payment created beforehand, so that every message is verified, applied and emits
//! events.

use std::sync::Arc;

use crate::load::BodyFn;

/// A completed `web_accept` IPN for 25.00 EUR (UTF-8, with an accented name), as PayPal sends it.
pub const TEMPLATE: &str =
    include_str!("../../payment-buttons/tests/fixtures/paypal-ipn/c-07-web_accept-completed-utf8.txt");

/// The fixture's own values that each request replaces.
const FIXTURE_TXN: &str = "txn_id=4RT73920XK118345L";
const FIXTURE_INVOICE: &str = "invoice=INV-1042";
const FIXTURE_RECEIVER: &str = "merchant%40example.com";

/// The amount and currency of the fixture, which the button of the created payments must charge.
pub const AMOUNT: &str = "25.00";
/// See [`AMOUNT`].
pub const CURRENCY: &str = "EUR";

/// A 17-character `txn_id` like PayPal's, unique per (run, request).
pub fn txn_id(run: u32, i: u64) -> String {
    format!("B{:02}{:014}", run % 100, i)
}

/// The id of the `i`-th cloned payment (12 characters `[0-9A-Za-z]`, like ours).
pub fn payment_id(prefix: char, i: u64) -> String {
    format!("{prefix}{i:011}")
}

/// Bodies for `run`: request `i` pays payment `i % payments` (ids from [`payment_id`] with prefix `B`),
/// addressed to `receiver` (URL-encoded form, e.g. `seller%40example.com`).
pub fn bodies(run: u32, payments: u64, receiver: &str) -> BodyFn {
    let template = template(receiver);
    let payments = payments.max(1);
    Arc::new(move |i| {
        template
            .replace("__TXN__", &txn_id(run, i))
            .replace("__INVOICE__", &payment_id('B', i % payments))
            .into_bytes()
    })
}

/// The fixture addressed to `receiver`, with `__TXN__` and `__INVOICE__` where each message's `txn_id`
/// and `invoice` go.
pub fn template(receiver: &str) -> String {
    let (before_txn, after_txn) = TEMPLATE.trim_end().split_once(FIXTURE_TXN).unwrap_or((TEMPLATE, ""));
    format!("{before_txn}txn_id=__TXN__{after_txn}")
        .replace(FIXTURE_INVOICE, "invoice=__INVOICE__")
        .replace(FIXTURE_RECEIVER, receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &[u8], name: &str) -> Option<String> {
        let text = std::str::from_utf8(body).unwrap();
        text.split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    #[test]
    fn each_request_names_its_own_transaction_and_payment() {
        let make = bodies(3, 1000, "seller%40example.com");
        let (a, b) = (make(1), make(2));
        assert_eq!(field(&a, "txn_id").unwrap(), "B0300000000000001");
        assert_eq!(field(&b, "txn_id").unwrap(), "B0300000000000002");
        assert_eq!(field(&a, "invoice").unwrap(), "B00000000001");
        assert_eq!(field(&a, "receiver_email").unwrap(), "seller%40example.com");
        assert_eq!(field(&a, "business").unwrap(), "seller%40example.com");
        assert_eq!(field(&a, "mc_gross").unwrap(), AMOUNT);
        assert_eq!(field(&a, "mc_currency").unwrap(), CURRENCY);
    }

    #[test]
    fn ids_have_the_lengths_paypal_and_we_use() {
        assert_eq!(txn_id(1, 42).len(), 17);
        assert_eq!(payment_id('B', 42).len(), 12);
    }
}
