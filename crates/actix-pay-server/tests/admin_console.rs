//! The operator console over HTTP, through the whole application as `librement-server serve` runs it:
//! sign-in (CSRF, throttling under parallel guesses), a payment found by its order reference and shown
//! in full, the CSV export's formula neutralization, the role rule (a viewer's action is 403 and
//! audited), and the headers of every console page.

#[path = "common/app.rs"]
mod common_app;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_http::Request;
use actix_pay_server::admin::{ADMIN_COOKIE, CSRF_COOKIE, accounts};
use actix_pay_server::store::Role;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test as atest;
use payment_buttons::button::ButtonConfig;
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{NewPayment, Store};

const PASSWORD: &str = "a long operator passphrase 42";

macro_rules! app {
    ($assembled:expr) => {
        atest::init_service(actix_pay_server::app::application(
            $assembled.configure(),
            $assembled.limits.clone(),
        ))
        .await
    };
}

struct Answer {
    status: StatusCode,
    cookies: Vec<(String, String)>,
    headers: actix_web::http::header::HeaderMap,
    body: String,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

async fn call<S, B>(app: &S, request: Request) -> Answer
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = atest::call_service(app, request).await;
    let cookies = response
        .response()
        .cookies()
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
        .collect();
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&atest::read_body(response).await).into_owned();
    Answer {
        status,
        cookies,
        headers,
        body,
    }
}

fn get(uri: &str, session: Option<&str>) -> Request {
    let mut r = atest::TestRequest::get().uri(uri);
    if let Some(s) = session {
        r = r.insert_header(("cookie", format!("{ADMIN_COOKIE}={s}")));
    }
    r.to_request()
}

fn post(uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Request {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    atest::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie.to_owned()))
        .set_payload(body)
        .to_request()
}

/// The value of the hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let rest = html.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field");
    rest.split('"').next().unwrap().to_owned()
}

/// Signs in through the form; the session cookie and the session's CSRF token.
async fn sign_in<S, B>(app: &S, email: &str) -> (String, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let page = call(app, get("/admin", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page.cookie(CSRF_COOKIE).expect("the sign-in form's cookie");
    assert_eq!(csrf_field(&page.body), token);
    let signed = call(
        app,
        post(
            "/admin/sign-in",
            &format!("{CSRF_COOKIE}={token}"),
            &[("csrf", &token), ("email", email), ("password", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let session = signed.cookie(ADMIN_COOKIE).expect("a session cookie");
    let payments = call(app, get("/admin/payments", Some(&session))).await;
    assert_eq!(payments.status, StatusCode::OK);
    (session, csrf_field(&payments.body))
}

fn button(reference: &str, email: &str) -> ButtonConfig {
    ButtonConfig::from_json(
        &serde_json::json!({
            "order_reference": reference,
            "email": email,
            "options": [{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR",
                         "custom": {"sku": "manual-pdf-7"}}],
            "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
            "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                     "declined": "https://shop.example/sorry"}
        })
        .to_string(),
    )
    .unwrap()
}

async fn payment(store: &actix_pay_server::store::ServerStore, reference: &str, email: &str) -> PaymentId {
    payment_of(store, reference, email, Money::parse("12.50", "EUR").unwrap()).await
}

/// A payment of `amount` (the button still says 12.50 EUR: the console reads the payment's own amount).
async fn payment_of(
    store: &actix_pay_server::store::ServerStore,
    reference: &str,
    email: &str,
    amount: Money,
) -> PaymentId {
    let id = PaymentId::generate();
    store
        .create_payment(NewPayment {
            id: id.clone(),
            gateway: "paypal".into(),
            button: button(reference, email),
            option_index: 0,
            amount,
            receiver: Some("seller@example.com".into()),
            subscription_id: None,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    id
}

#[actix_web::test]
async fn an_operator_signs_in_finds_a_payment_by_its_order_reference_and_exports_a_safe_csv() {
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let wanted = payment(&store, "ORDER-1042", "buyer@example.org").await;
    let other = payment(&store, "=HYPERLINK(\"http://evil.example\")", "-evil@example.org").await;
    let app = app!(assembled);

    // Without a session, every page leads to the sign-in form.
    let anonymous = call(&app, get("/admin/payments", None)).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), "/admin");

    let (session, _) = sign_in(&app, "ops@example.org").await;
    let found = call(&app, get("/admin/payments?order_reference=ORDER-1042", Some(&session))).await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found.body.contains(&format!("/admin/payments/{wanted}")),
        "{}",
        found.body
    );
    assert!(!found.body.contains(other.as_str()), "the filter keeps only ORDER-1042");
    for header in [("cache-control", "no-store"), ("x-frame-options", "DENY")] {
        assert!(found.header(header.0).contains(header.1), "{header:?}");
    }
    let by_email = call(&app, get("/admin/payments?email=BUYER@example.org", Some(&session))).await;
    assert!(by_email.body.contains(wanted.as_str()) && !by_email.body.contains(other.as_str()));

    let shown = call(&app, get(&format!("/admin/payments/{wanted}?lang=fr"), Some(&session))).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains("manual-pdf-7"),
        "the button's custom fields, verbatim"
    );
    assert!(shown.body.contains("Configuration du bouton"), "in French");

    // The export: the formula-like reference and e-mail are neutralized, the ordinary one is not.
    let csv = call(&app, get("/admin/payments?format=csv", Some(&session))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(
        csv.body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
        "{}",
        csv.body
    );
    assert!(csv.body.contains(",'-evil@example.org,"), "{}", csv.body);
    assert!(
        csv.body.contains(",ORDER-1042,buyer@example.org,12.50,EUR"),
        "{}",
        csv.body
    );
    assert!(!csv.body.contains(",=HYPERLINK") && !csv.body.contains(",-evil"));

    // A bad filter is a 400 that says which.
    let bad = call(&app, get("/admin/payments?from=yesterday", Some(&session))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("from"), "{}", bad.body);
}

#[actix_web::test]
async fn an_email_search_finds_a_buyers_older_payment_behind_a_page_of_look_alike_addresses() {
    // The buyer's payment is older than a whole page (50) of payments by addresses that contain theirs. A
    // search that narrowed by "contains" before the page's LIMIT and matched exactly after it showed an empty
    // page; the indexed, exact column finds it on the first page, whatever case the operator types.
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Viewer, PASSWORD.into())
        .await
        .unwrap();
    let wanted = payment(&store, "ORDER-OLD", "Buyer@Example.org").await;
    for n in 0..55 {
        payment(&store, &format!("ORDER-{n}"), "other.buyer@example.org").await;
    }
    let app = app!(assembled);
    let (session, _) = sign_in(&app, "ops@example.org").await;

    let found = call(&app, get("/admin/payments?email=BUYER%40example.ORG", Some(&session))).await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.body.contains(wanted.as_str()), "{}", found.body);
    assert!(
        !found.body.contains("other.buyer@example.org"),
        "no look-alike address is listed"
    );

    let bad = call(&app, get("/admin/payments?email=not-an-address", Some(&session))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("email"), "{}", bad.body);
}

#[actix_web::test]
async fn an_operator_filters_payments_by_an_amount_range_in_one_currency() {
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let small = payment(&store, "ORDER-SMALL", "a@example.org").await;
    let large = payment_of(
        &store,
        "ORDER-LARGE",
        "b@example.org",
        Money::parse("40.00", "EUR").unwrap(),
    )
    .await;
    let dollars = payment_of(
        &store,
        "ORDER-USD",
        "c@example.org",
        Money::parse("40.00", "USD").unwrap(),
    )
    .await;
    let app = app!(assembled);
    let (session, _) = sign_in(&app, "ops@example.org").await;
    let listed = async |query: &str| {
        let page = call(&app, get(&format!("/admin/payments?{query}"), Some(&session))).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        [&small, &large, &dollars]
            .into_iter()
            .filter(|id| page.body.contains(&format!("/admin/payments/{id}")))
            .cloned()
            .collect::<Vec<_>>()
    };

    assert_eq!(listed("currency=EUR&amount_min=20").await, vec![large.clone()]);
    assert_eq!(
        listed("currency=eur&amount_min=12.5&amount_max=12.50").await,
        vec![small.clone()]
    );
    assert_eq!(listed("currency=USD").await, vec![dollars.clone()]);
    assert_eq!(listed("amount_max=100&currency=EUR").await.len(), 2);

    // Amounts without a currency do not compare; more decimals than the currency has are not rounded.
    for (query, named) in [
        ("amount_min=20", "currency"),
        ("currency=EUR&amount_max=12.505", "amount_max"),
    ] {
        let bad = call(&app, get(&format!("/admin/payments?{query}"), Some(&session))).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.body.contains(named), "{query}: {}", bad.body);
    }
}

#[actix_web::test]
async fn a_viewer_reads_but_its_actions_are_refused_and_audited_and_forms_need_their_csrf_token() {
    let (assembled, dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    accounts::add(&store, "viewer@example.org", Role::Viewer, PASSWORD.into())
        .await
        .unwrap();
    let app = app!(assembled);

    let (viewer, viewer_csrf) = sign_in(&app, "viewer@example.org").await;
    let cookie = format!("{ADMIN_COOKIE}={viewer}");
    let refused = call(
        &app,
        post(
            "/admin/webhooks/resend",
            &cookie,
            &[("csrf", &viewer_csrf), ("delivery", "1")],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = call(
        &app,
        post(
            "/admin/librement/payouts/paid",
            &cookie,
            &[("csrf", &viewer_csrf), ("payout", "1")],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let (operator, operator_csrf) = sign_in(&app, "ops@example.org").await;
    let cookie = format!("{ADMIN_COOKIE}={operator}");
    // Another session's token, or none: refused before anything is done or recorded.
    for token in [viewer_csrf.as_str(), ""] {
        let forged = call(
            &app,
            post("/admin/webhooks/resend", &cookie, &[("csrf", token), ("delivery", "1")]),
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
    let missing = call(
        &app,
        post(
            "/admin/webhooks/resend",
            &cookie,
            &[("csrf", &operator_csrf), ("delivery", "999")],
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::CONFLICT);

    let rows = store.audit(None, 10).await.unwrap();
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.operator.clone(), r.action.clone(), r.outcome.clone()))
        .collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!(summary[0].0, "ops@example.org");
    assert!(summary[0].2.starts_with("refused: no such"), "{summary:?}");
    assert_eq!(
        summary[1],
        (
            "viewer@example.org".into(),
            "payout_paid".into(),
            "refused: viewer".into()
        )
    );
    assert_eq!(summary[2].1, "resend_delivery");

    let page = call(&app, get("/admin/audit", Some(&operator))).await;
    assert!(page.body.contains("refused: viewer"), "{}", page.body);
    for uri in [
        "/admin/librement",
        "/admin/librement?account=user%3A1&lang=fr",
        "/admin/webhooks",
        "/admin/messages",
    ] {
        let page = call(&app, get(uri, Some(&viewer))).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
        assert!(
            !page.body.contains("<button type=\"submit\">Mark paid"),
            "no action button for a viewer"
        );
    }

    // The audit cannot be rewritten, whatever the application does.
    let url = format!("sqlite://{}/pay.sqlite3", dir.path().display());
    let mut conn = actix_pay_server::store::DatabaseUrl::parse(&url)
        .unwrap()
        .connect()
        .unwrap();
    use diesel::RunQueryDsl;
    assert!(
        diesel::sql_query("DELETE FROM operator_audit")
            .execute(&mut conn)
            .is_err()
    );
    assert!(
        diesel::sql_query("UPDATE operator_audit SET outcome = 'ok'")
            .execute(&mut conn)
            .is_err()
    );

    // Signing out ends the session.
    let out = call(&app, post("/admin/sign-out", &cookie, &[("csrf", &operator_csrf)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = call(&app, get("/admin/payments", Some(&operator))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn sign_in_refuses_a_form_without_its_token_and_throttles_parallel_guesses() {
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let app = app!(assembled);

    // A form posted from elsewhere carries no matching cookie.
    let forged = call(
        &app,
        post(
            "/admin/sign-in",
            "",
            &[("csrf", "0123"), ("email", "ops@example.org"), ("password", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie(ADMIN_COOKIE).is_none());

    let token = "ab".repeat(32);
    let cookie = format!("{CSRF_COOKIE}={token}");
    let guesses = (0..12).map(|n| {
        let password = format!("wrong guess number {n}");
        let request = post(
            "/admin/sign-in",
            &cookie,
            &[("csrf", &token), ("email", "ops@example.org"), ("password", &password)],
        );
        call(&app, request)
    });
    let answers = futures_util::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED).count();
    let throttled = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (wrong, throttled),
        (5, 7),
        "at most 5 guesses are checked in the window"
    );

    // Now even the right password waits for the window.
    let right = call(
        &app,
        post(
            "/admin/sign-in",
            &cookie,
            &[("csrf", &token), ("email", "ops@example.org"), ("password", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(right.cookie(ADMIN_COOKIE).is_none());
}

/// A webhook receiver that answers 204 and counts what it got.
async fn receiver() -> (String, Arc<AtomicUsize>, actix_web::dev::ServerHandle) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let server = actix_web::HttpServer::new(move || {
        let seen = seen.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                actix_web::HttpResponse::NoContent().finish()
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/events", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (url, count, handle)
}

#[actix_web::test]
async fn failed_deliveries_resent_from_the_console_reach_the_receiver_and_the_resend_is_audited() {
    use payment_buttons::notification::{Outcome, Target};
    use payment_buttons::store::conformance::{create_payment, log_and_apply, notification};

    let (url, received, handle) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = actix_pay_server::config::Config::from_toml(
        &format!("[[webhooks]]\nurl = \"{url}?token=s3cr3t-in-query\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n"),
        "pay.toml",
        Vec::new(),
    )
    .unwrap();
    let store = actix_pay_server::store::ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
        .await
        .unwrap();
    let assembled = actix_pay_server::serve::assemble(
        &config,
        &url::Url::parse(common_app::PUBLIC_URL).unwrap(),
        common_app::SECRET,
        store.clone(),
    )
    .unwrap();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();

    // An accepted payment: its events fanned out to the endpoint, then given up (the receiver was down).
    let paid = create_payment(&store, false).await;
    log_and_apply(
        &store,
        &paid,
        notification(&paid, Target::Payment, Some(Outcome::Accepted), "k1", "k1"),
    )
    .await;
    assembled.state.engine.dispatch_events(100).await.unwrap();
    let deliveries = store.webhook_deliveries().await.unwrap();
    assert!(!deliveries.is_empty());
    for d in &deliveries {
        store
            .record_webhook_attempt(actix_pay_server::store::AttemptRecord {
                delivery_id: d.id,
                attempted_at: chrono::Utc::now(),
                http_status: Some(500),
                latency_ms: 3,
                error: Some("HTTP 500".into()),
                result: actix_pay_server::store::AttemptResult::GaveUp,
            })
            .await
            .unwrap();
    }

    let app = app!(assembled);
    let (session, csrf) = sign_in(&app, "ops@example.org").await;
    let page = call(&app, get("/admin/webhooks", Some(&session))).await;
    assert!(
        page.body.contains("HTTP 500"),
        "the failing deliveries are listed: {}",
        page.body
    );
    assert!(
        page.body.contains("#0 "),
        "an endpoint is named by its index: {}",
        page.body
    );
    assert!(
        !page.body.contains("s3cr3t"),
        "never by its full URL, which may hold a secret"
    );
    let shown = call(&app, get(&format!("/admin/payments/{paid}"), Some(&session))).await;
    assert!(
        shown.body.contains("HTTP 500"),
        "the payment shows its deliveries' attempts"
    );

    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let cookie = format!("{ADMIN_COOKIE}={session}");
    let resent = call(
        &app,
        post(
            "/admin/webhooks/resend-failed",
            &cookie,
            &[("csrf", &csrf), ("endpoint", "0"), ("since", &since)],
        ),
    )
    .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    let audit = store.audit(None, 1).await.unwrap();
    assert_eq!(audit[0].action, "resend_failed");
    assert_eq!(audit[0].outcome, format!("ok: {} deliveries", deliveries.len()));

    // The worker sends them again; the receiver gets each one.
    let worker = assembled
        .webhooks
        .as_ref()
        .unwrap()
        .spawn_worker(actix_pay_server::webhooks::WorkerOptions::default())
        .unwrap();
    for _ in 0..100 {
        if received.load(Ordering::SeqCst) >= deliveries.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(received.load(Ordering::SeqCst), deliveries.len());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = store.webhook_deliveries().await.unwrap();
    assert!(
        after
            .iter()
            .all(|d| d.status == actix_pay_server::store::DeliveryStatus::Delivered),
        "{after:?}"
    );

    // The receiver lost them anyway: the payment's page resends every event of the payment, delivered
    // ones included, to the endpoint chosen by its index.
    let shown = call(&app, get(&format!("/admin/payments/{paid}"), Some(&session))).await;
    assert!(
        shown
            .body
            .contains(&format!("action=\"/admin/payments/{paid}/resend\"")),
        "{}",
        shown.body
    );
    let resent = call(
        &app,
        post(
            &format!("/admin/payments/{paid}/resend"),
            &cookie,
            &[("csrf", &csrf), ("endpoint", "0")],
        ),
    )
    .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    assert_eq!(resent.header("location"), format!("/admin/payments/{paid}"));
    let audit = store.audit(None, 1).await.unwrap();
    assert_eq!(audit[0].action, "resend_payment");
    assert_eq!(audit[0].outcome, format!("ok: {} deliveries", deliveries.len()));
    for _ in 0..100 {
        if received.load(Ordering::SeqCst) >= 2 * deliveries.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        received.load(Ordering::SeqCst),
        2 * deliveries.len(),
        "each event arrived a second time"
    );

    // An endpoint that does not exist is a 404, audited.
    let unknown = call(
        &app,
        post(
            &format!("/admin/payments/{paid}/resend"),
            &cookie,
            &[("csrf", &csrf), ("endpoint", "7")],
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        store.audit(None, 1).await.unwrap()[0].outcome,
        "refused: no such payment or endpoint"
    );
    worker.abort();
    handle.stop(false).await;
}

#[actix_web::test]
async fn a_message_whose_verification_ended_in_error_is_queued_again_by_an_operator_once() {
    use payment_buttons::notification::VerificationStatus;
    use payment_buttons::store::Settlement;
    use payment_buttons::store::conformance::log;

    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    // PayPal's postback failed for days: the engine gave up with `error`.
    let id = log(&store, b"txn_id=4RT73920XK118345L").await;
    let _ = store.claim_messages(chrono::Utc::now(), 10).await.unwrap();
    store
        .settle_message(
            id,
            Settlement {
                verification: VerificationStatus::Error,
                flags: vec![],
                payment_id: None,
                outcome: "gave up after 12 verification attempts: postback unreachable".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.queued_count().await.unwrap(), 0);
    let app = app!(assembled);
    let (session, csrf) = sign_in(&app, "ops@example.org").await;

    let page = call(&app, get(&format!("/admin/messages/{id}"), Some(&session))).await;
    assert!(
        page.body.contains("/admin/messages/verify-again"),
        "the button is offered: {}",
        page.body
    );
    let cookie = format!("{ADMIN_COOKIE}={session}");
    let message = id.to_string();
    let again = call(
        &app,
        post(
            "/admin/messages/verify-again",
            &cookie,
            &[("csrf", &csrf), ("message", &message)],
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(store.queued_count().await.unwrap(), 1, "back in the queue");
    let row = store.message(id).await.unwrap().unwrap();
    assert_eq!(row.verification, VerificationStatus::Pending);
    assert_eq!(row.body, b"txn_id=4RT73920XK118345L", "the raw body is never touched");

    // Queued already: refused, and recorded as refused.
    let twice = call(
        &app,
        post(
            "/admin/messages/verify-again",
            &cookie,
            &[("csrf", &csrf), ("message", &message)],
        ),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let audit = store.audit(None, 2).await.unwrap();
    assert_eq!(
        audit[0].outcome,
        "refused: not a message whose verification ended in error"
    );
    assert_eq!(
        (audit[1].action.as_str(), audit[1].outcome.as_str()),
        ("verify_again", "ok")
    );
}

#[actix_web::test]
async fn an_operator_pays_one_payout_and_rejects_another_back_to_the_balance_with_the_ledger_audit_and_the_audit_rows()
{
    use chrono::{Duration, Utc};
    use librement_pay::accounts::{Email, NewUser, UserStore};
    use librement_pay::email_tokens::{EmailToken, EmailTokens, Purpose};
    use librement_pay::ledger::{Account, Audit, LedgerStore, NewTransaction};
    use librement_pay::payout::{PayoutFilter, PayoutState, Payouts};
    use librement_pay::purchase::BalancePayments;

    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let eur = |s: &str| Money::parse(s, "EUR").unwrap();
    let hold = Duration::days(14);
    let sold_at = Utc::now() - hold - Duration::days(1);
    let new_user = |email: &str| NewUser {
        email: Email::parse(email).unwrap(),
        display_name: "Someone".into(),
        password_hash: "$argon2id$unused".into(),
        created_at: sold_at,
    };
    // A verified seller who sold for 40.00 more than the hold ago, and asked for two payouts.
    let seller = store.create_user(new_user("author@example.org")).await.unwrap();
    let token = EmailToken::new(Purpose::Verify, seller, sold_at);
    store.record_token(&token, sold_at).await.unwrap();
    store.verify_email(&token, sold_at).await.unwrap();
    let buyer = store.create_user(new_user("buyer@example.org")).await.unwrap();
    store
        .post(NewTransaction::top_up("seed", buyer, "cmcic", eur("100.00")).unwrap())
        .await
        .unwrap();
    let sale = PaymentId::generate();
    let button = ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-40",
          "options": [{"description": "Book", "amount": "40.00", "currency": "EUR"}],
          "payment_options": {"librement": {"seller": "author@example.org"}},
          "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .unwrap();
    store
        .create_payment(NewPayment {
            id: sale.clone(),
            gateway: "librement".into(),
            button,
            option_index: 0,
            amount: eur("40.00"),
            receiver: Some("author@example.org".into()),
            subscription_id: None,
            created_at: sold_at,
        })
        .await
        .unwrap();
    store.pay_from_balance(&sale, buyer, sold_at).await.unwrap();
    let now = Utc::now();
    let paid = store
        .request_payout(seller, eur("25.00"), hold, "en", now)
        .await
        .unwrap();
    let rejected = store
        .request_payout(seller, eur("15.00"), hold, "en", now)
        .await
        .unwrap();
    assert_eq!(
        store
            .balance(&Account::User(seller), eur("1.00").currency())
            .await
            .unwrap(),
        eur("0.00")
    );

    let app = app!(assembled);
    let (session, csrf) = sign_in(&app, "ops@example.org").await;
    let cookie = format!("{ADMIN_COOKIE}={session}");
    let page = call(&app, get("/admin/librement", Some(&session))).await;
    assert!(page.body.contains("/admin/librement/payouts/rejected"), "{}", page.body);
    for (outcome, payout, note) in [
        ("rejected", rejected.id, "unknown IBAN"),
        ("paid", paid.id, "transfer 42"),
    ] {
        let answer = call(
            &app,
            post(
                &format!("/admin/librement/payouts/{outcome}"),
                &cookie,
                &[("csrf", &csrf), ("payout", &payout.to_string()), ("note", note)],
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{outcome}: {}", answer.body);
    }
    // Deciding again is refused and says why; an unknown decision is not a route.
    let again = call(
        &app,
        post(
            "/admin/librement/payouts/paid",
            &cookie,
            &[("csrf", &csrf), ("payout", &rejected.id.to_string())],
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let unknown = call(
        &app,
        post(
            "/admin/librement/payouts/maybe",
            &cookie,
            &[("csrf", &csrf), ("payout", &paid.id.to_string())],
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let currency = eur("1.00").currency();
    assert_eq!(
        store.balance(&Account::User(seller), currency).await.unwrap(),
        eur("15.00"),
        "the rejected payout is back"
    );
    assert_eq!(
        store.balance(&Account::PayoutsPending, currency).await.unwrap(),
        eur("0.00")
    );
    assert_eq!(store.balance(&Account::PaidOut, currency).await.unwrap(), eur("25.00"));
    assert!(Audit::of(&store.all_entries().await.unwrap()).is_healthy());
    let decided = store
        .payouts(PayoutFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let state_of = |id| decided.iter().find(|p| p.id == id).map(|p| p.state);
    assert_eq!(state_of(paid.id), Some(PayoutState::Paid));
    assert_eq!(state_of(rejected.id), Some(PayoutState::Rejected));

    let rows = store.audit(None, 10).await.unwrap();
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.action.clone(), r.target.clone(), r.outcome.clone()))
        .collect();
    assert_eq!(
        summary[2],
        ("payout_rejected".into(), format!("payout {}", rejected.id), "ok".into()),
        "{summary:?}"
    );
    assert_eq!(
        summary[1],
        ("payout_paid".into(), format!("payout {}", paid.id), "ok".into()),
        "{summary:?}"
    );
    assert_eq!(summary[0].0, "payout_paid");
    assert!(summary[0].2.starts_with("refused: "), "{summary:?}");
}

/// The console's engine replaced by one whose PayPal refunds answer as the test scripts.
fn with_scripted_refunds(
    assembled: &mut actix_pay_server::serve::Assembled,
) -> (
    Arc<payment_buttons::testing::scripted::Scripted>,
    Arc<payment_buttons::engine::Engine<actix_pay_server::store::ServerStore>>,
) {
    use payment_buttons::gateway::{Gateway, Gateways};
    use payment_buttons::paypal::testing::ScriptedPostback;
    use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
    use payment_buttons::testing::scripted::Scripted;
    let config = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            webscr_url: Some("http://127.0.0.1:1/simulator/paypal/webscr".into()),
            postback_url: Some("http://127.0.0.1:1/simulator/paypal/postback".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let paypal = Arc::new(Scripted::new(Arc::new(PaypalGateway::new(
        config,
        ScriptedPostback::verified().shared(),
    ))));
    let core = &assembled.state.engine;
    let engine = Arc::new(payment_buttons::engine::Engine::new(
        Arc::new(assembled.store.clone()),
        Gateways::new().with(paypal.clone() as Arc<dyn Gateway>),
        core.signer().clone(),
        core.urls().clone(),
    ));
    let old = &assembled.console;
    assembled.console = Arc::new(actix_pay_server::admin::Console {
        store: old.store.clone(),
        templates: old.templates.clone(),
        hashing: old.hashing.clone(),
        slots: old.slots.clone(),
        throttle: librement_pay::accounts::Throttle::default(),
        secure_cookies: old.secure_cookies,
        simulator: old.simulator,
        endpoints: old.endpoints.clone(),
        webhook_wake: None,
        engine_wake: None,
        engine: engine.clone(),
    });
    (paypal, engine)
}

#[actix_web::test]
async fn an_operator_refunds_part_of_a_payment_once_per_form_and_a_viewer_cannot() {
    use payment_buttons::gateway::IncomingMessage;
    let (mut assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    let (paypal, engine) = with_scripted_refunds(&mut assembled);
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    accounts::add(&store, "viewer@example.org", Role::Viewer, PASSWORD.into())
        .await
        .unwrap();
    let started = engine
        .start_payment_of(
            button("ORDER-9", "buyer@example.org"),
            "paypal",
            None,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let id = started.payment_id;
    let ipn = payment_buttons::paypal::simulator::encode_ipn([
        ("txn_type", "web_accept"),
        ("payment_status", "Completed"),
        ("txn_id", "TXN9"),
        ("invoice", id.as_str()),
        ("mc_gross", "12.50"),
        ("mc_currency", "EUR"),
        ("receiver_email", "seller@example.com"),
        ("business", "seller@example.com"),
    ]);
    let message = IncomingMessage {
        received_at: chrono::Utc::now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: ipn,
        headers: Default::default(),
    };
    engine.receive("paypal", message).await.unwrap();
    engine.process_due(chrono::Utc::now(), 10).await.unwrap();
    let app = app!(assembled);

    let (viewer, viewer_csrf) = sign_in(&app, "viewer@example.org").await;
    let page = call(&app, get(&format!("/admin/payments/{id}"), Some(&viewer))).await;
    assert!(!page.body.contains("/refund\""), "no refund form for a viewer");
    let refused = call(
        &app,
        post(
            &format!("/admin/payments/{id}/refund"),
            &format!("{ADMIN_COOKIE}={viewer}"),
            &[("csrf", &viewer_csrf), ("key", "k"), ("amount", "5.00")],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let (operator, _) = sign_in(&app, "ops@example.org").await;
    let page = call(&app, get(&format!("/admin/payments/{id}"), Some(&operator))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("action=\"/admin/payments/{id}/refund\"")),
        "{}",
        page.body
    );
    let key = page
        .body
        .split("name=\"key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's key")
        .to_owned();
    let csrf = csrf_field(&page.body);
    let no_token = call(
        &app,
        post(
            &format!("/admin/payments/{id}/refund"),
            &format!("{ADMIN_COOKIE}={operator}"),
            &[("csrf", "forged"), ("key", &key), ("amount", "5.00")],
        ),
    )
    .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "a form without its CSRF token");
    assert!(paypal.refund_requests().is_empty());

    paypal.answer_refund(payment_buttons::testing::scripted::Scripted::succeeded("RF9:Refunded"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("amount", "5.00"),
        ("reason", "damaged"),
    ];
    for _ in 0..2 {
        // Submitted twice (a double click): one refund.
        let done = call(
            &app,
            post(
                &format!("/admin/payments/{id}/refund"),
                &format!("{ADMIN_COOKIE}={operator}"),
                &fields,
            ),
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }
    assert_eq!(paypal.refund_requests().len(), 1);
    let refunds = store.refunds_for_payment(&id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].origin, payment_buttons::refund::RefundOrigin::Console);
    let shown = call(&app, get(&format!("/admin/payments/{id}"), Some(&operator))).await;
    assert!(shown.body.contains(refunds[0].id.as_str()) && shown.body.contains("succeeded"));
    let too_much = call(
        &app,
        post(
            &format!("/admin/payments/{id}/refund"),
            &format!("{ADMIN_COOKIE}={operator}"),
            &[("csrf", &csrf), ("key", "another"), ("amount", "9.00")],
        ),
    )
    .await;
    assert_eq!(too_much.status, StatusCode::BAD_REQUEST, "7.50 is left");

    let audit: Vec<(String, String)> = store
        .audit(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.outcome))
        .collect();
    assert!(audit.iter().all(|(action, _)| action == "refund"), "{audit:?}");
    assert!(audit[0].1.starts_with("refused: the amount is more than"), "{audit:?}");
    assert!(audit[1].1.starts_with("ok: refund rfd_"), "{audit:?}");
    assert!(audit.iter().any(|(_, o)| o == "refused: viewer"), "{audit:?}");
}

#[actix_web::test]
async fn an_operator_refunds_a_librement_purchase_to_the_buyers_balance_once_per_form() {
    use librement_pay::accounts::{Email, NewUser, UserStore};
    use librement_pay::ledger::{Account, Audit, LedgerStore, NewTransaction};
    use librement_pay::purchase::BalancePayments;
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let eur = |s: &str| Money::parse(s, "EUR").unwrap();
    let ann = store
        .create_user(NewUser {
            email: Email::parse("ann@example.org").unwrap(),
            display_name: "Ann".into(),
            password_hash: "$argon2id$unused".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    store
        .post(NewTransaction::top_up("seed", ann, "cmcic", eur("20.00")).unwrap())
        .await
        .unwrap();
    let librement_button = ButtonConfig::from_json(
        &serde_json::json!({
            "order_reference": "ORDER-L",
            "options": [{"description": "Book", "amount": "12.50", "currency": "EUR"}],
            "payment_options": {"librement": {"seller": "author@example.org"}},
            "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                     "declined": "https://shop.example/sorry"}
        })
        .to_string(),
    )
    .unwrap();
    let id = assembled
        .state
        .engine
        .start_payment_of(librement_button, "librement", None, None, chrono::Utc::now())
        .await
        .unwrap()
        .payment_id;
    store.pay_from_balance(&id, ann, chrono::Utc::now()).await.unwrap();
    let app = app!(assembled);

    let (operator, csrf) = sign_in(&app, "ops@example.org").await;
    let page = call(&app, get(&format!("/admin/payments/{id}"), Some(&operator))).await;
    assert!(
        page.body.contains(&format!("action=\"/admin/payments/{id}/refund\"")),
        "a Librement purchase has its refund form: {}",
        page.body
    );
    let key = page
        .body
        .split("name=\"key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's key")
        .to_owned();
    for _ in 0..2 {
        // Submitted twice: one refund.
        let done = call(
            &app,
            post(
                &format!("/admin/payments/{id}/refund"),
                &format!("{ADMIN_COOKIE}={operator}"),
                &[("csrf", &csrf), ("key", &key), ("amount", "5.00")],
            ),
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }
    let refunds = store.refunds_for_payment(&id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].origin, payment_buttons::refund::RefundOrigin::Console);
    let balance = |account: Account| {
        let store = store.clone();
        async move { store.balance(&account, "EUR".parse().unwrap()).await.unwrap() }
    };
    // 20.00 - 12.50 + 5.00 back.
    assert_eq!(balance(Account::User(ann)).await, eur("12.50"));
    assert_eq!(balance(Account::Seller("author@example.org".into())).await, eur("7.50"));
    assert!(Audit::of(&store.all_entries().await.unwrap()).is_healthy());
    let payment = store.payment(&id).await.unwrap().unwrap();
    assert_eq!(payment.refunded, eur("5.00"));
    let audit = store.audit(None, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .filter(|r| r.action == "refund")
            .all(|r| r.outcome.starts_with("ok: refund rfd_")),
        "{:?}",
        audit.iter().map(|r| &r.outcome).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn a_librement_purchases_page_lists_the_refunds_of_the_top_up_that_paid_it() {
    use librement_pay::accounts::{Email, NewUser, UserStore};
    use librement_pay::ledger::{LedgerStore, NewTransaction};
    use librement_pay::topup::TopUps;
    use payment_buttons::gateway::IncomingMessage;
    let (mut assembled, _dir) = common_app::assembled_app(&[]).await;
    let store = assembled.store.clone();
    let (paypal, engine) = with_scripted_refunds(&mut assembled);
    accounts::add(&store, "ops@example.org", Role::Operator, PASSWORD.into())
        .await
        .unwrap();
    let eur = |s: &str| Money::parse(s, "EUR").unwrap();
    let ann = store
        .create_user(NewUser {
            email: Email::parse("ann@example.org").unwrap(),
            display_name: "Ann".into(),
            password_hash: "$argon2id$unused".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    store
        .post(NewTransaction::top_up("seed", ann, "cmcic", eur("5.00")).unwrap())
        .await
        .unwrap();
    // A 12.50 purchase: 5.00 from the balance, 7.50 by PayPal.
    let purchase = PaymentId::generate();
    let librement_button = ButtonConfig::from_json(
        &serde_json::json!({
            "order_reference": "ORDER-L",
            "options": [{"description": "Book", "amount": "12.50", "currency": "EUR"}],
            "payment_options": {"librement": {"seller": "author@example.org"}},
            "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                     "declined": "https://shop.example/sorry"}
        })
        .to_string(),
    )
    .unwrap();
    store
        .create_payment(NewPayment {
            id: purchase.clone(),
            gateway: "librement".into(),
            button: librement_button,
            option_index: 0,
            amount: eur("12.50"),
            receiver: Some("author@example.org".into()),
            subscription_id: None,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let top_up = payment_of(&store, "librement-top-up", "ann@example.org", eur("7.50")).await;
    store
        .link_top_up(&top_up, &purchase, Some(ann), chrono::Utc::now())
        .await
        .unwrap();
    let ipn = payment_buttons::paypal::simulator::encode_ipn([
        ("txn_type", "web_accept"),
        ("payment_status", "Completed"),
        ("txn_id", "TXN-L"),
        ("invoice", top_up.as_str()),
        ("mc_gross", "7.50"),
        ("mc_currency", "EUR"),
        ("receiver_email", "seller@example.com"),
        ("business", "seller@example.com"),
    ]);
    engine
        .receive(
            "paypal",
            IncomingMessage {
                received_at: chrono::Utc::now(),
                remote_addr: None,
                method: "POST".into(),
                content_type: Some("application/x-www-form-urlencoded".into()),
                body: ipn,
                headers: Default::default(),
            },
        )
        .await
        .unwrap();
    engine.process_due(chrono::Utc::now(), 10).await.unwrap();
    assert_eq!(
        store.payment(&purchase).await.unwrap().unwrap().state,
        payment_buttons::payment::PaymentState::Accepted
    );
    // The card part goes back through PayPal.
    paypal.answer_refund(payment_buttons::testing::scripted::Scripted::succeeded("RF-L:Refunded"));
    let card_part = engine
        .refund(
            payment_buttons::engine::RefundOrder {
                payment_id: &top_up,
                amount: None,
                reason: None,
                idempotency_key: "card-part",
                origin: payment_buttons::refund::RefundOrigin::Console,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(store.payment(&purchase).await.unwrap().unwrap().refunded, eur("7.50"));
    let app = app!(assembled);

    let (operator, _) = sign_in(&app, "ops@example.org").await;
    let page = call(&app, get(&format!("/admin/payments/{purchase}"), Some(&operator))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(card_part.id.as_str()), "{}", page.body);
    assert!(
        page.body.contains(&format!("href=\"/admin/payments/{top_up}\"")),
        "the card part links to the top-up: {}",
        page.body
    );
}
