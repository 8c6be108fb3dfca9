//! PayPal refunds (REST, OAuth2) and subscription cancellation (NVP) against a local stand-in for PayPal's
//! APIs: the token is cached and refreshed, every answer is mapped, nothing secret reaches the calls that
//! are logged, and a refund past the PayPal-Request-Id window is looked up before it is sent again.
#![cfg(feature = "reqwest")]

use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use payment_buttons::gateway::{
    CancelAnswer, CancelRequest, Gateway, GatewayCall, RefundAnswer, RefundRequest, StoredPaymentFacts,
};
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::{
    ApiSecret, PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides, Postback, PostbackAnswer,
};

const SELLER: &str = "seller@example.com";
const CLIENT_ID: &str = "AYstub-client";
const CLIENT_SECRET: &str = "EHstub-secret-do-not-log";
const NVP_PASSWORD: &str = "NVP-PASSWORD-do-not-log";
const NVP_SIGNATURE: &str = "NVP-SIGNATURE-do-not-log";

/// What the stand-in saw.
#[derive(Default)]
struct Stub {
    token_calls: Mutex<u32>,
    /// `expires_in` of the tokens it issues (PayPal's are about nine hours); 0 means 32400.
    expires_in: Mutex<u64>,
    /// Tokens the stand-in has revoked early (answered 401).
    revoked: Mutex<Vec<String>>,
    /// (capture id, PayPal-Request-Id, body) of every refund call.
    refunds: Mutex<Vec<(String, String, serde_json::Value)>>,
    searches: Mutex<u32>,
    nvp: Mutex<Vec<String>>,
}

fn token_number(stub: &Stub) -> String {
    format!("A21-token-{}", stub.token_calls.lock().unwrap())
}

async fn token(stub: web::Data<Stub>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(expected.as_str()) || &body[..] != b"grant_type=client_credentials" {
        return HttpResponse::Unauthorized()
            .json(serde_json::json!({"error": "invalid_client", "error_description": "Client Authentication failed"}));
    }
    *stub.token_calls.lock().unwrap() += 1;
    HttpResponse::Ok().json(serde_json::json!({
        "scope": "https://uri.paypal.com/services/payments/refund",
        "access_token": token_number(&stub),
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": match *stub.expires_in.lock().unwrap() {
            0 => 32400,
            n => n,
        },
    }))
}

fn bearer_ok(stub: &Stub, req: &HttpRequest) -> bool {
    let Some(auth) = req.headers().get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return false;
    };
    token.starts_with("A21-token-") && !stub.revoked.lock().unwrap().iter().any(|t| t == token)
}

async fn refund(
    stub: web::Data<Stub>,
    req: HttpRequest,
    capture: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    if !bearer_ok(&stub, &req) {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "invalid_token"}));
    }
    let request_id = req
        .headers()
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    stub.refunds
        .lock()
        .unwrap()
        .push((capture.clone(), request_id, body.into_inner()));
    match capture.as_str() {
        "CAPTURE-OK" => HttpResponse::Created().json(serde_json::json!({"id": "1JU08902781691411", "status": "COMPLETED"})),
        "CAPTURE-PENDING" => HttpResponse::Created()
            .json(serde_json::json!({"id": "2GG279541U471931P", "status": "PENDING", "status_details": {"reason": "ECHECK"}})),
        "CAPTURE-EXCEEDED" => HttpResponse::UnprocessableEntity().json(serde_json::json!({
            "name": "UNPROCESSABLE_ENTITY",
            "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "details": [{"issue": "REFUND_AMOUNT_EXCEEDED", "description": "The refund amount must be less than or equal to the capture amount that has not yet been refunded."}],
        })),
        "CAPTURE-OTHER" => HttpResponse::Forbidden().json(serde_json::json!({
            "name": "NOT_AUTHORIZED",
            "message": "Authorization failed due to insufficient permissions.",
            "details": [{"issue": "PERMISSION_DENIED", "description": "You do not have permission to access or perform operations on this resource."}],
        })),
        "CAPTURE-SLOW" => {
            actix_web::rt::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Created().json(serde_json::json!({"id": "LATE", "status": "COMPLETED"}))
        }
        "CAPTURE-DOWN" => HttpResponse::ServiceUnavailable().finish(),
        _ => HttpResponse::NotFound().json(serde_json::json!({"name": "RESOURCE_NOT_FOUND", "details": [{"issue": "INVALID_RESOURCE_ID"}]})),
    }
}

async fn search(stub: web::Data<Stub>, req: HttpRequest, query: web::Query<Vec<(String, String)>>) -> HttpResponse {
    if !bearer_ok(&stub, &req) {
        return HttpResponse::Unauthorized().finish();
    }
    *stub.searches.lock().unwrap() += 1;
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // Past the window, only the first 31-day slice holds the earlier refund.
    let start = get("start_date").unwrap_or_default();
    let details = if start.starts_with("2026-09") {
        serde_json::json!([{"transaction_info": {
            "transaction_id": "5TY05013RG002845M", "paypal_reference_id": "CAPTURE-OK",
            "transaction_event_code": "T1107", "transaction_status": "S", "custom_field": "rf_found",
            "transaction_amount": {"currency_code": "EUR", "value": "-5.00"}}}])
    } else {
        serde_json::json!([])
    };
    HttpResponse::Ok().json(serde_json::json!({"transaction_details": details, "total_pages": 1, "page": 1}))
}

async fn nvp(stub: web::Data<Stub>, body: web::Bytes) -> HttpResponse {
    let fields: std::collections::BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    stub.nvp
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let signed = fields.get("PWD").map(String::as_str) == Some(NVP_PASSWORD)
        && fields.get("SIGNATURE").map(String::as_str) == Some(NVP_SIGNATURE)
        && fields.get("METHOD").map(String::as_str) == Some("ManageRecurringPaymentsProfileStatus")
        && fields.get("ACTION").map(String::as_str) == Some("Cancel");
    let answer = match (signed, fields.get("PROFILEID").map(String::as_str)) {
        (true, Some("I-ACTIVE")) => "PROFILEID=I%2dACTIVE&TIMESTAMP=2026%2d12%2d03T14%3a00%3a00Z&CORRELATIONID=ab12&ACK=Success&VERSION=204%2e0&BUILD=1".to_owned(),
        (true, _) => "ACK=Failure&L_ERRORCODE0=11556&L_SHORTMESSAGE0=Invalid%20profile%20status&L_LONGMESSAGE0=Invalid%20profile%20status%20for%20cancel%20action%3b%20profile%20should%20be%20active%20or%20suspended".to_owned(),
        (false, _) => "ACK=Failure&L_ERRORCODE0=10002&L_LONGMESSAGE0=Security%20header%20is%20not%20valid".to_owned(),
    };
    HttpResponse::Ok().content_type("text/plain").body(answer)
}

/// Starts the stand-in; gives its base URL and its record.
async fn stand_in() -> (String, web::Data<Stub>) {
    let stub = web::Data::new(Stub::default());
    let data = stub.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/oauth2/token", web::post().to(token))
            .route("/v2/payments/captures/{id}/refund", web::post().to(refund))
            .route("/v1/reporting/transactions", web::get().to(search))
            .route("/nvp", web::post().to(nvp))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (format!("http://{addr}"), stub)
}

struct NoPostback;
#[async_trait::async_trait]
impl Postback for NoPostback {
    async fn validate(&self, _body: &[u8]) -> PostbackAnswer {
        PostbackAnswer::Invalid
    }
}

fn gateway(base: &str, with_credentials: bool) -> PaypalGateway {
    let mut overrides = PaypalOverrides {
        business: Some(SELLER.to_owned()),
        api_url: Some(base.to_owned()),
        nvp_url: Some(format!("{base}/nvp")),
        ..Default::default()
    };
    if with_credentials {
        overrides.client_id = Some(CLIENT_ID.to_owned());
        overrides.client_secret = Some(ApiSecret::new(CLIENT_SECRET));
        overrides.nvp_user = Some("seller_api1.example.com".to_owned());
        overrides.nvp_password = Some(ApiSecret::new(NVP_PASSWORD));
        overrides.nvp_signature = Some(ApiSecret::new(NVP_SIGNATURE));
    }
    let config = PaypalConfig::new(PaypalMode::Sandbox, overrides).unwrap();
    PaypalGateway::new(config, std::sync::Arc::new(NoPostback))
        .with_api_timeout(Duration::from_millis(800))
        .unwrap()
}

struct Facts {
    id: PaymentId,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Facts {
    fn new() -> Self {
        Facts {
            id: PaymentId::generate(),
            details: serde_json::Map::new(),
        }
    }

    fn of<'a>(&'a self, txn_id: &'a str, receiver: &'a str, subscr_id: Option<&'a str>) -> StoredPaymentFacts<'a> {
        StoredPaymentFacts {
            payment_id: &self.id,
            gateway_reference: Some(txn_id),
            receiver: Some(receiver),
            amount: Money::parse("25.00", "EUR").unwrap(),
            refunded_before: Money::parse("0.00", "EUR").unwrap(),
            created_at: Utc::now(),
            details: &self.details,
            gateway_subscription_id: subscr_id,
        }
    }
}

fn refund_request<'a>(
    payment: StoredPaymentFacts<'a>,
    refund_id: &'a str,
    first_sent_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> RefundRequest<'a> {
    RefundRequest {
        payment,
        refund_id,
        amount: Money::parse("5.00", "EUR").unwrap(),
        reason: Some("Damaged in transit"),
        first_sent_at,
        now,
    }
}

/// No call the engine logs may carry a credential or a token.
fn assert_nothing_secret(calls: &[GatewayCall]) {
    for call in calls {
        let text = format!("{} {}", call.request, String::from_utf8_lossy(&call.body));
        for secret in [CLIENT_SECRET, NVP_PASSWORD, NVP_SIGNATURE, "A21-token-"] {
            assert!(!text.contains(secret), "a logged call holds a secret: {text}");
        }
    }
}

#[actix_web::test]
async fn a_completed_refund_succeeds_with_the_key_of_its_later_ipn() {
    let (base, stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let payment = facts.of("CAPTURE-OK", SELLER, None);
    let refunds = gw.refunds().expect("PayPal refunds");
    refunds.check(&payment).expect("refundable");
    let attempt = refunds
        .refund(&refund_request(payment, "rf_one", None, Utc::now()))
        .await;
    assert_eq!(
        attempt.answer,
        RefundAnswer::Succeeded {
            gateway_refund_id: Some("1JU08902781691411".to_owned()),
            idempotency_key: "1JU08902781691411:Refunded".to_owned(),
        }
    );
    // The token answer (redacted) and the refund answer, in order, for the log.
    assert_eq!(attempt.calls.len(), 2);
    assert!(attempt.calls[0].request.ends_with("/v1/oauth2/token"));
    assert!(String::from_utf8_lossy(&attempt.calls[0].body).contains("[redacted]"));
    assert_eq!(attempt.calls[1].status, 201);
    assert_nothing_secret(&attempt.calls);
    let sent = stub.refunds.lock().unwrap();
    let (capture, request_id, body) = &sent[0];
    assert_eq!(capture, "CAPTURE-OK");
    assert_eq!(request_id, "rf_one");
    assert_eq!(
        body["amount"],
        serde_json::json!({"value": "5.00", "currency_code": "EUR"})
    );
    assert_eq!(body["note_to_payer"], "Damaged in transit");
    assert_eq!(body["custom_id"], "rf_one");
}

#[actix_web::test]
async fn two_refunds_share_one_token_and_a_revoked_token_is_refreshed_once() {
    let (base, stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let refunds = gw.refunds().unwrap();
    let first = refunds
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_a",
            None,
            Utc::now(),
        ))
        .await;
    let second = refunds
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_b",
            None,
            Utc::now(),
        ))
        .await;
    assert!(matches!(first.answer, RefundAnswer::Succeeded { .. }));
    assert!(matches!(second.answer, RefundAnswer::Succeeded { .. }));
    assert_eq!(*stub.token_calls.lock().unwrap(), 1, "the token is cached");
    assert_eq!(second.calls.len(), 1, "no token call the second time");

    // PayPal revokes the token early: a 401, one new token, the refund goes through.
    stub.revoked.lock().unwrap().push("A21-token-1".to_owned());
    let third = refunds
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_c",
            None,
            Utc::now(),
        ))
        .await;
    assert!(
        matches!(third.answer, RefundAnswer::Succeeded { .. }),
        "{:?}",
        third.answer
    );
    assert_eq!(*stub.token_calls.lock().unwrap(), 2);
    let statuses: Vec<u16> = third.calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 200, 201], "the 401, the new token, the refund");
    assert_nothing_secret(&third.calls);
}

#[actix_web::test]
async fn an_expiring_token_is_replaced_before_paypal_refuses_it() {
    let (base, stub) = stand_in().await;
    *stub.expires_in.lock().unwrap() = 1;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let refunds = gw.refunds().unwrap();
    let first = refunds
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_1",
            None,
            Utc::now(),
        ))
        .await;
    assert!(matches!(first.answer, RefundAnswer::Succeeded { .. }));
    // A one-second token is used for half its life, then a new one is asked for.
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let second = refunds
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_2",
            None,
            Utc::now(),
        ))
        .await;
    assert!(matches!(second.answer, RefundAnswer::Succeeded { .. }));
    assert_eq!(*stub.token_calls.lock().unwrap(), 2);
    let statuses: Vec<u16> = second.calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 201], "a new token first, no 401");
}

#[actix_web::test]
async fn concurrent_refunds_ask_for_one_token() {
    let (base, stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let refunds = gw.refunds().unwrap();
    let now = Utc::now();
    let (ra, rb) = (
        refund_request(facts.of("CAPTURE-OK", SELLER, None), "rf_x", None, now),
        refund_request(facts.of("CAPTURE-OK", SELLER, None), "rf_y", None, now),
    );
    let (a, b) = tokio::join!(refunds.refund(&ra), refunds.refund(&rb));
    assert!(matches!(a.answer, RefundAnswer::Succeeded { .. }));
    assert!(matches!(b.answer, RefundAnswer::Succeeded { .. }));
    assert_eq!(*stub.token_calls.lock().unwrap(), 1);
}

#[actix_web::test]
async fn pending_refused_and_unreachable_refunds() {
    let (base, _stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let refunds = gw.refunds().unwrap();
    let answer = |txn: &'static str| {
        let facts = &facts;
        async move {
            refunds
                .refund(&refund_request(facts.of(txn, SELLER, None), "rf_1", None, Utc::now()))
                .await
                .answer
        }
    };
    assert_eq!(
        answer("CAPTURE-PENDING").await,
        RefundAnswer::Pending {
            gateway_refund_id: Some("2GG279541U471931P".to_owned())
        }
    );
    let RefundAnswer::Failed { reason } = answer("CAPTURE-EXCEEDED").await else {
        panic!("422 is final");
    };
    assert!(reason.contains("REFUND_AMOUNT_EXCEEDED"), "{reason}");
    let RefundAnswer::Failed { reason } = answer("CAPTURE-OTHER").await else {
        panic!("403 is final");
    };
    assert!(reason.contains("PERMISSION_DENIED"), "{reason}");
    assert!(matches!(answer("CAPTURE-DOWN").await, RefundAnswer::Retry { .. }));
    let RefundAnswer::Retry { reason } = answer("CAPTURE-SLOW").await else {
        panic!("a timeout is retried");
    };
    assert!(reason.contains("in time"), "{reason}");

    // Nobody listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gw = gateway(&dead, true);
    let attempt = gw
        .refunds()
        .unwrap()
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_1",
            None,
            Utc::now(),
        ))
        .await;
    assert!(
        matches!(attempt.answer, RefundAnswer::Retry { .. }),
        "{:?}",
        attempt.answer
    );
    assert!(attempt.calls.is_empty());
}

#[actix_web::test]
async fn wrong_credentials_fail_without_leaking_them() {
    let (base, _stub) = stand_in().await;
    let overrides = PaypalOverrides {
        business: Some(SELLER.to_owned()),
        api_url: Some(base.clone()),
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(ApiSecret::new("EH-wrong-secret")),
        ..Default::default()
    };
    let config = PaypalConfig::new(PaypalMode::Sandbox, overrides).unwrap();
    let gw = PaypalGateway::new(config, std::sync::Arc::new(NoPostback))
        .with_api_timeout(Duration::from_secs(2))
        .unwrap();
    let facts = Facts::new();
    let attempt = gw
        .refunds()
        .unwrap()
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_1",
            None,
            Utc::now(),
        ))
        .await;
    let RefundAnswer::Failed { reason } = &attempt.answer else {
        panic!("refused credentials are final: {:?}", attempt.answer);
    };
    assert!(reason.contains("invalid_client"), "{reason}");
    assert!(!reason.contains("EH-wrong-secret"));
    assert!(
        attempt
            .calls
            .iter()
            .all(|c| !String::from_utf8_lossy(&c.body).contains("EH-wrong-secret"))
    );
}

#[actix_web::test]
async fn past_the_request_id_window_the_refund_is_looked_up_not_sent_again() {
    let (base, stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let first = DateTime::parse_from_rfc3339("2026-09-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let now = first + chrono::Duration::days(50);
    let attempt = gw
        .refunds()
        .unwrap()
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_found",
            Some(first),
            now,
        ))
        .await;
    assert_eq!(
        attempt.answer,
        RefundAnswer::Succeeded {
            gateway_refund_id: Some("5TY05013RG002845M".to_owned()),
            idempotency_key: "5TY05013RG002845M:Refunded".to_owned(),
        }
    );
    assert!(stub.refunds.lock().unwrap().is_empty(), "found: not sent again");

    // Not found in any slice (50 days: two searches): sent again.
    let attempt = gw
        .refunds()
        .unwrap()
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_lost",
            Some(first),
            now,
        ))
        .await;
    assert!(matches!(attempt.answer, RefundAnswer::Succeeded { .. }));
    assert_eq!(*stub.searches.lock().unwrap(), 1 + 2);
    assert_eq!(stub.refunds.lock().unwrap().len(), 1);

    // Within the window: no search, the PayPal-Request-Id does the work.
    let attempt = gw
        .refunds()
        .unwrap()
        .refund(&refund_request(
            facts.of("CAPTURE-OK", SELLER, None),
            "rf_recent",
            Some(now - chrono::Duration::days(2)),
            now,
        ))
        .await;
    assert!(matches!(attempt.answer, RefundAnswer::Succeeded { .. }));
    assert_eq!(*stub.searches.lock().unwrap(), 3);
}

#[actix_web::test]
async fn refunds_are_refused_before_any_call_without_credentials_or_for_another_account() {
    let (base, stub) = stand_in().await;
    let facts = Facts::new();
    let bare = gateway(&base, false);
    let reason = bare
        .refunds()
        .unwrap()
        .check(&facts.of("CAPTURE-OK", SELLER, None))
        .unwrap_err();
    assert!(
        reason.contains("paypal.client_id") && reason.contains("refund it at PayPal"),
        "{reason}"
    );
    let reason = bare
        .subscription_cancels()
        .unwrap()
        .check(&facts.of("CAPTURE-OK", SELLER, Some("I-ACTIVE")))
        .unwrap_err();
    assert!(reason.contains("cancel it at PayPal"), "{reason}");

    let gw = gateway(&base, true);
    let reason = gw
        .refunds()
        .unwrap()
        .check(&facts.of("CAPTURE-OK", "another-seller@example.com", None))
        .unwrap_err();
    assert!(
        reason.contains("received by another PayPal account") && reason.contains("refund it at PayPal"),
        "{reason}"
    );
    // The receiver is compared without regard to case, as PayPal does for e-mail addresses.
    gw.refunds()
        .unwrap()
        .check(&facts.of("CAPTURE-OK", "Seller@Example.com", None))
        .unwrap();
    assert_eq!(*stub.token_calls.lock().unwrap(), 0);
}

#[actix_web::test]
async fn a_subscription_is_cancelled_over_nvp_and_a_refusal_gives_paypal_message() {
    let (base, stub) = stand_in().await;
    let gw = gateway(&base, true);
    let facts = Facts::new();
    let cancels = gw.subscription_cancels().unwrap();
    let payment = facts.of("CAPTURE-OK", SELLER, Some("I-ACTIVE"));
    cancels.check(&payment).unwrap();
    let attempt = cancels
        .cancel(&CancelRequest {
            payment,
            reason: Some("Customer asked"),
        })
        .await;
    assert_eq!(
        attempt.answer,
        CancelAnswer::Cancelled {
            idempotency_key: "subscr_cancel:I-ACTIVE".to_owned()
        }
    );
    assert_eq!(attempt.calls.len(), 1);
    assert!(String::from_utf8_lossy(&attempt.calls[0].body).contains("ACK=Success"));
    assert_nothing_secret(&attempt.calls);
    let sent = stub.nvp.lock().unwrap()[0].clone();
    assert!(
        sent.contains("PROFILEID=I-ACTIVE") && sent.contains("NOTE=Customer+asked"),
        "{sent}"
    );

    let attempt = cancels
        .cancel(&CancelRequest {
            payment: facts.of("CAPTURE-OK", SELLER, Some("I-CANCELLED")),
            reason: None,
        })
        .await;
    let CancelAnswer::Failed { reason } = attempt.answer else {
        panic!("ACK=Failure is final");
    };
    assert!(reason.contains("profile should be active or suspended"), "{reason}");
}

#[actix_web::test]
async fn an_unreachable_nvp_endpoint_is_retried() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gw = gateway(&dead, true);
    let facts = Facts::new();
    let attempt = gw
        .subscription_cancels()
        .unwrap()
        .cancel(&CancelRequest {
            payment: facts.of("CAPTURE-OK", SELLER, Some("I-ACTIVE")),
            reason: None,
        })
        .await;
    assert!(
        matches!(attempt.answer, CancelAnswer::Retry { .. }),
        "{:?}",
        attempt.answer
    );
}
