//! The simulator's pages: what their templates see (plain serializable rows built from the ledger) and
//! how they are rendered.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;

use super::checkout::{Checkout, Language};
use super::ledger::{Delivery, Ledger, TxnStatus};
use super::words::{checkout_words, every};
use super::{BASE_PATH, PAYMENTS_PATH, PaypalSimulator, SimulatorError};
use crate::pages;

const CHECKOUT_TEMPLATE: &str = "simulator/paypal_checkout.html";
const PAYMENTS_TEMPLATE: &str = "simulator/paypal_payments.html";

/// At most this many sent IPNs are listed, newest first.
const SENT_LISTED: usize = 50;

/// The payment page's view of a checkout.
#[derive(Debug, Serialize)]
pub struct CheckoutView<'a> {
    pay_url: String,
    cancel_url: String,
    business: &'a str,
    item_name: &'a str,
    amount: &'a str,
    currency: &'a str,
    billing: Option<String>,
    invoice: Option<&'a str>,
    subscription: bool,
}

impl<'a> CheckoutView<'a> {
    /// The view of `checkout`, waiting under `id`.
    pub fn new(id: &str, checkout: &'a Checkout) -> Self {
        CheckoutView {
            pay_url: format!("{BASE_PATH}/{id}/pay"),
            cancel_url: format!("{BASE_PATH}/{id}/cancel"),
            business: &checkout.business,
            item_name: &checkout.item_name,
            amount: &checkout.amount,
            currency: &checkout.currency,
            billing: checkout.recurrence().map(|r| every(checkout.language, r)),
            invoice: checkout.invoice.as_deref(),
            subscription: checkout.recurrence().is_some(),
        }
    }
}

#[derive(Debug, Serialize)]
struct TransactionRow {
    txn_id: String,
    invoice: String,
    item_name: String,
    amount: String,
    currency: String,
    kind: &'static str,
    subscr_id: Option<String>,
    status: TxnStatus,
    refunds: Vec<RefundRow>,
    complete_url: Option<String>,
    refund_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct RefundRow {
    id: String,
    amount: String,
    via_api: bool,
}

#[derive(Debug, Serialize)]
struct SubscriptionRow {
    subscr_id: String,
    invoice: String,
    item_name: String,
    amount: String,
    currency: String,
    billing: String,
    active: bool,
    next_url: Option<String>,
    cancel_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct SentRow {
    at: String,
    summary: String,
    notify_url: String,
    delivered: bool,
    delivery: String,
    body: String,
}

/// The payments page's view of the ledger, newest first.
#[derive(Debug, Serialize)]
pub struct PaymentsView {
    transactions: Vec<TransactionRow>,
    subscriptions: Vec<SubscriptionRow>,
    /// PayPal Checkout's orders (Orders v2).
    checkout_orders: Vec<super::orders::OrderRow>,
    /// PayPal Checkout's subscriptions (Subscriptions API).
    checkout_subscriptions: Vec<super::subscriptions::SubscriptionRow>,
    sent: Vec<SentRow>,
}

impl PaymentsView {
    /// A snapshot of `ledger`.
    pub fn new(ledger: &Ledger) -> Self {
        let transactions = ledger
            .transactions()
            .rev()
            .map(|t| TransactionRow {
                txn_id: t.txn_id.clone(),
                invoice: t.checkout.invoice.clone().unwrap_or_default(),
                item_name: t.checkout.item_name.clone(),
                amount: t.checkout.amount.clone(),
                currency: t.checkout.currency.clone(),
                kind: if t.subscr_id.is_some() {
                    "subscription payment"
                } else {
                    "Buy Now"
                },
                subscr_id: t.subscr_id.clone(),
                status: t.status,
                refunds: t
                    .refunds
                    .iter()
                    .map(|r| RefundRow {
                        id: r.id.clone(),
                        amount: r.amount.to_string(),
                        via_api: r.request_id.is_some(),
                    })
                    .collect(),
                complete_url: (t.status == TxnStatus::Pending)
                    .then(|| format!("{PAYMENTS_PATH}/{}/complete", t.txn_id)),
                refund_url: (t.status == TxnStatus::Completed).then(|| format!("{PAYMENTS_PATH}/{}/refund", t.txn_id)),
            })
            .collect();
        let subscriptions = ledger
            .subscriptions()
            .rev()
            .map(|s| {
                let billing = s
                    .checkout
                    .recurrence()
                    .map(|r| every(Language::English, r))
                    .unwrap_or_default();
                let url = |action: &str| format!("{BASE_PATH}/subscriptions/{}/{action}", s.subscr_id);
                SubscriptionRow {
                    subscr_id: s.subscr_id.clone(),
                    invoice: s.checkout.invoice.clone().unwrap_or_default(),
                    item_name: s.checkout.item_name.clone(),
                    amount: s.checkout.amount.clone(),
                    currency: s.checkout.currency.clone(),
                    billing,
                    active: s.active,
                    next_url: s.active.then(|| url("next")),
                    cancel_url: s.active.then(|| url("cancel")),
                }
            })
            .collect();
        let sent = ledger
            .sent()
            .rev()
            .take(SENT_LISTED)
            .map(|s| SentRow {
                at: s.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                summary: s.summary.clone(),
                notify_url: s.notify_url.clone(),
                delivered: s.delivery == Delivery::Delivered,
                delivery: match &s.delivery {
                    Delivery::Sending => "sending".to_owned(),
                    Delivery::Delivered => "delivered (200)".to_owned(),
                    Delivery::Failed(reason) => format!("not delivered: {reason}"),
                },
                body: String::from_utf8_lossy(&s.body).into_owned(),
            })
            .collect();
        PaymentsView {
            transactions,
            subscriptions,
            checkout_orders: Vec::new(),
            checkout_subscriptions: Vec::new(),
            sent,
        }
    }
}

pub(super) fn checkout_page(
    sim: &PaypalSimulator,
    id: &str,
    checkout: &Checkout,
    error: Option<&SimulatorError>,
) -> HttpResponse {
    let mut ctx = pages::context(checkout.language.tag(), true);
    ctx.insert("w", checkout_words(checkout.language));
    ctx.insert("c", &CheckoutView::new(id, checkout));
    ctx.insert("error", &error.map(ToString::to_string));
    let status = error.map_or(StatusCode::OK, SimulatorError::status);
    pages::render(&sim.templates, CHECKOUT_TEMPLATE, &ctx, status)
}

pub(super) fn payments_page(sim: &PaypalSimulator, error: Option<&SimulatorError>) -> HttpResponse {
    let mut view = PaymentsView::new(&sim.ledger());
    view.checkout_orders = sim.order_rows();
    view.checkout_subscriptions = sim.subscription_rows();
    let mut ctx = pages::context("en", true);
    ctx.insert("view", &view);
    ctx.insert("error_title", &error.map(SimulatorError::title));
    ctx.insert("error", &error.map(ToString::to_string));
    let status = error.map_or(StatusCode::OK, SimulatorError::status);
    pages::render(&sim.templates, PAYMENTS_TEMPLATE, &ctx, status)
}

/// An error page. In English: the simulator's own pages are for the developer, not the buyer.
pub(super) fn error_page(sim: &PaypalSimulator, error: &SimulatorError) -> HttpResponse {
    pages::error(
        &sim.templates,
        error.status(),
        "en",
        true,
        error.title(),
        &error.to_string(),
    )
}
