//! The IPNs the simulator sends, with the variables PayPal sends for each kind, and PayPal-shaped ids
//! and dates.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use payment_buttons::paypal::simulator::encode_ipn;
use rand::Rng;

use super::checkout::{Checkout, Kind, Language};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SIGN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-";
const LOWER_HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The IPN protocol version PayPal currently writes.
const NOTIFY_VERSION: &str = "3.9";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A transaction id: 17 upper-case letters and digits, like PayPal's.
pub fn new_txn_id() -> String {
    random_from(UPPER_ALNUM, 17)
}

/// A recurring-payments profile id: `I-` and 12 upper-case letters and digits.
pub fn new_subscr_id() -> String {
    format!("I-{}", random_from(UPPER_ALNUM, 12))
}

/// A payer account id: 13 upper-case letters and digits.
pub fn new_payer_id() -> String {
    random_from(UPPER_ALNUM, 13)
}

/// An id for a checkout waiting on the payment page: 24 letters and digits (about 143 bits), unguessable
/// and URL-safe.
pub fn new_checkout_id() -> String {
    random_from(ALNUM, 24)
}

/// The start and end of US daylight saving time in `year`, in UTC: second Sunday of March at 2:00 PST,
/// first Sunday of November at 2:00 PDT.
fn pacific_dst(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = NaiveDate::from_weekday_of_month_opt(year, 3, Weekday::Sun, 2)?.and_hms_opt(10, 0, 0)?;
    let end = NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Sun, 1)?.and_hms_opt(9, 0, 0)?;
    Some((Utc.from_utc_datetime(&start), Utc.from_utc_datetime(&end)))
}

/// A date as PayPal writes it in IPNs: Pacific time, `HH:MM:SS Mon DD, YYYY PST` (or `PDT`).
pub fn paypal_date(at: DateTime<Utc>) -> String {
    let standard = at - Duration::hours(8);
    let daylight = pacific_dst(standard.year()).is_some_and(|(start, end)| at >= start && at < end);
    let (local, zone) = if daylight {
        (at - Duration::hours(7), "PDT")
    } else {
        (standard, "PST")
    };
    format!("{} {zone}", local.format("%H:%M:%S %b %d, %Y"))
}

/// The simulated buyer, the same for every message about one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    /// `payer_id`.
    pub id: String,
    /// `payer_email`.
    pub email: &'static str,
    /// `first_name`: not ASCII, so that charset handling is exercised.
    pub first_name: &'static str,
    /// `last_name`.
    pub last_name: &'static str,
    /// `residence_country`.
    pub country: &'static str,
}

impl Payer {
    /// A buyer from France for French pages, from the United States otherwise.
    pub fn new(language: Language) -> Self {
        Payer {
            id: new_payer_id(),
            email: "buyer@example.net",
            first_name: "Zoé",
            last_name: "Durand",
            country: match language {
                Language::French => "FR",
                Language::English => "US",
            },
        }
    }
}

/// The status of a one-off payment message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// `Completed`.
    Completed,
    /// `Pending` with `pending_reason=echeck`.
    PendingEcheck,
}

/// One message, before encoding: its fields in order.
#[derive(Debug, Clone, Default)]
pub struct Ipn {
    fields: Vec<(&'static str, String)>,
}

impl Ipn {
    fn push(&mut self, name: &'static str, value: impl Into<String>) {
        self.fields.push((name, value.into()));
    }

    fn push_opt(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.push(name, value);
        }
    }

    /// The value of a field, when present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as PayPal posts it: form-encoded UTF-8.
    pub fn encode(&self) -> Vec<u8> {
        encode_ipn(self.fields.iter().map(|(n, v)| (*n, v.as_str())))
    }

    /// A short description for the simulator's pages: `web_accept Completed`.
    pub fn summary(&self) -> String {
        let parts: Vec<&str> = [self.get("txn_type"), self.get("payment_status")]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            "IPN".to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// Fields every message about this checkout carries, after the message-specific ones.
    fn common(&mut self, checkout: &Checkout, payer: &Payer, subscr_id: Option<&str>) {
        self.push("charset", "UTF-8");
        self.push("notify_version", NOTIFY_VERSION);
        self.push("residence_country", payer.country);
        self.push("payer_email", payer.email);
        self.push("payer_id", payer.id.clone());
        self.push("payer_status", "verified");
        self.push("first_name", payer.first_name);
        self.push("last_name", payer.last_name);
        self.push("business", checkout.business.clone());
        self.push("receiver_email", checkout.business.clone());
        self.push("item_name", checkout.item_name.clone());
        self.push_opt("item_number", checkout.item_number.as_deref());
        self.push("mc_currency", checkout.currency.clone());
        self.push_opt("custom", checkout.custom.as_deref());
        self.push_opt("invoice", checkout.invoice.as_deref());
        self.push_opt("subscr_id", subscr_id);
        self.push("test_ipn", "1");
        self.push("verify_sign", random_from(SIGN_ALPHABET, 56));
        self.push("ipn_track_id", random_from(LOWER_HEX, 13));
    }
}

/// A Buy Now payment (`web_accept`), completed or pending.
pub fn web_accept(checkout: &Checkout, payer: &Payer, txn_id: &str, status: PaymentStatus, at: DateTime<Utc>) -> Ipn {
    let mut ipn = Ipn::default();
    ipn.push("txn_type", "web_accept");
    ipn.push("mc_gross", checkout.amount.clone());
    ipn.push("protection_eligibility", "Eligible");
    ipn.push("payment_date", paypal_date(at));
    match status {
        PaymentStatus::Completed => ipn.push("payment_status", "Completed"),
        PaymentStatus::PendingEcheck => {
            ipn.push("payment_status", "Pending");
            ipn.push("pending_reason", "echeck");
        }
    }
    ipn.push("txn_id", txn_id);
    ipn.push("payment_type", payment_type(status));
    ipn.push("quantity", "1");
    ipn.common(checkout, payer, None);
    ipn
}

/// An eCheck payment completed after being pending: the same `txn_id`, `payment_type=echeck`.
pub fn echeck_cleared(checkout: &Checkout, payer: &Payer, txn_id: &str, at: DateTime<Utc>) -> Ipn {
    let mut ipn = web_accept(checkout, payer, txn_id, PaymentStatus::Completed, at);
    for (name, value) in &mut ipn.fields {
        if *name == "payment_type" {
            *value = "echeck".to_owned();
        }
    }
    ipn
}

fn payment_type(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Completed => "instant",
        PaymentStatus::PendingEcheck => "echeck",
    }
}

/// A subscription sign-up: no `txn_id`, no `payment_status`, no money moves.
pub fn subscr_signup(checkout: &Checkout, payer: &Payer, subscr_id: &str, at: DateTime<Utc>) -> Ipn {
    subscription_record("subscr_signup", checkout, payer, subscr_id, at)
}

/// A subscription cancellation.
pub fn subscr_cancel(checkout: &Checkout, payer: &Payer, subscr_id: &str, at: DateTime<Utc>) -> Ipn {
    subscription_record("subscr_cancel", checkout, payer, subscr_id, at)
}

fn subscription_record(
    txn_type: &'static str,
    checkout: &Checkout,
    payer: &Payer,
    subscr_id: &str,
    at: DateTime<Utc>,
) -> Ipn {
    let mut ipn = Ipn::default();
    ipn.push("txn_type", txn_type);
    ipn.push("subscr_date", paypal_date(at));
    if let Kind::Subscription {
        recurrence,
        recurring,
        reattempt,
    } = checkout.kind
    {
        ipn.push("period3", recurrence.period3());
        ipn.push("mc_amount3", checkout.amount.clone());
        ipn.push("amount3", checkout.amount.clone());
        ipn.push("recurring", flag(recurring));
        ipn.push("reattempt", flag(reattempt));
    }
    ipn.common(checkout, payer, Some(subscr_id));
    ipn
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// One cycle of a subscription: money moves, with a `txn_id` of its own.
pub fn subscr_payment(checkout: &Checkout, payer: &Payer, subscr_id: &str, txn_id: &str, at: DateTime<Utc>) -> Ipn {
    let mut ipn = Ipn::default();
    ipn.push("txn_type", "subscr_payment");
    ipn.push("payment_date", paypal_date(at));
    ipn.push("payment_status", "Completed");
    ipn.push("payment_type", "instant");
    ipn.push("txn_id", txn_id);
    ipn.push("mc_gross", checkout.amount.clone());
    ipn.push("protection_eligibility", "Eligible");
    ipn.push("transaction_subject", checkout.item_name.clone());
    ipn.common(checkout, payer, Some(subscr_id));
    ipn
}

/// A refund of `amount` (`12.50`) of `parent_txn_id`, in full or in part: no `txn_type`, a new `txn_id`, a
/// negative `mc_gross`.
pub fn refund(
    checkout: &Checkout,
    payer: &Payer,
    parent_txn_id: &str,
    subscr_id: Option<&str>,
    txn_id: &str,
    amount: &str,
    at: DateTime<Utc>,
) -> Ipn {
    let mut ipn = Ipn::default();
    ipn.push("mc_gross", format!("-{amount}"));
    ipn.push("payment_date", paypal_date(at));
    ipn.push("payment_status", "Refunded");
    ipn.push("payment_type", "instant");
    ipn.push("txn_id", txn_id);
    ipn.push("parent_txn_id", parent_txn_id);
    ipn.push("reason_code", "refund");
    ipn.common(checkout, payer, subscr_id);
    ipn
}

#[cfg(test)]
mod tests {
    use payment_buttons::paypal::simulator::{decode_ipn, parse_paypal_date};

    use super::*;
    use crate::simulator::paypal::checkout::Checkout;

    fn checkout(body: &str) -> Checkout {
        Checkout::parse(body.as_bytes()).unwrap()
    }

    fn buy_now() -> Checkout {
        checkout(
            "cmd=_xclick&business=seller%40example.com&item_name=Caf%C3%A9+%26+cr%C3%A8me&amount=12.50\
             &currency_code=EUR&invoice=Xk3f9QpL2mZa&custom=Xk3f9QpL2mZa&notify_url=http://127.0.0.1/notify/paypal",
        )
    }

    #[test]
    fn dates_read_back_to_the_same_instant_in_winter_and_summer() {
        for at in ["2026-01-15T18:41:07Z", "2026-07-04T03:00:00Z"] {
            let at: DateTime<Utc> = at.parse().unwrap();
            assert_eq!(parse_paypal_date(&paypal_date(at)), Some(at), "{}", paypal_date(at));
        }
        let winter: DateTime<Utc> = "2026-01-15T18:41:07Z".parse().unwrap();
        assert_eq!(paypal_date(winter), "10:41:07 Jan 15, 2026 PST");
        let summer: DateTime<Utc> = "2026-07-04T03:00:00Z".parse().unwrap();
        assert_eq!(paypal_date(summer), "20:00:00 Jul 03, 2026 PDT");
    }

    #[test]
    fn daylight_time_switches_at_two_in_the_morning_pacific() {
        // 2026: DST from Sunday 8 March 10:00 UTC to Sunday 1 November 09:00 UTC.
        let before: DateTime<Utc> = "2026-03-08T09:59:59Z".parse().unwrap();
        let after: DateTime<Utc> = "2026-03-08T10:00:00Z".parse().unwrap();
        assert_eq!(paypal_date(before), "01:59:59 Mar 08, 2026 PST");
        assert_eq!(paypal_date(after), "03:00:00 Mar 08, 2026 PDT");
        let last_daylight: DateTime<Utc> = "2026-11-01T08:59:59Z".parse().unwrap();
        let first_standard: DateTime<Utc> = "2026-11-01T09:00:00Z".parse().unwrap();
        assert_eq!(paypal_date(last_daylight), "01:59:59 Nov 01, 2026 PDT");
        assert_eq!(paypal_date(first_standard), "01:00:00 Nov 01, 2026 PST");
    }

    #[test]
    fn ids_have_paypal_shapes() {
        let txn = new_txn_id();
        assert_eq!(txn.len(), 17);
        assert!(
            txn.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{txn}"
        );
        assert_ne!(txn, new_txn_id());
        let subscr = new_subscr_id();
        assert!(subscr.starts_with("I-") && subscr.len() == 14, "{subscr}");
        assert_eq!(new_payer_id().len(), 13);
    }

    #[test]
    fn a_web_accept_decodes_cleanly_with_the_form_values() {
        let ipn = web_accept(
            &buy_now(),
            &Payer::new(Language::French),
            "4RT73920XK118345L",
            PaymentStatus::Completed,
            Utc::now(),
        );
        let decoded = decode_ipn(&ipn.encode());
        assert!(decoded.flags.is_empty(), "{:?}", decoded.flags);
        let f = &decoded.fields;
        assert_eq!(f["txn_type"], "web_accept");
        assert_eq!(f["payment_status"], "Completed");
        assert_eq!(f["mc_gross"], "12.50");
        assert_eq!(f["mc_currency"], "EUR");
        assert_eq!(f["item_name"], "Café & crème");
        assert_eq!(f["first_name"], "Zoé");
        assert_eq!(f["receiver_email"], "seller@example.com");
        assert_eq!(f["charset"], "UTF-8");
        assert_eq!(f["test_ipn"], "1");
        assert!(!f.contains_key("pending_reason"));
    }

    #[test]
    fn a_refund_is_negative_and_names_its_parent() {
        let ipn = refund(
            &buy_now(),
            &Payer::new(Language::English),
            "PARENT",
            None,
            "CHILD",
            "12.50",
            Utc::now(),
        );
        assert_eq!(ipn.get("mc_gross"), Some("-12.50"));
        assert_eq!(ipn.get("parent_txn_id"), Some("PARENT"));
        assert_eq!(ipn.get("txn_id"), Some("CHILD"));
        assert_eq!(ipn.get("reason_code"), Some("refund"));
        assert_eq!(ipn.get("txn_type"), None);
        assert_eq!(ipn.summary(), "Refunded");
    }

    #[test]
    fn a_signup_carries_the_terms_but_no_transaction() {
        let sub = checkout(
            "cmd=_xclick-subscriptions&business=s%40example.com&a3=5.00&p3=1&t3=M&src=1&sra=1\
             &currency_code=EUR&invoice=SUB1&notify_url=http://127.0.0.1/notify/paypal",
        );
        let ipn = subscr_signup(&sub, &Payer::new(Language::English), "I-ABC", Utc::now());
        assert_eq!(ipn.get("period3"), Some("1 M"));
        assert_eq!(ipn.get("mc_amount3"), Some("5.00"));
        assert_eq!(ipn.get("recurring"), Some("1"));
        assert_eq!(ipn.get("subscr_id"), Some("I-ABC"));
        assert_eq!(ipn.get("txn_id"), None);
        assert_eq!(ipn.get("payment_status"), None);
        assert!(decode_ipn(&ipn.encode()).flags.is_empty());
    }
}
