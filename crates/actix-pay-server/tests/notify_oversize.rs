//! Log floods (issue 11, item 14): 100 unauthenticated 250 KB posts to `/notify/cmcic` added 50 MB to the
//! never-deleted gateway log. A notification larger than `limits.notify_body_bytes` is now logged
//! truncated to that size, flagged `oversize`, answered 413 and never verified; the log still holds that
//! it came. Over HTTP, through the whole application, on SQLite and PostgreSQL.

#[path = "common/app.rs"]
mod common_app;
#[path = "common/store.rs"]
mod common_store;

use actix_pay_server::config::Config;
use actix_pay_server::serve::assemble;
use actix_web::http::StatusCode;
use actix_web::test as atest;
use payment_buttons::notification::VerificationStatus;

use common_store::{TestDb, on_every_backend};

const LIMIT: usize = 4096;

fn post(gateway: &str, body: Vec<u8>) -> actix_http::Request {
    atest::TestRequest::post()
        .uri(&format!("/notify/{gateway}"))
        .peer_addr("203.0.113.7:40000".parse().unwrap())
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// A message of `len` bytes that looks like a CM-CIC return padded with junk.
fn padded(len: usize) -> Vec<u8> {
    let mut body = b"TPE=1234567&date=26/11/2026_a_10:00:00&montant=12.50EUR&reference=ABCDEFGHJKLM&code-retour=payetest&MAC=00&pad=".to_vec();
    body.resize(len, b'x');
    body
}

async fn scenario(db: TestDb) {
    let env = [("PAY_LIMITS_NOTIFY_BODY_BYTES".to_owned(), LIMIT.to_string())];
    let config = Config::load(None, env).unwrap();
    let public_url = url::Url::parse(common_app::PUBLIC_URL).unwrap();
    let assembled = assemble(&config, &public_url, common_app::SECRET, db.store.clone()).unwrap();
    let engine = assembled.state.engine.clone();
    let app = atest::init_service(actix_pay_server::app::application(
        assembled.configure(),
        assembled.limits.clone(),
    ))
    .await;

    for gateway in ["cmcic", "paypal"] {
        let response = atest::call_service(&app, post(gateway, padded(250_000))).await;
        assert_eq!(
            response.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}: {gateway}",
            db.backend
        );
        let answer = String::from_utf8(atest::read_body(response).await.to_vec()).unwrap();
        assert!(
            answer.contains(&LIMIT.to_string()),
            "the answer names the limit: {answer}"
        );

        let row = common_app::last_row(&db.store).await;
        assert_eq!(row.gateway, gateway);
        assert_eq!(row.body.len(), LIMIT, "{}: logged truncated to the limit", db.backend);
        assert_eq!(row.body, padded(250_000)[..LIMIT], "the first bytes, as received");
        assert_eq!(row.remote_addr.as_deref(), Some("203.0.113.7"), "who sent it is kept");
        assert_eq!(row.flags, ["oversize"], "{}", db.backend);
        assert_eq!(row.verification, VerificationStatus::Error, "settled at once");
        assert!(
            row.outcome.as_deref().is_some_and(|o| o.contains("never verified")),
            "{:?}",
            row.outcome
        );
    }
    // Nothing was queued: the worker never verifies them, however late it runs.
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(engine.process_due(later, 100).await.unwrap(), 0, "{}", db.backend);
    assert_eq!(db.store.queued_count().await.unwrap(), 0);

    // A message of exactly the limit is an ordinary message: logged whole, queued, verified.
    let response = atest::call_service(&app, post("cmcic", padded(LIMIT))).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", db.backend);
    let row = common_app::last_row(&db.store).await;
    assert_eq!(row.body.len(), LIMIT);
    assert!(!row.flags.contains(&"oversize".to_owned()), "{:?}", row.flags);
    assert_eq!(engine.process_due(later, 100).await.unwrap(), 1, "{}", db.backend);
    let row = db.store.message(row.id).await.unwrap().unwrap();
    assert_eq!(
        row.verification,
        VerificationStatus::BadMac,
        "it was verified (its seal is wrong)"
    );
}

#[actix_web::test]
async fn an_oversize_notification_is_logged_truncated_flagged_answered_413_and_never_verified() {
    on_every_backend(scenario).await;
}

#[actix_web::test]
async fn the_default_limit_is_64_kib() {
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let app = atest::init_service(actix_pay_server::app::application(
        assembled.configure(),
        assembled.limits.clone(),
    ))
    .await;
    let response = atest::call_service(&app, post("paypal", padded(65_537))).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let row = common_app::last_row(assembled.state.engine.store()).await;
    assert_eq!(row.body.len(), 65_536);
    let response = atest::call_service(&app, post("paypal", padded(65_536))).await;
    assert_eq!(response.status(), StatusCode::OK);
}
