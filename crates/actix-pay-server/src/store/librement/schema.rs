//! The tables of Librement accounts added by migration `2026-12-03-170001_librement_accounts`, beside the
//! ledger's (in `store/schema.rs`). Written by hand to match both migration sets.
#![allow(missing_docs)]

diesel::table! {
    librement_email_verifications (user_id) {
        user_id -> BigInt,
        email -> Text,
        verified_at -> Timestamp,
    }
}

diesel::table! {
    librement_email_tokens (digest) {
        digest -> Text,
        purpose -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    librement_mail_requests (id) {
        id -> BigInt,
        purpose -> Text,
        email -> Text,
        ip -> Text,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    librement_mail (id) {
        id -> BigInt,
        dedup_key -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        secret -> Bool,
        created_at -> Timestamp,
        next_attempt_at -> Nullable<Timestamp>,
        attempts -> Integer,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    librement_payouts (id) {
        id -> BigInt,
        user_id -> BigInt,
        currency -> Text,
        amount_minor -> BigInt,
        state -> Text,
        requested_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        note -> Nullable<Text>,
        language -> Text,
    }
}

diesel::table! {
    librement_account_top_ups (payment_id) {
        payment_id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

// Added by migration `2026-12-04-197001_librement_refunds`.
diesel::table! {
    librement_refund_requests (payment_id, idempotency_key) {
        payment_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        top_up_id -> Nullable<Text>,
        gateway_part_minor -> BigInt,
        balance_part_minor -> BigInt,
        created_at -> Timestamp,
    }
}
