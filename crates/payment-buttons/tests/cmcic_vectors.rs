//! Every case of `fixtures/monetico/vectors.json` (cross-checked against independent implementations)
//! must pass: key derivation, requests and returns, both protocols, ASCII, ISO-8859-1 and UTF-8 inputs.

use std::collections::BTreeMap;

use payment_buttons::cmcic::CmcicProtocol;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator;
use payment_buttons::cmcic::{ACK_BAD_SEAL, ACK_VALID, CmcicGateway};
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::gateway::{Gateway, IncomingMessage};
use payment_buttons::notification::{Flag, Verification, VerificationStatus};
use payment_buttons::urlencoded::FormFields;
use percent_encoding::{NON_ALPHANUMERIC, percent_encode};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    generation: String,
    kind: String,
    key: String,
    fields: serde_json::Map<String, serde_json::Value>,
    expected_mac: String,
    mac_input: String,
    mac_input_encoding: String,
    #[serde(default)]
    mac_input_hex: Option<String>,
    #[serde(default)]
    posted_but_not_in_mac: Option<BTreeMap<String, String>>,
    #[serde(default)]
    version_from_merchant_config: Option<String>,
    #[serde(default)]
    expected_usable_key_hex: Option<String>,
}

impl Case {
    fn protocol(&self) -> CmcicProtocol {
        match self.generation.as_str() {
            "monetico-sorted" => CmcicProtocol::Monetico,
            "legacy-positional" => CmcicProtocol::Legacy,
            other => panic!("{}: unexpected generation {other}", self.id),
        }
    }

    /// A field's value as the bytes the bank seals, in the case's encoding.
    fn encode(&self, value: &str) -> Vec<u8> {
        match self.mac_input_encoding.as_str() {
            "ascii" => {
                assert!(value.is_ascii(), "{}: non-ASCII value in an ASCII case", self.id);
                value.as_bytes().to_vec()
            }
            "utf-8" => value.as_bytes().to_vec(),
            "iso-8859-1" => value
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or_else(|_| panic!("{}: {c:?} is not Latin-1", self.id)))
                .collect(),
            other => panic!("{}: unexpected encoding {other}", self.id),
        }
    }

    fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{}: no field {name}", self.id))
    }

    /// The sealed fields, encoded, in the order the JSON lists them.
    fn form(&self) -> FormFields {
        let mut form = FormFields::new();
        for (name, value) in &self.fields {
            form.push(name.as_bytes(), self.encode(value.as_str().expect("string field")));
        }
        form
    }

    fn expected_input(&self) -> Vec<u8> {
        let bytes = match &self.mac_input_hex {
            Some(h) => hex::decode(h).expect("mac_input_hex is hex"),
            None => self.mac_input.as_bytes().to_vec(),
        };
        assert_eq!(
            self.encode(&self.mac_input),
            bytes,
            "{}: mac_input and mac_input_hex disagree",
            self.id
        );
        bytes
    }

    fn key(&self) -> UsableKey {
        UsableKey::from_merchant_key(&self.key).unwrap_or_else(|e| panic!("{}: {e}", self.id))
    }

    fn gateway(&self) -> CmcicGateway {
        let config = CmcicConfig::new(CmcicMode::Test, self.field("TPE"), self.key(), "monSite1")
            .expect("valid configuration")
            .with_protocol(self.protocol());
        CmcicGateway::new(config)
    }
}

fn cases(kind: &str) -> Vec<Case> {
    let json = include_str!("fixtures/monetico/vectors.json");
    let all: Vec<Case> = serde_json::from_str(json).expect("vectors.json parses");
    assert_eq!(all.len(), 30, "the fixture has 30 cases");
    all.into_iter().filter(|c| c.kind == kind).collect()
}

fn message(body: Vec<u8>) -> IncomingMessage {
    IncomingMessage {
        received_at: chrono::Utc::now(),
        remote_addr: Some("192.0.2.1".into()),
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    }
}

/// A body as a browser-like client writes it: spaces as `+`.
fn body_with_plus(form: &FormFields, mac: &str) -> Vec<u8> {
    let mut posted = form.clone();
    posted.push("MAC", mac.as_bytes());
    posted.to_body()
}

/// A body with every non-alphanumeric byte percent-encoded, spaces as `%20`.
fn body_fully_escaped(form: &FormFields, mac: &str) -> Vec<u8> {
    let mut parts: Vec<String> = form
        .pairs()
        .iter()
        .map(|(n, v)| {
            format!(
                "{}={}",
                percent_encode(n, NON_ALPHANUMERIC),
                percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect();
    parts.push(format!("MAC={mac}"));
    parts.join("&").into_bytes()
}

#[test]
fn key_derivation_vectors() {
    let cases = cases("key_derivation");
    assert_eq!(cases.len(), 5);
    for case in cases {
        let expected_hex = case
            .expected_usable_key_hex
            .as_deref()
            .expect("K cases give the usable key");
        let expected: [u8; 20] = hex::decode(expected_hex).unwrap().try_into().expect("20 bytes");
        assert_eq!(case.key(), UsableKey::from_bytes(expected), "{}: usable key", case.id);
        assert_eq!(
            simulator::seal_hex(&case.key(), case.mac_input.as_bytes()),
            case.expected_mac,
            "{}: MAC",
            case.id
        );
    }
}

#[test]
fn request_vectors_seal_the_exact_string_with_the_expected_mac() {
    let cases = cases("request");
    assert_eq!(cases.len(), 12);
    for case in cases {
        let form = case.form();
        let input = match case.protocol() {
            CmcicProtocol::Monetico => simulator::monetico_input(&form),
            CmcicProtocol::Legacy => simulator::legacy_request_input(&form),
        };
        assert_eq!(input, case.expected_input(), "{}: sealed string", case.id);
        assert_eq!(
            simulator::seal_hex(&case.key(), &input),
            case.expected_mac,
            "{}: MAC",
            case.id
        );
        assert!(simulator::seal_matches(
            &case.key(),
            &input,
            case.expected_mac.to_ascii_uppercase().as_bytes()
        ));
    }
}

#[test]
fn request_vectors_pass_the_gateway_request_check_used_by_the_simulator() {
    for case in cases("request")
        .into_iter()
        .filter(|c| c.mac_input_encoding != "iso-8859-1")
    {
        let gateway = case.gateway();
        let mut fields: Vec<(String, String)> = case
            .fields
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        fields.push(("MAC".into(), case.expected_mac.clone()));
        assert!(
            gateway.request_seal_matches(&fields),
            "{}: genuine request refused",
            case.id
        );
        fields[0].1.push('0');
        assert!(
            !gateway.request_seal_matches(&fields),
            "{}: altered request accepted",
            case.id
        );
    }
}

#[tokio::test]
async fn return_vectors_verify_as_posted_in_both_escaping_styles() {
    let cases = cases("return");
    assert_eq!(cases.len(), 13);
    for case in cases {
        if case.protocol() == CmcicProtocol::Legacy {
            assert_eq!(case.version_from_merchant_config.as_deref(), Some("3.0"), "{}", case.id);
        }
        let mut posted = case.form();
        for (name, value) in case.posted_but_not_in_mac.iter().flatten() {
            posted.push(name.as_bytes(), case.encode(value));
        }
        let gateway = case.gateway();
        assert_eq!(
            simulator::sealed_input(gateway.config(), &posted),
            case.expected_input(),
            "{}: sealed string",
            case.id
        );

        for body in [
            body_with_plus(&posted, &case.expected_mac),
            body_fully_escaped(&posted, &case.expected_mac),
        ] {
            let msg = message(body);
            assert_eq!(
                gateway.acknowledge(&msg).body,
                ACK_VALID.as_bytes(),
                "{}: acknowledgement",
                case.id
            );
            match gateway.verify(&msg).await {
                Verification::Verified(n) => {
                    let n = n.into_inner();
                    assert_eq!(n.payment_ref.as_deref(), Some(case.field("reference")), "{}", case.id);
                    assert!(n.outcome.is_some(), "{}: every vector has a known code-retour", case.id);
                }
                other => panic!("{}: genuine return not verified: {other:?}", case.id),
            }
        }
        let lower = message(body_with_plus(&posted, &case.expected_mac.to_ascii_lowercase()));
        assert_eq!(
            gateway.acknowledge(&lower).body,
            ACK_VALID.as_bytes(),
            "{}: lower-case MAC",
            case.id
        );
    }
}

#[tokio::test]
async fn return_vectors_altered_by_one_byte_are_refused() {
    for case in cases("return") {
        let mut altered = FormFields::new();
        for (name, value) in case.form().pairs() {
            let mut value = value.clone();
            if name == b"montant" {
                value.insert(0, b'1');
            }
            altered.push(name.clone(), value);
        }
        let gateway = case.gateway();
        let msg = message(body_with_plus(&altered, &case.expected_mac));
        assert_eq!(gateway.acknowledge(&msg).body, ACK_BAD_SEAL.as_bytes(), "{}", case.id);
        match gateway.verify(&msg).await {
            Verification::Rejected { status, flags, .. } => {
                assert_eq!(status, VerificationStatus::BadMac, "{}", case.id);
                assert_eq!(flags, vec![Flag::BadMac], "{}", case.id);
            }
            other => panic!("{}: altered return accepted: {other:?}", case.id),
        }
    }
}

#[test]
fn the_sealing_helper_reproduces_the_bank_seal_of_every_return_vector() {
    for case in cases("return") {
        let mut fields = case.form();
        for (name, value) in case.posted_but_not_in_mac.iter().flatten() {
            fields.push(name.as_bytes(), case.encode(value));
        }
        let body = case.gateway().sealed_return_body(fields);
        let sealed = FormFields::parse(&body);
        assert_eq!(sealed.get_str("MAC"), Some(case.expected_mac.as_str()), "{}", case.id);
    }
}
