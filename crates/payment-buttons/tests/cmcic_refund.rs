//! CM-CIC refunds ("recrédit"): the sealed request, and what each answer of the bank (played by a local
//! stub of `recredit_paiement.cgi`) means.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::CmcicProtocol;
use payment_buttons::cmcic::CmcicRefunds;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator;
use payment_buttons::cmcic::{CmcicConfig, CmcicMode};
use payment_buttons::gateway::{
    Gateway, IncomingMessage, RefundAnswer, RefundRequest, Refunds, ServiceUrls, StoredPaymentFacts,
};
use payment_buttons::money::Money;
use payment_buttons::notification::Verification;
use payment_buttons::payment::PaymentId;
use payment_buttons::urlencoded::FormFields;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "1036DEFD9175F29EE9337A1F284BDF781D5A4048";

fn config(protocol: CmcicProtocol) -> CmcicConfig {
    let key = UsableKey::from_merchant_key(KEY).unwrap();
    CmcicConfig::new(CmcicMode::Production, "1234567", key, "monSite1")
        .unwrap()
        .with_protocol(protocol)
}

fn eur(amount: &str) -> Money {
    Money::parse(amount, "EUR").unwrap()
}

fn details(date_remise: Option<&str>) -> Map<String, Value> {
    let mut details = Map::new();
    if let Some(d) = date_remise {
        details.insert("date_remise".into(), d.into());
    }
    details
}

fn payment_id() -> PaymentId {
    PaymentId::parse("Xk3f9QpL2mZa").unwrap()
}

fn facts<'a>(id: &'a PaymentId, details: &'a Map<String, Value>) -> StoredPaymentFacts<'a> {
    StoredPaymentFacts {
        payment_id: id,
        gateway_reference: Some("123456"),
        receiver: Some("1234567"),
        amount: eur("62.73"),
        refunded_before: eur("10.00"),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        details,
        gateway_subscription_id: None,
    }
}

fn request<'a>(payment: StoredPaymentFacts<'a>, amount: &str) -> RefundRequest<'a> {
    RefundRequest {
        payment,
        refund_id: "rf_1",
        amount: eur(amount),
        reason: Some("returned"),
        first_sent_at: None,
        now: Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap(),
    }
}

#[test]
fn the_monetico_recredit_seal_matches_an_independent_hmac() {
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let fields = simulator::request_fields(
        &config(CmcicProtocol::Monetico),
        &request(facts(&id, &details), "20.00"),
    )
    .unwrap();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "version",
            "TPE",
            "date",
            "date_commande",
            "date_remise",
            "num_autorisation",
            "montant",
            "montant_recredit",
            "montant_possible",
            "reference",
            "texte-libre",
            "lgue",
            "societe",
            "MAC"
        ]
    );
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).unwrap().1.as_str();
    assert_eq!(get("date"), "05/12/2026:10:00:00");
    assert_eq!(get("date_commande"), "01/12/2026");
    assert_eq!(get("montant"), "62.73EUR");
    assert_eq!(get("montant_recredit"), "20.00EUR");
    // What could be refunded before this refund: the amount less the 10.00 refunded earlier.
    assert_eq!(get("montant_possible"), "52.73EUR");
    // HMAC-SHA1 computed with Python's hmac over
    // "TPE=1234567*date=05/12/2026:10:00:00*date_commande=01/12/2026*...*version=3.0".
    assert_eq!(get("MAC"), "84cc1091095d563edcfd6430430e86111db94ff7");
}

#[test]
fn the_legacy_recredit_seal_matches_an_independent_hmac() {
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let fields =
        simulator::request_fields(&config(CmcicProtocol::Legacy), &request(facts(&id, &details), "20.00")).unwrap();
    let mac = &fields.last().unwrap().1;
    // Python's hmac over "1234567*05/12/2026:10:00:00*20.00EUR*52.73EUR*Xk3f9QpL2mZa*refund=rf_1*3.0*FR*monSite1*".
    assert_eq!(mac, "16d780fd343c1e6032decacd264c7700de155951");
}

#[test]
fn a_tampered_recredit_form_does_not_match_its_seal() {
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let config = config(CmcicProtocol::Monetico);
    let fields = simulator::request_fields(&config, &request(facts(&id, &details), "20.00")).unwrap();
    let form = |fields: &[(String, String)]| {
        let mut form = FormFields::new();
        for (n, v) in fields {
            form.push(n.as_bytes(), v.as_bytes());
        }
        form
    };
    assert!(simulator::recredit_seal_matches(&config, &form(&fields)));
    let tampered: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| {
            let v = if n == "montant_recredit" {
                "52.73EUR".to_owned()
            } else {
                v.clone()
            };
            (n.clone(), v)
        })
        .collect();
    assert!(!simulator::recredit_seal_matches(&config, &form(&tampered)));
}

#[test]
fn a_payment_without_what_the_protocol_needs_cannot_be_refunded_and_says_why() {
    let refunds = CmcicRefunds::new(
        config(CmcicProtocol::Monetico),
        "http://127.0.0.1:9/",
        Duration::from_secs(1),
    )
    .unwrap();
    let id = payment_id();

    let complete = details(Some("01/12/2026"));
    assert_eq!(refunds.check(&facts(&id, &complete)), Ok(()));

    let no_date = details(None);
    let reason = refunds.check(&facts(&id, &no_date)).unwrap_err();
    assert!(reason.contains("remitted"), "{reason}");

    let mut without = facts(&id, &complete);
    without.gateway_reference = None;
    let reason = refunds.check(&without).unwrap_err();
    assert!(reason.contains("authorisation number"), "{reason}");

    // Another terminal's payment: these credentials cannot refund it.
    let mut elsewhere = facts(&id, &complete);
    elsewhere.receiver = Some("7654321");
    assert!(refunds.check(&elsewhere).unwrap_err().contains("7654321"));
}

#[test]
fn more_than_is_left_is_refused_before_anything_is_sent() {
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let config = config(CmcicProtocol::Monetico);
    let err = simulator::request_fields(&config, &request(facts(&id, &details), "52.74")).unwrap_err();
    assert!(err.contains("52.73EUR"), "{err}");
    assert!(simulator::request_fields(&config, &request(facts(&id, &details), "0.00")).is_err());
    let mut usd = request(facts(&id, &details), "1.00");
    usd.amount = Money::parse("1.00", "USD").unwrap();
    assert!(simulator::request_fields(&config, &usd).is_err());
}

/// A one-shot stub of the bank: answers the first request with `response` (raw HTTP) after `delay`, and
/// hands back the form it received.
async fn stub(response: String, delay: Duration) -> (String, tokio::task::JoinHandle<BTreeMap<String, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/recredit_paiement.cgi", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let body = loop {
            let n = socket.read(&mut buf).await.unwrap();
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    break received[end + 4..end + 4 + length].to_vec();
                }
            }
            if n == 0 {
                panic!("the client closed before sending its form");
            }
        };
        tokio::time::sleep(delay).await;
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
        form_urlencoded::parse(&body).into_owned().collect()
    });
    (url, handle)
}

fn http_answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn refund_against(
    response: String,
    delay: Duration,
) -> (payment_buttons::gateway::RefundAttempt, BTreeMap<String, String>) {
    let (url, stub) = stub(response, delay).await;
    let refunds = CmcicRefunds::new(config(CmcicProtocol::Monetico), url, Duration::from_millis(500)).unwrap();
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let attempt = refunds.refund(&request(facts(&id, &details), "20.00")).await;
    (attempt, stub.await.unwrap())
}

#[tokio::test]
async fn cdr_zero_is_a_success_keyed_by_our_refund_and_the_bank_received_a_sealed_form() {
    let body = simulator::answer_body("Xk3f9QpL2mZa", 0, "recredit effectue");
    let (attempt, form) = refund_against(http_answer("200 OK", &body), Duration::ZERO).await;
    assert_eq!(
        attempt.answer,
        RefundAnswer::Succeeded {
            gateway_refund_id: None,
            idempotency_key: "recredit:rf_1".into()
        }
    );
    assert_eq!(attempt.calls.len(), 1);
    assert_eq!(attempt.calls[0].status, 200);
    assert_eq!(attempt.calls[0].body, body.as_bytes());
    assert!(attempt.calls[0].request.starts_with("POST http://127.0.0.1:"));
    assert_eq!(form["num_autorisation"], "123456");
    assert_eq!(form["montant_recredit"], "20.00EUR");
    let mut sealed = FormFields::new();
    for (n, v) in &form {
        sealed.push(n.as_bytes(), v.as_bytes());
    }
    assert!(simulator::recredit_seal_matches(
        &config(CmcicProtocol::Monetico),
        &sealed
    ));
}

#[tokio::test]
async fn a_refusal_is_final_with_the_banks_reason_and_is_logged() {
    let body = simulator::answer_body("Xk3f9QpL2mZa", -48, "recredit refuse");
    let (attempt, _) = refund_against(http_answer("200 OK", &body), Duration::ZERO).await;
    assert_eq!(
        attempt.answer,
        RefundAnswer::Failed {
            reason: "the bank refused the refund (cdr=-48): recredit refuse".into()
        }
    );
    assert_eq!(attempt.calls[0].body, body.as_bytes());
}

#[tokio::test]
async fn garbage_and_server_errors_leave_the_refund_unknown_with_the_answer_logged() {
    for (status, body) in [
        ("200 OK", "<html>Service indisponible</html>"),
        ("500 Internal Server Error", "cdr=0\n"),
        ("503 Service Unavailable", ""),
    ] {
        let (attempt, _) = refund_against(http_answer(status, body), Duration::ZERO).await;
        assert!(
            matches!(attempt.answer, RefundAnswer::Unknown { .. }),
            "{status}: {:?}",
            attempt.answer
        );
        assert_eq!(attempt.calls.len(), 1, "{status}");
        assert_eq!(attempt.calls[0].body, body.as_bytes());
    }
}

#[tokio::test]
async fn a_timeout_leaves_the_refund_unknown_never_retried() {
    let body = simulator::answer_body("Xk3f9QpL2mZa", 0, "recredit effectue");
    let (attempt, form) = refund_against(http_answer("200 OK", &body), Duration::from_secs(2)).await;
    // The bank got the form and may have refunded: only an operator can tell.
    assert_eq!(form["reference"], "Xk3f9QpL2mZa");
    match attempt.answer {
        RefundAnswer::Unknown { reason } => assert!(reason.contains("in time"), "{reason}"),
        other => panic!("expected unknown, got {other:?}"),
    }
    assert!(attempt.calls.is_empty());
}

#[tokio::test]
async fn a_refund_whose_earlier_attempt_lost_its_answer_is_never_sent_again() {
    // A listener that would record any request: none must come.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/recredit_paiement.cgi", listener.local_addr().unwrap());
    let refunds = CmcicRefunds::new(config(CmcicProtocol::Monetico), url, Duration::from_millis(500)).unwrap();
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let mut again = request(facts(&id, &details), "20.00");
    again.first_sent_at = Some(chrono::Utc::now() - chrono::Duration::minutes(6));
    let attempt = refunds.refund(&again).await;
    match attempt.answer {
        RefundAnswer::Unknown { reason } => assert!(reason.contains("back office"), "{reason}"),
        other => panic!("expected unknown, got {other:?}"),
    }
    assert!(attempt.calls.is_empty());
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "nothing was sent to the bank");
}

#[tokio::test]
async fn an_unreachable_bank_leaves_the_refund_unknown() {
    // Bind then drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/recredit_paiement.cgi");
    let refunds = CmcicRefunds::new(config(CmcicProtocol::Monetico), url, Duration::from_millis(500)).unwrap();
    let id = payment_id();
    let details = details(Some("01/12/2026"));
    let attempt = refunds.refund(&request(facts(&id, &details), "20.00")).await;
    assert!(
        matches!(attempt.answer, RefundAnswer::Unknown { .. }),
        "{:?}",
        attempt.answer
    );
}

#[tokio::test]
async fn an_accepted_return_records_what_a_refund_needs() {
    let gateway = CmcicGateway::new(config(CmcicProtocol::Monetico));
    let mut fields = FormFields::new();
    for (n, v) in [
        ("TPE", "1234567"),
        ("date", "01/12/2026_a_09:01:02"),
        ("montant", "62.73EUR"),
        ("reference", "Xk3f9QpL2mZa"),
        ("texte-libre", "payment=Xk3f9QpL2mZa;order=A1"),
        ("code-retour", "paiement"),
        ("numauto", "123456"),
    ] {
        fields.push(n, v);
    }
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: gateway.sealed_return_body(fields),
        headers: Default::default(),
    };
    let Verification::Verified(verified) = gateway.verify(&message).await else {
        panic!("a sealed return verifies");
    };
    let details = &verified.get().details;
    assert_eq!(verified.get().gateway_reference.as_deref(), Some("123456"));
    assert_eq!(details["date_remise"], "01/12/2026");
}

#[test]
fn a_gateway_offers_refunds_only_when_built_with_them() {
    let urls = ServiceUrls::new("https://pay.example").unwrap();
    let plain = CmcicGateway::new(config(CmcicProtocol::Monetico));
    assert!(plain.refunds().is_none());
    let refunding = CmcicGateway::new(config(CmcicProtocol::Monetico))
        .with_refunds(&urls)
        .unwrap();
    assert!(refunding.refunds().is_some());
}
