//! CM-CIC / Monetico returns over the real HTTP route (`POST /notify/cmcic`) of the real app on a real SQLite
//! store, sealed with the merchant key exactly as the bank seals them.

#[path = "common/app.rs"]
mod common_app;

use std::sync::Arc;

use actix_pay_server::gateways::{SIMULATOR_CMCIC_KEY, SIMULATOR_CMCIC_SOCIETE, SIMULATOR_CMCIC_TPE};
use actix_pay_server::serve::Assembled;
use actix_pay_server::store::{LogRow, ServerStore};
use actix_web::test as atest;
use actix_web::{App, http::StatusCode};
use payment_buttons::button::ButtonConfig;
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::event::EventKind;
use payment_buttons::gateway::HandOff;
use payment_buttons::notification::VerificationStatus;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;
use payment_buttons::token::ButtonSigner;
use payment_buttons::urlencoded::FormFields;

use common_app::SECRET;
const ACK_OK: &str = "version=2\ncdr=0\n";
const ACK_BAD: &str = "version=2\ncdr=1\n";

struct Harness {
    assembled: Assembled,
    bank: CmcicGateway,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let (assembled, dir) = common_app::assembled_app(&[]).await;
    // The bank's side of the seal: the same merchant key.
    let key = UsableKey::from_merchant_key(SIMULATOR_CMCIC_KEY).unwrap();
    let bank = CmcicGateway::new(
        CmcicConfig::new(CmcicMode::Simulator, SIMULATOR_CMCIC_TPE, key, SIMULATOR_CMCIC_SOCIETE).unwrap(),
    );
    Harness {
        assembled,
        bank,
        _dir: dir,
    }
}

struct Return {
    fields: Vec<(&'static str, Vec<u8>)>,
}

impl Return {
    /// The fields of an accepted card payment as the bank posts them.
    fn paid(reference: &str, montant: &str) -> Self {
        let s = |v: &str| v.as_bytes().to_vec();
        Return {
            fields: vec![
                ("TPE", s(SIMULATOR_CMCIC_TPE)),
                ("date", s("26/11/2026_a_10:00:03")),
                ("montant", s(montant)),
                ("reference", s(reference)),
                ("texte-libre", s("ctx")),
                ("code-retour", s("paiement")),
                ("cvx", s("oui")),
                ("vld", s("1228")),
                ("brand", s("VI")),
                ("status3ds", s("-1")),
                ("numauto", s("123456")),
                ("motifrefus", s("")),
                ("originecb", s("FRA")),
                ("bincb", s("400000")),
                ("hpancb", s("2F7B9E0A")),
                ("ipclient", s("203.0.113.9")),
                ("originetr", s("FRA")),
                ("veres", s("")),
                ("pares", s("")),
                ("modepaiement", s("CB")),
            ],
        }
    }

    fn set(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Self {
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value.as_ref().to_vec(),
            None => self.fields.push((name, value.as_ref().to_vec())),
        }
        self
    }

    fn sealed(&self, bank: &CmcicGateway) -> Vec<u8> {
        let mut form = FormFields::new();
        for (name, value) in &self.fields {
            form.push(*name, value.clone());
        }
        bank.sealed_return_body(form)
    }
}

impl Harness {
    fn store(&self) -> &Arc<ServerStore> {
        self.assembled.state.engine.store()
    }

    /// Starts a card payment of `amount` for the shop's signed-in `customer` (a `customer_id`), if any.
    async fn buy(&self, amount: &str, customer: Option<&str>) -> (PaymentId, Vec<(String, String)>) {
        let button = ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": "ORDER-7", "email": "buyer@example.org", "customer_id": customer,
                "options": [{ "description": "Manual", "amount": amount, "currency": "EUR", "custom": { "sku": "m-7" } }],
                "payment_options": { "cmcic": {} },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
            })
            .to_string(),
        )
        .unwrap();
        let now = chrono::Utc::now();
        let token = ButtonSigner::new(SECRET)
            .sign(&button, std::time::Duration::from_secs(60), now)
            .unwrap();
        let started = self
            .assembled
            .state
            .engine
            .start_payment(&token, None, None, None, None, now)
            .await
            .unwrap();
        let HandOff::Form { fields, .. } = started.hand_off else {
            panic!("a form")
        };
        (started.payment_id, fields)
    }

    /// POSTs a return and runs the worker once; gives the acknowledgement and the log row.
    async fn post(&self, body: &[u8]) -> (String, LogRow) {
        let app = atest::init_service(App::new().configure(self.assembled.configure())).await;
        let resp = atest::call_service(
            &app,
            atest::TestRequest::post()
                .uri("/notify/cmcic")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(body.to_vec())
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get("content-type").unwrap().to_str().unwrap(),
            "text/plain; charset=utf-8"
        );
        let ack = String::from_utf8(atest::read_body(resp).await.to_vec()).unwrap();
        self.assembled
            .state
            .engine
            .process_due(chrono::Utc::now(), 10)
            .await
            .unwrap();
        let row = common_app::last_row(self.store()).await;
        assert_eq!(row.body, body, "logged byte for byte");
        (ack, row)
    }

    async fn state(&self, id: &PaymentId) -> PaymentState {
        self.store().payment(id).await.unwrap().unwrap().state
    }

    async fn events(&self, id: &PaymentId) -> Vec<payment_buttons::event::Event> {
        self.store().events_for_payment(id).await.unwrap()
    }
}

#[actix_web::test]
async fn an_accepted_card_payment_is_acknowledged_and_accepted_once_even_when_resent() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let body = Return::paid(id.as_str(), "12.50EUR").sealed(&h.bank);
    let (ack, row) = h.post(&body).await;
    assert_eq!(ack, ACK_OK);
    assert_eq!(
        (row.verification, row.payment_id.as_deref()),
        (VerificationStatus::Verified, Some(id.as_str()))
    );
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    let (ack, row) = h.post(&body).await;
    assert_eq!(ack, ACK_OK, "a resend is acknowledged like the first");
    assert!(row.flags.contains(&"duplicate".to_owned()));
    let kinds: Vec<_> = h.events(&id).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
}

#[actix_web::test]
async fn a_declined_payment_may_still_be_accepted_later() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let declined = Return::paid(id.as_str(), "12.50EUR")
        .set("code-retour", "Annulation")
        .set("numauto", "")
        .set("motifrefus", "Refus");
    let (ack, _) = h.post(&declined.sealed(&h.bank)).await;
    assert_eq!(ack, ACK_OK, "a correctly sealed Annulation is acknowledged cdr=0");
    assert_eq!(h.state(&id).await, PaymentState::Declined);
    h.post(&Return::paid(id.as_str(), "12.50EUR").sealed(&h.bank)).await;
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    let kinds: Vec<_> = h.events(&id).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentDeclined,
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted
        ]
    );
}

#[actix_web::test]
async fn a_fraud_refusal_with_two_filters_is_declined_with_named_reasons() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let refused = Return::paid(id.as_str(), "12.50EUR")
        .set("code-retour", "Annulation")
        .set("numauto", "")
        .set("motifrefus", "filtrage")
        .set("filtragecause", "4-6")
        .set("filtragevaleur", "US-FR-US");
    h.post(&refused.sealed(&h.bank)).await;
    assert_eq!(h.state(&id).await, PaymentState::Declined);
    let events = h.events(&id).await;
    let details = serde_json::to_string(&events[1].details).unwrap();
    assert!(
        details.contains("\"code\":4") && details.contains("\"code\":6"),
        "{details}"
    );
}

#[actix_web::test]
async fn a_filter_in_information_mode_does_not_decline() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let informed = Return::paid(id.as_str(), "12.50EUR")
        .set("filtragecause", "3")
        .set("filtragevaleur", "400000")
        .set("filtrage_etat", "information");
    h.post(&informed.sealed(&h.bank)).await;
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    let details = serde_json::to_string(&h.events(&id).await[1].details).unwrap();
    assert!(details.contains("\"information_only\":true"), "{details}");
}

#[actix_web::test]
async fn express_payment_sends_a_stable_keyed_alias_and_keeps_the_masked_card() {
    let h = harness().await;
    let (first, fields) = h.buy("12.50", Some("customer-7")).await;
    let (_, again) = h.buy("30.00", Some("customer-7")).await;
    let alias = |f: &[(String, String)]| f.iter().find(|(k, _)| k == "aliascb").map(|(_, v)| v.clone());
    let a1 = alias(&fields).expect("a vouched customer gets an alias");
    assert_eq!(Some(a1.clone()), alias(&again), "the same customer, the same alias");
    assert!(!a1.contains("customer") && a1.chars().all(|c| c.is_ascii_alphanumeric()) && a1.len() <= 64);
    assert!(
        fields.iter().any(|(k, v)| k == "forcesaisiecb" && v == "1"),
        "another card can be used"
    );
    let (_, anonymous) = h.buy("12.50", None).await;
    assert_eq!(alias(&anonymous), None);

    let saved = Return::paid(first.as_str(), "12.50EUR")
        .set("cbenregistree", "1")
        .set("cbmasquee", "400000******0002");
    h.post(&saved.sealed(&h.bank)).await;
    let payment = h.store().payment(&first).await.unwrap().unwrap();
    assert_eq!(payment.details["cbmasquee"], "400000******0002");
    let event = &h.events(&first).await[1];
    assert_eq!(event.details["cbmasquee"], "400000******0002");
    assert_eq!(
        event.button["options"][0]["custom"]["sku"], "m-7",
        "the event carries the whole button"
    );
}

#[actix_web::test]
async fn a_bad_seal_is_answered_cdr_1_logged_and_never_applied() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let mut body = Return::paid(id.as_str(), "12.50EUR").sealed(&h.bank);
    // Change the amount after sealing.
    let text = String::from_utf8(body.clone()).unwrap().replace("12.50EUR", "0.01EUR");
    body = text.into_bytes();
    let (ack, row) = h.post(&body).await;
    assert_eq!(ack, ACK_BAD);
    assert_eq!(row.verification, VerificationStatus::BadMac);
    assert!(row.flags.contains(&"bad_mac".to_owned()));
    assert_eq!(h.state(&id).await, PaymentState::Created);
    assert!(h.events(&id).await.is_empty());
}

#[actix_web::test]
async fn an_unknown_reference_is_acknowledged_and_flagged() {
    let h = harness().await;
    let (ack, row) = h.post(&Return::paid("NOSUCHPAYMNT", "12.50EUR").sealed(&h.bank)).await;
    assert_eq!(ack, ACK_OK);
    assert!(row.flags.contains(&"unknown_payment".to_owned()), "{:?}", row.flags);
}

#[actix_web::test]
async fn a_wrong_amount_is_flagged_and_not_accepted() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let (ack, row) = h.post(&Return::paid(id.as_str(), "1.25EUR").sealed(&h.bank)).await;
    assert_eq!(ack, ACK_OK, "the seal is valid: the bank must not resend");
    assert!(row.flags.contains(&"amount_mismatch".to_owned()), "{:?}", row.flags);
    assert_eq!(h.state(&id).await, PaymentState::Created);
}

#[actix_web::test]
async fn separators_and_non_ascii_bytes_in_values_keep_the_seal_valid() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    let tricky = Return::paid(id.as_str(), "12.50EUR").set("texte-libre", "a+b*c=d&e f");
    let (ack, _) = h.post(&tricky.sealed(&h.bank)).await;
    assert_eq!(ack, ACK_OK);
    assert_eq!(h.state(&id).await, PaymentState::Accepted);

    for bytes in [
        &b"Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale"[..],
        &b"Soci\xe9t\xe9 G\xe9n\xe9rale"[..],
    ] {
        let (id, _) = h.buy("12.50", None).await;
        let (ack, row) = h
            .post(
                &Return::paid(id.as_str(), "12.50EUR")
                    .set("motifrefus", bytes)
                    .sealed(&h.bank),
            )
            .await;
        assert_eq!(ack, ACK_OK, "UTF-8 or ISO-8859-1, the seal is over the bytes");
        assert_eq!(row.verification, VerificationStatus::Verified);
        assert_eq!(h.state(&id).await, PaymentState::Accepted);
    }
}

/// Posts a CM-CIC button for `config` to the real `/pay` route and returns the hand-off page.
async fn pay_page(h: &Harness, config: serde_json::Value) -> String {
    let button = ButtonConfig::from_json(&config.to_string()).unwrap();
    let token = ButtonSigner::new(SECRET)
        .sign(&button, std::time::Duration::from_secs(60), chrono::Utc::now())
        .unwrap();
    let app = atest::init_service(App::new().configure(h.assembled.configure())).await;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("button", &token)
        .finish();
    let request = atest::TestRequest::post()
        .uri("/pay")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request();
    let response = atest::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    String::from_utf8(atest::read_body(response).await.to_vec()).unwrap()
}

fn card_button(extra: serde_json::Value) -> serde_json::Value {
    let mut config = serde_json::json!({
        "order_reference": "ORDER-9",
        "options": [{ "description": "Ticket", "amount": "45.00", "currency": "EUR" }],
        "payment_options": { "cmcic": {} },
        "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn aliascb(page: &str) -> Option<String> {
    let marker = r#"name="aliascb" value=""#;
    let start = page.find(marker)? + marker.len();
    Some(page[start..start + page[start..].find('"')?].to_owned())
}

#[actix_web::test]
async fn a_victims_e_mail_typed_into_a_checkout_never_offers_their_saved_card() {
    let h = harness().await;
    // The victim's own purchase, from a shop that vouches for them: the bank gets an alias.
    let victim = pay_page(
        &h,
        card_button(serde_json::json!({ "email": "victim@example.org", "customer_id": "shop-customer-42" })),
    )
    .await;
    assert!(aliascb(&victim).is_some(), "a vouched customer gets Express Payment");
    // The attacker types the victim's e-mail into a checkout: no alias at all, so no saved card.
    let attacker = pay_page(&h, card_button(serde_json::json!({ "email": "victim@example.org" }))).await;
    assert_eq!(aliascb(&attacker), None, "{attacker}");
    assert!(!attacker.contains("forcesaisiecb"));
}

#[actix_web::test]
async fn the_same_customer_id_always_gets_the_same_alias_and_another_one_another() {
    let h = harness().await;
    let alias = |page: String| aliascb(&page).expect("an alias");
    let first = alias(pay_page(&h, card_button(serde_json::json!({ "customer_id": "c-1" }))).await);
    let again = alias(
        pay_page(
            &h,
            card_button(serde_json::json!({ "customer_id": "c-1", "email": "x@example.org" })),
        )
        .await,
    );
    let other = alias(pay_page(&h, card_button(serde_json::json!({ "customer_id": "c-2" }))).await);
    assert_eq!(first, again, "the e-mail plays no part");
    assert_ne!(first, other);
    assert!(!first.contains("c-1"));
}

#[actix_web::test]
async fn our_own_sealed_payment_form_posted_back_as_a_return_is_refused_and_changes_nothing() {
    let h = harness().await;
    // The attack: the hand-off form the buyer's browser can read is sealed with the merchant key.
    let (id, form) = h.buy("12.50", Some("customer-7")).await;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
        .into_bytes();
    let (ack, row) = h.post(&body).await;
    assert_eq!(ack, ACK_BAD, "not a return: cdr=1, as for a bad seal");
    assert_eq!(row.verification, VerificationStatus::Invalid);
    assert!(row.flags.contains(&"not_a_return".to_owned()), "{:?}", row.flags);
    assert_eq!(h.state(&id).await, PaymentState::Created);
    assert!(h.events(&id).await.is_empty());
    let details = h.store().payment(&id).await.unwrap().unwrap().details;
    assert!(details.is_empty(), "the payment's details are untouched: {details:?}");
}

#[actix_web::test]
async fn a_sealed_message_without_a_valid_code_retour_is_not_a_return() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    for code in ["", "paid", "PAIEMENT"] {
        let body = Return::paid(id.as_str(), "12.50EUR")
            .set("code-retour", code)
            .sealed(&h.bank);
        let (ack, row) = h.post(&body).await;
        assert_eq!(ack, ACK_BAD, "{code:?}");
        assert!(
            row.flags.contains(&"not_a_return".to_owned()),
            "{code:?}: {:?}",
            row.flags
        );
    }
    assert_eq!(h.state(&id).await, PaymentState::Created);
}

#[actix_web::test]
async fn an_amount_with_more_places_than_the_currency_is_not_rounded_into_a_match() {
    let h = harness().await;
    let (id, _) = h.buy("12.50", None).await;
    // 12.4999…9 with 30 nines: a 28-digit decimal would round it to 12.50 and accept it.
    let montant = format!("12.4{}EUR", "9".repeat(30));
    let (_, row) = h.post(&Return::paid(id.as_str(), &montant).sealed(&h.bank)).await;
    assert_eq!(h.state(&id).await, PaymentState::Created, "{row:?}");
    assert!(h.events(&id).await.is_empty());
}
