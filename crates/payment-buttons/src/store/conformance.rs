//! Feature `test-support`: the behaviour every [`Store`] must have, as tests. Run them against your own
//! store with [`store_conformance_tests!`](crate::store_conformance_tests), given a [`StoreUnderTest`]
//! that makes empty stores:
//!
//! ```ignore
//! // tests/store_conformance.rs of an application with its own Store (needs tokio's test macros)
//! struct Mine;
//! #[async_trait::async_trait]
//! impl payment_buttons::store::conformance::StoreUnderTest for Mine {
//!     type Store = MyStore;
//!     async fn empty(&self) -> std::sync::Arc<MyStore> { /* a fresh, migrated database */ }
//!     async fn restart(&self, store: std::sync::Arc<MyStore>) -> std::sync::Arc<MyStore> { /* reopen */ }
//!     async fn another_instance(&self, store: &std::sync::Arc<MyStore>) -> std::sync::Arc<MyStore> { /* a second pool */ }
//!     async fn log_row(&self, store: &MyStore, id: i64) -> Option<payment_buttons::store::conformance::LogView> { /* read it */ }
//! }
//! payment_buttons::store_conformance_tests!(Mine);
//! ```
//!
//! The scenarios: a message is logged before anything else happens to it, with its exact bytes
//! ([`log_first`]); the answers a verification got are logged, on their own
//! ([`verification_answers_are_logged_with_their_outcome`]) or with the message's application and never
//! without it ([`an_applied_message_logs_its_verification_answers_with_it`]); claims hide a message for
//! [`MESSAGE_CLAIM_LEASE`] and no longer ([`claim_and_lease`],
//! [`late_worker_changes_nothing`]); a retry keeps its count and time across a restart
//! ([`retry_survives_restart`]); a resent notification is applied once ([`idempotent_apply`]); a failed apply
//! changes nothing and leaves the message queued ([`failed_apply_leaves_the_message_queued`]); the outbox
//! keeps each payment's order across claimers ([`outbox_order_per_payment`]); two instances never claim the
//! same message or event ([`two_claimers`], [`two_outbox_claimers`]). Refunds: one per idempotency key
//! and at most one pending per payment, under parallel requests ([`refunds_are_recorded_once_per_key`],
//! [`parallel_refund_requests`]); our refund's answer and the gateway's notification of it count once, in
//! either order ([`an_answer_then_its_notification_count_once`],
//! [`a_notification_first_settles_the_pending_refund`]); retries ([`refund_attempts_and_retries`]); events
//! numbered per payment ([`events_are_numbered_per_payment`]); an order's payments
//! ([`payments_of_an_order_newest_first`]). Group commit ([`Store::apply_batch`]): a payment's messages in
//! one batch are applied in order ([`a_batch_applies_a_payments_messages_in_order`]), a key once within and
//! across batches ([`a_key_is_applied_once_within_and_across_batches`]), and a failing request fails alone
//! ([`a_failing_request_fails_alone_and_holds_back_only_its_payment`]). [`MemorySubject`] runs them on
//! [`MemoryStore`]; with feature `diesel`, [`DieselSubject`] on
//! [`DieselStore`](crate::diesel::DieselStore) over SQLite or PostgreSQL.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::button::ButtonConfig;
use crate::event::EventKind;
use crate::gateway::{DecodedFields, GatewayCall, IncomingMessage};
use crate::memory::MemoryStore;
use crate::money::Money;
use crate::notification::{Flag, Notification, Outcome, Target, VerificationStatus};
use crate::payment::{PaymentId, PaymentState};
use crate::store::{
    Applied, MESSAGE_CLAIM_LEASE, MessageId, NewMessage, NewPayment, OUTBOX_CLAIM_LEASE, Store, StoreError,
    VerificationAnswers,
};
use crate::transition::ApplyRequest;

mod batches;
pub use batches::{
    a_batch_applies_a_payments_messages_in_order, a_failing_request_fails_alone_and_holds_back_only_its_payment,
    a_key_is_applied_once_within_and_across_batches, an_empty_batch_does_nothing, payments_are_read_together,
};
mod refunds;
pub use refunds::{
    a_notification_first_settles_the_pending_refund, an_answer_then_its_notification_count_once,
    events_are_numbered_per_payment, new_refund, parallel_refund_requests, payments_of_an_order_newest_first,
    refund_attempts_and_retries, refunds_are_recorded_once_per_key,
};

#[cfg(feature = "diesel")]
mod database;
#[cfg(feature = "diesel")]
mod schema_drift;
#[cfg(feature = "diesel")]
pub use database::{DieselSubject, OnDatabase, TEST_DATABASE_URL, TestDatabase, on_every_backend};
#[cfg(feature = "diesel")]
pub use schema_drift::{CORE_SCHEMA_RS, schema_drift};

/// A log row as the scenarios read it (a store's own row type, reduced to what the contract says).
#[derive(Debug, Clone, PartialEq)]
pub struct LogView {
    /// The raw body.
    pub body: Vec<u8>,
    /// Verification state.
    pub verification: VerificationStatus,
    /// Flag names.
    pub flags: Vec<String>,
    /// The payment, once known.
    pub payment_id: Option<String>,
    /// What processing did.
    pub outcome: Option<String>,
}

/// Makes the stores the scenarios run on.
#[async_trait::async_trait]
pub trait StoreUnderTest: Send + Sync {
    /// The store.
    type Store: Store;

    /// False when this store cannot be tested here (a database server that is not configured): the
    /// scenarios then pass without running, saying so.
    fn available(&self) -> bool {
        true
    }

    /// A new, empty store.
    async fn empty(&self) -> Arc<Self::Store>;

    /// The same data after a restart: a durable store drops `store` and opens its database again; an
    /// in-memory store can only give itself back.
    async fn restart(&self, store: Arc<Self::Store>) -> Arc<Self::Store>;

    /// A second instance on the same data (another process on the same database), used at the same time.
    async fn another_instance(&self, store: &Arc<Self::Store>) -> Arc<Self::Store>;

    /// The log row of message `id`.
    async fn log_row(&self, store: &Self::Store, id: MessageId) -> Option<LogView>;
}

/// [`MemoryStore`] under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySubject;

#[async_trait::async_trait]
impl StoreUnderTest for MemorySubject {
    type Store = MemoryStore;

    async fn empty(&self) -> Arc<MemoryStore> {
        Arc::new(MemoryStore::new())
    }

    async fn restart(&self, store: Arc<MemoryStore>) -> Arc<MemoryStore> {
        store
    }

    async fn another_instance(&self, store: &Arc<MemoryStore>) -> Arc<MemoryStore> {
        store.clone()
    }

    async fn log_row(&self, store: &MemoryStore, id: MessageId) -> Option<LogView> {
        store.messages().into_iter().find(|m| m.id == id).map(|m| LogView {
            body: m.message.body,
            verification: m.verification,
            flags: m.flags.iter().map(|f| f.as_str().to_owned()).collect(),
            payment_id: m.payment_id.map(|p| p.as_str().to_owned()),
            outcome: m.outcome,
        })
    }
}

/// Builds one `#[tokio::test]` per scenario for `$subject` (an expression making a [`StoreUnderTest`]).
/// Needs `tokio` with its `macros` and `rt-multi-thread` features among the caller's dev-dependencies.
#[macro_export]
macro_rules! store_conformance_tests {
    ($subject:expr) => {
        $crate::store_conformance_tests!(@each $subject;
            log_first,
            verification_answers_are_logged_with_their_outcome,
            an_applied_message_logs_its_verification_answers_with_it,
            claim_and_lease,
            late_worker_changes_nothing,
            retry_survives_restart,
            idempotent_apply,
            failed_apply_leaves_the_message_queued,
            outbox_order_per_payment,
            two_claimers,
            two_outbox_claimers,
            refunds_are_recorded_once_per_key,
            parallel_refund_requests,
            an_answer_then_its_notification_count_once,
            a_notification_first_settles_the_pending_refund,
            refund_attempts_and_retries,
            events_are_numbered_per_payment,
            payments_of_an_order_newest_first,
            a_batch_applies_a_payments_messages_in_order,
            a_key_is_applied_once_within_and_across_batches,
            a_failing_request_fails_alone_and_holds_back_only_its_payment,
            an_empty_batch_does_nothing,
            payments_are_read_together
        );
    };
    (@each $subject:expr; $($scenario:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let subject = $subject;
                if !$crate::store::conformance::StoreUnderTest::available(&subject) {
                    eprintln!("{}: this store is not available here; not tested", stringify!($scenario));
                    return;
                }
                $crate::store::conformance::$scenario(&subject).await;
            }
        )+
    };
}

/// The fixed start of every scenario (microseconds included: what both databases keep).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap() + Duration::microseconds(123_456)
}

/// A button selling one thing for 12.50 EUR through PayPal (or a monthly subscription).
pub fn button(recurring: bool) -> ButtonConfig {
    let recurrence = if recurring { "1" } else { "null" };
    ButtonConfig::from_json(&format!(
        r#"{{
          "order_date": "2026-11-26T09:00:00Z",
          "order_reference": "ORDER-1042",
          "options": [{{ "description": "Manual, PDF", "amount": "12.50", "currency": "EUR",
                         "recurrence_months": {recurrence}, "custom": {{ "sku": "manual-pdf" }} }}],
          "payment_options": {{ "paypal": {{ "paypal_email": "seller@example.com" }} }},
          "urls": {{ "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                     "declined": "https://shop.example/sorry" }}
        }}"#
    ))
    .expect("the fixture button is valid")
}

/// A new payment of 12.50 EUR through `paypal`, recorded at [`t0`].
pub fn new_payment(recurring: bool) -> NewPayment {
    NewPayment {
        id: PaymentId::generate(),
        gateway: "paypal".into(),
        button: button(recurring),
        option_index: 0,
        amount: Money::parse("12.50", "EUR").expect("valid amount"),
        receiver: Some("seller@example.com".into()),
        subscription_id: None,
        created_at: t0(),
    }
}

/// A message as a gateway would post it, received `at`.
pub fn new_message(body: &[u8], at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        gateway: "paypal".into(),
        message: IncomingMessage {
            received_at: at,
            remote_addr: Some("192.0.2.7".into()),
            method: "POST".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: body.to_vec(),
            headers: Default::default(),
        },
        decoded: DecodedFields {
            fields: [("txn_id".to_owned(), "4RT73920XK118345L".to_owned())].into(),
            flags: vec![],
        },
        refused: None,
    }
}

/// A verified notification about `target` of `payment` (12.50 EUR to the fixture seller), with
/// idempotency key `key` and gateway reference `reference`.
pub fn notification(
    payment: &PaymentId,
    target: Target,
    outcome: Option<Outcome>,
    key: &str,
    reference: &str,
) -> Notification {
    Notification {
        payment_ref: Some(payment.to_string()),
        target,
        outcome,
        idempotency_key: key.into(),
        gateway_reference: Some(reference.into()),
        subscription: None,
        amount: Some(Money::parse("12.50", "EUR").expect("valid amount")),
        receiver: Some("seller@example.com".into()),
        test: false,
        details: [("payer_status".to_owned(), serde_json::json!("verified"))]
            .into_iter()
            .collect(),
        flags: vec![],
        summary: format!("web_accept {key}"),
    }
}

/// The request applying `n` (with the engine's extra `flags`) as the content of logged message `message`,
/// at [`t0`] + 3 s.
pub fn request(message: MessageId, payment: &PaymentId, n: Notification, flags: Vec<Flag>) -> ApplyRequest {
    ApplyRequest::for_tests(
        message,
        "paypal",
        payment.clone(),
        n,
        flags,
        t0() + Duration::seconds(3),
    )
}

/// An accepted PayPal payment notification about `payment`, keyed `key`.
fn accepted(payment: &PaymentId, key: &str) -> Notification {
    notification(
        payment,
        Target::Payment,
        Some(Outcome::Accepted),
        key,
        "4RT73920XK118345L",
    )
}

/// Records [`new_payment`] in `store` and returns its id.
pub async fn create_payment<S: Store>(store: &S, recurring: bool) -> PaymentId {
    let payment = new_payment(recurring);
    let id = payment.id.clone();
    store.create_payment(payment).await.expect("create payment");
    id
}

/// Logs a message received at [`t0`] in `store`.
pub async fn log<S: Store>(store: &S, body: &[u8]) -> MessageId {
    store.log_message(new_message(body, t0())).await.expect("log message")
}

/// Logs a message in `store` and applies `n` as its content.
pub async fn log_and_apply<S: Store>(store: &S, payment: &PaymentId, n: Notification) -> (MessageId, Applied) {
    let id = log(store, n.idempotency_key.as_bytes()).await;
    let applied = store.apply(request(id, payment, n, vec![])).await.expect("apply");
    (id, applied)
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

async fn claimed_ids<S: Store>(store: &S, at: DateTime<Utc>, limit: usize) -> Vec<MessageId> {
    let claimed = store.claim_messages(at, limit).await.expect("claim messages");
    claimed.into_iter().map(|m| m.id).collect()
}

async fn row<T: StoreUnderTest>(subject: &T, store: &T::Store, id: MessageId) -> LogView {
    subject.log_row(store, id).await.expect("the log row exists")
}

async fn paid<S: Store>(store: &S, payment: &PaymentId, key: &str) -> MessageId {
    let id = store.log_message(new_message(key.as_bytes(), t0())).await.expect("log");
    let applied = store
        .apply(request(id, payment, accepted(payment, key), vec![]))
        .await
        .expect("apply");
    assert!(matches!(applied, Applied::Applied { .. }), "{applied:?}");
    id
}

/// A message is logged, with its exact bytes, and queued at once: the first thing that happens to it. A
/// message refused on arrival is logged, settled as `error`, and never queued.
pub async fn log_first<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let body = b"txn_id=4RT&first_name=Zo\xe9&invoice=\x00\xff".to_vec();
    let id = store.log_message(new_message(&body, t0())).await.expect("log");
    let logged = row(subject, &store, id).await;
    assert_eq!(logged.body, body, "the raw bytes, exactly as received");
    assert_eq!(logged.verification, VerificationStatus::Pending);
    assert_eq!((logged.payment_id, logged.outcome), (None, None));

    let mut refused = new_message(b"x".repeat(100).as_slice(), t0());
    refused.refused = Some("body over the size limit".into());
    let refused_id = store.log_message(refused).await.expect("log refused");
    assert!(refused_id > id, "log ids grow");
    let refused_row = row(subject, &store, refused_id).await;
    assert_eq!(refused_row.verification, VerificationStatus::Error);
    assert_eq!(refused_row.outcome.as_deref(), Some("body over the size limit"));

    let claimed = store.claim_messages(t0(), 10).await.expect("claim");
    assert_eq!(claimed.len(), 1, "only the accepted message is queued: {claimed:?}");
    assert_eq!((claimed[0].id, claimed[0].attempts), (id, 0));
    assert_eq!(claimed[0].message.body, body);
    assert_eq!(claimed[0].gateway, "paypal");
    let after_lease = t0() + MESSAGE_CLAIM_LEASE + secs(1);
    assert_eq!(
        claimed_ids(&*store, after_lease, 10).await,
        vec![id],
        "the refused one is never queued"
    );
}

/// The answers to a verification's calls are logged in order, as answers about no payment yet, each
/// with the outcome naming what they answer, and are never queued.
pub async fn verification_answers_are_logged_with_their_outcome<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let message = log(&*store, b"txn_id=1&payment_status=Completed").await;
    let answers = [
        GatewayCall {
            received_at: t0(),
            request: "POST https://api.example/v1/oauth2/token".into(),
            status: 200,
            content_type: Some("application/json".into()),
            body: br#"{"access_token":"[redacted]"}"#.to_vec(),
        },
        GatewayCall {
            received_at: t0(),
            request: "POST https://ipnpb.example/cgi-bin/webscr".into(),
            status: 200,
            content_type: Some("text/html; charset=UTF-8".into()),
            body: b"VERIFIED".to_vec(),
        },
    ];
    let outcome = format!("answer to the verification of message {message} (attempt 1)");
    let ids = store
        .log_verification_answers("paypal", &VerificationAnswers::new(answers.to_vec(), message, 1))
        .await
        .expect("log the answers");
    assert_eq!(ids.len(), 2);
    assert!(
        message < ids[0] && ids[0] < ids[1],
        "in order, after the message: {message} {ids:?}"
    );
    for (id, call) in ids.iter().zip(&answers) {
        let logged = row(subject, &store, *id).await;
        assert_eq!(logged.body, call.body);
        assert_eq!(logged.verification, VerificationStatus::Verified);
        assert_eq!(logged.payment_id, None);
        assert_eq!(logged.outcome.as_deref(), Some(outcome.as_str()));
    }
    assert_eq!(
        claimed_ids(&*store, t0() + secs(1), 10).await,
        vec![message],
        "answers are never queued"
    );
}

/// PayPal's answer to the postback that verified a message.
fn postback_answer() -> GatewayCall {
    GatewayCall {
        received_at: t0() + secs(2),
        request: "POST https://ipnpb.example/cgi-bin/webscr".into(),
        status: 200,
        content_type: Some("text/html; charset=UTF-8".into()),
        body: b"VERIFIED".to_vec(),
    }
}

/// The log rows (among the next few after `message`) that answer the verification of `message`.
async fn answers_to<T: StoreUnderTest>(subject: &T, store: &T::Store, message: MessageId) -> Vec<LogView> {
    let named = format!("answer to the verification of message {message} ");
    let mut found = Vec::new();
    for id in message + 1..=message + 16 {
        if let Some(row) = subject.log_row(store, id).await
            && row.outcome.as_deref().is_some_and(|o| o.starts_with(&named))
        {
            found.push(row);
        }
    }
    found
}

/// The answers a message's verification got travel with its application ([`ApplyRequest::verification_answers`])
/// and are logged in the same transaction: an application that fails logs none of them (the message is
/// verified again later), one that succeeds logs them as answers about no payment with the outcome naming
/// the message and attempt, never queued; a resend applied as a duplicate, alone or in a batch, logs its
/// own.
pub async fn an_applied_message_logs_its_verification_answers_with_it<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = new_payment(false);
    let pid = payment.id.clone();
    let id = log(&*store, b"K1").await;
    let first_try = VerificationAnswers::new(vec![postback_answer()], id, 1);
    let failed = store
        .apply(request(id, &pid, accepted(&pid, "K1"), vec![]).with_verification_answers(first_try))
        .await;
    assert!(matches!(failed, Err(StoreError::NotFound(_))), "{failed:?}");
    assert_eq!(
        answers_to(subject, &store, id).await,
        vec![],
        "a failed application logs no answer"
    );

    store.create_payment(payment).await.expect("create");
    let second_try = VerificationAnswers::new(vec![postback_answer()], id, 2);
    let applied = store
        .apply(request(id, &pid, accepted(&pid, "K1"), vec![]).with_verification_answers(second_try.clone()))
        .await
        .expect("apply");
    assert!(matches!(applied, Applied::Applied { .. }), "{applied:?}");
    let logged = answers_to(subject, &store, id).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].body, b"VERIFIED");
    assert_eq!(logged[0].verification, VerificationStatus::Verified);
    assert_eq!(logged[0].payment_id, None);
    assert_eq!(logged[0].outcome.as_deref(), Some(second_try.outcome()));

    let resend = log(&*store, b"K1 again").await;
    let answers = VerificationAnswers::new(vec![postback_answer()], resend, 1);
    let results = store
        .apply_batch(vec![
            request(resend, &pid, accepted(&pid, "K1"), vec![]).with_verification_answers(answers.clone()),
        ])
        .await;
    assert!(matches!(results.as_slice(), [Ok(Applied::Duplicate)]), "{results:?}");
    let logged = answers_to(subject, &store, resend).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].outcome.as_deref(), Some(answers.outcome()));
    assert!(
        claimed_ids(&*store, t0() + Duration::days(1), 10).await.is_empty(),
        "answers are never queued"
    );
}

/// Claims take due messages oldest first, up to the limit, and hide them from other claimers until their
/// lease ends; then the next claim takes them again (their worker crashed).
pub async fn claim_and_lease<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            store
                .log_message(new_message(format!("m{n}").as_bytes(), t0()))
                .await
                .expect("log"),
        );
    }
    assert_eq!(
        claimed_ids(&*store, t0(), 2).await,
        ids[..2],
        "oldest first, up to the limit"
    );
    assert_eq!(
        claimed_ids(&*store, t0(), 10).await,
        ids[2..],
        "claimed ones are hidden"
    );
    assert!(
        claimed_ids(&*store, t0() + MESSAGE_CLAIM_LEASE - secs(1), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        claimed_ids(&*store, t0() + MESSAGE_CLAIM_LEASE + secs(1), 10).await,
        ids,
        "after the lease every message is offered again"
    );
}

/// A worker whose lease expired while another finished its message changes nothing when it comes back:
/// the log row keeps the other worker's result and the message is not queued again.
pub async fn late_worker_changes_nothing<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let id = store.log_message(new_message(b"slow", t0())).await.expect("log");
    assert_eq!(
        claimed_ids(&*store, t0(), 1).await,
        vec![id],
        "the first worker claims it"
    );
    let later = t0() + MESSAGE_CLAIM_LEASE + secs(1);
    assert_eq!(
        claimed_ids(&*store, later, 1).await,
        vec![id],
        "the second worker takes it over"
    );
    let settlement = |outcome: &str| crate::store::Settlement {
        verification: VerificationStatus::Invalid,
        flags: vec![Flag::Invalid],
        payment_id: None,
        outcome: outcome.into(),
    };
    store
        .settle_message(id, settlement("second worker"))
        .await
        .expect("settle");
    store
        .settle_message(id, settlement("first worker, late"))
        .await
        .expect("a late settle is no error");
    store
        .reschedule_message(id, 1, later, "first worker, late")
        .await
        .expect("a late reschedule is no error");
    let logged = row(subject, &store, id).await;
    assert_eq!(logged.outcome.as_deref(), Some("second worker"), "{logged:?}");
    assert_eq!(logged.verification, VerificationStatus::Invalid);
    assert!(
        claimed_ids(&*store, later + Duration::days(1), 10).await.is_empty(),
        "not queued again"
    );
    assert!(matches!(
        store.settle_message(id + 1000, settlement("nobody")).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A rescheduled message keeps its attempt count and its next attempt time across a restart, and its log
/// row says it waits for a retry.
pub async fn retry_survives_restart<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    // The headers its verification needs (a webhook's signature) come back with it, after a restart too.
    let mut message = new_message(b"retry me", t0());
    message.message.headers = [
        (":route".to_owned(), "webhook".to_owned()),
        ("paypal-transmission-sig".to_owned(), "c2lnbmF0dXJl".to_owned()),
    ]
    .into();
    let headers = message.message.headers.clone();
    let id = store.log_message(message).await.expect("log");
    assert_eq!(claimed_ids(&*store, t0(), 1).await, vec![id]);
    let due = t0() + Duration::minutes(10);
    store
        .reschedule_message(id, 3, due, "postback timed out")
        .await
        .expect("reschedule");
    let logged = row(subject, &store, id).await;
    assert_eq!(logged.verification, VerificationStatus::Pending);
    assert!(
        logged
            .outcome
            .as_deref()
            .is_some_and(|o| o.contains("postback timed out")),
        "{logged:?}"
    );

    let store = subject.restart(store).await;
    assert!(
        claimed_ids(&*store, due - secs(1), 10).await.is_empty(),
        "not before it is due"
    );
    let claimed = store.claim_messages(due, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (id, 3));
    assert_eq!(claimed[0].message.headers, headers);
    assert_eq!(claimed[0].message.route(), "webhook");
}

/// A resent notification is logged, flagged `duplicate` and changes nothing; the same message applied
/// again (by a worker whose lease had expired) changes nothing either, not even its log row.
pub async fn idempotent_apply<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = new_payment(false);
    let pid = payment.id.clone();
    store.create_payment(payment).await.expect("create");
    let first = paid(&*store, &pid, "K1").await;
    let resend = store.log_message(new_message(b"K1 again", t0())).await.expect("log");
    let again = store
        .apply(request(resend, &pid, accepted(&pid, "K1"), vec![]))
        .await
        .expect("apply resend");
    assert_eq!(again, Applied::Duplicate);
    let kinds: Vec<EventKind> = store
        .events_for_payment(&pid)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::PaymentProcessed, EventKind::PaymentAccepted], "once");
    let resend_row = row(subject, &store, resend).await;
    assert!(resend_row.flags.contains(&"duplicate".to_owned()), "{resend_row:?}");
    assert_eq!(resend_row.verification, VerificationStatus::Verified);
    assert_eq!(resend_row.payment_id.as_deref(), Some(pid.as_str()));

    let first_row = row(subject, &store, first).await;
    let replayed = store
        .apply(request(first, &pid, accepted(&pid, "K1"), vec![]))
        .await
        .expect("apply the same message again");
    assert_eq!(replayed, Applied::Duplicate);
    assert_eq!(
        row(subject, &store, first).await,
        first_row,
        "its own row is left as it was"
    );
    assert!(
        claimed_ids(&*store, t0() + Duration::days(1), 10).await.is_empty(),
        "neither message is queued"
    );
    let stored = store.payment(&pid).await.expect("read").expect("exists");
    assert_eq!(stored.state, PaymentState::Accepted);
    assert_eq!(stored.gateway_reference.as_deref(), Some("4RT73920XK118345L"));
}

/// An apply that fails (here: the payment it names does not exist) writes nothing, the idempotency key
/// included: the message stays queued and pending, and once the payment exists the same notification
/// applies.
pub async fn failed_apply_leaves_the_message_queued<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let payment = new_payment(false);
    let pid = payment.id.clone();
    let id = store.log_message(new_message(b"early", t0())).await.expect("log");
    assert_eq!(claimed_ids(&*store, t0(), 1).await, vec![id]);
    let early = || request(id, &pid, accepted(&pid, "K-early"), vec![]);
    let failed = store.apply(early()).await;
    assert!(matches!(failed, Err(StoreError::NotFound(_))), "{failed:?}");

    let logged = row(subject, &store, id).await;
    assert_eq!(logged.verification, VerificationStatus::Pending, "{logged:?}");
    assert!(logged.flags.is_empty(), "{logged:?}");
    assert_eq!(
        claimed_ids(&*store, t0() + MESSAGE_CLAIM_LEASE + secs(1), 10).await,
        vec![id],
        "still queued: it comes back after the lease"
    );
    store.create_payment(payment).await.expect("create");
    let applied = store.apply(early()).await.expect("apply");
    assert!(
        matches!(applied, Applied::Applied { .. }),
        "the failed attempt recorded no idempotency key: {applied:?}"
    );
}

/// Events leave the outbox in order per payment: while an event of a payment is claimed, no later event
/// of that payment is handed to another claimer; a released or expired claim offers it again; a
/// dispatched event is never offered again.
pub async fn outbox_order_per_payment<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let other = subject.another_instance(&store).await;
    let (a, b) = (new_payment(false), new_payment(false));
    let (pa, pb) = (a.id.clone(), b.id.clone());
    store.create_payment(a).await.expect("create a");
    store.create_payment(b).await.expect("create b");
    paid(&*store, &pa, "KA").await;
    paid(&*store, &pb, "KB").await;
    let all = store.undispatched_events(10).await.expect("undispatched");
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "outbox order: {seqs:?}");
    let payments: Vec<&PaymentId> = all.iter().map(|e| &e.event.payment.id).collect();
    assert_eq!(payments, [&pa, &pa, &pb, &pb]);

    let first = store.claim_undispatched_events(t0(), 1).await.expect("claim");
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[..1]);
    let second = other.claim_undispatched_events(t0(), 10).await.expect("claim");
    assert_eq!(
        second.iter().map(|e| e.seq).collect::<Vec<_>>(),
        seqs[2..],
        "payment a's second event waits for its first; payment b's are free"
    );
    store.mark_dispatched(seqs[0]).await.expect("dispatched");
    let third = store.claim_undispatched_events(t0(), 10).await.expect("claim");
    assert_eq!(third.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[1..2]);

    other.release_events(&seqs[2..]).await.expect("release");
    let again = store.claim_undispatched_events(t0(), 10).await.expect("claim");
    assert_eq!(
        again.iter().map(|e| e.seq).collect::<Vec<_>>(),
        seqs[2..],
        "released: offered again"
    );
    let after_lease = t0() + OUTBOX_CLAIM_LEASE + secs(1);
    let taken_over = other.claim_undispatched_events(after_lease, 10).await.expect("claim");
    assert_eq!(
        taken_over.iter().map(|e| e.seq).collect::<Vec<_>>(),
        seqs[1..],
        "leases expired: every undispatched event, in order"
    );
    other.mark_all_dispatched(&seqs[1..]).await.expect("dispatched");
    assert!(store.undispatched_events(10).await.expect("undispatched").is_empty());
    assert!(
        store
            .claim_undispatched_events(after_lease + Duration::days(1), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(matches!(
        store.mark_dispatched(seqs[3] + 1000).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Two instances claiming queued messages at the same time never get the same message, and between them
/// get every one.
pub async fn two_claimers<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let other = subject.another_instance(&store).await;
    let mut logged = BTreeSet::new();
    for n in 0..30 {
        logged.insert(
            store
                .log_message(new_message(format!("m{n}").as_bytes(), t0()))
                .await
                .expect("log"),
        );
    }
    let claimer = |store: Arc<T::Store>| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = claimed_ids(&*store, t0(), 3).await;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        })
    };
    let (one, two) = (claimer(store.clone()), claimer(other.clone()));
    let (one, two) = (one.await.expect("claimer"), two.await.expect("claimer"));
    let mut seen = BTreeSet::new();
    for id in one.iter().chain(&two) {
        assert!(seen.insert(*id), "message {id} was claimed twice");
    }
    assert_eq!(seen, logged, "every message was claimed");
}

/// Two instances dispatching the outbox at the same time hand each event to listeners once.
pub async fn two_outbox_claimers<T: StoreUnderTest>(subject: &T) {
    let store = subject.empty().await;
    let other = subject.another_instance(&store).await;
    for n in 0..6 {
        let payment = new_payment(false);
        let pid = payment.id.clone();
        store.create_payment(payment).await.expect("create");
        paid(&*store, &pid, &format!("K{n}")).await;
    }
    let expected: BTreeSet<i64> = store
        .undispatched_events(100)
        .await
        .expect("undispatched")
        .iter()
        .map(|e| e.seq)
        .collect();
    let dispatcher = |store: Arc<T::Store>| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_undispatched_events(t0(), 2).await.expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
                store.mark_all_dispatched(&seqs).await.expect("dispatched");
                mine.extend(seqs);
            }
        })
    };
    let (one, two) = (dispatcher(store.clone()), dispatcher(other.clone()));
    let (one, two) = (one.await.expect("dispatcher"), two.await.expect("dispatcher"));
    let mut seen = BTreeSet::new();
    for seq in one.iter().chain(&two) {
        assert!(seen.insert(*seq), "event {seq} was handed out twice");
    }
    assert_eq!(seen, expected, "every event was dispatched");
}
