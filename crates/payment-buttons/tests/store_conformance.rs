//! The store contract (`payment_buttons::store::conformance`) on every store this crate ships:
//! `MemoryStore`, and `DieselStore` on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL.
#![cfg(all(feature = "test-support", feature = "diesel"))]

mod memory {
    payment_buttons::store_conformance_tests!(payment_buttons::store::conformance::MemorySubject);
}

mod diesel_sqlite {
    payment_buttons::store_conformance_tests!(payment_buttons::store::conformance::DieselSubject::sqlite(
        payment_buttons::diesel::StoreOptions::new()
    ));
}

mod diesel_postgres {
    payment_buttons::store_conformance_tests!(payment_buttons::store::conformance::DieselSubject::postgres(
        payment_buttons::diesel::StoreOptions::new()
    ));
}
