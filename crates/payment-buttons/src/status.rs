//! The buyer's status page, `/payments/{id}`: where every gateway sends the buyer back (see
//! [`ServiceUrls::status`]). What the page says is decided here, once, for every web framework and
//! every look: [`StatusView::of`] reads the payment and says what happened, where the buyer goes on to
//! (the button's `accepted`, `declined` or `back` URL) and whether the page waits and reloads. A
//! [`StatusPage`] only renders it: [`PlainStatusPage`] by default, or the application's own (feature
//! `tera`: `tera::TeraStatusPage` with the application's template). Feature `actix` serves it.
//!
//! ```
//! use chrono::Utc;
//! use payment_buttons::gateway::ServiceUrls;
//! use payment_buttons::status::{PlainStatusPage, StatusPage, StatusView};
//! # use payment_buttons::{button::ButtonConfig, money::Money, payment::{PaymentId, PaymentState}, store::{NewPayment, StoredPayment}};
//! # let button = ButtonConfig::from_json(r#"{"order_reference": "ORDER-1", "options": [{"description": "Book",
//! #   "amount": "12.50", "currency": "EUR"}], "payment_options": {"paypal": {}}, "urls": {"back": "https://shop.example/cart",
//! #   "accepted": "https://shop.example/thanks", "declined": "https://shop.example/sorry"}}"#).unwrap();
//! # let mut payment = StoredPayment::from(NewPayment { id: PaymentId::generate(), gateway: "paypal".into(), button,
//! #   option_index: 0, amount: Money::parse("12.50", "EUR").unwrap(), receiver: None, subscription_id: None,
//! #   created_at: Utc::now() });
//! payment.state = PaymentState::Accepted;
//! let urls = ServiceUrls::new("https://pay.example").unwrap();
//! let view = StatusView::of(&payment, false, &urls, Utc::now());
//! assert_eq!(view.next_url, "https://shop.example/thanks");
//! assert_eq!(view.refresh_url.as_deref(), Some("https://shop.example/thanks")); // on at once
//! assert!(PlainStatusPage.render(&view).unwrap().contains("Thank you: your payment was accepted."));
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::gateway::ServiceUrls;
use crate::i18n;
use crate::payment::PaymentState;
use crate::store::StoredPayment;

/// How long the page keeps reloading itself for a payment the gateway has said nothing about.
pub const STOP_WAITING_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// Seconds before a known outcome sends the buyer on, and between reloads while waiting.
pub const REFRESH_SECONDS: u32 = 3;

/// Everything the status page shows, decided and worded (English or French, as the button says).
/// Serializes with these field names, for templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The page's language (`en`, `fr`...).
    pub lang: String,
    /// The payment's state (`created`, `accepted`...): for styling.
    pub state: String,
    /// The page title ("Your payment").
    pub title: &'static str,
    /// What happened, in one sentence.
    pub headline: &'static str,
    /// The chosen option's description.
    pub description: String,
    /// The price as the buyer reads it.
    pub price: String,
    /// "Order".
    pub order_label: &'static str,
    /// The shop's order reference.
    pub order_reference: String,
    /// Where the buyer goes on to: the button's `accepted`, `declined` or `back` URL.
    pub next_url: String,
    /// The words on the link to [`StatusView::next_url`].
    pub next_label: &'static str,
    /// Where the page goes by itself after [`StatusView::refresh_seconds`]: on to the shop once the
    /// outcome is known, this page again while waiting, nowhere once it stopped waiting.
    pub refresh_url: Option<String>,
    /// See [`StatusView::refresh_url`].
    pub refresh_seconds: u32,
}

struct Texts {
    headline: &'static str,
    next_label: &'static str,
}

fn texts(state: PaymentState, french: bool) -> Texts {
    use PaymentState::*;
    let (headline, next_label) = match (state, french) {
        // An abandoned payment's headline is replaced below: nothing was confirmed.
        (Created | Abandoned, false) => (
            "Waiting for the payment service to confirm your payment…",
            "Back to the shop",
        ),
        (Created | Abandoned, true) => (
            "En attente de la confirmation du service de paiement…",
            "Retour à la boutique",
        ),
        (Pending, false) => (
            "Your payment is pending: the payment service has not completed it yet.",
            "Back to the shop",
        ),
        (Pending, true) => (
            "Votre paiement est en attente : le service de paiement ne l'a pas encore finalisé.",
            "Retour à la boutique",
        ),
        (Accepted, false) => ("Thank you: your payment was accepted.", "Continue"),
        (Accepted, true) => ("Merci : votre paiement a été accepté.", "Continuer"),
        (Declined, false) => ("Your payment was declined. No money was taken.", "Continue"),
        (Declined, true) => (
            "Votre paiement a été refusé. Aucun montant n'a été débité.",
            "Continuer",
        ),
        (Refunded, false) => ("This payment was refunded.", "Back to the shop"),
        (Refunded, true) => ("Ce paiement a été remboursé.", "Retour à la boutique"),
        (Cancelled, false) => ("This subscription was cancelled.", "Back to the shop"),
        (Cancelled, true) => ("Cet abonnement a été annulé.", "Retour à la boutique"),
    };
    Texts { headline, next_label }
}

impl StatusView {
    /// The page for `payment` at `now`. `cancelled`: the gateway sent the buyer back after a cancellation
    /// (the `?cancelled=1` of [`ServiceUrls::status_cancelled`]); it counts only while the payment is
    /// untouched.
    pub fn of(payment: &StoredPayment, cancelled: bool, urls: &ServiceUrls, now: DateTime<Utc>) -> Self {
        let language = payment.button.language().as_str().to_owned();
        let french = language == "fr";
        let cancelled = cancelled && payment.state == PaymentState::Created;
        let mut t = texts(payment.state, french);
        // Nothing heard for a long time (the buyer closed the gateway's page, say): stop reloading, say so.
        let abandoned = payment.state == PaymentState::Abandoned
            || (payment.state == PaymentState::Created && !cancelled && now - payment.created_at > STOP_WAITING_AFTER);
        if cancelled {
            t.headline = if french {
                "Vous avez annulé le paiement : rien n'a été débité."
            } else {
                "You cancelled the payment: nothing was charged."
            };
        } else if abandoned {
            t.headline = if french {
                "Le service de paiement ne nous a rien confirmé pour ce paiement. Si vous avez payé, cette page le dira dès la confirmation reçue."
            } else {
                "The payment service has confirmed nothing for this payment. If you did pay, this page will say so as soon as the confirmation arrives."
            };
        }
        let shop = payment.button.urls();
        let next_url = match payment.state {
            PaymentState::Accepted => shop.accepted().as_str(),
            PaymentState::Declined => shop.declined().as_str(),
            _ => shop.back().as_str(),
        }
        .to_owned();
        // A known outcome sends the buyer on; while waiting, the page reloads itself.
        let refresh_url = match payment.state {
            _ if cancelled => Some(next_url.clone()),
            _ if abandoned => None,
            PaymentState::Created | PaymentState::Pending => Some(urls.status(&payment.id)),
            _ => Some(next_url.clone()),
        };
        let option = payment.button.options().get(payment.option_index);
        StatusView {
            state: payment.state.as_str().to_owned(),
            title: if french { "Votre paiement" } else { "Your payment" },
            headline: t.headline,
            description: option.map(|o| o.description().to_owned()).unwrap_or_default(),
            price: i18n::price(&payment.amount, payment.recurrence_months(), &language),
            order_label: if french { "Commande" } else { "Order" },
            order_reference: payment.button.order_reference().to_owned(),
            next_url,
            next_label: t.next_label,
            refresh_url,
            refresh_seconds: REFRESH_SECONDS,
            lang: language,
        }
    }
}

/// The status page of the payment that `payment` pays for, when every one of its return URLs is that page
/// (a payment made to pay another payment of this service, such as a balance top-up paying a purchase):
/// the buyer pays that other payment, so is sent to its page at once, which follows this one's outcome.
/// The target must be another status page of this service.
pub fn paid_for(payment: &StoredPayment, urls: &ServiceUrls) -> Option<String> {
    let own = urls.status(&payment.id);
    let shop = payment.button.urls();
    let target = shop.accepted().as_str();
    let prefix = own.rsplit_once('/').map(|(p, _)| format!("{p}/"))?;
    let id = target.strip_prefix(&prefix)?;
    (shop.declined().as_str() == target
        && shop.back().as_str() == target
        && target != own
        && crate::payment::PaymentId::parse(id).is_ok())
    .then(|| target.to_owned())
}

/// Why there is no status to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusError {
    /// No payment has this id (HTTP 404).
    NotFound,
    /// The store did not answer (HTTP 503): reload later.
    Unavailable,
}

impl StatusError {
    /// The HTTP status.
    pub fn http_status(self) -> u16 {
        match self {
            StatusError::NotFound => 404,
            StatusError::Unavailable => 503,
        }
    }

    /// A title and a reason the buyer can act on (the id is unknown: the page is in English).
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            StatusError::NotFound => ("Payment not found", "There is no payment with this number."),
            StatusError::Unavailable => ("Try again", "The service is busy; please reload this page in a moment."),
        }
    }
}

/// Renders the status page. The application's look; what the page says is the [`StatusView`]'s.
pub trait StatusPage: Send + Sync + 'static {
    /// The page for `view`, as HTML. An `Err` (a template that failed, say) is logged and answered with a
    /// plain 500 page that reveals nothing.
    fn render(&self, view: &StatusView) -> Result<String, String>;

    /// The page for a payment that cannot be shown. By default [`PlainStatusPage`]'s.
    fn error(&self, error: StatusError) -> String {
        PlainStatusPage.error(error)
    }
}

/// The default [`StatusPage`]: plain HTML, no style, no script (it works under the strictest
/// Content-Security-Policy), a `<meta http-equiv="refresh">` to go on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainStatusPage;

impl StatusPage for PlainStatusPage {
    fn render(&self, v: &StatusView) -> Result<String, String> {
        let e = crate::html::escape_html;
        let refresh = v
            .refresh_url
            .as_deref()
            .map(|url| {
                format!(
                    "<meta http-equiv=\"refresh\" content=\"{}; url={}\">\n",
                    v.refresh_seconds,
                    e(url)
                )
            })
            .unwrap_or_default();
        Ok(format!(
            "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n{refresh}</head>\n<body>\n<h1>{title}</h1>\n\
             <p id=\"payment-state\" data-state=\"{state}\"><strong>{headline}</strong></p>\n\
             <p>{description} — {price}</p>\n<p>{order_label} {order}</p>\n\
             <p><a id=\"continue\" href=\"{next}\">{next_label}</a></p>\n</body></html>\n",
            lang = e(&v.lang),
            title = e(v.title),
            state = e(&v.state),
            headline = e(v.headline),
            description = e(&v.description),
            price = e(&v.price),
            order_label = e(v.order_label),
            order = e(&v.order_reference),
            next = e(&v.next_url),
            next_label = e(v.next_label),
        ))
    }

    fn error(&self, error: StatusError) -> String {
        let (title, reason) = error.words();
        crate::html::error_page(title, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::button::ButtonConfig;
    use crate::money::Money;
    use crate::payment::PaymentId;
    use crate::store::NewPayment;

    fn payment_returning_to(accepted: &str, declined: &str, back: &str) -> StoredPayment {
        let button = ButtonConfig::from_json(&format!(
            r#"{{"order_reference": "ORDER-1", "options": [{{"description": "Top-up", "amount": "5.00", "currency": "EUR"}}],
              "payment_options": {{"paypal": {{}}}},
              "urls": {{"accepted": "{accepted}", "declined": "{declined}", "back": "{back}"}}}}"#
        ))
        .unwrap();
        StoredPayment::from(NewPayment {
            id: PaymentId::parse("TopUp0000001").unwrap(),
            gateway: "paypal".into(),
            button,
            option_index: 0,
            amount: Money::parse("5.00", "EUR").unwrap(),
            receiver: None,
            subscription_id: None,
            created_at: Utc::now(),
        })
    }

    #[test]
    fn a_payment_made_for_another_of_ours_leads_to_that_ones_page_and_nothing_else_does() {
        let urls = ServiceUrls::new("https://pay.example").unwrap();
        let purchase = "https://pay.example/payments/Purchase0001";
        assert_eq!(
            paid_for(&payment_returning_to(purchase, purchase, purchase), &urls).as_deref(),
            Some(purchase)
        );
        let shop = "https://shop.example/thanks";
        assert_eq!(paid_for(&payment_returning_to(purchase, purchase, shop), &urls), None);
        let elsewhere = "https://evil.example/payments/Purchase0001";
        assert_eq!(
            paid_for(&payment_returning_to(elsewhere, elsewhere, elsewhere), &urls),
            None
        );
        let itself = "https://pay.example/payments/TopUp0000001";
        assert_eq!(paid_for(&payment_returning_to(itself, itself, itself), &urls), None);
        let not_an_id = "https://pay.example/payments/x";
        assert_eq!(
            paid_for(&payment_returning_to(not_an_id, not_an_id, not_an_id), &urls),
            None
        );
    }

    #[test]
    fn a_cancelled_payment_goes_back_to_the_shop_and_an_old_silent_one_stops_reloading() {
        let urls = ServiceUrls::new("https://pay.example").unwrap();
        let payment = payment_returning_to("https://s.example/ok", "https://s.example/ko", "https://s.example/cart");
        let waiting = StatusView::of(&payment, false, &urls, payment.created_at);
        assert_eq!(
            waiting.refresh_url,
            Some(urls.status(&payment.id)),
            "reloads while waiting"
        );
        let cancelled = StatusView::of(&payment, true, &urls, payment.created_at);
        assert_eq!(cancelled.refresh_url.as_deref(), Some("https://s.example/cart"));
        assert!(cancelled.headline.starts_with("You cancelled"));
        let later = payment.created_at + STOP_WAITING_AFTER + chrono::Duration::seconds(1);
        assert_eq!(StatusView::of(&payment, false, &urls, later).refresh_url, None);
    }
}
