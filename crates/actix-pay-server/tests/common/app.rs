//! The whole app, assembled from a configuration as `librement-server serve` assembles it, over a fresh
//! SQLite database in a temporary directory, for tests that drive its routes with `actix_web::test`.
#![allow(dead_code)]

use actix_pay_server::config::Config;
use actix_pay_server::serve::{Assembled, assemble};
use actix_pay_server::store::{LogRow, ServerStore};
use payment_buttons::store::Direction;

/// The service secret every app test signs with.
pub const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
/// The public URL every app test uses.
pub const PUBLIC_URL: &str = "http://pay.test";

/// The app for these `PAY_*` settings (none = zero configuration: every gateway simulated), and the
/// directory holding its database (removed when dropped).
pub async fn assembled_app(env: &[(&str, &str)]) -> (Assembled, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(None, env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).unwrap();
    let store = ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
        .await
        .unwrap();
    let assembled = assemble(&config, &url::Url::parse(PUBLIC_URL).unwrap(), SECRET, store).unwrap();
    (assembled, dir)
}

/// The newest message a gateway sent (the gateway's answers to our calls, such as PayPal's answer to a
/// postback, are logged after it and skipped here).
pub async fn last_row(store: &ServerStore) -> LogRow {
    let mut id = 1;
    let mut last = None;
    while let Some(row) = store.message(id).await.unwrap() {
        if row.direction == Direction::Incoming {
            last = Some(row);
        }
        id += 1;
    }
    last.expect("a logged message")
}
