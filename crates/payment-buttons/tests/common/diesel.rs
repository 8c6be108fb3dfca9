//! Shared set-up of the `DieselStore` tests: a store on a database of its own per scenario (SQLite, and
//! PostgreSQL when `TEST_DATABASE_URL` is set), and the conformance module's fixtures.
#![allow(dead_code, unused_imports)]

use std::future::Future;

use payment_buttons::diesel::DieselStore;
use payment_buttons::store::conformance::OnDatabase;

pub use payment_buttons::store::conformance::{
    button, create_payment, log, log_and_apply, new_message, new_payment, notification, request, t0,
};

/// One test database with a `DieselStore` on it.
pub type TestDb = OnDatabase<DieselStore>;

/// Runs `scenario` on a fresh SQLite database, then on a fresh PostgreSQL one when `TEST_DATABASE_URL`
/// is set.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    payment_buttons::store::conformance::on_every_backend(
        |url| async move { DieselStore::open(&url).await.expect("open the store") },
        scenario,
    )
    .await
}
