//! Every IPN fixture replayed through the real HTTP route (`POST /notify/paypal`) of the real app on a real
//! SQLite store, verified against a local postback stub that checks it receives `cmd=_notify-validate&` + the
//! body byte for byte: as the fixtures are (their invoices name no payment of ours), and with their invoice
//! replaced by a payment the test created (the applied path).

#[path = "common/app.rs"]
mod common_app;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_pay_server::serve::Assembled;
use actix_pay_server::store::{LogRow, ServerStore};
use actix_web::test as atest;
use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Processed;
use payment_buttons::event::EventKind;
use payment_buttons::notification::VerificationStatus;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;
use payment_buttons::token::ButtonSigner;

use common_app::SECRET;
const PREFIX: &[u8] = b"cmd=_notify-validate&";

/// How the stub answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Verified,
    Invalid,
    /// An HTML error page the first time a body is seen, then VERIFIED.
    ErrorThenVerified,
}

#[derive(Default)]
struct StubState {
    answer: Mutex<Option<Answer>>,
    seen: Mutex<Vec<Vec<u8>>>,
    wrong_requests: Mutex<Vec<String>>,
}

async fn stub(state: web::Data<StubState>, req: actix_web::HttpRequest, body: web::Bytes) -> HttpResponse {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "application/x-www-form-urlencoded" || ua.is_empty() || !body.starts_with(PREFIX) {
        state
            .wrong_requests
            .lock()
            .unwrap()
            .push(format!("ct={ct:?} ua={ua:?}"));
    }
    let first_time = !state.seen.lock().unwrap().contains(&body.to_vec());
    state.seen.lock().unwrap().push(body.to_vec());
    match state.answer.lock().unwrap().unwrap_or(Answer::Verified) {
        Answer::Verified => HttpResponse::Ok().body("VERIFIED"),
        Answer::Invalid => HttpResponse::Ok().body("INVALID"),
        Answer::ErrorThenVerified if first_time => HttpResponse::InternalServerError()
            .content_type("text/html")
            .body("<html>Service Unavailable</html>"),
        Answer::ErrorThenVerified => HttpResponse::Ok().body("VERIFIED"),
    }
}

struct Harness {
    assembled: Assembled,
    stub: web::Data<StubState>,
    _dir: tempfile::TempDir,
}

async fn harness(answer: Answer) -> Harness {
    let stub_state = web::Data::new(StubState::default());
    *stub_state.answer.lock().unwrap() = Some(answer);
    let data = stub_state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/validate", web::post().to(stub))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());

    let postback = format!("http://{addr}/validate");
    let (assembled, dir) =
        common_app::assembled_app(&[("PAY_PAYPAL_MODE", "simulator"), ("PAY_PAYPAL_POSTBACK_URL", &postback)]).await;
    Harness {
        assembled,
        stub: stub_state,
        _dir: dir,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../payment-buttons/tests/fixtures/paypal-ipn"
    );
    let path = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap_or_else(|| panic!("no fixture {name}"));
    std::fs::read(path).unwrap()
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../payment-buttons/tests/fixtures/paypal-ipn"
    );
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The body's fields, without decoding values (enough to read ASCII fields of the fixtures).
fn raw_fields(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Replaces the value of `invoice` in the raw bytes, leaving every other byte as it was.
fn with_invoice(body: &[u8], invoice: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, pair) in body.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        if pair.starts_with(b"invoice=") {
            out.extend_from_slice(b"invoice=");
            out.extend_from_slice(invoice.as_bytes());
        } else {
            out.extend_from_slice(pair);
        }
    }
    out
}

impl Harness {
    fn store(&self) -> &Arc<ServerStore> {
        self.assembled.state.engine.store()
    }

    /// POSTs an IPN to the real route, then runs the worker's processing once.
    async fn post(&self, body: &[u8]) -> (LogRow, Vec<Processed>) {
        let app = atest::init_service(App::new().configure(self.assembled.configure())).await;
        let resp = atest::call_service(
            &app,
            atest::TestRequest::post()
                .uri("/notify/paypal")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(body.to_vec())
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(atest::read_body(resp).await.is_empty());
        let engine = &self.assembled.state.engine;
        let mut processed = Vec::new();
        for queued in self.store().claim_messages(chrono::Utc::now(), 10).await.unwrap() {
            processed.push(engine.process(queued, chrono::Utc::now()).await.unwrap());
        }
        let last = self.last_row().await;
        assert_eq!(last.body, body, "logged byte for byte");
        (last, processed)
    }

    async fn last_row(&self) -> LogRow {
        common_app::last_row(self.store()).await
    }

    /// Every answer a gateway gave to our calls, oldest first.
    async fn answers(&self) -> Vec<LogRow> {
        let mut answers = Vec::new();
        let mut id = 1;
        while let Some(row) = self.store().message(id).await.unwrap() {
            if row.direction == payment_buttons::store::Direction::Answer {
                answers.push(row);
            }
            id += 1;
        }
        answers
    }

    /// A payment of ours matching the fixture's amount, currency and receiver.
    async fn payment_for(&self, body: &[u8], receiver: &str, recurring: bool) -> PaymentId {
        let f = raw_fields(body);
        let amount = f
            .get("mc_gross")
            .or(f.get("mc_amount3"))
            .cloned()
            .unwrap_or_else(|| "9.99".into());
        let amount = amount.trim_start_matches('-');
        let currency = f.get("mc_currency").cloned().unwrap_or_else(|| "EUR".into());
        let button = ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": "FIXTURE",
                "options": [{ "description": "Fixture", "amount": amount, "currency": currency,
                              "recurrence_months": if recurring { Some(1) } else { None } }],
                "payment_options": { "paypal": { "paypal_email": receiver } },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
            })
            .to_string(),
        )
        .unwrap();
        let now = chrono::Utc::now();
        let token = ButtonSigner::new(SECRET)
            .sign(&button, std::time::Duration::from_secs(60), now)
            .unwrap();
        self.assembled
            .state
            .engine
            .start_payment(&token, None, None, None, None, now)
            .await
            .unwrap()
            .payment_id
    }

    /// The flags of the log row holding exactly this fixture's body.
    async fn flags_of(&self, name: &str) -> Vec<String> {
        let body = fixture(name);
        let mut id = 1;
        while let Some(row) = self.store().message(id).await.unwrap() {
            if row.body == body {
                return row.flags;
            }
            id += 1;
        }
        panic!("{name} not logged")
    }

    async fn state(&self, id: &PaymentId) -> PaymentState {
        self.store().payment(id).await.unwrap().unwrap().state
    }

    async fn kinds(&self, id: &PaymentId) -> Vec<EventKind> {
        self.store()
            .events_for_payment(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    fn postbacks_were_exact(&self, bodies: &[&[u8]]) {
        assert!(
            self.stub.wrong_requests.lock().unwrap().is_empty(),
            "{:?}",
            self.stub.wrong_requests
        );
        let seen = self.stub.seen.lock().unwrap();
        for body in bodies {
            let expected = [PREFIX, body].concat();
            assert!(
                seen.contains(&expected),
                "postback of {:?} not byte for byte",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[actix_web::test]
async fn every_fixture_as_it_is_is_logged_verified_flagged_and_applied_to_nothing() {
    let h = harness(Answer::Verified).await;
    for (name, body) in all_fixtures() {
        let (row, _) = h.post(&body).await;
        assert_eq!(row.verification, VerificationStatus::Verified, "{name}");
        let flagged = row
            .flags
            .iter()
            .any(|f| f == "unknown_payment" || f == "unknown_status");
        assert!(flagged, "{name}: {:?} {:?}", row.flags, row.outcome);
        assert!(row.payment_id.is_none(), "{name}");
        h.postbacks_were_exact(&[&body]);
    }
    assert!(h.flags_of("c-22").await.contains(&"unknown_charset".to_owned()));
    assert!(h.flags_of("dp-06").await.contains(&"malformed_date".to_owned()));
    assert!(h.flags_of("dp-05").await.contains(&"unknown_status".to_owned()));
}

#[actix_web::test]
async fn every_fixture_on_a_payment_of_ours_takes_the_applied_path() {
    let h = harness(Answer::Verified).await;
    let merchant = "merchant@example.com";
    let sandbox = "seller@paypalsandbox.com";

    // Buy now, completed, UTF-8.
    let c07 = fixture("c-07");
    let id = h.payment_for(&c07, merchant, false).await;
    let (row, _) = h.post(&with_invoice(&c07, id.as_str())).await;
    assert_eq!(
        (row.verification, row.payment_id.as_deref()),
        (VerificationStatus::Verified, Some(id.as_str()))
    );
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    // The byte-identical resend and the refund of the same payment.
    let (row, _) = h.post(&with_invoice(&fixture("c-10"), id.as_str())).await;
    assert!(row.flags.contains(&"duplicate".to_owned()), "{:?}", row.flags);
    h.post(&with_invoice(&fixture("c-11"), id.as_str())).await;
    assert_eq!(h.state(&id).await, PaymentState::Refunded);
    assert_eq!(
        h.kinds(&id).await,
        [
            EventKind::PaymentProcessed,
            EventKind::PaymentAccepted,
            EventKind::PaymentProcessed,
            EventKind::PaymentRefunded
        ]
    );
    // Someone else's account.
    let (row, _) = h
        .post(&with_invoice(
            &fixture("c-20"),
            h.payment_for(&c07, merchant, false).await.as_str(),
        ))
        .await;
    assert!(row.flags.contains(&"receiver_mismatch".to_owned()), "{:?}", row.flags);

    // Pending (eCheck) then completed.
    let c08 = fixture("c-08");
    let id = h.payment_for(&c08, merchant, false).await;
    h.post(&with_invoice(&c08, id.as_str())).await;
    assert_eq!(h.state(&id).await, PaymentState::Pending);
    h.post(&with_invoice(&fixture("c-09"), id.as_str())).await;
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    let events = h.store().events_for_payment(&id).await.unwrap();
    assert_eq!(events[1].details["pending_reason"], "echeck");

    // Unknown charset: tolerated, flagged, applied.
    let c22 = fixture("c-22");
    let id = h.payment_for(&c22, merchant, false).await;
    let (row, _) = h.post(&with_invoice(&c22, id.as_str())).await;
    assert!(row.flags.contains(&"unknown_charset".to_owned()));
    assert_eq!(h.state(&id).await, PaymentState::Accepted);

    // The subscription family on one subscription payment.
    let c15 = fixture("c-15");
    let sub = h.payment_for(&c15, merchant, true).await;
    h.post(&with_invoice(&fixture("c-14"), sub.as_str())).await;
    assert_eq!(h.state(&sub).await, PaymentState::Created, "a sign-up moves no money");
    h.post(&with_invoice(&c15, sub.as_str())).await;
    assert_eq!(h.state(&sub).await, PaymentState::Accepted);
    h.post(&with_invoice(&fixture("c-16"), sub.as_str())).await; // a later cycle fails
    h.post(&with_invoice(&fixture("c-17"), sub.as_str())).await;
    assert_eq!(h.state(&sub).await, PaymentState::Cancelled);
    let (row, _) = h.post(&with_invoice(&fixture("c-18"), sub.as_str())).await;
    assert_eq!(row.verification, VerificationStatus::Verified);
    let kinds = h.kinds(&sub).await;
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::SubscriptionCancelled).count(),
        1,
        "{kinds:?}"
    );

    // django-paypal's own bodies: windows-1252, no charset, declined, bad date.
    let dp01 = fixture("dp-01");
    let id = h.payment_for(&dp01, sandbox, false).await;
    h.post(&with_invoice(&dp01, id.as_str())).await;
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    let dp03 = fixture("dp-03");
    let id = h.payment_for(&dp03, sandbox, false).await;
    h.post(&with_invoice(&dp03, id.as_str())).await;
    assert_eq!(
        h.state(&id).await,
        PaymentState::Accepted,
        "no charset: windows-1252, still applied"
    );
    let dp04 = fixture("dp-04");
    let id = h.payment_for(&dp04, sandbox, false).await;
    h.post(&with_invoice(&dp04, id.as_str())).await;
    assert_eq!(h.state(&id).await, PaymentState::Declined);
    assert_eq!(
        h.kinds(&id).await,
        [EventKind::PaymentProcessed, EventKind::PaymentDeclined]
    );
    let dp05 = fixture("dp-05");
    let id = h.payment_for(&dp05, sandbox, false).await;
    let (row, _) = h.post(&with_invoice(&dp05, id.as_str())).await;
    assert!(row.flags.contains(&"unknown_status".to_owned()));
    assert_eq!(
        h.state(&id).await,
        PaymentState::Created,
        "an unknown status applies to nothing"
    );
    let dp06 = fixture("dp-06");
    let id = h.payment_for(&dp06, sandbox, false).await;
    let (row, _) = h.post(&with_invoice(&dp06, id.as_str())).await;
    assert!(row.flags.contains(&"malformed_date".to_owned()));
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
}

#[actix_web::test]
async fn an_invalid_postback_is_logged_flagged_and_triggers_no_event() {
    let h = harness(Answer::Invalid).await;
    let c07 = fixture("c-07");
    let id = h.payment_for(&c07, "merchant@example.com", false).await;
    let forged = with_invoice(&c07, id.as_str());
    let (row, _) = h.post(&forged).await;
    assert_eq!(row.verification, VerificationStatus::Invalid);
    assert!(row.flags.contains(&"invalid".to_owned()));
    assert_eq!(h.state(&id).await, PaymentState::Created);
    assert!(h.kinds(&id).await.is_empty());
    h.postbacks_were_exact(&[&forged]);
}

#[actix_web::test]
async fn a_postback_error_page_is_retried_and_then_verified() {
    let h = harness(Answer::ErrorThenVerified).await;
    let c07 = fixture("c-07");
    let id = h.payment_for(&c07, "merchant@example.com", false).await;
    let body = with_invoice(&c07, id.as_str());
    let (row, processed) = h.post(&body).await;
    assert!(
        matches!(processed[0], Processed::Rescheduled { attempts: 1, .. }),
        "{processed:?}"
    );
    assert_eq!(row.verification, VerificationStatus::Pending);
    assert_eq!(
        h.store().queued_count().await.unwrap(),
        1,
        "still queued: survives a restart"
    );
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    assert_eq!(h.assembled.state.engine.process_due(later, 10).await.unwrap(), 1);
    assert_eq!(h.state(&id).await, PaymentState::Accepted);
    h.postbacks_were_exact(&[&body]);

    // PayPal's answer to each postback is in the log, the error page included, naming its attempt.
    let answers = h.answers().await;
    let of = |attempt: u32| {
        let outcome = format!("answer to the verification of message {} (attempt {attempt})", row.id);
        answers
            .iter()
            .find(|a| a.outcome.as_deref() == Some(outcome.as_str()))
            .unwrap_or_else(|| panic!("no answer for attempt {attempt}: {answers:?}"))
    };
    assert_eq!(of(1).body, b"<html>Service Unavailable</html>");
    assert_eq!(of(2).body, b"VERIFIED");
    assert!(of(1).id > row.id && of(2).id > of(1).id, "each logged when it came");
}
