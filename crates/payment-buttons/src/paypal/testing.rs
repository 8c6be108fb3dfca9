//! Feature `testing`: PayPal played in an application's tests: a postback that answers as told, and the
//! IPN PayPal would post for a hand-off.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use super::message::encode_ipn;
use super::{Postback, PostbackAnswer};
use crate::payment::PaymentId;
use crate::testing::{Confirmation, HandOffForm};

/// A [`Postback`] that answers as told: `VERIFIED`, `INVALID` or an error (PayPal unreachable, an HTML
/// error page), each after an optional delay, and records every body it was asked about.
///
/// ```
/// use std::time::Duration;
/// use payment_buttons::paypal::{PostbackAnswer, testing::ScriptedPostback};
/// let postback = ScriptedPostback::verified().delayed(Duration::from_millis(20));
/// postback.next(PostbackAnswer::Invalid); // the next message only; VERIFIED afterwards
/// ```
#[derive(Debug)]
pub struct ScriptedPostback {
    usual: PostbackAnswer,
    delay: Duration,
    next: Mutex<VecDeque<PostbackAnswer>>,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl ScriptedPostback {
    /// Answers `answer` to every message.
    pub fn answering(answer: PostbackAnswer) -> Self {
        ScriptedPostback {
            usual: answer,
            delay: Duration::ZERO,
            next: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// `VERIFIED` to every message.
    pub fn verified() -> Self {
        Self::answering(PostbackAnswer::Verified)
    }

    /// `INVALID` to every message (a forged IPN, as PayPal sees it).
    pub fn invalid() -> Self {
        Self::answering(PostbackAnswer::Invalid)
    }

    /// An error to every message (PayPal cannot be reached): the engine retries later.
    pub fn failing(reason: &str) -> Self {
        Self::answering(PostbackAnswer::Retry(reason.to_owned()))
    }

    /// Every answer comes after `delay` (PayPal at real network latency).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answers `answer` to the next message not yet answered, before the usual answer again (calls queue
    /// up, in order).
    pub fn next(&self, answer: PostbackAnswer) {
        self.next.lock().unwrap_or_else(|e| e.into_inner()).push_back(answer);
    }

    /// Every body asked about, in order.
    pub fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// As a gateway's postback: `PaypalGateway::new(config, ScriptedPostback::verified().shared())`.
    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }
}

#[async_trait::async_trait]
impl Postback for ScriptedPostback {
    async fn validate(&self, body: &[u8]) -> PostbackAnswer {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).push(body.to_vec());
        let answer = self
            .next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .unwrap_or_else(|| self.usual.clone());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        answer
    }
}

/// The IPN PayPal posts about a hand-off: the payment's invoice, receiver, amount and currency from the
/// form the buyer took to PayPal, a PayPal-like transaction id, and the status you choose.
///
/// ```
/// use payment_buttons::paypal::testing::Ipn;
/// use payment_buttons::testing::HandOffForm;
/// let form = HandOffForm::from_fields("https://www.paypal.com/cgi-bin/webscr", [
///     ("cmd", "_xclick"), ("business", "seller@example.com"), ("item_name", "Manual"), ("amount", "12.50"),
///     ("currency_code", "EUR"), ("invoice", "Xk3f9QpL2mZa"), ("custom", "Xk3f9QpL2mZa"),
/// ]);
/// let fields = Ipn::completed().fields_for(&form);
/// assert!(fields.contains(&("payment_status".to_owned(), "Completed".to_owned())));
/// assert!(fields.contains(&("mc_gross".to_owned(), "12.50".to_owned())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipn {
    payment_status: String,
    txn_id: String,
    extra: Vec<(String, String)>,
}

impl Ipn {
    /// `payment_status` as given (`Completed`, `Pending`, `Denied`, `Failed`...).
    pub fn with_status(payment_status: &str) -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = rand::rng();
        let txn_id = (0..17)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Ipn {
            payment_status: payment_status.to_owned(),
            txn_id,
            extra: Vec::new(),
        }
    }

    /// `Completed`: the money is received.
    pub fn completed() -> Self {
        Self::with_status("Completed")
    }

    /// `Pending`, with `pending_reason=echeck`.
    pub fn pending() -> Self {
        Self::with_status("Pending").with("pending_reason", "echeck")
    }

    /// `Denied`.
    pub fn denied() -> Self {
        Self::with_status("Denied")
    }

    /// Sets (or adds) a field: a different `receiver_email` or `mc_gross` to test the checks, say.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.extra.retain(|(n, _)| n != name);
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The transaction id it carries (`txn_id`).
    pub fn txn_id(&self) -> &str {
        &self.txn_id
    }

    /// The fields, in the order PayPal sends them.
    pub fn fields_for(&self, hand_off: &HandOffForm) -> Vec<(String, String)> {
        let form = |name: &str| hand_off.field(name).unwrap_or_default().to_owned();
        let subscription = hand_off.field("cmd") == Some("_xclick-subscriptions");
        let amount = if subscription { form("a3") } else { form("amount") };
        let mut fields: Vec<(String, String)> = vec![
            ("mc_gross".into(), amount),
            ("invoice".into(), form("invoice")),
            ("protection_eligibility".into(), "Eligible".into()),
            ("payer_id".into(), "LPLWNMTBWMFAY".into()),
            ("payment_date".into(), "10:00:03 Nov 26, 2026 PST".into()),
            ("payment_status".into(), self.payment_status.clone()),
            ("charset".into(), "UTF-8".into()),
            ("first_name".into(), "Zoé".into()),
            ("mc_fee".into(), "0.67".into()),
            ("notify_version".into(), "3.9".into()),
            ("custom".into(), form("custom")),
            ("payer_status".into(), "verified".into()),
            ("business".into(), form("business")),
            ("quantity".into(), "1".into()),
            ("payer_email".into(), "buyer@example.net".into()),
            ("txn_id".into(), self.txn_id.clone()),
            (
                "txn_type".into(),
                if subscription { "subscr_payment" } else { "web_accept" }.into(),
            ),
            ("last_name".into(), "Durand".into()),
            ("receiver_email".into(), form("business")),
            ("item_name".into(), form("item_name")),
            ("mc_currency".into(), form("currency_code")),
            ("residence_country".into(), "FR".into()),
            (
                "ipn_track_id".into(),
                format!("{:.13}", self.txn_id.to_ascii_lowercase()),
            ),
        ];
        if subscription {
            fields.push(("subscr_id".into(), format!("I-{:.12}", self.txn_id)));
        }
        for (name, value) in &self.extra {
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(field) => field.1 = value.clone(),
                None => fields.push((name.clone(), value.clone())),
            }
        }
        fields
    }
}

impl Confirmation for Ipn {
    fn gateway(&self) -> &'static str {
        "paypal"
    }

    fn payment_id(&self, hand_off: &HandOffForm) -> Option<PaymentId> {
        hand_off.field("invoice").and_then(|id| PaymentId::parse(id).ok())
    }

    fn body_for(&self, hand_off: &HandOffForm) -> Vec<u8> {
        encode_ipn(self.fields_for(hand_off))
    }
}
