//! A gateway whose refunds and cancellations answer as a test tells them to: [`Scripted`] wraps a real
//! gateway (PayPal, CM-CIC: hand-offs, notifications and their verification are that gateway's) and adds
//! [`Refunds`] and [`SubscriptionCancels`] that pop scripted answers, record what they were asked, and
//! give each answer a raw body for the log.
//!
//! ```
//! use std::sync::Arc;
//! use payment_buttons::gateway::RefundAnswer;
//! use payment_buttons::testing::scripted::Scripted;
//! # use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
//! # use payment_buttons::paypal::testing::ScriptedPostback;
//! # let paypal = Arc::new(PaypalGateway::new(PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap(),
//! #     ScriptedPostback::verified().shared()));
//! let gateway = Arc::new(Scripted::new(paypal));
//! gateway.answer_refund(RefundAnswer::Retry { reason: "timeout".into() });
//! gateway.answer_refund(Scripted::succeeded("R1:Refunded"));
//! // ...Engine::new(store, Gateways::new().with(gateway.clone()), ...); engine.refund(...)
//! assert!(gateway.refund_requests().is_empty());
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::button::{ButtonConfig, ButtonError};
use crate::gateway::{
    BuyerReturn, CancelAnswer, CancelAttempt, CancelRequest, DecodedFields, Gateway, GatewayCall, GatewayError,
    HandOff, IncomingMessage, NotifyRoute, PaymentRequest, RefundAnswer, RefundAttempt, RefundRequest, Refunds, Reply,
    StoredPaymentFacts, SubscriptionCancels, VerificationWithCalls,
};
use crate::money::Money;
use crate::notification::Verification;

/// What one refund call was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedRefund {
    /// Our refund id (the idempotency key a real gateway gets).
    pub refund_id: String,
    /// The payment.
    pub payment_id: String,
    /// How much.
    pub amount: Money,
    /// When it was first sent (`None` on the first attempt).
    pub first_sent_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Script {
    refunds: VecDeque<RefundAnswer>,
    cancels: VecDeque<CancelAnswer>,
    refused: Option<String>,
    asked: Vec<AskedRefund>,
    cancels_asked: Vec<String>,
    delay: Duration,
}

/// See the module documentation.
pub struct Scripted {
    inner: Arc<dyn Gateway>,
    script: Mutex<Script>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted")
            .field("inner", &self.inner.name())
            .finish_non_exhaustive()
    }
}

impl Scripted {
    /// `inner` with scripted refunds and cancellations. With nothing scripted, a refund answers
    /// `Retry` ("nothing scripted") and a cancellation `Retry` too.
    pub fn new(inner: Arc<dyn Gateway>) -> Self {
        Scripted {
            inner,
            script: Mutex::new(Script::default()),
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        // A test that panicked while holding the lock has failed already: keep its script.
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `Succeeded` answer whose later notification carries `idempotency_key` (PayPal: `{txn_id}:Refunded`).
    pub fn succeeded(idempotency_key: &str) -> RefundAnswer {
        RefundAnswer::Succeeded {
            gateway_refund_id: Some(idempotency_key.split(':').next().unwrap_or(idempotency_key).to_owned()),
            idempotency_key: idempotency_key.to_owned(),
        }
    }

    /// The next refund call answers this (answers are used in the order given).
    pub fn answer_refund(&self, answer: RefundAnswer) {
        self.script().refunds.push_back(answer);
    }

    /// The next cancellation answers this.
    pub fn answer_cancel(&self, answer: CancelAnswer) {
        self.script().cancels.push_back(answer);
    }

    /// `Refunds::check` and `SubscriptionCancels::check` refuse with `reason` (as a gateway whose
    /// credentials cannot serve the payment does).
    pub fn refuse_all(&self, reason: &str) {
        self.script().refused = Some(reason.to_owned());
    }

    /// Every call waits this long before answering (a slow gateway, for concurrency tests).
    pub fn delay(&self, delay: Duration) {
        self.script().delay = delay;
    }

    /// The refund calls made so far, in order.
    pub fn refund_requests(&self) -> Vec<AskedRefund> {
        self.script().asked.clone()
    }

    /// The payments whose subscription a cancellation was asked for, in order.
    pub fn cancel_requests(&self) -> Vec<String> {
        self.script().cancels_asked.clone()
    }

    fn check(&self) -> Result<(), String> {
        match &self.script().refused {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }
}

/// The raw answer a scripted call "received", for the log.
fn call(request: &str, status: u16, body: String) -> GatewayCall {
    GatewayCall {
        received_at: Utc::now(),
        request: request.to_owned(),
        status,
        content_type: Some("application/json".into()),
        body: body.into_bytes(),
    }
}

fn refund_body(answer: &RefundAnswer) -> (u16, String) {
    let (status, json) = match answer {
        RefundAnswer::Succeeded { gateway_refund_id, .. } => (
            201,
            serde_json::json!({ "status": "COMPLETED", "id": gateway_refund_id }),
        ),
        RefundAnswer::Pending { gateway_refund_id } => {
            (201, serde_json::json!({ "status": "PENDING", "id": gateway_refund_id }))
        }
        RefundAnswer::Failed { reason } => (422, serde_json::json!({ "name": "REFUSED", "message": reason })),
        RefundAnswer::Retry { reason } | RefundAnswer::Unknown { reason } => {
            (503, serde_json::json!({ "name": "UNAVAILABLE", "message": reason }))
        }
    };
    (status, json.to_string())
}

#[async_trait::async_trait]
impl Refunds for Scripted {
    fn check(&self, _: &StoredPaymentFacts<'_>) -> Result<(), String> {
        Scripted::check(self)
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> RefundAttempt {
        let (answer, delay) = {
            let mut script = self.script();
            script.asked.push(AskedRefund {
                refund_id: request.refund_id.to_owned(),
                payment_id: request.payment.payment_id.to_string(),
                amount: request.amount,
                first_sent_at: request.first_sent_at,
            });
            let answer = script.refunds.pop_front().unwrap_or(RefundAnswer::Retry {
                reason: "nothing scripted".into(),
            });
            (answer, script.delay)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (status, body) = refund_body(&answer);
        RefundAttempt {
            calls: vec![call(
                &format!("POST scripted://refunds/{}", request.refund_id),
                status,
                body,
            )],
            answer,
        }
    }
}

#[async_trait::async_trait]
impl SubscriptionCancels for Scripted {
    fn check(&self, _: &StoredPaymentFacts<'_>) -> Result<(), String> {
        Scripted::check(self)
    }

    async fn cancel(&self, request: &CancelRequest<'_>) -> CancelAttempt {
        let answer = {
            let mut script = self.script();
            script.cancels_asked.push(request.payment.payment_id.to_string());
            script.cancels.pop_front().unwrap_or(CancelAnswer::Retry {
                reason: "nothing scripted".into(),
            })
        };
        let (status, body) = match &answer {
            CancelAnswer::Cancelled { .. } => (200, r#"{"ACK":"Success"}"#.to_owned()),
            CancelAnswer::Failed { reason } => (
                200,
                serde_json::json!({ "ACK": "Failure", "message": reason }).to_string(),
            ),
            CancelAnswer::Retry { reason } => (503, serde_json::json!({ "message": reason }).to_string()),
        };
        CancelAttempt {
            calls: vec![call("POST scripted://cancel", status, body)],
            answer,
        }
    }
}

#[async_trait::async_trait]
impl Gateway for Scripted {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn check_button(&self, button: &ButtonConfig) -> Result<(), ButtonError> {
        self.inner.check_button(button)
    }
    fn receiver(&self, button: &ButtonConfig) -> Result<Option<String>, GatewayError> {
        self.inner.receiver(button)
    }
    fn hand_off(&self, request: &PaymentRequest<'_>) -> Result<HandOff, GatewayError> {
        self.inner.hand_off(request)
    }
    fn decode(&self, message: &IncomingMessage) -> DecodedFields {
        self.inner.decode(message)
    }
    fn order_key(&self, message: &IncomingMessage) -> Option<String> {
        self.inner.order_key(message)
    }
    fn acknowledge(&self, message: &IncomingMessage) -> Reply {
        self.inner.acknowledge(message)
    }
    async fn verify(&self, message: &IncomingMessage) -> Verification {
        self.inner.verify(message).await
    }
    async fn verify_with_calls(&self, message: &IncomingMessage) -> VerificationWithCalls {
        self.inner.verify_with_calls(message).await
    }
    fn label(&self, language: &str) -> String {
        self.inner.label(language)
    }
    fn notify_routes(&self) -> &'static [NotifyRoute] {
        self.inner.notify_routes()
    }
    fn buyer_return(&self) -> Option<&dyn BuyerReturn> {
        self.inner.buyer_return()
    }
    fn refunds(&self) -> Option<&dyn Refunds> {
        Some(self)
    }
    fn subscription_cancels(&self) -> Option<&dyn SubscriptionCancels> {
        Some(self)
    }
}
