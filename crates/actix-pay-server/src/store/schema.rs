//! The tables, as both migration sets create them (`migrations/sqlite`, `migrations/postgres`). Written by
//! hand to match; only SQL types that mean the same on both backends are used.
#![allow(missing_docs)]

diesel::table! {
    payments (id) {
        id -> Text,
        gateway -> Text,
        order_reference -> Text,
        button -> Text,
        option_index -> Integer,
        amount_minor -> BigInt,
        currency -> Text,
        state -> Text,
        receiver -> Nullable<Text>,
        subscription_id -> Nullable<Text>,
        gateway_reference -> Nullable<Text>,
        details -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        refunded_minor -> BigInt,
    }
}

diesel::table! {
    gateway_messages (id) {
        id -> BigInt,
        received_at -> Timestamp,
        gateway -> Text,
        remote_addr -> Nullable<Text>,
        method -> Text,
        content_type -> Nullable<Text>,
        body -> Binary,
        fields -> Text,
        verification -> Text,
        flags -> Text,
        payment_id -> Nullable<Text>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    message_queue (message_id) {
        message_id -> BigInt,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    applied_notifications (gateway, idempotency_key) {
        gateway -> Text,
        idempotency_key -> Text,
        message_id -> BigInt,
        payment_id -> Text,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        payment_id -> Text,
        kind -> Text,
        payload -> Text,
        gateway_message_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(message_queue -> gateway_messages (message_id));
diesel::allow_tables_to_appear_in_same_query!(payments, gateway_messages, message_queue, applied_notifications, events);

// Outbox claims and webhook delivery (migration 2026-01-02-000001_webhooks).

diesel::table! {
    outbox_claims (seq) {
        seq -> BigInt,
        claimed_until -> Timestamp,
    }
}

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

diesel::joinable!(webhook_deliveries -> events (event_seq));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    events,
    outbox_claims,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts
);

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

diesel::table! {
    librement_sign_in_failures (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        failed_at -> Timestamp,
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
