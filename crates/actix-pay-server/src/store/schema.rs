//! The server's own tables, as `migrations/sqlite` and `migrations/postgres` create them, and the core's
//! (re-exported from [`payment_buttons::diesel::schema`], which the core's migrations create), so that one
//! `schema::` names every table. Written by hand to match; `tests/schema_drift.rs` compares every column
//! with the migrated databases.
#![allow(missing_docs)]

pub use payment_buttons::diesel::schema::*;

// Webhook delivery (migration 2026-01-02-000001_webhooks).

diesel::table! {
    webhook_endpoints (url) {
        url -> Text,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        event_seq -> BigInt,
        event_id -> Text,
        payment_id -> Text,
        endpoint -> Text,
        status -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempted_at -> Timestamp,
        http_status -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, webhook_deliveries, webhook_attempts);
// Diesel cannot let a table of another crate (the core's) appear in one query with these: a query that
// needs both reads them one after the other, or is written as SQL.

diesel::table! {
    librement_users (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        session_epoch -> BigInt,
    }
}

diesel::table! {
    librement_accounts (key) {
        key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    librement_transactions (id) {
        id -> BigInt,
        idempotency_key -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    librement_entries (id) {
        id -> BigInt,
        transaction_id -> BigInt,
        account -> Text,
        currency -> Text,
        amount_minor -> BigInt,
    }
}

diesel::joinable!(librement_entries -> librement_transactions (transaction_id));
diesel::allow_tables_to_appear_in_same_query!(librement_entries, librement_transactions);

diesel::table! {
    librement_sign_in_failures (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        failed_at -> Timestamp,
        device -> Nullable<Text>,
    }
}

diesel::table! {
    librement_top_ups (payment_id) {
        payment_id -> Text,
        purchase_id -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

// The operator console (migration 2026-12-03-150001_operators).

diesel::table! {
    operators (id) {
        id -> BigInt,
        email -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    operator_sessions (digest) {
        digest -> Text,
        operator_id -> BigInt,
        csrf -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    operator_audit (id) {
        id -> BigInt,
        at -> Timestamp,
        operator -> Text,
        action -> Text,
        target -> Text,
        outcome -> Text,
    }
}

diesel::joinable!(operator_sessions -> operators (operator_id));
diesel::allow_tables_to_appear_in_same_query!(operators, operator_sessions, operator_audit);
