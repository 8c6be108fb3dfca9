//! Request floods (issue 11, item 14): `/pay` (each call records a payment), Librement sign-in and
//! sign-up and the console's sign-in (each runs an argon2 hash) are limited per source address, with 429 and `Retry-After` beyond
//! the quota; other addresses go on; `/notify/*` is not limited. Through the whole application as
//! `librement-server serve` runs it.

#[path = "common/app.rs"]
mod common_app;

use std::net::SocketAddr;

use actix_pay_server::serve::Assembled;
use actix_web::http::StatusCode;
use actix_web::test as atest;
use futures_util::future::join_all;
use payment_buttons::button::ButtonConfig;

const ATTACKER: &str = "203.0.113.7:40000";
const SOMEONE_ELSE: &str = "198.51.100.9:40000";

macro_rules! app {
    ($assembled:expr) => {
        atest::init_service(actix_pay_server::app::application(
            $assembled.configure(),
            $assembled.limits.clone(),
        ))
        .await
    };
}

fn token(assembled: &Assembled) -> String {
    let button = ButtonConfig::from_json(
        r#"{"order_reference": "ORDER-14", "options": [{"description": "Manual", "amount": "12.50", "currency": "EUR"}],
            "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
            "urls": {"back": "https://shop.example/", "accepted": "https://shop.example/ok", "declined": "https://shop.example/ko"}}"#,
    )
    .unwrap();
    assembled.state.engine.sign_button(&button, chrono::Utc::now()).unwrap()
}

fn post(uri: &str, from: &str, body: String) -> actix_http::Request {
    atest::TestRequest::post()
        .uri(uri)
        .peer_addr(from.parse::<SocketAddr>().unwrap())
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// The statuses of `n` concurrent requests built by `request`, and the `Retry-After` of each 429.
macro_rules! flood {
    ($app:expr, $n:expr, $request:expr) => {{
        let answers = join_all((0..$n).map(|_| atest::call_service(&$app, $request))).await;
        let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
        let retry_after: Vec<u64> = answers
            .iter()
            .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
            .map(|r| {
                r.headers()
                    .get("retry-after")
                    .expect("a 429 says when to come back")
                    .to_str()
                    .unwrap()
                    .parse()
                    .expect("Retry-After in seconds")
            })
            .collect();
        (statuses, retry_after)
    }};
}

fn limited(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count()
}

#[actix_web::test]
async fn one_address_posting_a_public_token_to_pay_is_held_to_its_quota() {
    let (assembled, _dir) = common_app::assembled_app(&[("PAY_LIMITS_PAY_PER_MINUTE", "5")]).await;
    let app = app!(assembled);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("button", &token(&assembled))
        .finish();

    let (statuses, retry_after) = flood!(app, 12, post("/pay", ATTACKER, body.clone()));
    assert_eq!(limited(&statuses), 7, "5 of 12 pass: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // 5 a minute: one more every 12 seconds.
    assert!(retry_after.iter().all(|s| (1..=12).contains(s)), "{retry_after:?}");

    // Spelling the path otherwise reaches the same route, and the same limit.
    let (statuses, _) = flood!(app, 1, post("/p%61y", ATTACKER, body.clone()));
    assert_eq!(statuses, [StatusCode::TOO_MANY_REQUESTS]);
    let (statuses, _) = flood!(app, 1, post("/pay/", ATTACKER, body.clone()));
    assert_eq!(statuses, [StatusCode::TOO_MANY_REQUESTS]);

    // Another buyer is not affected.
    let (statuses, _) = flood!(app, 1, post("/pay", SOMEONE_ELSE, body.clone()));
    assert_eq!(statuses, [StatusCode::OK]);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_quota() {
    let (assembled, _dir) = common_app::assembled_app(&[
        ("PAY_LIMITS_PAY_PER_MINUTE", "2"),
        ("PAY_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let app = app!(assembled);
    let via_proxy = |client: &str| {
        atest::TestRequest::post()
            .uri("/pay")
            .peer_addr("127.0.0.1:50000".parse().unwrap())
            .insert_header(("x-forwarded-for", client.to_owned()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("button=forged")
            .to_request()
    };
    let (statuses, _) = flood!(app, 4, via_proxy("203.0.113.7"));
    assert_eq!(limited(&statuses), 2, "{statuses:?}");
    let (statuses, _) = flood!(app, 2, via_proxy("198.51.100.9"));
    assert_eq!(limited(&statuses), 0, "the proxy's other clients go on: {statuses:?}");
}

#[actix_web::test]
async fn sign_in_and_sign_up_posts_are_limited_per_address() {
    let (assembled, _dir) = common_app::assembled_app(&[
        ("PAY_LIMITS_SIGN_IN_PER_MINUTE", "3"),
        ("PAY_LIMITS_SIGN_UP_PER_HOUR", "2"),
    ])
    .await;
    let app = app!(assembled);
    let guess = "email=victim%40example.org&password=guess&csrf=x".to_owned();

    let (statuses, retry_after) = flood!(app, 8, post("/librement/sign-in", ATTACKER, guess.clone()));
    assert_eq!(limited(&statuses), 5, "3 of 8 sign-ins are looked at: {statuses:?}");
    assert!(retry_after.iter().all(|s| (1..=20).contains(s)), "{retry_after:?}");

    let (statuses, retry_after) = flood!(app, 6, post("/librement/sign-up", ATTACKER, guess.clone()));
    assert_eq!(limited(&statuses), 4, "2 of 6 sign-ups are looked at: {statuses:?}");
    // 2 an hour: one more every 30 minutes.
    assert!(retry_after.iter().all(|s| (1..=1800).contains(s)), "{retry_after:?}");

    // The pages themselves are not limited, nor are other addresses.
    let page = atest::TestRequest::get()
        .uri("/librement/sign-in")
        .peer_addr(ATTACKER.parse().unwrap())
        .to_request();
    assert_eq!(atest::call_service(&app, page).await.status(), StatusCode::OK);
    let (statuses, _) = flood!(app, 1, post("/librement/sign-in", SOMEONE_ELSE, guess.clone()));
    assert_eq!(limited(&statuses), 0);
}

#[actix_web::test]
async fn operator_sign_in_posts_are_limited_per_address_apart_from_librement_sign_ins() {
    let (assembled, _dir) = common_app::assembled_app(&[("PAY_LIMITS_SIGN_IN_PER_MINUTE", "3")]).await;
    let app = app!(assembled);
    let guess = "email=ops%40example.org&password=guess&csrf=x".to_owned();

    let (statuses, retry_after) = flood!(app, 8, post("/admin/sign-in", ATTACKER, guess.clone()));
    assert_eq!(
        limited(&statuses),
        5,
        "3 of 8 operator sign-ins are looked at: {statuses:?}"
    );
    assert!(retry_after.iter().all(|s| (1..=20).contains(s)), "{retry_after:?}");

    // Librement's sign-in has its own bucket: the console flood did not use it up.
    let (statuses, _) = flood!(app, 3, post("/librement/sign-in", ATTACKER, guess.clone()));
    assert_eq!(limited(&statuses), 0, "{statuses:?}");
    // Another address still reaches the console's sign-in.
    let (statuses, _) = flood!(app, 1, post("/admin/sign-in", SOMEONE_ELSE, guess.clone()));
    assert_eq!(limited(&statuses), 0);
}

#[actix_web::test]
async fn notifications_are_not_limited_per_address() {
    let (assembled, _dir) = common_app::assembled_app(&[("PAY_LIMITS_PAY_PER_MINUTE", "1")]).await;
    let app = app!(assembled);
    let (statuses, _) = flood!(app, 50, post("/notify/paypal", ATTACKER, "txn_id=1".to_owned()));
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}

#[actix_web::test]
async fn a_limit_of_zero_is_no_limit() {
    let (assembled, _dir) = common_app::assembled_app(&[("PAY_LIMITS_PAY_PER_MINUTE", "0")]).await;
    let app = app!(assembled);
    let (statuses, _) = flood!(app, 100, post("/pay", ATTACKER, "button=forged".to_owned()));
    assert_eq!(limited(&statuses), 0, "{statuses:?}");
}
