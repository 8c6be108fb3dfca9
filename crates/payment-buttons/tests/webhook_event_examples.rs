//! The example payloads shipped in this crate's `events/` folder are real events: each one is built here
//! by the code that builds events ([`events_for`], with gateway details from the gateway modules where they
//! exist), serialized, and compared with `events/<type>.json`. (The repository's `docs/events.md` shows
//! the same files; a test of the server crate checks that it shows them exactly.)
//!
//! When the payload changes on purpose, copy the expected JSON from the failure message into the file and
//! the page.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use payment_buttons::button::ButtonConfig;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::event::{Event, EventKind};
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::StoredPayment;
use payment_buttons::transition::{REFUND_AMOUNT_DETAIL, events_for, refund_events, state_after_refund};
use payment_buttons::urlencoded::FormFields;
use serde_json::{Map, Value, json};

/// The button of the API documentation's example, validated and written back by our serializer.
const BUTTON: &str = r#"{
  "order_date": "2026-11-26T10:00:00Z",
  "order_reference": "ORDER-1042",
  "email": "buyer@example.org",
  "language": "fr",
  "options": [
    { "description": "Manual, PDF", "amount": "12.50", "currency": "EUR",
      "recurrence_months": null, "custom": { "sku": "manual-pdf" } },
    { "description": "Supporter, monthly", "amount": "5.00", "currency": "EUR",
      "recurrence_months": 1, "custom": { "sku": "supporter" } }
  ],
  "payment_options": {
    "paypal": { "paypal_email": "seller@example.com" },
    "cmcic": { "billing": { "address_line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR" } }
  },
  "image_url": null,
  "text": "Pay",
  "urls": { "back": "https://shop.example/cart",
            "accepted": "https://shop.example/thanks",
            "declined": "https://shop.example/sorry" }
}"#;

fn time(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

fn payment(
    id: &str,
    gateway: &str,
    option_index: usize,
    state: PaymentState,
    reference: Option<&str>,
) -> StoredPayment {
    let button = ButtonConfig::from_json(BUTTON).expect("the documented button is valid");
    let amount = button.options()[option_index].amount();
    StoredPayment {
        id: PaymentId::parse(id).expect("a payment id"),
        gateway: gateway.to_owned(),
        button,
        option_index,
        amount,
        state,
        receiver: None,
        subscription_id: None,
        gateway_reference: reference.map(str::to_owned),
        details: Map::new(),
        refunded: Money::from_minor(0, amount.currency()),
        created_at: time("2026-11-26T10:00:00Z"),
        updated_at: time("2026-11-26T10:00:00Z"),
    }
}

/// The details the cmcic module extracts from a bank return holding `fields`.
fn cmcic_details(fields: &[(&str, &str)]) -> Map<String, Value> {
    let key = UsableKey::from_merchant_key("0123456789ABCDEF0123456789ABCDEF012345AM").expect("a valid key");
    let config = CmcicConfig::new(CmcicMode::Production, "1234567", key, "monSite1").expect("a valid config");
    let mut form = FormFields::new();
    for (name, value) in fields {
        form.push(*name, *value);
    }
    simulator::notification(&config, &form).details
}

fn with_id(event: Event, id: &str) -> Event {
    // Ids are random; a fixed one keeps the documented examples stable.
    with_id_at(event, id, 2)
}

/// `event` with a fixed id, as the store numbers it: the `sequence`-th event of its payment.
fn with_id_at(mut event: Event, id: &str, sequence: u64) -> Event {
    event.id = id.to_owned();
    event.sequence = sequence;
    event
}

/// The processed and accepted events of one CM-CIC card payment.
fn cmcic_accepted() -> [Event; 2] {
    let details = cmcic_details(&[
        ("TPE", "1234567"),
        ("date", "26/11/2026_a_11:00:02"),
        ("montant", "12.50EUR"),
        ("reference", "Xk3f9QpL2mZa"),
        ("texte-libre", ""),
        ("code-retour", "paiement"),
        ("cvx", "oui"),
        ("vld", "1228"),
        ("brand", "VI"),
        ("status3ds", "1"),
        ("numauto", "010101"),
        ("originecb", "FRA"),
        ("bincb", "497010"),
        ("hpancb", "764AD24CFABBB818DE5D6DD8B5E6A8DD4B1FA7B8"),
        ("ipclient", "203.0.113.42"),
        ("originetr", "FRA"),
        ("modepaiement", "CB"),
        ("cbmasquee", "497010XXXXXX0014"),
    ]);
    let paid = payment("Xk3f9QpL2mZa", "cmcic", 0, PaymentState::Created, None);
    let events = events_for(
        &paid,
        PaymentState::Accepted,
        Some("010101".to_owned()),
        &details,
        Some(42),
        time("2026-11-26T10:00:03Z"),
    );
    let [processed, accepted] = <[Event; 2]>::try_from(events).expect("processed, then accepted");
    [
        with_id_at(processed, "evt_3f6b1c0e9a2d4f8b7c5e1a90", 1),
        with_id(accepted, "evt_8d2e7a4c1b9f0e6d3a5c7b21"),
    ]
}

/// A CM-CIC refusal after the bank's fraud filters fired.
fn cmcic_declined() -> Event {
    let details = cmcic_details(&[
        ("TPE", "1234567"),
        ("date", "26/11/2026_a_11:04:51"),
        ("montant", "12.50EUR"),
        ("reference", "Pq7LmN2xVb4R"),
        ("texte-libre", ""),
        ("code-retour", "Annulation"),
        ("cvx", "oui"),
        ("vld", "0327"),
        ("brand", "MC"),
        ("status3ds", "-1"),
        ("motifrefus", "filtrage"),
        ("originecb", "BRA"),
        ("ipclient", "198.51.100.7"),
        ("originetr", "FRA"),
        ("modepaiement", "CB"),
        ("filtragecause", "4-6"),
        ("filtragevaleur", "BRA-BRA/FRA"),
        ("cbmasquee", "535110XXXXXX4421"),
    ]);
    let declined = payment("Pq7LmN2xVb4R", "cmcic", 0, PaymentState::Created, None);
    let events = events_for(
        &declined,
        PaymentState::Declined,
        None,
        &details,
        Some(57),
        time("2026-11-26T10:04:52Z"),
    );
    let [_, declined] = <[Event; 2]>::try_from(events).expect("processed, then declined");
    with_id(declined, "evt_c41f9e27b0a85d36e1f2a7c4")
}

/// A PayPal payment paid by eCheck: pending until the bank transfer clears.
fn paypal_pending() -> Event {
    let details = json!({ "payment_status": "Pending", "pending_reason": "echeck" });
    let pending = payment("Tz8cW1eK5nHd", "paypal", 0, PaymentState::Created, None);
    let events = events_for(
        &pending,
        PaymentState::Pending,
        Some("61E67681CH3238416".to_owned()),
        details.as_object().expect("an object"),
        Some(63),
        time("2026-11-26T10:07:15Z"),
    );
    let [_, pending] = <[Event; 2]>::try_from(events).expect("processed, then pending");
    with_id(pending, "evt_0b7d3e5f9a1c2e4d6f8a0b13")
}

/// A partial refund of 5.00 EUR out of 12.50 EUR, through PayPal: the payment stays accepted.
fn paypal_refunded() -> Event {
    let refunded = Money::parse("5.00", "EUR").expect("an amount");
    // The transition planner records this refund's amount under this key, written as Money writes itself.
    let details = json!({
        "payment_status": "Refunded",
        "reason_code": "refund",
        "parent_txn_id": "4RT73920XK118345L",
        REFUND_AMOUNT_DETAIL: refunded.to_string(),
    });
    let mut paid = payment(
        "Xk3f9QpL2mZa",
        "paypal",
        0,
        PaymentState::Accepted,
        Some("4RT73920XK118345L"),
    );
    // Events carry the payment as it is after the change: 5.00 refunded so far.
    paid.refunded = refunded;
    let events = refund_events(
        &paid,
        state_after_refund(paid.amount, paid.refunded),
        Some("4RT73920XK118345L".to_owned()),
        details.as_object().expect("an object"),
        Some(88),
        time("2026-11-28T15:30:00Z"),
    );
    let [_, refunded] = <[Event; 2]>::try_from(events).expect("processed, then refunded");
    // After the payment's processed + accepted, and this refund's processed.
    with_id_at(refunded, "evt_5a9c1e3b7d0f2a4c6e8b0d25", 4)
}

/// The buyer cancelled a monthly PayPal subscription; the event is about the payment that started it.
fn paypal_subscription_cancelled() -> Event {
    let details = json!({ "txn_type": "subscr_cancel", "subscr_id": "I-BW452GLLEP1G" });
    let first = payment(
        "Mv2sR8dQ4kYw",
        "paypal",
        1,
        PaymentState::Accepted,
        Some("9CW24735UH0212817"),
    );
    let events = events_for(
        &first,
        PaymentState::Cancelled,
        Some("9CW24735UH0212817".to_owned()),
        details.as_object().expect("an object"),
        Some(131),
        time("2027-02-03T08:12:40Z"),
    );
    let [_, cancelled] = <[Event; 2]>::try_from(events).expect("processed, then cancelled");
    with_id_at(cancelled, "evt_e2c4a6b8d0f1e3a5c7b9d142", 4)
}

/// One example of every kind.
fn examples() -> Vec<Event> {
    let [processed, accepted] = cmcic_accepted();
    vec![
        processed,
        accepted,
        cmcic_declined(),
        paypal_pending(),
        paypal_refunded(),
        paypal_subscription_cancelled(),
    ]
}

/// The crate's `events/` folder: shipped in the package, so these tests pass from it too.
fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn pretty(event: &Event) -> String {
    serde_json::to_string_pretty(event).expect("an event serializes") + "\n"
}

#[test]
fn there_is_one_example_of_every_event_kind() {
    let kinds: Vec<EventKind> = examples().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, EventKind::ALL);
}

#[test]
fn each_example_file_is_exactly_what_the_code_serializes() {
    for event in examples() {
        let path = examples_dir().join(format!("{}.json", event.kind));
        let expected = pretty(&event);
        assert_eq!(
            read(&path),
            expected,
            "{} differs; it should be:\n{expected}",
            path.display()
        );
    }
}

#[test]
fn each_example_file_reads_back_as_the_same_event() {
    for event in examples() {
        let path = examples_dir().join(format!("{}.json", event.kind));
        let parsed: Event = serde_json::from_str(&read(&path)).expect("an example parses as an Event");
        assert_eq!(parsed, event);
    }
}

#[test]
fn the_refund_example_carries_the_refunded_amount_and_the_declined_one_its_fraud_causes() {
    let examples = examples();
    let refunded = examples
        .iter()
        .find(|e| e.kind == EventKind::PaymentRefunded)
        .expect("a refund");
    assert_eq!(refunded.details["refund_amount"], "5.00");
    assert_eq!(refunded.payment.refunded_amount, "5.00");
    assert_eq!(
        refunded.payment.state,
        PaymentState::Accepted,
        "a partly refunded payment stays accepted"
    );
    assert_eq!(refunded.payment.amount, "12.50");
    let declined = examples
        .iter()
        .find(|e| e.kind == EventKind::PaymentDeclined)
        .expect("a refusal");
    assert_eq!(declined.details["fraud"][0]["code"], 4);
    assert_eq!(declined.details["cbmasquee"], "535110XXXXXX4421");
}
