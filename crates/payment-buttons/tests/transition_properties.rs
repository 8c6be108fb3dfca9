//! Properties of the transition planner, checked on random sequences of genuine PayPal notifications about
//! one payment (a one-off purchase or a monthly subscription), run end to end through the engine and the
//! in-memory store: IPNs as PayPal posts them, a postback that answers VERIFIED, the planner deciding.
//!
//! Whatever the sequence (repeats, out of order, refunds larger than the payment, subscription messages
//! naming the wrong subscription or a one-off purchase, the abandonment timer in between):
//!
//! - every change of a payment's state is one of the table below (written out in `docs/security.md`,
//!   "Fuzzing and property tests"), caused by the kind of message the table says;
//! - the refunds and reversals applied to a payment never add up to more than its amount;
//! - no payment is announced `payment_accepted` twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::event::{Event, EventKind};
use payment_buttons::gateway::{Gateways, IncomingMessage, ServiceUrls};
use payment_buttons::memory::MemoryStore;
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::paypal::simulator::encode_ipn;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer};
use payment_buttons::store::Store;
use payment_buttons::token::ButtonSigner;
use proptest::prelude::*;

use PaymentState::*;

const SELLER: &str = "seller@example.com";
/// The subscription the buyer signed up to, and another one (an attacker's, naming the same invoice).
const OUR_SUBSCRIPTION: &str = "I-OURS";
const OTHER_SUBSCRIPTION: &str = "I-OTHER";

/// What caused a change of state, as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// `Completed` (a cycle's `subscr_payment Completed` for a subscription).
    Completed,
    /// `Pending`.
    Pending,
    /// `Denied`, or `subscr_failed`.
    Declined,
    /// `Refunded` or `Reversed`, partial or full.
    Refund,
    /// `Canceled_Reversal`.
    CanceledReversal,
    /// `subscr_cancel` or `subscr_eot`.
    SubscriptionEnd,
    /// Our own timer (`server.abandon_after`), no message.
    Abandon,
    /// `subscr_signup`: records the subscription, never changes a state (so it is in no row of the table).
    Record,
}

/// The allowed transitions: (from, cause, to). Nothing else may ever change a payment's state.
const ALLOWED: &[(&[PaymentState], Cause, PaymentState)] = &[
    (&[Created, Pending, Declined, Abandoned], Cause::Completed, Accepted),
    // A partly refunded or reversed payment is still accepted.
    (&[Accepted, Refunded], Cause::CanceledReversal, Accepted),
    (&[Created, Abandoned], Cause::Pending, Pending),
    (&[Created, Pending, Abandoned], Cause::Declined, Declined),
    // In part: it stays accepted; the refund that makes the total reach the amount makes it refunded.
    (&[Accepted], Cause::Refund, Accepted),
    (&[Accepted], Cause::Refund, Refunded),
    (
        &[Created, Pending, Accepted, Declined, Abandoned],
        Cause::SubscriptionEnd,
        Cancelled,
    ),
    (&[Created], Cause::Abandon, Abandoned),
];

fn allowed(from: PaymentState, cause: Cause, to: PaymentState) -> bool {
    ALLOWED
        .iter()
        .any(|(froms, c, t)| froms.contains(&from) && *c == cause && *t == to)
}

/// One thing that happens to the payment.
#[derive(Debug, Clone)]
enum Step {
    /// The payment (or, for a subscription, a cycle `txn`) completes.
    Completed { txn: u8 },
    /// The payment is pending (an e-cheque).
    Pending { txn: u8 },
    /// The payment is denied (for a subscription: `subscr_failed`, naming `ours` or another subscription).
    Denied { txn: u8, ours: bool },
    /// A refund of `cents` of transaction `txn`.
    Refunded { txn: u8, cents: i64 },
    /// A chargeback of `cents` of transaction `txn`.
    Reversed { txn: u8, cents: i64 },
    /// A chargeback decided in the seller's favour: `cents` come back.
    CanceledReversal { txn: u8, cents: i64 },
    /// `subscr_signup` naming our subscription or another one.
    Signup { ours: bool },
    /// `subscr_cancel` (or `subscr_eot`) naming our subscription or another one.
    SubscriptionEnd { ours: bool, eot: bool },
    /// Time passes beyond `abandon_after`, and the timer runs.
    Abandon,
    /// PayPal resends the message of an earlier step (counted back from this one).
    Resend { back: usize },
}

fn cents() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..=1500, Just(500), Just(1250)]
}

fn step() -> impl Strategy<Value = Step> {
    let txn = 0u8..3;
    prop_oneof![
        3 => txn.clone().prop_map(|txn| Step::Completed { txn }),
        1 => txn.clone().prop_map(|txn| Step::Pending { txn }),
        1 => (txn.clone(), any::<bool>()).prop_map(|(txn, ours)| Step::Denied { txn, ours }),
        2 => (txn.clone(), cents()).prop_map(|(txn, cents)| Step::Refunded { txn, cents }),
        2 => (txn.clone(), cents()).prop_map(|(txn, cents)| Step::Reversed { txn, cents }),
        2 => (txn, cents()).prop_map(|(txn, cents)| Step::CanceledReversal { txn, cents }),
        1 => any::<bool>().prop_map(|ours| Step::Signup { ours }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(ours, eot)| Step::SubscriptionEnd { ours, eot }),
        1 => Just(Step::Abandon),
        1 => (1usize..4).prop_map(|back| Step::Resend { back }),
    ]
}

/// A sequence of steps about a one-off payment (`false`) or a subscription (`true`).
fn scenario() -> impl Strategy<Value = (bool, Vec<Step>)> {
    (any::<bool>(), prop::collection::vec(step(), 1..14))
}

struct AlwaysVerified;

#[async_trait::async_trait]
impl Postback for AlwaysVerified {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Verified
    }
}

fn button() -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-1042",
        "options": [
          {{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR"}},
          {{"description": "Supporter, monthly", "amount": "5.00", "currency": "EUR", "recurrence_months": 1}}
        ],
        "payment_options": {{"paypal": {{"paypal_email": "{SELLER}"}}}},
        "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                 "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

/// The shop's side: an engine over the in-memory store, one payment, a clock, the messages sent so far.
struct Run {
    engine: Engine<MemoryStore>,
    payment: PaymentId,
    subscription: bool,
    now: DateTime<Utc>,
    sent: Vec<(Vec<u8>, Cause)>,
}

impl Run {
    async fn start(subscription: bool) -> Run {
        let config = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                webscr_url: Some("http://127.0.0.1:1/simulator/paypal".into()),
                postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let engine = Engine::new(
            Arc::new(MemoryStore::new()),
            Gateways::new().with(Arc::new(PaypalGateway::new(config, Arc::new(AlwaysVerified)))),
            ButtonSigner::new(b"a test secret that is long enough"),
            ServiceUrls::new("https://pay.example").unwrap(),
        )
        .with_abandon_after(Duration::from_secs(3600));
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let token = engine.sign_button(&button(), now).unwrap();
        let option = if subscription { "1" } else { "0" };
        let started = engine
            .start_payment(&token, Some(option), None, None, None, now)
            .await
            .unwrap();
        Run {
            engine,
            payment: started.payment_id,
            subscription,
            now,
            sent: Vec::new(),
        }
    }

    fn amount(&self) -> &'static str {
        if self.subscription { "5.00" } else { "12.50" }
    }

    /// The IPN fields of `step`, and what the table calls its cause; `None` for a step that is no message.
    fn message(&self, step: &Step) -> Option<(Vec<(String, String)>, Cause)> {
        let invoice = self.payment.as_str().to_owned();
        let subscr = |ours: bool| if ours { OUR_SUBSCRIPTION } else { OTHER_SUBSCRIPTION };
        let mut fields: Vec<(String, String)> = [
            ("invoice", invoice.as_str()),
            ("receiver_email", SELLER),
            ("business", SELLER),
            ("mc_currency", "EUR"),
            ("payment_date", "10:41:07 Mar 03, 2025 PST"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut add = |k: &str, v: String| fields.push((k.to_owned(), v));
        let payment_type = if self.subscription {
            "subscr_payment"
        } else {
            "web_accept"
        };
        let txn_id = |txn: u8| format!("TXN{txn}");
        let minus = |cents: i64| format!("-{}.{:02}", cents / 100, cents % 100);
        let plus = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
        let cause = match step {
            Step::Completed { txn } | Step::Pending { txn } => {
                add("txn_type", payment_type.into());
                add("txn_id", txn_id(*txn));
                add("mc_gross", self.amount().into());
                let completed = matches!(step, Step::Completed { .. });
                add("payment_status", if completed { "Completed" } else { "Pending" }.into());
                if self.subscription {
                    add("subscr_id", OUR_SUBSCRIPTION.into());
                }
                if completed { Cause::Completed } else { Cause::Pending }
            }
            Step::Denied { txn, ours } => {
                if self.subscription {
                    add("txn_type", "subscr_failed".into());
                    add("ipn_track_id", format!("TRACK{txn}"));
                    add("subscr_id", subscr(*ours).into());
                } else {
                    add("txn_type", "web_accept".into());
                    add("txn_id", txn_id(*txn));
                    add("payment_status", "Denied".into());
                }
                add("mc_gross", self.amount().into());
                Cause::Declined
            }
            Step::Refunded { txn, cents } | Step::Reversed { txn, cents } => {
                let status = if matches!(step, Step::Refunded { .. }) {
                    "Refunded"
                } else {
                    "Reversed"
                };
                add("payment_status", status.into());
                add("txn_id", format!("R{}{txn}{cents}", self.sent.len()));
                add("parent_txn_id", txn_id(*txn));
                add("mc_gross", minus(*cents));
                if self.subscription {
                    add("subscr_id", OUR_SUBSCRIPTION.into());
                }
                Cause::Refund
            }
            Step::CanceledReversal { txn, cents } => {
                add("payment_status", "Canceled_Reversal".into());
                add("txn_id", format!("C{}{txn}{cents}", self.sent.len()));
                add("parent_txn_id", txn_id(*txn));
                add("mc_gross", plus(*cents));
                if self.subscription {
                    add("subscr_id", OUR_SUBSCRIPTION.into());
                }
                Cause::CanceledReversal
            }
            Step::Signup { ours } => {
                add("txn_type", "subscr_signup".into());
                add("subscr_id", subscr(*ours).into());
                add("mc_amount3", self.amount().into());
                add("period3", "1 M".into());
                add("recurring", "1".into());
                Cause::Record
            }
            Step::SubscriptionEnd { ours, eot } => {
                add("txn_type", if *eot { "subscr_eot" } else { "subscr_cancel" }.into());
                add("subscr_id", subscr(*ours).into());
                Cause::SubscriptionEnd
            }
            Step::Abandon | Step::Resend { .. } => return None,
        };
        Some((fields, cause))
    }

    /// Posts an IPN as PayPal does and processes the queue as the worker would.
    async fn post(&mut self, body: Vec<u8>) {
        self.now += chrono::Duration::seconds(1);
        let message = IncomingMessage {
            received_at: self.now,
            remote_addr: Some("127.0.0.1".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body,
            headers: Default::default(),
        };
        self.engine.receive("paypal", message).await.unwrap();
        for queued in self.engine.store().claim_messages(self.now, 10).await.unwrap() {
            self.engine.process(queued, self.now).await.unwrap();
        }
    }

    /// Runs one step; returns what the table calls its cause, `None` when it sent nothing.
    async fn run(&mut self, step: &Step) -> Option<Cause> {
        match step {
            Step::Abandon => {
                self.now += chrono::Duration::hours(2);
                self.engine.abandon_unpaid(self.now).await.unwrap();
                Some(Cause::Abandon)
            }
            Step::Resend { back } => {
                let (body, cause) = self.sent.len().checked_sub(*back).map(|i| self.sent[i].clone())?;
                self.post(body).await;
                Some(cause)
            }
            step => {
                let (fields, cause) = self.message(step)?;
                let body = encode_ipn(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                self.sent.push((body.clone(), cause));
                self.post(body).await;
                Some(cause)
            }
        }
    }
}

/// Every payment's state, and its events so far.
fn observe(run: &Run) -> BTreeMap<PaymentId, (PaymentState, Money, Money, Vec<Event>)> {
    let events = run.engine.store().events();
    run.engine
        .store()
        .payments()
        .into_iter()
        .map(|p| {
            let own: Vec<Event> = events.iter().filter(|e| e.payment.id == p.id).cloned().collect();
            (p.id.clone(), (p.state, p.amount, p.refunded, own))
        })
        .collect()
}

/// Runs `steps`, calling `check` after each with the step, its cause, and the payments before and after.
fn drive(
    subscription: bool,
    steps: &[Step],
    mut check: impl FnMut(
        &Step,
        Option<Cause>,
        &PaymentId,
        Option<&(PaymentState, Money, Money, Vec<Event>)>,
        &(PaymentState, Money, Money, Vec<Event>),
    ) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut run = Run::start(subscription).await;
        let mut before = observe(&run);
        for step in steps {
            let cause = run.run(step).await;
            let after = observe(&run);
            for (id, now) in &after {
                check(step, cause, id, before.get(id), now)?;
            }
            before = after;
        }
        Ok(())
    })
}

fn money(text: &str, like: Money) -> Money {
    Money::parse(text, like.currency().code()).unwrap()
}

proptest! {
    // The minimal failing sequence is printed; integration tests have no lib.rs to persist it next to.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Every state change of every payment (the subscription's later cycles included) is in the table, and
    /// is announced by exactly one outcome event (none for abandonment, which is our bookkeeping, nor for a
    /// cancelled reversal, announced by `payment_processed` alone since the payment was accepted once already).
    #[test]
    fn no_sequence_of_notifications_leaves_the_table((subscription, steps) in scenario()) {
        drive(subscription, &steps, |step, cause, id, before, after| {
            let from = before.map_or(Created, |b| b.0);
            let old_events = before.map_or(0, |b| b.3.len());
            let outcomes: Vec<&Event> =
                after.3[old_events..].iter().filter(|e| e.kind != EventKind::PaymentProcessed).collect();
            prop_assert!(outcomes.len() <= 1, "{step:?} announced {} outcomes for {id}", outcomes.len());
            let to = after.0;
            let changed = from != to || !outcomes.is_empty();
            if !changed {
                return Ok(());
            }
            let cause = cause.ok_or_else(|| TestCaseError::fail(format!("{id} changed without a message")))?;
            prop_assert!(allowed(from, cause, to), "{id}: {from} -> {to} on {step:?} is not in the table");
            if !subscription {
                prop_assert_ne!(to, Cancelled, "a one-off payment was cancelled by {:?}", step);
            }
            match cause {
                Cause::Abandon => prop_assert!(outcomes.is_empty(), "abandonment announced {outcomes:?}"),
                // Accepted once already: announced by `payment_processed` alone, which carries the state.
                Cause::CanceledReversal => {
                    prop_assert!(outcomes.is_empty(), "a cancelled reversal announced {outcomes:?}");
                    let processed = after.3[old_events..].iter().find(|e| e.kind == EventKind::PaymentProcessed);
                    prop_assert_eq!(processed.map(|e| e.payment.state), Some(to));
                }
                Cause::Refund => {
                    prop_assert_eq!(outcomes.len(), 1, "{} -> {} on {:?} announced nothing", from, to, step);
                    prop_assert_eq!(outcomes[0].kind, EventKind::PaymentRefunded);
                    prop_assert_eq!(outcomes[0].payment.state, to);
                    // Refunded exactly when everything went back.
                    prop_assert_eq!(to == Refunded, after.2 == after.1, "{}: {} of {} refunded", id, after.2, after.1);
                }
                _ => {
                    prop_assert_eq!(outcomes.len(), 1, "{} -> {} on {:?} announced nothing", from, to, step);
                    prop_assert_eq!(Some(outcomes[0].kind), EventKind::for_state(to));
                    prop_assert_eq!(outcomes[0].payment.state, to);
                }
            }
            Ok(())
        })?;
    }

    /// The refunds and reversals applied to a payment never add up to more than its amount: as the store
    /// keeps it, and as the events tell it (each refund event's total is the previous total plus its
    /// refund, never above the amount).
    #[test]
    fn refunds_never_exceed_the_amount((subscription, steps) in scenario()) {
        drive(subscription, &steps, |step, _cause, id, _before, after| {
            let (_, amount, refunded, events) = after;
            prop_assert!(refunded.minor_units() >= 0, "{id}: refunded {refunded} after {step:?}");
            prop_assert!(refunded.minor_units() <= amount.minor_units(), "{id}: refunded {refunded} of {amount} after {step:?}");
            let mut total = money("0", *amount);
            // Each application starts with `payment_processed` (a cancelled reversal has nothing else); its
            // outcome event, if any, carries the same snapshot.
            let mut before = total;
            for event in events {
                let stated = money(&event.payment.refunded_amount, *amount);
                prop_assert!(stated.minor_units() <= amount.minor_units(), "{id}: event says {stated} refunded of {amount}");
                if event.kind == EventKind::PaymentProcessed {
                    before = total;
                }
                if event.kind == EventKind::PaymentRefunded {
                    let refund = money(event.details["refund_amount"].as_str().unwrap_or("0"), *amount);
                    prop_assert_eq!(stated.minor_units(), before.minor_units() + refund.minor_units(), "{}: refund event total", id);
                }
                total = stated;
            }
            prop_assert_eq!(total, *refunded, "{}: the events and the store disagree", id);
            Ok(())
        })?;
    }

    /// A shop fulfils an order on `payment_accepted`: it is sent at most once per payment.
    #[test]
    fn no_payment_is_accepted_twice((subscription, steps) in scenario()) {
        drive(subscription, &steps, |step, _cause, id, _before, after| {
            let accepted = after.3.iter().filter(|e| e.kind == EventKind::PaymentAccepted).count();
            prop_assert!(accepted <= 1, "{id}: payment_accepted sent {accepted} times (last step {step:?})");
            Ok(())
        })?;
    }
}
