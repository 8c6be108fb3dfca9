//! The two migration sets in one database: the core's (`payment-buttons/migrations`) and the server's
//! (`migrations/`). A database made by release 0.1.0 (one set, every table filled) upgrades without losing
//! a row; each set reverts by its own versions although they interleave with the other's; the migrated
//! schema matches the `schema.rs` files. Each on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.

use actix_pay_server::store::{MIGRATIONS, ServerStore};
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use payment_buttons::diesel::migrations::{self, CORE};
use payment_buttons::diesel::{AnyConnection, DatabaseUrl};
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;
use payment_buttons::store::conformance::{CORE_SCHEMA_RS, TestDatabase, button, schema_drift};

/// Release 0.1.0's migrations, frozen (`tests/fixtures/migrations-0.1.0/README.md`).
const RELEASE_0_1_SQLITE: EmbeddedMigrations = embed_migrations!("tests/fixtures/migrations-0.1.0/sqlite");
const RELEASE_0_1_POSTGRES: EmbeddedMigrations = embed_migrations!("tests/fixtures/migrations-0.1.0/postgres");

/// The server's Librement tables added after 0.1.0 are described beside their code.
const LIBREMENT_SCHEMA_RS: &str = include_str!("../src/store/librement/schema.rs");

/// Both sets as Diesel's own API takes them.
const SERVER_SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const SERVER_POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const CORE_SQLITE: EmbeddedMigrations = embed_migrations!("../payment-buttons/migrations/sqlite");
const CORE_POSTGRES: EmbeddedMigrations = embed_migrations!("../payment-buttons/migrations/postgres");

/// Every table of 0.1.0.
const TABLES: [&str; 15] = [
    "payments",
    "gateway_messages",
    "message_queue",
    "applied_notifications",
    "events",
    "outbox_claims",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "librement_users",
    "librement_accounts",
    "librement_transactions",
    "librement_entries",
    "librement_sign_in_failures",
    "librement_top_ups",
];

fn connect(database: &TestDatabase) -> AnyConnection {
    DatabaseUrl::parse(database.url()).unwrap().connect().unwrap()
}

/// One row (at least) in every table of 0.1.0, written with SQL both backends read the same.
fn fill_every_table(conn: &mut AnyConnection) {
    let button = button(false).to_json_value().to_string().replace('\'', "''");
    let bytes = match conn {
        AnyConnection::Sqlite(_) => "X'7478 6e5f 6964 3d31'".replace(' ', ""),
        AnyConnection::Postgresql(_) => "decode('74786e5f69643d31', 'hex')".to_owned(),
    };
    let t = "'2026-11-26 09:00:00'";
    let statements = [
        format!(
            "INSERT INTO payments (id, gateway, order_reference, button, option_index, amount_minor, currency, state, \
             receiver, details, created_at, updated_at, refunded_minor) VALUES \
             ('UpgradePay01', 'paypal', 'ORDER-1042', '{button}', 0, 1250, 'EUR', 'accepted', 'seller@example.com', \
              '{{\"payer_status\":\"verified\"}}', {t}, {t}, 0), \
             ('UpgradePay02', 'librement', 'ORDER-1042', '{button}', 0, 1250, 'EUR', 'created', NULL, '{{}}', {t}, {t}, 0), \
             ('UpgradeTop01', 'cmcic', 'ORDER-1042', '{button}', 0, 1250, 'EUR', 'created', '1234567', '{{}}', {t}, {t}, 0)"
        ),
        format!(
            "INSERT INTO gateway_messages (received_at, gateway, remote_addr, method, content_type, body, fields, \
             verification, flags, payment_id, outcome) VALUES \
             ({t}, 'paypal', '192.0.2.7', 'POST', 'application/x-www-form-urlencoded', {bytes}, '{{}}', 'verified', \
              '[]', 'UpgradePay01', 'accepted'), \
             ({t}, 'paypal', '192.0.2.7', 'POST', 'application/x-www-form-urlencoded', {bytes}, '{{}}', 'pending', \
              '[]', NULL, NULL)"
        ),
        format!(
            "INSERT INTO message_queue (message_id, attempts, next_attempt_at) \
             SELECT id, 2, {t} FROM gateway_messages WHERE verification = 'pending'"
        ),
        format!(
            "INSERT INTO applied_notifications (gateway, idempotency_key, message_id, payment_id, applied_at) \
             SELECT 'paypal', 'TXN1:Completed', id, 'UpgradePay01', {t} FROM gateway_messages \
             WHERE verification = 'verified'"
        ),
        format!(
            "INSERT INTO events (id, payment_id, kind, payload, gateway_message_id, created_at) \
             SELECT 'evt_upgrade_0001', 'UpgradePay01', 'payment_accepted', '{{}}', id, {t} FROM gateway_messages \
             WHERE verification = 'verified'"
        ),
        "INSERT INTO outbox_claims (seq, claimed_until) SELECT seq, created_at FROM events".to_owned(),
        "INSERT INTO webhook_endpoints (url, disabled_at, disabled_reason) VALUES ('http://hook.example/', NULL, NULL)"
            .to_owned(),
        "INSERT INTO webhook_deliveries (event_seq, event_id, payment_id, endpoint, status, attempts, created_at, \
         next_attempt_at) SELECT seq, id, payment_id, 'http://hook.example/', 'pending', 1, created_at, created_at \
         FROM events"
            .to_owned(),
        format!(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, http_status, latency_ms, error) \
             SELECT id, {t}, 500, 12, 'HTTP 500' FROM webhook_deliveries"
        ),
        format!(
            "INSERT INTO librement_users (email, display_name, password_hash, created_at, session_epoch) VALUES \
             ('ann@example.org', 'Ann', '$argon2id$unused', {t}, 3)"
        ),
        format!(
            "INSERT INTO librement_accounts (key, created_at) VALUES ('seller:author@example.org', {t}), \
             ('clearing:cmcic', {t})"
        ),
        format!(
            "INSERT INTO librement_transactions (idempotency_key, kind, created_at) VALUES ('seed', 'top_up', {t})"
        ),
        "INSERT INTO librement_entries (transaction_id, account, currency, amount_minor) \
         SELECT id, 'seller:author@example.org', 'EUR', 500 FROM librement_transactions"
            .to_owned(),
        "INSERT INTO librement_entries (transaction_id, account, currency, amount_minor) \
         SELECT id, 'clearing:cmcic', 'EUR', -500 FROM librement_transactions"
            .to_owned(),
        format!(
            "INSERT INTO librement_sign_in_failures (email, ip, failed_at, device) VALUES \
             ('ann@example.org', '192.0.2.9', {t}, NULL)"
        ),
        format!(
            "INSERT INTO librement_top_ups (payment_id, purchase_id, user_id, created_at) \
             SELECT 'UpgradeTop01', 'UpgradePay02', id, {t} FROM librement_users"
        ),
    ];
    for sql in statements {
        diesel::sql_query(&sql)
            .execute(conn)
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn row_counts(conn: &mut AnyConnection) -> Vec<(&'static str, i64)> {
    TABLES
        .iter()
        .map(|table| {
            let count: Count = diesel::sql_query(format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"))
                .get_result(conn)
                .unwrap_or_else(|e| panic!("count {table}: {e}"));
            (*table, count.n)
        })
        .collect()
}

fn applied(conn: &mut AnyConnection) -> Vec<String> {
    let versions = match conn {
        AnyConnection::Sqlite(c) => c.applied_migrations().unwrap(),
        AnyConnection::Postgresql(c) => c.applied_migrations().unwrap(),
    };
    versions.iter().map(|v| v.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_made_by_release_0_1_upgrades_to_the_two_sets_without_losing_a_row() {
    for database in TestDatabase::every_backend() {
        let backend = database.backend();
        let mut conn = connect(&database);
        match &mut conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(RELEASE_0_1_SQLITE).map(drop),
            AnyConnection::Postgresql(c) => c.run_pending_migrations(RELEASE_0_1_POSTGRES).map(drop),
        }
        .expect("release 0.1.0's migrations");
        fill_every_table(&mut conn);
        let before = row_counts(&mut conn);
        assert!(before.iter().all(|(_, n)| *n > 0), "{backend}: {before:?}");
        drop(conn);

        // Start-up of this release: the core's set, then the server's.
        let store = ServerStore::open(database.url()).await.expect("upgrade");
        let mut conn = connect(&database);
        assert_eq!(row_counts(&mut conn), before, "{backend}: every row is still there");
        let versions = applied(&mut conn);
        assert!(
            versions.contains(&"20261203120000".to_owned()),
            "{backend}: the core's outbox_claims migration is recorded: {versions:?}"
        );
        let drift = schema_drift(
            &mut conn,
            &[
                CORE_SCHEMA_RS,
                include_str!("../src/store/schema.rs"),
                LIBREMENT_SCHEMA_RS,
            ],
        )
        .unwrap();
        assert!(drift.is_empty(), "{backend}: upgraded schema:\n{}", drift.join("\n"));

        // The rows read back through the stores.
        let paid = store
            .payment(&PaymentId::parse("UpgradePay01").unwrap())
            .await
            .unwrap()
            .expect("kept");
        assert_eq!(paid.state, PaymentState::Accepted, "{backend}");
        assert_eq!(paid.details["payer_status"], "verified");
        assert_eq!(store.queued_count().await.unwrap(), 1, "{backend}");
        let logged = store.messages_for_payment(&paid.id).await.unwrap();
        assert_eq!(logged.len(), 1, "{backend}");
        assert_eq!(logged[0].body, b"txn_id=1", "{backend}: the raw bytes");
        assert_eq!(store.webhook_deliveries().await.unwrap().len(), 1, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_set_reverts_by_its_own_versions_although_they_interleave_with_the_others() {
    for database in TestDatabase::every_backend() {
        let backend = database.backend();
        drop(ServerStore::open(database.url()).await.expect("migrate"));
        let mut conn = connect(&database);
        let (core, server) = (migrations::versions(&CORE), migrations::versions(&MIGRATIONS));
        // The sets interleave: a core version lies between two of the server's.
        assert!(
            core.iter()
                .any(|c| server.iter().any(|s| s < c) && server.iter().any(|s| s > c)),
            "{backend}: core {core:?}, server {server:?}"
        );
        // Diesel's own "revert the last migration" of a set refuses when the newest version is the other's.
        let newest = applied(&mut conn).first().cloned().unwrap();
        let diesel_way = match (&mut conn, server.contains(&newest)) {
            (AnyConnection::Sqlite(c), true) => c.revert_last_migration(CORE_SQLITE).map(drop),
            (AnyConnection::Sqlite(c), false) => c.revert_last_migration(SERVER_SQLITE).map(drop),
            (AnyConnection::Postgresql(c), true) => c.revert_last_migration(CORE_POSTGRES).map(drop),
            (AnyConnection::Postgresql(c), false) => c.revert_last_migration(SERVER_POSTGRES).map(drop),
        };
        assert!(diesel_way.is_err(), "{backend}: newest {newest}");

        let reverted = migrations::revert(&mut conn, &MIGRATIONS, None).expect("revert the server's set");
        assert_eq!(reverted.len(), server.len(), "{backend}: {reverted:?}");
        let left = applied(&mut conn);
        let mut core_newest_first = core.clone();
        core_newest_first.reverse();
        assert_eq!(
            left, core_newest_first,
            "{backend}: only the core's migrations are left"
        );
        let drift = schema_drift(&mut conn, &[CORE_SCHEMA_RS]).unwrap();
        assert!(
            drift.is_empty(),
            "{backend}: the core's tables alone:\n{}",
            drift.join("\n")
        );

        // Up again, then everything down: the server's set first, then the core's.
        drop(ServerStore::open(database.url()).await.expect("migrate again"));
        migrations::revert_all(&mut conn, Some(&MIGRATIONS)).expect("revert both sets");
        assert!(applied(&mut conn).is_empty(), "{backend}");
        assert!(
            schema_drift(&mut conn, &[]).unwrap().is_empty(),
            "{backend}: no table is left"
        );
    }
}

#[test]
fn the_server_schema_matches_every_migrated_backend() {
    for database in TestDatabase::every_backend() {
        let url = DatabaseUrl::parse(database.url()).unwrap();
        actix_pay_server::store::run_migrations(database.url()).expect("migrate");
        let mut conn = url.connect().unwrap();
        let drift = schema_drift(
            &mut conn,
            &[
                CORE_SCHEMA_RS,
                include_str!("../src/store/schema.rs"),
                LIBREMENT_SCHEMA_RS,
            ],
        )
        .unwrap();
        assert!(drift.is_empty(), "{}:\n{}", database.backend(), drift.join("\n"));
    }
}
