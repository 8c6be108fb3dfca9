//! The Payments Standard form a buyer's browser posts to PayPal, read and checked.

use std::str::FromStr;

use rust_decimal::Decimal;
use url::form_urlencoded;

use super::SimulatorError;

/// Longest text value kept from the form: PayPal's own limits are 127 (names) and 255 (`custom`).
const MAX_TEXT: usize = 255;

/// The language of the simulated PayPal pages, from the form's `lc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Anything but French.
    English,
    /// `lc=FR` or a `fr_XX` locale.
    French,
}

impl Language {
    /// Reads PayPal's `lc`: a country code (`FR`) or a locale (`fr_CA`).
    pub fn from_lc(lc: &str) -> Self {
        let lc = lc.trim();
        let french =
            lc.eq_ignore_ascii_case("FR") || lc.get(..3).is_some_and(|prefix| prefix.eq_ignore_ascii_case("fr_"));
        if french { Language::French } else { Language::English }
    }

    /// The page language tag (`en`, `fr`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::French => "fr",
        }
    }
}

/// How often a subscription bills: `p3` units of `t3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurrence {
    /// `p3`: how many units between payments (at least 1).
    pub count: u16,
    /// `t3`: `D`, `W`, `M` or `Y`.
    pub unit: PeriodUnit,
}

/// PayPal's `t3` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodUnit {
    /// `D`.
    Day,
    /// `W`.
    Week,
    /// `M`.
    Month,
    /// `Y`.
    Year,
}

impl PeriodUnit {
    fn parse(t3: &str) -> Option<Self> {
        match t3 {
            "D" => Some(PeriodUnit::Day),
            "W" => Some(PeriodUnit::Week),
            "M" => Some(PeriodUnit::Month),
            "Y" => Some(PeriodUnit::Year),
            _ => None,
        }
    }

    /// The letter PayPal uses in `t3` and `period3`.
    pub fn letter(self) -> char {
        match self {
            PeriodUnit::Day => 'D',
            PeriodUnit::Week => 'W',
            PeriodUnit::Month => 'M',
            PeriodUnit::Year => 'Y',
        }
    }
}

impl Recurrence {
    /// `period3` as PayPal writes it in IPNs: `1 M`.
    pub fn period3(&self) -> String {
        format!("{} {}", self.count, self.unit.letter())
    }
}

/// What the form asks for: a one-off payment or a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `_xclick`.
    BuyNow,
    /// `_xclick-subscriptions`, with its billing period and PayPal's `src`/`sra` flags.
    Subscription {
        /// `p3`/`t3`.
        recurrence: Recurrence,
        /// `src=1`: recurs until cancelled.
        recurring: bool,
        /// `sra=1`: PayPal re-attempts failed payments.
        reattempt: bool,
    },
}

/// A checked checkout form, kept while the buyer decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// One-off or subscription.
    pub kind: Kind,
    /// The receiving account (`business`).
    pub business: String,
    /// `item_name`.
    pub item_name: String,
    /// `item_number`, when given.
    pub item_number: Option<String>,
    /// `amount` (or `a3`) exactly as posted: PayPal echoes the amount in the form's own notation.
    pub amount: String,
    /// `currency_code` (PayPal's default is USD).
    pub currency: String,
    /// `invoice`, when given.
    pub invoice: Option<String>,
    /// `custom`, when given.
    pub custom: Option<String>,
    /// Where IPNs go.
    pub notify_url: String,
    /// Where the buyer goes after paying.
    pub return_url: Option<String>,
    /// Where the buyer goes after cancelling.
    pub cancel_url: Option<String>,
    /// The page language.
    pub language: Language,
}

impl Checkout {
    /// Reads a form body (`application/x-www-form-urlencoded`, UTF-8). A repeated field keeps its first value.
    pub fn parse(body: &[u8]) -> Result<Self, SimulatorError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if !pairs.iter().any(|(n, _)| *n == name) {
                pairs.push((name.into_owned(), value.into_owned()));
            }
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };

        let kind = match get("cmd") {
            Some("_xclick") => Kind::BuyNow,
            Some("_xclick-subscriptions") => Kind::Subscription {
                recurrence: recurrence(get("p3"), get("t3"))?,
                recurring: get("src") == Some("1"),
                reattempt: get("sra") == Some("1"),
            },
            Some(_) => return Err(bad("cmd", "only _xclick and _xclick-subscriptions are simulated")),
            None => return Err(bad("cmd", "missing")),
        };
        let amount_field = match kind {
            Kind::BuyNow => "amount",
            Kind::Subscription { .. } => "a3",
        };
        let amount = amount(amount_field, get(amount_field))?;
        let currency = match get("currency_code") {
            None => "USD".to_owned(),
            Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => code.to_owned(),
            Some(_) => return Err(bad("currency_code", "must be three upper-case letters")),
        };
        let business = text("business", get("business"))?.ok_or_else(|| bad("business", "missing"))?;
        let notify_url = web_url("notify_url", get("notify_url"))?.ok_or_else(|| {
            bad(
                "notify_url",
                "missing: the simulator has no account profile to take it from",
            )
        })?;
        Ok(Checkout {
            kind,
            business,
            item_name: text("item_name", get("item_name"))?.unwrap_or_default(),
            item_number: text("item_number", get("item_number"))?,
            amount,
            currency,
            invoice: text("invoice", get("invoice"))?,
            custom: text("custom", get("custom"))?,
            notify_url,
            return_url: web_url("return", get("return"))?,
            cancel_url: web_url("cancel_return", get("cancel_return"))?,
            language: Language::from_lc(get("lc").unwrap_or("US")),
        })
    }

    /// The billing period of a subscription.
    pub fn recurrence(&self) -> Option<Recurrence> {
        match self.kind {
            Kind::BuyNow => None,
            Kind::Subscription { recurrence, .. } => Some(recurrence),
        }
    }
}

fn bad(field: &'static str, reason: impl Into<String>) -> SimulatorError {
    SimulatorError::BadForm {
        field,
        reason: reason.into(),
    }
}

fn text(field: &'static str, value: Option<&str>) -> Result<Option<String>, SimulatorError> {
    match value {
        Some(v) if v.chars().count() > MAX_TEXT => Err(bad(field, format!("longer than {MAX_TEXT} characters"))),
        Some(v) if v.chars().any(char::is_control) => Err(bad(field, "contains control characters")),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A positive amount with at most two decimals, kept in the form's notation.
fn amount(field: &'static str, value: Option<&str>) -> Result<String, SimulatorError> {
    let value = value.ok_or_else(|| bad(field, "missing"))?;
    // Plain notation only: the value is echoed in IPNs as written, and PayPal writes `1000.00`, never `1e3`.
    let (units, cents) = value.split_once('.').unwrap_or((value, ""));
    let plain =
        !units.is_empty() && units.bytes().all(|b| b.is_ascii_digit()) && cents.bytes().all(|b| b.is_ascii_digit());
    if !plain || value.ends_with('.') {
        return Err(bad(field, "not a plain decimal amount such as 12.50"));
    }
    if cents.len() > 2 {
        return Err(bad(field, "at most two decimals"));
    }
    let parsed = Decimal::from_str(value).map_err(|_| bad(field, "too large"))?;
    if parsed <= Decimal::ZERO {
        return Err(bad(field, "must be positive"));
    }
    Ok(value.to_owned())
}

fn recurrence(p3: Option<&str>, t3: Option<&str>) -> Result<Recurrence, SimulatorError> {
    let count = p3
        .ok_or_else(|| bad("p3", "missing"))?
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=90).contains(n))
        .ok_or_else(|| bad("p3", "must be a whole number from 1 to 90"))?;
    let unit = t3
        .and_then(PeriodUnit::parse)
        .ok_or_else(|| bad("t3", "must be D, W, M or Y"))?;
    Ok(Recurrence { count, unit })
}

/// An absolute http(s) URL: the simulator posts to it or redirects the browser to it.
fn web_url(field: &'static str, value: Option<&str>) -> Result<Option<String>, SimulatorError> {
    let Some(value) = value else { return Ok(None) };
    let parsed = url::Url::parse(value).map_err(|_| bad(field, "not an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(bad(field, "must be an http or https URL"));
    }
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUY_NOW: &str = "cmd=_xclick&business=seller%40example.com&item_name=Manual%2C+PDF&amount=12.50\
        &currency_code=EUR&invoice=Xk3f9QpL2mZa&custom=Xk3f9QpL2mZa\
        &notify_url=http%3A%2F%2F127.0.0.1%3A8080%2Fnotify%2Fpaypal\
        &return=http%3A%2F%2F127.0.0.1%3A8080%2Fpayments%2FXk3f9QpL2mZa\
        &cancel_return=http%3A%2F%2F127.0.0.1%3A8080%2Fpayments%2FXk3f9QpL2mZa&rm=1&lc=FR&charset=utf-8";

    #[test]
    fn a_buy_now_form_is_read_with_its_amount_as_posted() {
        let checkout = Checkout::parse(BUY_NOW.as_bytes()).unwrap();
        assert_eq!(checkout.kind, Kind::BuyNow);
        assert_eq!(checkout.business, "seller@example.com");
        assert_eq!(checkout.item_name, "Manual, PDF");
        assert_eq!(checkout.amount, "12.50");
        assert_eq!(checkout.currency, "EUR");
        assert_eq!(checkout.invoice.as_deref(), Some("Xk3f9QpL2mZa"));
        assert_eq!(checkout.notify_url, "http://127.0.0.1:8080/notify/paypal");
        assert_eq!(checkout.language, Language::French);
    }

    #[test]
    fn a_subscription_form_gives_its_period() {
        let body = "cmd=_xclick-subscriptions&business=s%40example.com&a3=5.00&p3=3&t3=M&src=1&sra=1\
            &currency_code=EUR&notify_url=https%3A%2F%2Fshop.example%2Fnotify%2Fpaypal";
        let checkout = Checkout::parse(body.as_bytes()).unwrap();
        let Kind::Subscription {
            recurrence,
            recurring,
            reattempt,
        } = checkout.kind
        else {
            panic!("not a subscription: {:?}", checkout.kind);
        };
        assert_eq!(recurrence.period3(), "3 M");
        assert!(recurring && reattempt);
        assert_eq!(checkout.amount, "5.00");
        assert_eq!(checkout.language, Language::English);
    }

    #[test]
    fn bad_forms_name_the_field() {
        let cases = [
            ("cmd=_cart&business=a&amount=1&notify_url=http://x", "cmd"),
            ("cmd=_xclick&amount=1&notify_url=http://x", "business"),
            ("cmd=_xclick&business=a&amount=-1&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=1.005&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=1e3&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=0.00&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=12.&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=%2B12&notify_url=http://x", "amount"),
            ("cmd=_xclick&business=a&amount=1", "notify_url"),
            (
                "cmd=_xclick&business=a&amount=1&notify_url=javascript:alert(1)",
                "notify_url",
            ),
            (
                "cmd=_xclick&business=a&amount=1&notify_url=http://x&return=file:///etc",
                "return",
            ),
            (
                "cmd=_xclick&business=a&amount=1&notify_url=http://x&currency_code=eur",
                "currency_code",
            ),
            (
                "cmd=_xclick-subscriptions&business=a&a3=1&p3=0&t3=M&notify_url=http://x",
                "p3",
            ),
            (
                "cmd=_xclick-subscriptions&business=a&a3=1&p3=1&t3=Q&notify_url=http://x",
                "t3",
            ),
        ];
        for (body, field) in cases {
            match Checkout::parse(body.as_bytes()) {
                Err(SimulatorError::BadForm { field: named, .. }) => assert_eq!(named, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn lc_chooses_french_for_france_and_french_locales_only() {
        assert_eq!(Language::from_lc("FR"), Language::French);
        assert_eq!(Language::from_lc("fr_CA"), Language::French);
        assert_eq!(Language::from_lc("US"), Language::English);
        assert_eq!(Language::from_lc("é"), Language::English);
        assert_eq!(Language::from_lc(""), Language::English);
    }
}
