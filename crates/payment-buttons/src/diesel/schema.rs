//! The core's tables as both migration sets create them (`migrations/sqlite`, `migrations/postgres` in this
//! package), for Diesel queries. Written by hand to match; only SQL types that mean the same on both
//! backends are used, and a test compares every column with the migrated databases.
//!
//! Public for reading (operator pages, reports, an application's joins). Write through [`Store`] and
//! [`Tx`](super::Tx) only: the log's rows are never updated except `verification`, `flags`, `payment_id`
//! and `outcome`, and payments change only by applying a verified notification.
//!
//! [`Store`]: crate::store::Store
// The generated column types and helpers carry no documentation of their own.
#![allow(missing_docs)]

diesel::table! {
    /// One row per payment, and one per later cycle of a subscription.
    payments (id) {
        /// 12 random characters `[0-9A-Za-z]`.
        id -> Text,
        /// `paypal`, `cmcic`, or a method handled outside the gateways.
        gateway -> Text,
        /// The shop's reference (also inside `button`).
        order_reference -> Text,
        /// The complete validated button configuration, as JSON.
        button -> Text,
        /// The chosen buying option.
        option_index -> Integer,
        /// The chosen option's price in minor units.
        amount_minor -> BigInt,
        /// ISO 4217 code.
        currency -> Text,
        /// `created`, `pending`, `accepted`, `declined`, `refunded`, `cancelled`, `abandoned`.
        state -> Text,
        /// The account that must receive the money.
        receiver -> Nullable<Text>,
        /// For a later cycle: the payment that started the subscription.
        subscription_id -> Nullable<Text>,
        /// The gateway's transaction reference, once known.
        gateway_reference -> Nullable<Text>,
        /// JSON object of gateway facts, merged from every applied notification.
        details -> Text,
        /// When the buyer pressed the button.
        created_at -> Timestamp,
        /// Last state change.
        updated_at -> Timestamp,
        /// The sum of the refunds and reversals applied, in minor units.
        refunded_minor -> BigInt,
        /// The button's buyer e-mail, ASCII-lower-cased (indexed, for the console's search); null without one.
        email -> Nullable<Text>,
    }
}

diesel::table! {
    /// The gateway log: one row per message a gateway sent, valid or not, never deleted.
    gateway_messages (id) {
        /// Also `gateway_message_id` in events.
        id -> BigInt,
        /// When it arrived.
        received_at -> Timestamp,
        /// The route it came to.
        gateway -> Text,
        /// The peer.
        remote_addr -> Nullable<Text>,
        /// HTTP method.
        method -> Text,
        /// The `Content-Type` header.
        content_type -> Nullable<Text>,
        /// The raw bytes exactly as received.
        body -> Binary,
        /// The decoded fields as a JSON object.
        fields -> Text,
        /// `pending`, `verified`, `invalid`, `bad_mac`, `error`.
        verification -> Text,
        /// JSON array of flag names, sorted.
        flags -> Text,
        /// The payment it concerns, once known.
        payment_id -> Nullable<Text>,
        /// What applying it did, or why not.
        outcome -> Nullable<Text>,
        /// `incoming` (a gateway sent it) or `answer` (a gateway's answer to a call we made).
        direction -> Text,
        /// The request headers a verification needs, as a JSON object, when any.
        headers -> Nullable<Text>,
    }
}

diesel::table! {
    /// Work still to do on a logged message.
    message_queue (message_id) {
        /// The log row.
        message_id -> BigInt,
        /// Verification attempts so far.
        attempts -> Integer,
        /// Not claimed before.
        next_attempt_at -> Timestamp,
        /// A claim's lease.
        claimed_until -> Nullable<Timestamp>,
        /// Why the last attempt failed.
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    /// Idempotency: one row per applied (gateway, key).
    applied_notifications (gateway, idempotency_key) {
        /// The gateway.
        gateway -> Text,
        /// The gateway's transaction plus status.
        idempotency_key -> Text,
        /// The message that was applied.
        message_id -> BigInt,
        /// The payment it changed.
        payment_id -> Text,
        /// When.
        applied_at -> Timestamp,
    }
}

diesel::table! {
    /// The event outbox.
    events (seq) {
        /// The delivery order.
        seq -> BigInt,
        /// The event id (`evt_...`, also the `webhook-id`).
        id -> Text,
        /// The payment it is about.
        payment_id -> Text,
        /// `payment_processed`, `payment_accepted`, ...
        kind -> Text,
        /// The whole event as JSON, exactly as webhooks send it.
        payload -> Text,
        /// The log row that caused it.
        gateway_message_id -> Nullable<BigInt>,
        /// When it was written.
        created_at -> Timestamp,
        /// When every in-process listener took it.
        dispatched_at -> Nullable<Timestamp>,
        /// 1, 2, 3... per payment, in the order written (also in the payload).
        sequence -> BigInt,
    }
}

diesel::table! {
    /// Who is handing an outbox event to listeners, until when.
    outbox_claims (seq) {
        /// The claimed event.
        seq -> BigInt,
        /// The lease.
        claimed_until -> Timestamp,
    }
}

diesel::table! {
    /// Refunds: asked of a gateway by the service (origin `api`, `console`), or made on the gateway's own
    /// site and learnt from its notification (origin `gateway`). At most one `pending` per payment.
    refunds (id) {
        /// Our refund id (`rfd_...`), the idempotency key sent to gateways that take one.
        id -> Text,
        /// The payment refunded.
        payment_id -> Text,
        /// How much, in minor units of the payment's currency.
        amount_minor -> BigInt,
        /// ISO 4217 code.
        currency -> Text,
        /// Why, as the caller wrote it.
        reason -> Nullable<Text>,
        /// `pending`, `succeeded`, `failed`, `unknown`.
        state -> Text,
        /// `api`, `console`, `gateway`.
        origin -> Text,
        /// The caller's `Idempotency-Key`, unique per payment.
        idempotency_key -> Nullable<Text>,
        /// SHA-256 of the request (amount and reason), to tell a replay from another request.
        request_hash -> Nullable<Text>,
        /// The gateway's id of the refund, once known.
        gateway_refund_id -> Nullable<Text>,
        /// The gateway's reason for a failed or unknown refund.
        failure_reason -> Nullable<Text>,
        /// Attempts made so far.
        attempts -> Integer,
        /// When it was first sent to the gateway.
        first_sent_at -> Nullable<Timestamp>,
        /// When a pending refund whose gateway gave no usable answer is sent again.
        next_attempt_at -> Nullable<Timestamp>,
        /// When asked.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::joinable!(message_queue -> gateway_messages (message_id));
diesel::joinable!(outbox_claims -> events (seq));
diesel::joinable!(events -> payments (payment_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::allow_tables_to_appear_in_same_query!(
    payments,
    gateway_messages,
    message_queue,
    applied_notifications,
    events,
    outbox_claims,
    refunds
);
