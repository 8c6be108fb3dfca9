//! Shared set-up of the store tests: a fresh database per test on SQLite (a temporary file) and, when
//! `TEST_DATABASE_URL` names a PostgreSQL server, on PostgreSQL (a database created for the test and
//! dropped after it), plus fixtures built through the core's public API.
#![allow(dead_code)]

use std::future::Future;

use actix_pay_server::store::ServerStore;
use chrono::{DateTime, TimeZone, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use payment_buttons::button::ButtonConfig;
use payment_buttons::gateway::{DecodedFields, IncomingMessage};
use payment_buttons::money::Money;
use payment_buttons::notification::{Flag, Notification, Outcome, Target};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{MessageId, NewMessage, NewPayment, Store};
use payment_buttons::transition::ApplyRequest;
use rand::Rng;

/// One test database with its store. It is dropped with the value (it implements `Drop`, so a scenario's
/// `async move` block captures it whole instead of only the fields it reads).
pub struct TestDb {
    /// The store, migrated.
    pub store: ServerStore,
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgresql`, for assertion messages.
    pub backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removed with the directory.
    Sqlite(tempfile::TempDir),
    /// Dropped through the administration connection.
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            // FORCE ends the store's pooled connections, which are still open here.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
        }
    }
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    // A directory that does not exist yet: opening creates it.
    let url = format!("sqlite://{}/data/pay.sqlite3", dir.path().display());
    let store = ServerStore::open(&url).await.expect("open sqlite store");
    TestDb {
        store,
        url,
        backend: "sqlite",
        cleanup: Cleanup::Sqlite(dir),
    }
}

async fn postgres(admin_url: String) -> TestDb {
    let name = format!("lp_test_{:016x}", rand::rng().random::<u64>());
    let mut admin = PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    let url = url.to_string();
    let cleanup = Cleanup::Postgres { admin_url, name };
    let store = ServerStore::open(&url).await.expect("open postgres store");
    TestDb {
        store,
        url,
        backend: "postgresql",
        cleanup,
    }
}

/// Runs `scenario` on a fresh SQLite database, then on a fresh PostgreSQL one when `TEST_DATABASE_URL`
/// is set.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(sqlite().await).await;
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => scenario(postgres(url).await).await,
        _ => eprintln!("TEST_DATABASE_URL is not set: PostgreSQL not tested"),
    }
}

/// A fixed time, with microseconds (what both databases keep).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap() + chrono::Duration::microseconds(123_456)
}

/// A button selling one thing, or a monthly subscription.
pub fn button(recurring: bool) -> ButtonConfig {
    let recurrence = if recurring { "1" } else { "null" };
    ButtonConfig::from_json(&format!(
        r#"{{
          "order_date": "2026-11-26T09:00:00Z",
          "order_reference": "ORDER-1042",
          "options": [{{ "description": "Manual, PDF", "amount": "12.50", "currency": "EUR",
                         "recurrence_months": {recurrence}, "custom": {{ "sku": "manual-pdf" }} }}],
          "payment_options": {{ "paypal": {{ "paypal_email": "seller@example.com" }} }},
          "urls": {{ "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                     "declined": "https://shop.example/sorry" }}
        }}"#
    ))
    .expect("valid button")
}

/// A new payment of 12.50 EUR through `paypal`.
pub fn new_payment(recurring: bool) -> NewPayment {
    NewPayment {
        id: PaymentId::generate(),
        gateway: "paypal".into(),
        button: button(recurring),
        option_index: 0,
        amount: Money::parse("12.50", "EUR").unwrap(),
        receiver: Some("seller@example.com".into()),
        subscription_id: None,
        created_at: t0(),
    }
}

/// Records a new payment and returns its id.
pub async fn create_payment(db: &TestDb, recurring: bool) -> PaymentId {
    let payment = new_payment(recurring);
    let id = payment.id.clone();
    db.store.create_payment(payment).await.expect("create payment");
    id
}

/// A message as a gateway would post it.
pub fn new_message(body: &[u8], at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        gateway: "paypal".into(),
        message: IncomingMessage {
            received_at: at,
            remote_addr: Some("192.0.2.7".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: body.to_vec(),
        },
        decoded: DecodedFields {
            fields: [("txn_id".to_owned(), "4RT73920XK118345L".to_owned())].into(),
            flags: vec![],
        },
        refused: None,
    }
}

/// Logs a message received at [`t0`].
pub async fn log(db: &TestDb, body: &[u8]) -> MessageId {
    db.store
        .log_message(new_message(body, t0()))
        .await
        .expect("log message")
}

/// A verified notification about `payment`.
pub fn notification(
    payment: &PaymentId,
    target: Target,
    outcome: Option<Outcome>,
    key: &str,
    reference: &str,
) -> Notification {
    Notification {
        payment_ref: Some(payment.to_string()),
        target,
        outcome,
        idempotency_key: key.into(),
        gateway_reference: Some(reference.into()),
        subscription: None,
        amount: Some(Money::parse("12.50", "EUR").unwrap()),
        receiver: Some("seller@example.com".into()),
        test: false,
        details: [("payer_status".to_owned(), serde_json::json!("verified"))]
            .into_iter()
            .collect(),
        flags: vec![],
        summary: format!("web_accept {key}"),
    }
}

/// An apply request for a logged message.
pub fn request(message: MessageId, payment: &PaymentId, n: Notification, flags: Vec<Flag>) -> ApplyRequest {
    ApplyRequest::for_tests(
        message,
        "paypal",
        payment.clone(),
        n,
        flags,
        t0() + chrono::Duration::seconds(3),
    )
}

/// Logs a message and applies `n` as its content.
pub async fn log_and_apply(
    db: &TestDb,
    payment: &PaymentId,
    n: Notification,
) -> (MessageId, payment_buttons::store::Applied) {
    let id = log(db, n.idempotency_key.as_bytes()).await;
    let applied = db.store.apply(request(id, payment, n, vec![])).await.expect("apply");
    (id, applied)
}
