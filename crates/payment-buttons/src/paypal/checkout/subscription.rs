//! Subscriptions through PayPal's Subscriptions API (`paypal.integration = "checkout"`).
//!
//! - **A product and a plan per distinct buying option** (amount, currency, period). The product's id is
//!   ours, derived from the option ([`product_id`]), so it is found again at PayPal after a restart; the
//!   plan is the active plan of that product (`GET /v1/billing/plans?product_id=`), created when there is
//!   none (`POST /v1/catalogs/products`, `POST /v1/billing/plans`, each with a `PayPal-Request-Id` derived
//!   from the product, so two processes creating it at once make one). What was found is kept in memory
//!   ([`Plans`]): PayPal is the durable record of the mapping, and later buyers reuse the plan without a
//!   call.
//! - **A subscription per buyer** (`POST /v1/billing/subscriptions`, `custom_id` = our payment id), then
//!   the buyer goes to its `approve` link.
//! - **Webhooks** ([`read_event`]): `BILLING.SUBSCRIPTION.ACTIVATED` / `.CANCELLED` / `.EXPIRED` /
//!   `.SUSPENDED`, `PAYMENT.SALE.COMPLETED` (one per cycle) and `PAYMENT.SALE.REFUNDED` / `.REVERSED`, in the
//!   terms and under the keys of Payments Standard's `subscr_signup` / `subscr_cancel` / `subscr_eot` /
//!   `subscr_payment` and its `Refunded` / `Reversed` (see `paypal/status.rs`), so each cycle is a payment of
//!   its own and the engine's subscription checks apply unchanged.
//! - **Cancellation** (`POST /v1/billing/subscriptions/{id}/cancel`), under the key of the
//!   `BILLING.SUBSCRIPTION.CANCELLED` webhook that follows, so `subscription_cancelled` is emitted once.
//!
//! Every answer goes to `calls`, which the engine logs (direction `answer`) before it acts on anything.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::message::{WebhookEvent, text};
use super::{Call, call};
use crate::button::BuyingOption;
use crate::gateway::{
    CancelAnswer, CancelAttempt, CancelRequest, GatewayCall, GatewayError, HandOff, PaymentRequest, StoredPaymentFacts,
};
use crate::money::Money;
use crate::notification::{Flag, Notification, Outcome, SubscriptionRef, Target};
use crate::paypal::api::{PaypalApi, rest_error};
use crate::paypal::config::PaypalConfig;
use crate::paypal::currency::format_amount;
use crate::paypal::hand_off::receiver_for;

/// PayPal's longest billing period in months (`interval_unit` `MONTH`, `interval_count` 1 to 12).
pub(crate) const MAX_MONTHS: u8 = 12;

/// The `details` key marking a payment whose subscription runs through the Subscriptions API: it is
/// cancelled through the REST API, not through Payments Standard's NVP call.
pub(crate) const INTEGRATION_DETAIL: &str = "paypal_integration";

/// PayPal's limit on a product's or plan's `name` (127 characters).
const NAME_MAX: usize = 127;

/// Our product id for an option: `LIBREMENT-{currency}-{minor units}-{months}M`. Options with the same
/// amount, currency and period share a product, and so a plan.
pub(crate) fn product_id(option: &BuyingOption) -> Result<String, GatewayError> {
    let months = option
        .recurrence_months()
        .ok_or_else(|| GatewayError::Unsupported("not a subscription".into()))?;
    let amount = option.amount();
    Ok(format!(
        "LIBREMENT-{}-{}-{months}M",
        amount.currency().code(),
        amount.minor_units()
    ))
}

/// The plans found or created by this process, by product id.
#[derive(Debug, Default)]
pub(crate) struct Plans {
    /// Held while a plan is looked up or created, so that two buyers of a new option make one plan.
    known: tokio::sync::Mutex<HashMap<String, String>>,
}

impl Plans {
    /// The plan of `option`: from memory, else found at PayPal, else created there.
    pub(crate) async fn plan_for(
        &self,
        api: &PaypalApi,
        config: &PaypalConfig,
        option: &BuyingOption,
        calls: &mut Vec<GatewayCall>,
    ) -> Result<String, GatewayError> {
        let product = product_id(option)?;
        let mut known = self.known.lock().await;
        if let Some(plan) = known.get(&product) {
            return Ok(plan.clone());
        }
        let plan = match find_plan(api, config, &product, option, calls).await? {
            Some(plan) => plan,
            None => {
                ensure_product(api, config, &product, option, calls).await?;
                create_plan(api, config, &product, option, calls).await?
            }
        };
        known.insert(product, plan.clone());
        Ok(plan)
    }

    /// Forgets the plan of `option` (PayPal refused a subscription to it: it may have been deactivated).
    pub(crate) async fn forget(&self, option: &BuyingOption) {
        if let Ok(product) = product_id(option) {
            self.known.lock().await.remove(&product);
        }
    }
}

fn unavailable(what: &str, status: u16, body: &Value) -> GatewayError {
    GatewayError::Unavailable(format!("{what}: {}", rest_error(status, body.to_string().as_bytes())))
}

/// The price and period a plan charges, when its answer says them.
fn plan_terms(plan: &Value) -> Option<(Money, u64)> {
    let cycle = plan
        .get("billing_cycles")?
        .as_array()?
        .iter()
        .find(|c| text(c, "tenure_type") == Some("REGULAR"))?;
    let price = cycle.get("pricing_scheme")?.get("fixed_price")?;
    let money = Money::parse(text(price, "value")?, text(price, "currency_code")?).ok()?;
    let frequency = cycle.get("frequency")?;
    if text(frequency, "interval_unit") != Some("MONTH") {
        return None;
    }
    Some((money, frequency.get("interval_count")?.as_u64()?))
}

/// An active plan of `product` charging what `option` says. A plan whose terms the answer does not give is
/// taken on its product alone (our product ids carry the terms); one whose terms differ is never used.
async fn find_plan(
    api: &PaypalApi,
    config: &PaypalConfig,
    product: &str,
    option: &BuyingOption,
    calls: &mut Vec<GatewayCall>,
) -> Result<Option<String>, GatewayError> {
    let path = format!("/v1/billing/plans?product_id={product}&page_size=20");
    let (status, answer) = call(api, config, Call::get(&path), calls)
        .await
        .map_err(GatewayError::Unavailable)?;
    match status {
        200..=299 => {}
        // An unknown product: no plan yet.
        404 => return Ok(None),
        _ => return Err(unavailable("PayPal did not list the plans", status, &answer)),
    }
    let months = u64::from(option.recurrence_months().unwrap_or(0));
    let plan = answer
        .get("plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| text(p, "status") == Some("ACTIVE") && text(p, "product_id").is_none_or(|id| id == product))
        .find(|p| plan_terms(p).is_none_or(|(price, every)| price == option.amount() && every == months))
        .and_then(|p| text(p, "id"))
        .map(str::to_owned);
    Ok(plan)
}

async fn ensure_product(
    api: &PaypalApi,
    config: &PaypalConfig,
    product: &str,
    option: &BuyingOption,
    calls: &mut Vec<GatewayCall>,
) -> Result<(), GatewayError> {
    let (status, answer) = call(
        api,
        config,
        Call::get(&format!("/v1/catalogs/products/{product}")),
        calls,
    )
    .await
    .map_err(GatewayError::Unavailable)?;
    match status {
        200..=299 => return Ok(()),
        404 => {}
        _ => return Err(unavailable("PayPal did not show the product", status, &answer)),
    }
    let body = json!({
        "id": product,
        "name": option.description().chars().take(NAME_MAX).collect::<String>(),
        "type": "SERVICE",
    });
    let (status, answer) = call(
        api,
        config,
        Call::post("/v1/catalogs/products", format!("product-{product}"), body),
        calls,
    )
    .await
    .map_err(GatewayError::Unavailable)?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(unavailable("PayPal refused the product", status, &answer))
    }
}

/// The body of the plan of `option`: a fixed price every `n` months until cancelled, one failed payment
/// suspending it (PayPal retries the outstanding amount with the next cycle).
pub(crate) fn plan_body(product: &str, option: &BuyingOption) -> Result<Value, GatewayError> {
    let months = option
        .recurrence_months()
        .filter(|m| (1..=MAX_MONTHS).contains(m))
        .ok_or_else(|| GatewayError::Unsupported(format!("PayPal plans bill every 1 to {MAX_MONTHS} months")))?;
    let value = format_amount(option.amount()).map_err(GatewayError::Unsupported)?;
    Ok(json!({
        "product_id": product,
        "name": option.description().chars().take(NAME_MAX).collect::<String>(),
        "status": "ACTIVE",
        "billing_cycles": [{
            "frequency": { "interval_unit": "MONTH", "interval_count": months },
            "tenure_type": "REGULAR",
            "sequence": 1,
            "total_cycles": 0,
            "pricing_scheme": { "fixed_price": { "value": value, "currency_code": option.amount().currency().code() } },
        }],
        "payment_preferences": { "auto_bill_outstanding": true, "payment_failure_threshold": 1 },
    }))
}

async fn create_plan(
    api: &PaypalApi,
    config: &PaypalConfig,
    product: &str,
    option: &BuyingOption,
    calls: &mut Vec<GatewayCall>,
) -> Result<String, GatewayError> {
    let body = plan_body(product, option)?;
    let (status, answer) = call(
        api,
        config,
        Call::post("/v1/billing/plans", format!("plan-{product}"), body),
        calls,
    )
    .await
    .map_err(GatewayError::Unavailable)?;
    if !(200..300).contains(&status) {
        return Err(unavailable("PayPal refused the plan", status, &answer));
    }
    text(&answer, "id")
        .filter(|id| is_paypal_id(id))
        .map(str::to_owned)
        .ok_or_else(|| GatewayError::Unavailable("PayPal's plan has no id".into()))
}

/// Whether `id` looks like a PayPal id (plans `P-...`, subscriptions `I-...`): it goes into URLs.
pub(crate) fn is_paypal_id(id: &str) -> bool {
    (3..=50).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The subscription we create for one payment: the plan, our payment id as `custom_id` (PayPal echoes it
/// on every sale as `custom`), where the buyer comes back, and the buyer's language.
pub(crate) fn subscription_body(plan: &str, request: &PaymentRequest<'_>) -> Value {
    let mut body = json!({
        "plan_id": plan,
        "custom_id": request.payment_id.as_str(),
        "application_context": {
            "locale": super::hand_off::locale(request),
            "shipping_preference": "NO_SHIPPING",
            "user_action": "SUBSCRIBE_NOW",
            "return_url": format!("{}/return/paypal/{}", request.urls.base(), request.payment_id),
            "cancel_url": request.urls.status_cancelled(request.payment_id),
        },
    });
    if let Some(email) = request.buyer_email {
        body["subscriber"] = json!({ "email_address": email });
    }
    body
}

/// `/pay` for a recurring option: the plan (found or created), then the subscription, then the buyer goes
/// to its approval link. Every answer comes back for the log.
pub(crate) async fn create_subscription(
    api: &PaypalApi,
    config: &PaypalConfig,
    plans: &Plans,
    request: &PaymentRequest<'_>,
) -> (Result<HandOff, GatewayError>, Vec<GatewayCall>) {
    let mut calls = Vec::new();
    let result = subscribe(api, config, plans, request, &mut calls).await;
    (result, calls)
}

async fn subscribe(
    api: &PaypalApi,
    config: &PaypalConfig,
    plans: &Plans,
    request: &PaymentRequest<'_>,
    calls: &mut Vec<GatewayCall>,
) -> Result<HandOff, GatewayError> {
    let option = request.option();
    // Never a subscription paid to another account than the one the plans belong to.
    if !paid_to_the_plans_account(config, request.button)? {
        return Err(GatewayError::Unsupported(not_the_plans_account()));
    }
    let plan = plans.plan_for(api, config, option, calls).await?;
    let body = subscription_body(&plan, request);
    let (status, answer) = call(
        api,
        config,
        Call::post(
            "/v1/billing/subscriptions",
            format!("{}-subscription", request.payment_id),
            body,
        ),
        calls,
    )
    .await
    .map_err(GatewayError::Unavailable)?;
    if !(200..300).contains(&status) {
        if (400..500).contains(&status) {
            // A plan deactivated at PayPal: found or made again by the next buyer.
            plans.forget(option).await;
        }
        return Err(unavailable("PayPal refused the subscription", status, &answer));
    }
    if text(&answer, "custom_id").is_some_and(|c| c != request.payment_id.as_str()) {
        return Err(GatewayError::Unavailable(
            "PayPal's subscription names another payment (custom_id)".into(),
        ));
    }
    approval_link(&answer)
        .map(|location| HandOff::Redirect { location })
        .ok_or_else(|| GatewayError::Unavailable("PayPal's subscription has no approval link".into()))
}

/// Whether a button's receiver is the account the plans belong to (`paypal.business`, the account of the
/// REST credentials).
pub(crate) fn paid_to_the_plans_account(
    config: &PaypalConfig,
    button: &crate::button::ButtonConfig,
) -> Result<bool, GatewayError> {
    let receiver = receiver_for(config, button)?;
    Ok(config
        .business()
        .is_some_and(|b| b.as_str().eq_ignore_ascii_case(receiver.as_str())))
}

/// Why a recurring option cannot be paid to its button's receiver with Checkout.
pub(crate) fn not_the_plans_account() -> String {
    "a PayPal subscription (paypal.integration = \"checkout\") is paid to the account of the REST \
     credentials, paypal.business: payment_options.paypal.paypal_email must be that address or absent"
        .to_owned()
}

fn approval_link(subscription: &Value) -> Option<String> {
    subscription
        .get("links")?
        .as_array()?
        .iter()
        .find(|l| text(l, "rel") == Some("approve"))
        .and_then(|l| text(l, "href"))
        .filter(|href| href.starts_with("https://") || href.starts_with("http://"))
        .map(str::to_owned)
}

/// Whether a payment's subscription runs through the Subscriptions API (recorded from its webhooks).
pub(crate) fn runs_on_checkout(payment: &StoredPaymentFacts<'_>) -> bool {
    payment.details.get(INTEGRATION_DETAIL).and_then(Value::as_str) == Some("checkout")
}

/// Whether this service can cancel this Checkout subscription. No network.
pub(crate) fn check_cancel(
    config: &PaypalConfig,
    has_client: bool,
    payment: &StoredPaymentFacts<'_>,
) -> Result<(), String> {
    if config.rest_credentials().is_none() || config.api_url().is_none() || !has_client {
        return Err(
            "cancelling a PayPal subscription needs the REST credentials (paypal.client_id, \
                    paypal.client_secret): cancel it at PayPal"
                .to_owned(),
        );
    }
    crate::paypal::refund::same_account(config, payment.receiver, "cancel")?;
    match payment.gateway_subscription_id {
        Some(id) if is_paypal_id(id) => Ok(()),
        Some(_) => Err("the recorded subscription id is not one PayPal gives".to_owned()),
        None => Err("PayPal has not named this payment's subscription yet: nothing to cancel".to_owned()),
    }
}

/// `POST /v1/billing/subscriptions/{id}/cancel`. PayPal answers 204; its `BILLING.SUBSCRIPTION.CANCELLED`
/// webhook follows, with the same key.
pub(crate) async fn cancel(api: &PaypalApi, config: &PaypalConfig, request: &CancelRequest<'_>) -> CancelAttempt {
    let mut calls = Vec::new();
    let checked = check_cancel(config, true, &request.payment);
    let (Ok(()), Some(id)) = (checked.clone(), request.payment.gateway_subscription_id) else {
        return CancelAttempt {
            calls,
            answer: CancelAnswer::Failed {
                reason: checked.err().unwrap_or_default(),
            },
        };
    };
    let reason = request
        .reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("Cancelled at the merchant's request")
        .chars()
        .take(128)
        .collect::<String>();
    let sent = call(
        api,
        config,
        Call::post(
            &format!("/v1/billing/subscriptions/{id}/cancel"),
            format!("{}-cancel-{id}", request.payment.payment_id),
            json!({ "reason": reason }),
        ),
        &mut calls,
    )
    .await;
    let answer = match sent {
        Ok((status, body)) => read_cancel_answer(id, status, &body),
        Err(reason) => CancelAnswer::Retry { reason },
    };
    CancelAttempt { calls, answer }
}

/// What PayPal's answer to a cancellation means.
pub(crate) fn read_cancel_answer(id: &str, status: u16, body: &Value) -> CancelAnswer {
    match status {
        200..=299 => CancelAnswer::Cancelled {
            idempotency_key: format!("subscr_cancel:{id}"),
        },
        429 | 500..=599 => CancelAnswer::Retry {
            reason: rest_error(status, body.to_string().as_bytes()),
        },
        _ => CancelAnswer::Failed {
            reason: format!(
                "PayPal refused to cancel the subscription: {}",
                rest_error(status, body.to_string().as_bytes())
            ),
        },
    }
}

/// Our payment id in a subscription event's resource: a subscription's `custom_id`, a sale's `custom`.
pub(crate) fn payment_ref(resource: &Value) -> Option<&str> {
    text(resource, "custom_id").or_else(|| text(resource, "custom"))
}

/// Whether an event is one of the subscription events read here.
pub(crate) fn is_subscription_event(event_type: &str) -> bool {
    event_type.starts_with("BILLING.SUBSCRIPTION.")
        || matches!(
            event_type,
            "PAYMENT.SALE.COMPLETED" | "PAYMENT.SALE.REFUNDED" | "PAYMENT.SALE.REVERSED"
        )
}

/// `PAYMENT.SALE.REFUNDED` / `.REVERSED` of a subscription's sale, as Payments Standard's `Refunded` /
/// `Reversed` IPN of a `subscr_payment`: the cycle paid by the sale (`sale_id`) is refunded by the amount
/// stated, under the key `{refund id}:Refunded` (`:Reversed`), the key of the refund call's answer.
/// `Ok(None)` for a refund of a sale that is no subscription's.
fn sale_refund(
    config: &PaypalConfig,
    event: &WebhookEvent,
    mut details: serde_json::Map<String, Value>,
    test: bool,
) -> Result<Option<Notification>, String> {
    let r = &event.resource;
    let Some(subscription) = text(r, "billing_agreement_id") else {
        return Ok(None);
    };
    let id = text(r, "id").ok_or("the refund has no id")?;
    let sale = text(r, "sale_id").ok_or("the refund names no sale (sale_id)")?;
    let amount = r.get("amount").ok_or("the refund has no amount")?;
    let value = text(amount, "total").ok_or("no amount.total")?;
    let currency = text(amount, "currency").ok_or("no amount.currency")?;
    // PayPal may state the money going back as a negative total: the refund is its size.
    let amount = Money::parse(value, currency)
        .map_err(|e| format!("amount {value} {currency}: {e}"))?
        .abs();
    let word = if event.event_type == "PAYMENT.SALE.REVERSED" {
        "Reversed"
    } else {
        "Refunded"
    };
    details.insert("subscr_id".into(), subscription.into());
    details.insert("refund_id".into(), id.into());
    details.insert("payment_status".into(), word.into());
    Ok(Some(Notification {
        payment_ref: payment_ref(r).map(str::to_owned),
        target: Target::SubscriptionCycle,
        outcome: Some(Outcome::Refunded { amount: Some(amount) }),
        idempotency_key: format!("{id}:{word}"),
        gateway_reference: Some(sale.to_owned()),
        subscription: Some(SubscriptionRef {
            id: subscription.to_owned(),
            may_record: false,
        }),
        amount: Some(amount),
        receiver: config.business().map(|b| b.as_str().to_owned()),
        test,
        details,
        flags: Vec::new(),
        summary: format!("{} {id} of sale {sale}", word.to_lowercase()),
    }))
}

/// What a verified subscription event means, or why it changes nothing. `Ok(None)`: an event of the
/// family that is not acted on (a sale that is no subscription's, `BILLING.SUBSCRIPTION.CREATED`...).
pub(crate) fn read_event(
    config: &PaypalConfig,
    event: &WebhookEvent,
    test: bool,
) -> Result<Option<Notification>, String> {
    let r = &event.resource;
    let mut details = serde_json::Map::new();
    details.insert(INTEGRATION_DETAIL.into(), "checkout".into());
    if matches!(
        event.event_type.as_str(),
        "PAYMENT.SALE.REFUNDED" | "PAYMENT.SALE.REVERSED"
    ) {
        return sale_refund(config, event, details, test);
    }
    if event.event_type == "PAYMENT.SALE.COMPLETED" {
        // A sale of a subscription names it; any other sale is not about one of our subscriptions.
        let Some(subscription) = text(r, "billing_agreement_id") else {
            return Ok(None);
        };
        let sale = text(r, "id").ok_or("the sale has no id")?;
        let state = text(r, "state").unwrap_or("completed");
        if !state.eq_ignore_ascii_case("completed") {
            return Err(format!("a PAYMENT.SALE.COMPLETED whose sale is {state}"));
        }
        let amount = r.get("amount").ok_or("the sale has no amount")?;
        let value = text(amount, "total").ok_or("no amount.total")?;
        let currency = text(amount, "currency").ok_or("no amount.currency")?;
        let amount = Money::parse(value, currency).map_err(|e| format!("amount {value} {currency}: {e}"))?;
        details.insert("subscr_id".into(), subscription.into());
        details.insert("payment_status".into(), "Completed".into());
        details.insert("txn_type".into(), "subscr_payment".into());
        return Ok(Some(Notification {
            payment_ref: payment_ref(r).map(str::to_owned),
            target: Target::SubscriptionCycle,
            outcome: Some(Outcome::Accepted),
            // The key of Payments Standard's `subscr_payment` IPN of the same transaction.
            idempotency_key: format!("{sale}:Completed"),
            gateway_reference: Some(sale.to_owned()),
            subscription: Some(SubscriptionRef {
                id: subscription.to_owned(),
                may_record: true,
            }),
            amount: Some(amount),
            // A sale names no payee: a subscription's sales go to the account that owns its plan, the
            // account of our REST credentials (`paypal.business`), whose webhook signed this event.
            receiver: config.business().map(|b| b.as_str().to_owned()),
            test,
            details,
            flags: Vec::new(),
            summary: format!("sale {sale} of subscription {subscription}"),
        }));
    }
    let id = text(r, "id").ok_or("the subscription has no id")?;
    details.insert("subscr_id".into(), id.into());
    if let Some(plan) = text(r, "plan_id") {
        details.insert("plan_id".into(), plan.into());
    }
    if event.event_type == "BILLING.SUBSCRIPTION.PAYMENT.FAILED" {
        return failed_cycle(config, event, id, details, test).map(Some);
    }
    let (kind, outcome, may_record, key) = match event.event_type.as_str() {
        // Sent when the buyer approves, and again whenever a suspended subscription is reactivated: each
        // activation is recorded once (a resend is a duplicate), keyed by the time PayPal says the status
        // changed, or, when it does not say, by the event (a resend keeps its id).
        "BILLING.SUBSCRIPTION.ACTIVATED" => {
            let activation = text(r, "status_update_time").unwrap_or(&event.id);
            ("subscr_signup", None, true, format!("subscr_signup:{id}:{activation}"))
        }
        "BILLING.SUBSCRIPTION.CANCELLED" => (
            "subscr_cancel",
            Some(Outcome::SubscriptionCancelled),
            false,
            format!("subscr_cancel:{id}"),
        ),
        "BILLING.SUBSCRIPTION.EXPIRED" => (
            "subscr_eot",
            Some(Outcome::SubscriptionCancelled),
            false,
            format!("subscr_eot:{id}"),
        ),
        // Payments stop until the merchant reactivates it: recorded, no state change (as `subscr_modify`).
        "BILLING.SUBSCRIPTION.SUSPENDED" => (
            "subscr_suspended",
            None,
            false,
            format!("subscr_suspended:{}", event.id),
        ),
        _ => return Ok(None),
    };
    if let Some(status) = text(r, "status") {
        details.insert("subscription_status".into(), status.into());
    }
    Ok(Some(Notification {
        payment_ref: payment_ref(r).map(str::to_owned),
        target: Target::Payment,
        outcome,
        idempotency_key: key,
        gateway_reference: None,
        subscription: Some(SubscriptionRef {
            id: id.to_owned(),
            may_record,
        }),
        amount: None,
        // As for a sale: the subscription is the plan owner's, the account whose webhook signed this.
        receiver: config.business().map(|b| b.as_str().to_owned()),
        test,
        details,
        flags: Vec::<Flag>::new(),
        summary: format!("{} ({kind}) {id}", event.event_type),
    }))
}

/// `BILLING.SUBSCRIPTION.PAYMENT.FAILED`: a cycle PayPal could not collect, as Payments Standard's
/// `subscr_failed`: a declined cycle of its own (the subscription itself goes on: PayPal retries, then
/// suspends it after the plan's failure threshold, which arrives as `SUSPENDED`). Keyed by the failed
/// payment's time, so that a resend of the event is a duplicate and the next failure is not.
fn failed_cycle(
    config: &PaypalConfig,
    event: &WebhookEvent,
    id: &str,
    mut details: serde_json::Map<String, Value>,
    test: bool,
) -> Result<Notification, String> {
    let r = &event.resource;
    let failed = r.get("billing_info").and_then(|b| b.get("last_failed_payment"));
    let at = failed.and_then(|f| text(f, "time")).unwrap_or(&event.id);
    let amount = failed
        .and_then(|f| f.get("amount"))
        .map(|a| {
            let value = text(a, "value").ok_or("no last_failed_payment.amount.value")?;
            let currency = text(a, "currency_code").ok_or("no last_failed_payment.amount.currency_code")?;
            Money::parse(value, currency).map_err(|e| format!("amount {value} {currency}: {e}"))
        })
        .transpose()?;
    if let Some(reason) = failed.and_then(|f| text(f, "reason_code")) {
        details.insert("reason_code".into(), reason.into());
    }
    details.insert("txn_type".into(), "subscr_failed".into());
    Ok(Notification {
        payment_ref: payment_ref(r).map(str::to_owned),
        target: Target::SubscriptionCycle,
        outcome: Some(Outcome::Declined),
        idempotency_key: format!("subscr_failed:{id}:{at}"),
        gateway_reference: None,
        subscription: Some(SubscriptionRef {
            id: id.to_owned(),
            may_record: false,
        }),
        amount,
        receiver: config.business().map(|b| b.as_str().to_owned()),
        test,
        details,
        flags: Vec::new(),
        summary: format!("{} (subscr_failed) {id}", event.event_type),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::button::ButtonConfig;
    use crate::paypal::config::{PaypalIntegration, PaypalMode, PaypalOverrides};

    fn config() -> PaypalConfig {
        PaypalConfig::new(
            PaypalMode::Sandbox,
            PaypalOverrides {
                business: Some("seller@example.com".into()),
                integration: Some(PaypalIntegration::Checkout),
                client_id: Some("client".into()),
                client_secret: Some(crate::paypal::config::ApiSecret::new("secret")),
                webhook_id: Some("WH-ID".into()),
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn monthly(amount: &str, months: u8) -> ButtonConfig {
        ButtonConfig::from_json(
            &json!({"order_reference": "O-1", "options": [{"description": "Supporter", "amount": amount,
                "currency": "EUR", "recurrence_months": months}], "payment_options": {"paypal": {}},
                "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}})
            .to_string(),
        )
        .unwrap()
    }

    fn event(kind: &str, resource: Value) -> WebhookEvent {
        WebhookEvent {
            id: "WH-1".into(),
            event_type: kind.into(),
            resource,
        }
    }

    #[test]
    fn options_with_the_same_amount_currency_and_period_share_a_product() {
        let a = monthly("5.00", 1);
        let b = monthly("5.00", 1);
        let c = monthly("5.00", 3);
        assert_eq!(product_id(&a.options()[0]).unwrap(), "LIBREMENT-EUR-500-1M");
        assert_eq!(
            product_id(&a.options()[0]).unwrap(),
            product_id(&b.options()[0]).unwrap()
        );
        assert_ne!(
            product_id(&a.options()[0]).unwrap(),
            product_id(&c.options()[0]).unwrap()
        );
    }

    #[test]
    fn a_plan_charges_the_option_every_n_months_until_cancelled() {
        let button = monthly("5.00", 3);
        let plan = plan_body("LIBREMENT-EUR-500-3M", &button.options()[0]).unwrap();
        assert_eq!(plan["billing_cycles"][0]["frequency"]["interval_count"], 3);
        assert_eq!(plan["billing_cycles"][0]["total_cycles"], 0);
        assert_eq!(
            plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"],
            json!({"value": "5.00", "currency_code": "EUR"})
        );
        let too_long = monthly("5.00", 13);
        assert!(plan_body("X", &too_long.options()[0]).is_err());
    }

    #[test]
    fn a_listed_plan_with_other_terms_is_not_the_options_plan() {
        let listed = json!({"billing_cycles": [{"tenure_type": "REGULAR",
            "frequency": {"interval_unit": "MONTH", "interval_count": 1},
            "pricing_scheme": {"fixed_price": {"value": "9.00", "currency_code": "EUR"}}}]});
        assert_eq!(plan_terms(&listed), Some((Money::parse("9.00", "EUR").unwrap(), 1)));
    }

    #[test]
    fn a_sale_of_a_subscription_is_a_cycle_keyed_as_the_subscr_payment_ipn() {
        let sale = event(
            "PAYMENT.SALE.COMPLETED",
            json!({"id": "80021663DE681814L", "state": "completed", "billing_agreement_id": "I-PE7JWXKGVN0R",
                "custom": "Xk3f9QpL2mZa", "amount": {"total": "5.00", "currency": "EUR"}}),
        );
        let n = read_event(&config(), &sale, true).unwrap().unwrap();
        assert_eq!(n.target, Target::SubscriptionCycle);
        assert_eq!(n.outcome, Some(Outcome::Accepted));
        assert_eq!(n.idempotency_key, "80021663DE681814L:Completed");
        assert_eq!(n.payment_ref.as_deref(), Some("Xk3f9QpL2mZa"));
        assert_eq!(n.amount, Some(Money::parse("5.00", "EUR").unwrap()));
        assert_eq!(n.receiver.as_deref(), Some("seller@example.com"));
        let sub = n.subscription.unwrap();
        assert_eq!((sub.id.as_str(), sub.may_record), ("I-PE7JWXKGVN0R", true));
    }

    #[test]
    fn a_sale_that_is_no_subscriptions_is_not_acted_on_and_one_without_amount_is_unusable() {
        let plain = event("PAYMENT.SALE.COMPLETED", json!({"id": "S1", "state": "completed"}));
        assert_eq!(read_event(&config(), &plain, true), Ok(None));
        let no_amount = event(
            "PAYMENT.SALE.COMPLETED",
            json!({"id": "S1", "billing_agreement_id": "I-1", "custom": "Xk3f9QpL2mZa"}),
        );
        assert!(read_event(&config(), &no_amount, true).is_err());
    }

    #[test]
    fn subscription_events_map_to_the_standard_signup_cancel_and_end_of_term() {
        let resource =
            json!({"id": "I-PE7JWXKGVN0R", "status": "ACTIVE", "custom_id": "Xk3f9QpL2mZa", "plan_id": "P-1"});
        let activated = read_event(
            &config(),
            &event("BILLING.SUBSCRIPTION.ACTIVATED", resource.clone()),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(activated.outcome, None);
        assert_eq!(activated.idempotency_key, "subscr_signup:I-PE7JWXKGVN0R:WH-1");
        assert!(activated.subscription.as_ref().unwrap().may_record);
        assert_eq!(activated.details[INTEGRATION_DETAIL], "checkout");
        let cancelled = read_event(
            &config(),
            &event("BILLING.SUBSCRIPTION.CANCELLED", resource.clone()),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(cancelled.outcome, Some(Outcome::SubscriptionCancelled));
        // Checked against the payment's receiver like any message that changes a state.
        assert_eq!(cancelled.receiver.as_deref(), Some("seller@example.com"));
        assert_eq!(cancelled.idempotency_key, "subscr_cancel:I-PE7JWXKGVN0R");
        assert!(!cancelled.subscription.as_ref().unwrap().may_record);
        let expired = read_event(
            &config(),
            &event("BILLING.SUBSCRIPTION.EXPIRED", resource.clone()),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(expired.idempotency_key, "subscr_eot:I-PE7JWXKGVN0R");
        let suspended = read_event(&config(), &event("BILLING.SUBSCRIPTION.SUSPENDED", resource), true)
            .unwrap()
            .unwrap();
        assert_eq!(suspended.outcome, None);
        assert!(!suspended.subscription.unwrap().may_record);
    }

    #[test]
    fn a_refund_or_reversal_of_a_subscriptions_sale_refunds_its_cycle_keyed_as_the_refund_answer() {
        let resource = json!({"id": "1JU08902781691411", "state": "completed", "sale_id": "80021663DE681814L",
            "amount": {"total": "-2.50", "currency": "EUR"}, "billing_agreement_id": "I-1", "custom": "Xk3f9QpL2mZa"});
        let refunded = read_event(&config(), &event("PAYMENT.SALE.REFUNDED", resource.clone()), true)
            .unwrap()
            .unwrap();
        assert_eq!(refunded.target, Target::SubscriptionCycle);
        assert_eq!(refunded.idempotency_key, "1JU08902781691411:Refunded");
        assert_eq!(refunded.gateway_reference.as_deref(), Some("80021663DE681814L"));
        let half = Money::parse("2.50", "EUR").unwrap();
        assert_eq!(refunded.outcome, Some(Outcome::Refunded { amount: Some(half) }));
        assert_eq!(refunded.amount, Some(half));
        assert_eq!(refunded.payment_ref.as_deref(), Some("Xk3f9QpL2mZa"));
        let named = refunded.subscription.unwrap();
        assert_eq!((named.id.as_str(), named.may_record), ("I-1", false));
        let reversed = read_event(&config(), &event("PAYMENT.SALE.REVERSED", resource.clone()), true)
            .unwrap()
            .unwrap();
        assert_eq!(reversed.idempotency_key, "1JU08902781691411:Reversed");

        let mut no_sale = resource.clone();
        no_sale.as_object_mut().unwrap().remove("sale_id");
        assert!(read_event(&config(), &event("PAYMENT.SALE.REFUNDED", no_sale), true).is_err());
        let mut plain = resource;
        plain.as_object_mut().unwrap().remove("billing_agreement_id");
        assert_eq!(
            read_event(&config(), &event("PAYMENT.SALE.REFUNDED", plain), true),
            Ok(None)
        );
    }

    #[test]
    fn each_activation_has_its_own_key_and_a_resend_the_same() {
        let activation = |event_id: &str, status_time: Option<&str>| {
            let mut resource = json!({"id": "I-1", "status": "ACTIVE", "custom_id": "Xk3f9QpL2mZa"});
            if let Some(time) = status_time {
                resource["status_update_time"] = json!(time);
            }
            let mut event = event("BILLING.SUBSCRIPTION.ACTIVATED", resource);
            event.id = event_id.to_owned();
            read_event(&config(), &event, true).unwrap().unwrap().idempotency_key
        };
        let first = activation("WH-A", Some("2026-12-01T10:00:00Z"));
        assert_eq!(first, "subscr_signup:I-1:2026-12-01T10:00:00Z");
        assert_eq!(activation("WH-A", Some("2026-12-01T10:00:00Z")), first, "a resend");
        assert_ne!(
            activation("WH-B", Some("2026-12-03T08:00:00Z")),
            first,
            "a reactivation"
        );
        // Without a status time, the event tells a reactivation from a resend.
        assert_eq!(activation("WH-C", None), activation("WH-C", None));
        assert_ne!(activation("WH-C", None), activation("WH-D", None));
    }

    #[test]
    fn a_cancellation_answer_carries_the_key_of_the_cancelled_webhook() {
        assert_eq!(
            read_cancel_answer("I-1", 204, &Value::Null),
            CancelAnswer::Cancelled {
                idempotency_key: "subscr_cancel:I-1".into()
            }
        );
        assert!(matches!(
            read_cancel_answer("I-1", 503, &Value::Null),
            CancelAnswer::Retry { .. }
        ));
        assert!(matches!(
            read_cancel_answer(
                "I-1",
                422,
                &json!({"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "SUBSCRIPTION_STATUS_INVALID"}]})
            ),
            CancelAnswer::Failed { .. }
        ));
    }

    #[test]
    fn ids_from_paypal_are_checked_before_they_reach_a_url() {
        assert!(is_paypal_id("I-PE7JWXKGVN0R"));
        assert!(!is_paypal_id("I-1/../../v1/oauth2/token"));
        assert!(!is_paypal_id(""));
    }
}
