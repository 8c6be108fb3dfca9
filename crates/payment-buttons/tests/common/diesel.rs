//! Shared set-up of the `DieselStore` tests: a store on a database of its own per scenario (SQLite, and
//! PostgreSQL when `TEST_DATABASE_URL` is set), and the conformance module's fixtures.
#![allow(dead_code, unused_imports)]

use std::future::Future;

use payment_buttons::diesel::DieselStore;
use payment_buttons::notification::Notification;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::conformance::TestDatabase;
use payment_buttons::store::{Applied, MessageId, Store};

pub use payment_buttons::store::conformance::{button, new_message, new_payment, notification, request, t0};

/// One test database with a store on it. The database goes with the value.
pub struct TestDb {
    /// The store, migrated.
    pub store: DieselStore,
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgresql`, for assertion messages.
    pub backend: &'static str,
    _database: TestDatabase,
}

impl Drop for TestDb {
    // Empty, but it makes a scenario's `async move` block capture the value whole, database included,
    // instead of only the fields it reads (which would drop the database at once).
    fn drop(&mut self) {}
}

async fn open(database: TestDatabase) -> TestDb {
    let url = database.url().to_owned();
    let store = DieselStore::open(&url).await.expect("open the store");
    TestDb {
        store,
        url,
        backend: database.backend(),
        _database: database,
    }
}

/// Runs `scenario` on a fresh SQLite database, then on a fresh PostgreSQL one when `TEST_DATABASE_URL`
/// is set.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(open(TestDatabase::sqlite()).await).await;
    match TestDatabase::postgres() {
        Some(database) => scenario(open(database).await).await,
        None => eprintln!("TEST_DATABASE_URL is not set: PostgreSQL not tested"),
    }
}

/// Records a new payment of 12.50 EUR through `paypal` and returns its id.
pub async fn create_payment(db: &TestDb, recurring: bool) -> PaymentId {
    let payment = new_payment(recurring);
    let id = payment.id.clone();
    db.store.create_payment(payment).await.expect("create payment");
    id
}

/// Logs a message received at [`t0`].
pub async fn log(db: &TestDb, body: &[u8]) -> MessageId {
    db.store
        .log_message(new_message(body, t0()))
        .await
        .expect("log message")
}

/// Logs a message and applies `n` as its content.
pub async fn log_and_apply(db: &TestDb, payment: &PaymentId, n: Notification) -> (MessageId, Applied) {
    let id = log(db, n.idempotency_key.as_bytes()).await;
    let applied = db.store.apply(request(id, payment, n, vec![])).await.expect("apply");
    (id, applied)
}
