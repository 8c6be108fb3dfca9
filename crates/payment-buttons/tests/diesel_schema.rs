//! The schema cannot drift: each backend, migrated with the core's migrations, has exactly the tables,
//! columns, column order, types and nullability that `src/diesel/schema.rs` describes.
#![cfg(all(feature = "diesel", feature = "test-support"))]

use payment_buttons::diesel::{DatabaseUrl, StoreOptions};
use payment_buttons::store::conformance::{CORE_SCHEMA_RS, TestDatabase, schema_drift};

fn drift_of(database: &TestDatabase, schema: &str) -> Vec<String> {
    let url = DatabaseUrl::parse(database.url()).unwrap();
    StoreOptions::new().migrate_blocking(&url).expect("migrate");
    let mut conn = url.connect().unwrap();
    schema_drift(&mut conn, &[schema]).expect("read the database's columns")
}

#[test]
fn every_migrated_backend_matches_schema_rs() {
    for database in TestDatabase::every_backend() {
        let drift = drift_of(&database, CORE_SCHEMA_RS);
        assert!(drift.is_empty(), "{}:\n{}", database.backend(), drift.join("\n"));
    }
}

#[test]
fn a_column_described_with_another_type_or_nullability_is_drift() {
    for database in TestDatabase::every_backend() {
        let wrong_type = CORE_SCHEMA_RS.replace("option_index -> Integer", "option_index -> BigInt");
        let drift = drift_of(&database, &wrong_type);
        assert!(
            drift.len() == 1 && drift[0].starts_with("table payments:"),
            "{}: {drift:?}",
            database.backend()
        );
        let wrong_null = CORE_SCHEMA_RS.replace("outcome -> Nullable<Text>", "outcome -> Text");
        assert_eq!(drift_of(&database, &wrong_null).len(), 1, "{}", database.backend());
        let missing = CORE_SCHEMA_RS.replace("        refunded_minor -> BigInt,\n", "");
        assert_eq!(drift_of(&database, &missing).len(), 1, "{}", database.backend());
    }
}
