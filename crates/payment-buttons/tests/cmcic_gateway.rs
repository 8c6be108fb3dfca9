//! The CM-CIC gateway's behaviour, without HTTP: what it hands the buyer's browser, how it answers and
//! reads the bank's returns.

use base64::Engine;
use chrono::TimeZone;
use payment_buttons::button::{ButtonConfig, CustomerId};
use payment_buttons::cmcic::CmcicProtocol;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::{ACK_BAD_SEAL, ACK_VALID, CmcicGateway};
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::gateway::{Gateway, GatewayError, HandOff, IncomingMessage, PaymentRequest, ServiceUrls};
use payment_buttons::identity::VouchedIdentity;
use payment_buttons::notification::{Flag, Notification, Outcome, Target, Verification, VerificationStatus};
use payment_buttons::payment::PaymentId;
use payment_buttons::urlencoded::FormFields;

const MERCHANT_KEY: &str = "0123456789ABCDEF0123456789ABCDEF012345AM";

fn config(mode: CmcicMode, protocol: CmcicProtocol) -> CmcicConfig {
    let key = UsableKey::from_merchant_key(MERCHANT_KEY).unwrap();
    CmcicConfig::new(mode, "1234567", key, "monSite1")
        .unwrap()
        .with_protocol(protocol)
}

fn gateway(mode: CmcicMode) -> CmcicGateway {
    CmcicGateway::new(config(mode, CmcicProtocol::Monetico))
}

fn button(payment_options: &str, language: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{
          "order_reference": "ORDER-1042 café",
          "email": "shop-knows@example.org",
          "language": "{language}",
          "options": [
            {{ "description": "Manual, PDF", "amount": "12.5", "currency": "EUR" }},
            {{ "description": "Supporter, monthly", "amount": "5.00", "currency": "EUR", "recurrence_months": 1 }}
          ],
          "payment_options": {payment_options},
          "urls": {{ "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                    "declined": "https://shop.example/sorry" }}
        }}"#
    ))
    .unwrap()
}

const BILLING: &str = r#"{ "cmcic": { "billing": { "address_line1": "3 rue de l'Église", "city": "Orléans",
    "postal_code": "45000", "country": "FR" } } }"#;

fn hand_off_fields(
    gateway: &CmcicGateway,
    button: &ButtonConfig,
    option: usize,
    buyer: Option<&str>,
    identity: Option<&VouchedIdentity>,
) -> Result<(String, Vec<(String, String)>), GatewayError> {
    let urls = ServiceUrls::new("https://pay.example").unwrap();
    let id = PaymentId::parse("Xk3f9QpL2mZa").unwrap();
    let request = PaymentRequest {
        payment_id: &id,
        button,
        option_index: option,
        buyer_email: buyer,
        identity,
        urls: &urls,
        created_at: chrono::Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 3).unwrap(),
    };
    match gateway.hand_off(&request)? {
        HandOff::Form { action, fields } => Ok((action, fields)),
        other => panic!("expected a form, got {other:?}"),
    }
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn message(body: Vec<u8>) -> IncomingMessage {
    IncomingMessage {
        received_at: chrono::Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    }
}

/// A return as the bank would post it for payment `Xk3f9QpL2mZa`, with `extra` fields added or replaced.
fn bank_return(gateway: &CmcicGateway, extra: &[(&str, &[u8])]) -> IncomingMessage {
    let mut base: Vec<(&str, &[u8])> = vec![
        ("TPE", b"1234567"),
        ("date", b"26/11/2026_a_10:01:00"),
        ("montant", b"12.50EUR"),
        ("reference", b"Xk3f9QpL2mZa"),
        ("texte-libre", b"payment=Xk3f9QpL2mZa;order=ORDER-1042_caf_"),
        ("code-retour", b"paiement"),
        ("cvx", b"oui"),
        ("vld", b"1228"),
        ("brand", b"VI"),
        ("numauto", b"123456"),
        ("motifrefus", b""),
        ("originecb", b"FRA"),
        ("bincb", b"49701000"),
        ("hpancb", b"74E94B03C22D786E0F2C2CADBFC1C00B004B7C45"),
        ("ipclient", b"192.0.2.10"),
        ("originetr", b"FRA"),
        ("modepaiement", b"CB"),
    ];
    for (name, value) in extra {
        match base.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => base.push((name, value)),
        }
    }
    let mut form = FormFields::new();
    for (name, value) in base {
        form.push(name, value);
    }
    message(gateway.sealed_return_body(form))
}

async fn verified(gateway: &CmcicGateway, msg: &IncomingMessage) -> Notification {
    assert_eq!(gateway.acknowledge(msg).body, ACK_VALID.as_bytes());
    match gateway.verify(msg).await {
        Verification::Verified(n) => n.into_inner(),
        other => panic!("expected a verified return, got {other:?}"),
    }
}

#[test]
fn the_payment_form_carries_the_monetico_fields_sealed_and_ascii() {
    let gateway = gateway(CmcicMode::Test);
    let (action, fields) = hand_off_fields(&gateway, &button(BILLING, "de"), 0, None, None).unwrap();
    assert_eq!(action, "https://p.monetico-services.com/test/paiement.cgi");
    assert_eq!(value(&fields, "TPE"), Some("1234567"));
    assert_eq!(value(&fields, "date"), Some("26/11/2026:10:00:03"));
    assert_eq!(value(&fields, "montant"), Some("12.50EUR"));
    assert_eq!(value(&fields, "reference"), Some("Xk3f9QpL2mZa"));
    assert_eq!(value(&fields, "lgue"), Some("DE"));
    assert_eq!(value(&fields, "societe"), Some("monSite1"));
    assert_eq!(value(&fields, "mail"), Some("shop-knows@example.org"));
    assert_eq!(value(&fields, "version"), Some("3.0"));
    assert_eq!(
        value(&fields, "texte-libre"),
        Some("payment=Xk3f9QpL2mZa;order=ORDER-1042_caf_")
    );
    assert_eq!(
        value(&fields, "url_retour_ok"),
        Some("https://pay.example/payments/Xk3f9QpL2mZa")
    );
    assert_eq!(
        value(&fields, "url_retour_err"),
        Some("https://pay.example/payments/Xk3f9QpL2mZa")
    );
    assert_eq!(value(&fields, "aliascb"), None, "no alias for an anonymous buyer");
    assert_eq!(fields.last().map(|(n, _)| n.as_str()), Some("MAC"));
    assert!(fields.iter().all(|(_, v)| v.is_ascii()));
    assert!(gateway.request_seal_matches(&fields));

    let context = base64::engine::general_purpose::STANDARD
        .decode(value(&fields, "contexte_commande").unwrap())
        .unwrap();
    let context: serde_json::Value = serde_json::from_slice(&context).unwrap();
    assert_eq!(
        context,
        serde_json::json!({ "billing": { "addressLine1": "3 rue de l'Église", "city": "Orléans",
                                         "postalCode": "45000", "country": "FR" } })
    );
}

#[test]
fn without_a_billing_address_the_context_falls_back_to_the_configured_country() {
    let config = config(CmcicMode::Test, CmcicProtocol::Monetico)
        .with_default_country("BE")
        .unwrap();
    let (_, fields) = hand_off_fields(
        &CmcicGateway::new(config),
        &button(r#"{ "cmcic": {} }"#, "nl"),
        0,
        None,
        None,
    )
    .unwrap();
    let context = base64::engine::general_purpose::STANDARD
        .decode(value(&fields, "contexte_commande").unwrap())
        .unwrap();
    assert_eq!(context, br#"{"billing":{"country":"BE"}}"#);
    assert_eq!(value(&fields, "lgue"), Some("NL"));
}

#[test]
fn an_e_mail_alone_never_names_a_saved_card() {
    // The attack: anyone can type a victim's e-mail into a shop's checkout; it must not offer their card.
    let gateway = gateway(CmcicMode::Test);
    let (_, fields) = hand_off_fields(&gateway, &button(BILLING, "fr"), 0, Some("victim@example.org"), None).unwrap();
    assert_eq!(value(&fields, "aliascb"), None);
    assert_eq!(value(&fields, "forcesaisiecb"), None);
    assert_eq!(
        value(&fields, "mail"),
        Some("victim@example.org"),
        "the e-mail still prefills the bank's page"
    );
}

#[test]
fn a_vouched_buyer_gets_a_stable_keyed_alias_and_forced_card_entry() {
    let gateway = gateway(CmcicMode::Test);
    let button = button(BILLING, "fr");
    let customer = VouchedIdentity::customer(&CustomerId::parse("customer-42").unwrap());
    let (_, first) = hand_off_fields(&gateway, &button, 0, Some("Buyer@Example.org"), Some(&customer)).unwrap();
    let (_, again) = hand_off_fields(&gateway, &button, 0, Some("other@example.org"), Some(&customer)).unwrap();
    let alias = value(&first, "aliascb").expect("aliascb");
    assert_eq!(
        Some(alias),
        value(&again, "aliascb"),
        "same customer, same alias, whatever e-mail is typed"
    );
    assert!((1..=64).contains(&alias.len()) && alias.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!alias.contains("42"));
    assert_eq!(value(&first, "forcesaisiecb"), Some("1"));
    assert_eq!(value(&first, "mail"), Some("Buyer@Example.org"));
    assert!(gateway.request_seal_matches(&first));

    let account = VouchedIdentity::signed_in("librement-user", "customer-42").unwrap();
    let (_, other_origin) = hand_off_fields(&gateway, &button, 0, None, Some(&account)).unwrap();
    assert_ne!(
        value(&other_origin, "aliascb"),
        Some(alias),
        "the origin is part of the identity"
    );

    let keyed_otherwise =
        CmcicGateway::new(config(CmcicMode::Test, CmcicProtocol::Monetico).with_alias_secret(b"own secret"));
    let (_, other) = hand_off_fields(&keyed_otherwise, &button, 0, None, Some(&customer)).unwrap();
    assert_ne!(value(&other, "aliascb"), Some(alias), "the alias depends on the key");
}

#[test]
fn the_legacy_form_seals_19_positions_and_carries_express_options_inside_options() {
    let gateway = CmcicGateway::new(config(CmcicMode::Production, CmcicProtocol::Legacy));
    let (action, fields) = hand_off_fields(
        &gateway,
        &button(BILLING, "it"),
        0,
        None,
        Some(&VouchedIdentity::customer(&CustomerId::parse("7").unwrap())),
    )
    .unwrap();
    assert_eq!(action, "https://ssl.paiement.cic-banques.fr/paiement.cgi");
    let options = value(&fields, "options").unwrap();
    let alias = options
        .strip_prefix("aliascb=")
        .and_then(|o| o.strip_suffix("&forcesaisiecb=1"))
        .unwrap();
    assert_eq!(alias.len(), 64);
    assert_eq!(value(&fields, "aliascb"), None);
    assert_eq!(value(&fields, "nbrech"), Some(""));
    assert_eq!(value(&fields, "lgue"), Some("IT"));
    assert!(gateway.request_seal_matches(&fields));
    let mut altered = fields.clone();
    altered.iter_mut().find(|(n, _)| n == "montant").unwrap().1 = "1.00EUR".into();
    assert!(!gateway.request_seal_matches(&altered));
}

#[test]
fn a_recurring_option_is_refused_by_name() {
    let gateway = gateway(CmcicMode::Test);
    let button = button(BILLING, "fr");
    let err = gateway.check_button(&button).unwrap_err();
    assert_eq!(err.field, "options[1].recurrence_months");
    assert!(err.reason.contains("cmcic has no subscriptions in this protocol"));
    assert!(matches!(
        hand_off_fields(&gateway, &button, 1, None, None),
        Err(GatewayError::Unsupported(_))
    ));
}

#[test]
fn the_cmcic_block_takes_only_a_complete_billing_address() {
    let gateway = gateway(CmcicMode::Test);
    let one_time = |options: &str| {
        ButtonConfig::from_json(&format!(
            r#"{{ "order_reference": "R", "options": [{{ "description": "d", "amount": "1", "currency": "EUR" }}],
                 "payment_options": {options},
                 "urls": {{ "back": "https://s.example/", "accepted": "https://s.example/", "declined": "https://s.example/" }} }}"#
        ))
        .unwrap()
    };
    assert!(gateway.check_button(&one_time(BILLING)).is_ok());
    assert!(gateway.check_button(&one_time(r#"{ "cmcic": {} }"#)).is_ok());
    let field = |options: &str| gateway.check_button(&one_time(options)).unwrap_err().field;
    assert_eq!(field(r#"{ "cmcic": { "tpe": "999" } }"#), "payment_options.cmcic.tpe");
    assert_eq!(
        field(r#"{ "cmcic": { "billing": { "city": "Paris", "postal_code": "75002", "country": "FR" } } }"#),
        "payment_options.cmcic.billing.address_line1"
    );
    assert_eq!(
        field(
            r#"{ "cmcic": { "billing": { "address_line1": "1", "city": "P", "postal_code": "1", "country": "France" } } }"#
        ),
        "payment_options.cmcic.billing.country"
    );
    assert_eq!(
        field(
            r#"{ "cmcic": { "billing": { "address_line1": "1", "city": "P", "postal_code": "1", "country": "FR", "state": "x" } } }"#
        ),
        "payment_options.cmcic.billing.state"
    );
}

#[tokio::test]
async fn an_accepted_payment_is_verified_and_described() {
    let gateway = gateway(CmcicMode::Test);
    let n = verified(&gateway, &bank_return(&gateway, &[])).await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.target, Target::Payment);
    assert_eq!(n.payment_ref.as_deref(), Some("Xk3f9QpL2mZa"));
    assert_eq!(n.idempotency_key, "Xk3f9QpL2mZa:paiement");
    assert_eq!(n.gateway_reference.as_deref(), Some("123456"));
    assert_eq!(
        n.amount.map(|m| (m.minor_units(), m.currency().code().to_owned())),
        Some((1250, "EUR".into()))
    );
    assert_eq!(n.receiver.as_deref(), Some("1234567"));
    assert!(!n.test);
    assert!(n.flags.is_empty());
    assert_eq!(n.details["brand"], "VI");
    assert_eq!(n.details["ipclient"], "192.0.2.10");
    assert_eq!(n.details["modepaiement"], "CB");
    assert!(!n.details.contains_key("vld"), "no expiry date in details");
    assert!(!n.details.contains_key("fraud"));
}

#[tokio::test]
async fn a_refused_payment_is_declined_and_still_acknowledged_with_cdr_0() {
    let gateway = gateway(CmcicMode::Test);
    let msg = bank_return(
        &gateway,
        &[
            ("code-retour", b"Annulation"),
            ("numauto", b""),
            ("motifrefus", b"Refus"),
        ],
    );
    let n = verified(&gateway, &msg).await;
    assert_eq!(n.outcome, Some(Outcome::Declined));
    assert_eq!(n.gateway_reference, None);
    assert_eq!(n.idempotency_key, "Xk3f9QpL2mZa:Annulation");
    assert_eq!(n.details["motifrefus"], "Refus");
    assert_eq!(n.summary, "Annulation (Refus)");
}

#[tokio::test]
async fn a_fraud_refusal_lists_each_filter_with_its_reason_and_value() {
    let gateway = gateway(CmcicMode::Test);
    let msg = bank_return(
        &gateway,
        &[
            ("code-retour", b"Annulation"),
            ("motifrefus", b"filtrage"),
            ("filtragecause", b"4-5"),
            ("filtragevaleur", b"USA-US"),
        ],
    );
    let n = verified(&gateway, &msg).await;
    assert_eq!(n.outcome, Some(Outcome::Declined));
    assert_eq!(
        n.details["fraud"],
        serde_json::json!([
            { "code": 4, "reason": "card country", "value": "USA", "information_only": false },
            { "code": 5, "reason": "IP country", "value": "US", "information_only": false }
        ])
    );
}

#[tokio::test]
async fn a_filter_in_information_mode_leaves_the_payment_accepted() {
    let gateway = gateway(CmcicMode::Test);
    let msg = bank_return(
        &gateway,
        &[
            ("filtragecause", b"13"),
            ("filtragevaleur", b"192.0.2.10"),
            ("filtrage_etat", b"information"),
        ],
    );
    let n = verified(&gateway, &msg).await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.details["fraud"][0]["reason"], "amount per IP address");
    assert_eq!(n.details["fraud"][0]["information_only"], true);
}

#[tokio::test]
async fn an_express_payment_return_reports_the_saved_masked_card() {
    let gateway = gateway(CmcicMode::Test);
    let msg = bank_return(&gateway, &[("cbenregistree", b"1"), ("cbmasquee", b"497010XXXXXX0000")]);
    let n = verified(&gateway, &msg).await;
    assert_eq!(n.details["cbenregistree"], "1");
    assert_eq!(n.details["cbmasquee"], "497010XXXXXX0000");
}

#[tokio::test]
async fn a_test_payment_is_marked_test_and_flagged_when_the_gateway_is_in_production() {
    let test_mode = gateway(CmcicMode::Test);
    let n = verified(&test_mode, &bank_return(&test_mode, &[("code-retour", b"payetest")])).await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert!(n.test);
    assert!(!n.flags.contains(&Flag::TestInLive));

    let production = gateway(CmcicMode::Production);
    let n = verified(&production, &bank_return(&production, &[("code-retour", b"payetest")])).await;
    assert!(n.test);
    assert!(n.flags.contains(&Flag::TestInLive));
}

#[tokio::test]
async fn instalments_are_accepted_or_declined_with_their_number() {
    let gateway = gateway(CmcicMode::Test);
    let n = verified(&gateway, &bank_return(&gateway, &[("code-retour", b"paiement_pf2")])).await;
    assert_eq!(n.outcome, Some(Outcome::Accepted));
    assert_eq!(n.details["instalment"], 2);
    assert_eq!(n.idempotency_key, "Xk3f9QpL2mZa:paiement_pf2");
    let n = verified(&gateway, &bank_return(&gateway, &[("code-retour", b"Annulation_pf3")])).await;
    assert_eq!(n.outcome, Some(Outcome::Declined));
    assert_eq!(n.details["instalment"], 3);
}

#[tokio::test]
async fn a_sealed_message_without_a_known_code_retour_is_not_a_return() {
    let gateway = gateway(CmcicMode::Test);
    for code in [&b"peut-etre"[..], b""] {
        let msg = bank_return(&gateway, &[("code-retour", code)]);
        assert_eq!(gateway.acknowledge(&msg).body, ACK_BAD_SEAL.as_bytes());
        match gateway.verify(&msg).await {
            Verification::Rejected { status, flags, .. } => {
                assert_eq!(status, VerificationStatus::Invalid);
                assert_eq!(flags, vec![Flag::NotAReturn]);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_sealed_message_with_fields_of_our_payment_form_is_not_a_return_even_with_a_code_retour() {
    let gateway = gateway(CmcicMode::Test);
    for field in [
        "url_retour_ok",
        "contexte_commande",
        "lgue",
        "societe",
        "mail",
        "aliascb",
    ] {
        let msg = bank_return(&gateway, &[(field, b"x")]);
        assert_eq!(gateway.acknowledge(&msg).body, ACK_BAD_SEAL.as_bytes(), "{field}");
        assert!(
            matches!(gateway.verify(&msg).await, Verification::Rejected { ref flags, .. } if flags == &[Flag::NotAReturn]),
            "{field}"
        );
    }
}

#[tokio::test]
async fn our_own_payment_form_posted_back_is_sealed_but_not_a_return() {
    // The hand-off form is sealed with the merchant key, over every field as the bank's returns are.
    let gateway = gateway(CmcicMode::Test);
    let (_, fields) = hand_off_fields(&gateway, &button(BILLING, "fr"), 0, Some("buyer@example.org"), None).unwrap();
    let mut form = FormFields::new();
    for (name, value) in &fields {
        form.push(name.as_str(), value.as_bytes().to_vec());
    }
    let msg = message(form.to_body());
    assert_eq!(gateway.acknowledge(&msg).body, ACK_BAD_SEAL.as_bytes());
    assert!(matches!(
        gateway.verify(&msg).await,
        Verification::Rejected {
            status: VerificationStatus::Invalid,
            ..
        }
    ));
}

#[tokio::test]
async fn a_bad_or_missing_seal_gets_cdr_1_and_is_rejected_without_detail() {
    let gateway = gateway(CmcicMode::Test);
    let genuine = bank_return(&gateway, &[]);
    let forged = message(
        String::from_utf8(genuine.body.clone())
            .unwrap()
            .replace("12.50EUR", "0.01EUR")
            .into_bytes(),
    );
    let no_mac = message(b"TPE=1234567&reference=Xk3f9QpL2mZa&code-retour=paiement&montant=12.50EUR".to_vec());
    let other_key = {
        let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        CmcicGateway::new(CmcicConfig::new(CmcicMode::Test, "1234567", key, "monSite1").unwrap())
    };
    for (gw, msg) in [(&gateway, &forged), (&gateway, &no_mac), (&other_key, &genuine)] {
        let reply = gw.acknowledge(msg);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, ACK_BAD_SEAL.as_bytes());
        match gw.verify(msg).await {
            Verification::Rejected { status, flags, reason } => {
                assert_eq!(status, VerificationStatus::BadMac);
                assert_eq!(flags, vec![Flag::BadMac]);
                assert!(!reason.contains("0123456789"), "no key material in the reason");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn values_with_form_syntax_and_non_ascii_bytes_round_trip_through_the_seal() {
    let gateway = gateway(CmcicMode::Test);
    let cases: [(&[u8], &str); 3] = [
        (b"a+b c*d=e&f%20", "a+b c*d=e&f%20"),
        ("Commande café crème".as_bytes(), "Commande café crème"),
        (b"Commande caf\xe9 cr\xe8me", "Commande café crème"),
    ];
    for (texte, as_logged) in cases {
        let msg = bank_return(&gateway, &[("texte-libre", texte)]);
        assert!(
            !msg.body.windows(texte.len()).any(|w| w == texte),
            "the body is percent-encoded"
        );
        let n = verified(&gateway, &msg).await;
        assert_eq!(n.outcome, Some(Outcome::Accepted));
        let logged = gateway.decode(&msg);
        assert_eq!(logged.fields["texte-libre"], as_logged);
    }
    let latin1 = bank_return(&gateway, &[("texte-libre", b"caf\xe9")]);
    assert_eq!(gateway.decode(&latin1).flags, vec![Flag::UnknownCharset]);
    assert_eq!(gateway.decode(&latin1).fields["texte-libre"], "café");
    assert!(gateway.decode(&bank_return(&gateway, &[])).flags.is_empty());
}

#[test]
fn an_invalid_key_is_refused_without_being_printed() {
    let secret = "0123456789ABCDEF0123456789ABCDEF012345ZZ";
    let err = UsableKey::from_merchant_key(secret).unwrap_err();
    assert!(matches!(err, GatewayError::Configuration(_)), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("0123456789ABCDEF"), "{text}");
        assert!(text.contains("cmcic.key"), "{text}");
    }
    let config = config(CmcicMode::Production, CmcicProtocol::Monetico);
    assert!(!format!("{config:?}").contains("0123456789"));
    assert!(!format!("{:?}", CmcicGateway::new(config)).contains("0123456789"));
}

#[test]
fn the_gateway_names_itself_and_its_receiver_and_hands_the_simulator_its_own_url() {
    let button = button(BILLING, "fr");
    assert_eq!(gateway(CmcicMode::Test).name(), "cmcic");
    assert_eq!(
        gateway(CmcicMode::Test).receiver(&button).unwrap().as_deref(),
        Some("1234567")
    );
    let (action, _) = hand_off_fields(&gateway(CmcicMode::Simulator), &button, 0, None, None).unwrap();
    assert_eq!(action, "https://pay.example/simulator/cmcic");
}
