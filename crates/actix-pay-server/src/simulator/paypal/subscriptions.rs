//! PayPal's Subscriptions API in the simulator (Checkout's subscriptions): catalog products
//! (`/v1/catalogs/products`), plans (`/v1/billing/plans`, listed by product), subscriptions
//! (`/v1/billing/subscriptions`: create, show, cancel), the buyer's approval page
//! (`GET /webapps/billing/subscriptions?ba_token=`, in the look of the order approval page), and the signed
//! webhooks PayPal sends: `BILLING.SUBSCRIPTION.ACTIVATED` then `PAYMENT.SALE.COMPLETED` on approval, a
//! `PAYMENT.SALE.COMPLETED` per later cycle ("Next payment" on the payments page), and
//! `BILLING.SUBSCRIPTION.CANCELLED` after a cancellation (through the API or the payments page).
//!
//! Like PayPal, it answers a repeated `PayPal-Request-Id` with its first answer. Everything is in memory.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::checkout::{Language, PeriodUnit, Recurrence};
use super::messages;
use super::orders::{
    ApprovalView, authorization, error, json_answer, own_base, render_approval, request_id, unauthorized,
};
use super::words::every;
use super::{ApiAnswer, PaypalSimulator, SimulatorError};

/// How many subscriptions are remembered.
const MAX_SUBSCRIPTIONS: usize = 10_000;
/// How many products and plans are remembered.
const MAX_PLANS: usize = 1_000;

#[derive(Debug, Clone)]
struct Product {
    id: String,
    name: String,
    request_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Plan {
    id: String,
    product_id: String,
    name: String,
    value: String,
    currency: String,
    months: u16,
    request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ApprovalPending,
    Active,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::ApprovalPending => "APPROVAL_PENDING",
            Status::Active => "ACTIVE",
            Status::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    plan_id: String,
    custom_id: String,
    request_id: Option<String>,
    ba_token: String,
    status: Status,
    return_url: String,
    cancel_url: String,
    locale: String,
    subscriber: Option<String>,
    /// The sales of its cycles, oldest first.
    sales: Vec<String>,
}

/// What the simulated Subscriptions API remembers.
#[derive(Debug, Default)]
pub(super) struct Billing {
    products: HashMap<String, Product>,
    plans: Vec<Plan>,
    subscriptions: HashMap<String, Subscription>,
    order: std::collections::VecDeque<String>,
}

/// A row of the payments page: one Checkout subscription.
#[derive(Debug, serde::Serialize)]
pub(super) struct SubscriptionRow {
    subscr_id: String,
    invoice: String,
    item_name: String,
    amount: String,
    currency: String,
    billing: String,
    status: &'static str,
    sales: Vec<String>,
    next_url: Option<String>,
    cancel_url: Option<String>,
}

fn not_found() -> ApiAnswer {
    error(
        404,
        "RESOURCE_NOT_FOUND",
        "INVALID_RESOURCE_ID",
        "Requested resource ID was not found.",
    )
}

fn malformed() -> ApiAnswer {
    error(
        400,
        "INVALID_REQUEST",
        "MALFORMED_REQUEST_JSON",
        "The request JSON is not well formed.",
    )
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn product_json(p: &Product, api: &str) -> Value {
    json!({"id": p.id, "name": p.name, "type": "SERVICE", "create_time": now(),
        "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v1/catalogs/products/{}", p.id)}]})
}

fn plan_json(p: &Plan, api: &str) -> Value {
    json!({"id": p.id, "product_id": p.product_id, "name": p.name, "status": "ACTIVE", "usage_type": "LICENSED",
        "billing_cycles": [{"frequency": {"interval_unit": "MONTH", "interval_count": p.months},
            "tenure_type": "REGULAR", "sequence": 1, "total_cycles": 0,
            "pricing_scheme": {"fixed_price": {"value": p.value, "currency_code": p.currency}}}],
        "payment_preferences": {"auto_bill_outstanding": true, "payment_failure_threshold": 1},
        "create_time": now(),
        "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v1/billing/plans/{}", p.id)}]})
}

fn subscription_json(s: &Subscription, plan: Option<&Plan>, api: &str) -> Value {
    let mut links =
        vec![json!({"rel": "self", "method": "GET", "href": format!("{api}/v1/billing/subscriptions/{}", s.id)})];
    if s.status == Status::ApprovalPending {
        links.insert(
            0,
            json!({"rel": "approve", "method": "GET",
                "href": format!("{api}/webapps/billing/subscriptions?ba_token={}", s.ba_token)}),
        );
    }
    let mut json = json!({"id": s.id, "plan_id": s.plan_id, "status": s.status.as_str(), "custom_id": s.custom_id,
        "quantity": "1", "create_time": now(), "links": links});
    if let Some(email) = &s.subscriber {
        json["subscriber"] = json!({"email_address": email});
    }
    if let (Some(plan), false) = (plan, s.sales.is_empty()) {
        json["billing_info"] = json!({"cycle_executions": [{"tenure_type": "REGULAR", "sequence": 1,
            "cycles_completed": s.sales.len(), "cycles_remaining": 0, "total_cycles": 0}],
            "last_payment": {"amount": {"currency_code": plan.currency, "value": plan.value}, "time": now()}});
    }
    json
}

fn sale_json(s: &Subscription, plan: &Plan, sale: &str, api: &str) -> Value {
    json!({"id": sale, "state": "completed",
        "amount": {"total": plan.value, "currency": plan.currency, "details": {"subtotal": plan.value}},
        "payment_mode": "INSTANT_TRANSFER", "protection_eligibility": "ELIGIBLE",
        "billing_agreement_id": s.id, "custom": s.custom_id, "create_time": now(), "update_time": now(),
        "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v1/payments/sale/{sale}")}]})
}

impl Billing {
    fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    fn by_token(&self, ba_token: &str) -> Option<&Subscription> {
        self.subscriptions.values().find(|s| s.ba_token == ba_token)
    }

    /// The payments page's rows, newest first.
    pub(super) fn rows(&self) -> Vec<SubscriptionRow> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.subscriptions.get(id))
            .filter(|s| s.status != Status::ApprovalPending)
            .map(|s| {
                let plan = self.plan(&s.plan_id);
                let url =
                    |action: &str| format!("{}/webapps/billing/subscriptions/{}/{action}", super::BASE_PATH, s.id);
                let active = s.status == Status::Active;
                SubscriptionRow {
                    subscr_id: s.id.clone(),
                    invoice: s.custom_id.clone(),
                    item_name: plan.map(|p| p.name.clone()).unwrap_or_default(),
                    amount: plan.map(|p| p.value.clone()).unwrap_or_default(),
                    currency: plan.map(|p| p.currency.clone()).unwrap_or_default(),
                    billing: plan
                        .map(|p| every(Language::English, monthly(p.months)))
                        .unwrap_or_default(),
                    status: s.status.as_str(),
                    sales: s.sales.clone(),
                    next_url: active.then(|| url("next")),
                    cancel_url: active.then(|| url("end")),
                }
            })
            .collect()
    }
}

fn monthly(months: u16) -> Recurrence {
    Recurrence {
        count: months.max(1),
        unit: PeriodUnit::Month,
    }
}

impl PaypalSimulator {
    fn billing(&self) -> std::sync::MutexGuard<'_, Billing> {
        self.billing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The payments page's rows of Checkout subscriptions.
    pub(super) fn subscription_rows(&self) -> Vec<SubscriptionRow> {
        self.billing().rows()
    }

    /// `POST /v1/catalogs/products`.
    fn create_product(
        &self,
        authorization: Option<&str>,
        request_id: Option<&str>,
        body: &[u8],
        api: &str,
    ) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let mut billing = self.billing();
        if let Some(p) = billing
            .products
            .values()
            .find(|p| request_id.is_some() && p.request_id.as_deref() == request_id)
        {
            return ApiAnswer {
                status: 201,
                body: product_json(p, api),
            };
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return malformed();
        };
        let name = request["name"].as_str().unwrap_or_default();
        if name.is_empty() || request["type"].as_str().is_none() {
            return error(
                400,
                "INVALID_REQUEST",
                "MISSING_REQUIRED_PARAMETER",
                "name and type are required.",
            );
        }
        let id = request["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("PROD-{}", messages::new_txn_id()));
        if billing.products.contains_key(&id) {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "DUPLICATE_RESOURCE_IDENTIFIER",
                "A product with this id already exists.",
            );
        }
        if billing.products.len() >= MAX_PLANS {
            return error(429, "RATE_LIMIT_REACHED", "RATE_LIMIT_REACHED", "Too many products.");
        }
        let product = Product {
            id: id.clone(),
            name: name.to_owned(),
            request_id: request_id.map(str::to_owned),
        };
        let body = product_json(&product, api);
        billing.products.insert(id, product);
        ApiAnswer { status: 201, body }
    }

    fn show_product(&self, authorization: Option<&str>, id: &str, api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        match self.billing().products.get(id) {
            Some(p) => ApiAnswer {
                status: 200,
                body: product_json(p, api),
            },
            None => not_found(),
        }
    }

    /// `POST /v1/billing/plans`: one fixed-price regular cycle every 1 to 12 months.
    fn create_plan(&self, authorization: Option<&str>, request_id: Option<&str>, body: &[u8], api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let mut billing = self.billing();
        if let Some(p) = billing
            .plans
            .iter()
            .find(|p| request_id.is_some() && p.request_id.as_deref() == request_id)
        {
            return ApiAnswer {
                status: 201,
                body: plan_json(p, api),
            };
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return malformed();
        };
        let product_id = request["product_id"].as_str().unwrap_or_default();
        if !billing.products.contains_key(product_id) {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "INVALID_PRODUCT_ID",
                "The product id is invalid.",
            );
        }
        let cycle = &request["billing_cycles"][0];
        let price = &cycle["pricing_scheme"]["fixed_price"];
        let value = price["value"].as_str().unwrap_or_default();
        let currency = price["currency_code"].as_str().unwrap_or_default();
        let months = cycle["frequency"]["interval_count"].as_u64().unwrap_or(0);
        if cycle["frequency"]["interval_unit"] != "MONTH" || !(1..=12).contains(&months) {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "INVALID_INTERVAL_COUNT",
                "interval_count must be 1 to 12 months.",
            );
        }
        if payment_buttons::money::Money::parse(value, currency).is_err() {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "INVALID_PARAMETER_VALUE",
                "The price is not valid.",
            );
        }
        if billing.plans.len() >= MAX_PLANS {
            return error(429, "RATE_LIMIT_REACHED", "RATE_LIMIT_REACHED", "Too many plans.");
        }
        let plan = Plan {
            id: format!("P-{}", messages::new_subscr_id().trim_start_matches("I-")),
            product_id: product_id.to_owned(),
            name: request["name"].as_str().unwrap_or(product_id).to_owned(),
            value: value.to_owned(),
            currency: currency.to_owned(),
            months: months as u16,
            request_id: request_id.map(str::to_owned),
        };
        let body = plan_json(&plan, api);
        billing.plans.push(plan);
        ApiAnswer { status: 201, body }
    }

    /// `GET /v1/billing/plans?product_id=`.
    fn list_plans(&self, authorization: Option<&str>, product_id: Option<&str>, api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let billing = self.billing();
        let plans: Vec<Value> = billing
            .plans
            .iter()
            .filter(|p| product_id.is_none_or(|id| p.product_id == id))
            .map(|p| plan_json(p, api))
            .collect();
        ApiAnswer {
            status: 200,
            body: json!({"plans": plans, "links": [{"rel": "self", "method": "GET", "href": format!("{api}/v1/billing/plans")}]}),
        }
    }

    /// `POST /v1/billing/subscriptions`: `APPROVAL_PENDING`, with its `approve` link.
    fn create_subscription(
        &self,
        authorization: Option<&str>,
        request_id: Option<&str>,
        body: &[u8],
        api: &str,
    ) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let mut billing = self.billing();
        if let Some(s) = billing
            .subscriptions
            .values()
            .find(|s| request_id.is_some() && s.request_id.as_deref() == request_id)
        {
            return ApiAnswer {
                status: 201,
                body: subscription_json(s, billing.plan(&s.plan_id), api),
            };
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return malformed();
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let context = &request["application_context"];
        let subscription = Subscription {
            id: messages::new_subscr_id(),
            plan_id: text(&request["plan_id"]),
            custom_id: text(&request["custom_id"]),
            request_id: request_id.map(str::to_owned),
            ba_token: format!("BA-{}", messages::new_txn_id()),
            status: Status::ApprovalPending,
            return_url: text(&context["return_url"]),
            cancel_url: text(&context["cancel_url"]),
            locale: text(&context["locale"]),
            subscriber: request["subscriber"]["email_address"].as_str().map(str::to_owned),
            sales: Vec::new(),
        };
        if billing.plan(&subscription.plan_id).is_none() {
            return error(
                422,
                "UNPROCESSABLE_ENTITY",
                "RESOURCE_NOT_FOUND",
                "The plan does not exist or is not active.",
            );
        }
        if subscription.return_url.is_empty() || subscription.cancel_url.is_empty() {
            return error(
                400,
                "INVALID_REQUEST",
                "MISSING_REQUIRED_PARAMETER",
                "return_url and cancel_url are required.",
            );
        }
        if billing.subscriptions.len() >= MAX_SUBSCRIPTIONS
            && let Some(old) = billing.order.pop_front()
        {
            billing.subscriptions.remove(&old);
        }
        let body = subscription_json(&subscription, billing.plan(&subscription.plan_id), api);
        billing.order.push_back(subscription.id.clone());
        billing.subscriptions.insert(subscription.id.clone(), subscription);
        ApiAnswer { status: 201, body }
    }

    fn show_subscription(&self, authorization: Option<&str>, id: &str, api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        let billing = self.billing();
        match billing.subscriptions.get(id) {
            Some(s) => ApiAnswer {
                status: 200,
                body: subscription_json(s, billing.plan(&s.plan_id), api),
            },
            None => not_found(),
        }
    }

    /// `POST /v1/billing/subscriptions/{id}/cancel`: 204, then `BILLING.SUBSCRIPTION.CANCELLED`. Only an
    /// active subscription can be cancelled (`SUBSCRIPTION_STATUS_INVALID` otherwise, as PayPal answers).
    fn api_cancel_subscription(self: &Arc<Self>, authorization: Option<&str>, id: &str, api: &str) -> ApiAnswer {
        if !self.bearer_valid(authorization) {
            return unauthorized();
        }
        match self.end_subscription(id, api) {
            Ok(()) => ApiAnswer {
                status: 204,
                body: Value::Null,
            },
            Err(None) => not_found(),
            Err(Some(status)) => error(
                422,
                "UNPROCESSABLE_ENTITY",
                "SUBSCRIPTION_STATUS_INVALID",
                &format!("Invalid subscription status for cancel action; subscription is {status}."),
            ),
        }
    }

    /// Cancels an active subscription and sends `BILLING.SUBSCRIPTION.CANCELLED`. `Err(None)`: unknown;
    /// `Err(Some(status))`: not active.
    fn end_subscription(self: &Arc<Self>, id: &str, api: &str) -> Result<(), Option<&'static str>> {
        let mut billing = self.billing();
        let s = billing.subscriptions.get_mut(id).ok_or(None)?;
        if s.status != Status::Active {
            return Err(Some(s.status.as_str()));
        }
        s.status = Status::Cancelled;
        let s = s.clone();
        let resource = subscription_json(&s, billing.plan(&s.plan_id), api);
        drop(billing);
        self.spawn_webhooks(vec![("BILLING.SUBSCRIPTION.CANCELLED", "subscription", resource)]);
        Ok(())
    }

    /// The buyer approves: `ACTIVE`, `BILLING.SUBSCRIPTION.ACTIVATED` then the first cycle's
    /// `PAYMENT.SALE.COMPLETED`, and the buyer goes back to the return URL with `subscription_id`,
    /// `ba_token` and `token`, as PayPal sends them.
    fn approve_subscription(self: &Arc<Self>, id: &str, api: &str) -> Option<String> {
        let mut billing = self.billing();
        let plan = billing.plan(&billing.subscriptions.get(id)?.plan_id).cloned()?;
        let s = billing.subscriptions.get_mut(id)?;
        let mut hooks = Vec::new();
        if s.status == Status::ApprovalPending {
            s.status = Status::Active;
            let sale = messages::new_txn_id();
            s.sales.push(sale.clone());
            let s = s.clone();
            hooks.push((
                "BILLING.SUBSCRIPTION.ACTIVATED",
                "subscription",
                subscription_json(&s, Some(&plan), api),
            ));
            hooks.push(("PAYMENT.SALE.COMPLETED", "sale", sale_json(&s, &plan, &sale, api)));
        }
        let s = billing.subscriptions.get(id)?;
        let back = format!(
            "{}{}subscription_id={}&ba_token={}&token={}",
            s.return_url,
            if s.return_url.contains('?') { '&' } else { '?' },
            s.id,
            s.ba_token,
            messages::new_checkout_id()
        );
        drop(billing);
        self.spawn_webhooks(hooks);
        Some(back)
    }

    /// The next cycle of an active subscription: a new sale and its `PAYMENT.SALE.COMPLETED`.
    fn next_cycle(self: &Arc<Self>, id: &str, api: &str) -> Result<(), SimulatorError> {
        let mut billing = self.billing();
        let plan_id = billing
            .subscriptions
            .get(id)
            .map(|s| s.plan_id.clone())
            .ok_or_else(|| SimulatorError::UnknownSubscription(id.to_owned()))?;
        let plan = billing
            .plan(&plan_id)
            .cloned()
            .ok_or_else(|| SimulatorError::UnknownSubscription(id.to_owned()))?;
        let s = billing
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| SimulatorError::UnknownSubscription(id.to_owned()))?;
        if s.status != Status::Active {
            return Err(SimulatorError::WrongState(format!(
                "subscription {id} is not active: it cannot be charged"
            )));
        }
        let sale = messages::new_txn_id();
        s.sales.push(sale.clone());
        let resource = sale_json(s, &plan, &sale, api);
        drop(billing);
        self.spawn_webhooks(vec![("PAYMENT.SALE.COMPLETED", "sale", resource)]);
        Ok(())
    }
}

async fn create_product(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let api = own_base(&req, "/v1/catalogs/products");
    json_answer(sim.create_product(authorization(&req), request_id(&req), &body, &api))
}

async fn show_product(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/v1/catalogs/products/{id}"));
    json_answer(sim.show_product(authorization(&req), &id, &api))
}

async fn create_plan(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let api = own_base(&req, "/v1/billing/plans");
    json_answer(sim.create_plan(authorization(&req), request_id(&req), &body, &api))
}

#[derive(serde::Deserialize)]
struct PlanQuery {
    product_id: Option<String>,
}

async fn list_plans(sim: web::Data<PaypalSimulator>, req: HttpRequest, query: web::Query<PlanQuery>) -> HttpResponse {
    let api = own_base(&req, "/v1/billing/plans");
    json_answer(sim.list_plans(authorization(&req), query.product_id.as_deref(), &api))
}

async fn create_subscription(sim: web::Data<PaypalSimulator>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let api = own_base(&req, "/v1/billing/subscriptions");
    json_answer(sim.create_subscription(authorization(&req), request_id(&req), &body, &api))
}

async fn show_subscription(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/v1/billing/subscriptions/{id}"));
    json_answer(sim.show_subscription(authorization(&req), &id, &api))
}

async fn cancel_subscription(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/v1/billing/subscriptions/{id}/cancel"));
    let sim = sim.into_inner();
    json_answer(sim.api_cancel_subscription(authorization(&req), &id, &api))
}

#[derive(serde::Deserialize)]
struct BaTokenQuery {
    ba_token: String,
}

/// `GET /webapps/billing/subscriptions?ba_token=`: the buyer's approval page.
async fn approval_page(sim: web::Data<PaypalSimulator>, query: web::Query<BaTokenQuery>) -> HttpResponse {
    let found = {
        let billing = sim.billing();
        billing
            .by_token(&query.ba_token)
            .filter(|s| s.status == Status::ApprovalPending)
            .and_then(|s| Some((s.clone(), billing.plan(&s.plan_id)?.clone())))
    };
    let Some((s, plan)) = found else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such subscription waiting for approval\n");
    };
    let language = Language::from_lc(&s.locale.replace('-', "_"));
    let view = ApprovalView {
        business: sim
            .plans_account()
            .unwrap_or_else(|| "the account of the REST credentials".to_owned()),
        item_name: plan.name.clone(),
        amount: plan.value.clone(),
        currency: plan.currency.clone(),
        billing: Some(every(language, monthly(plan.months))),
        invoice: s.custom_id.clone(),
        pay_url: format!("subscriptions/{}/approve", s.id),
        cancel_url: format!("subscriptions/{}/cancel", s.id),
        subscription: true,
    };
    render_approval(&sim, language, &view)
}

async fn approve(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/webapps/billing/subscriptions/{id}/approve"));
    let sim = sim.into_inner();
    match sim.approve_subscription(&id, &api) {
        Some(back) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .finish(),
        None => HttpResponse::NotFound().body("no such subscription\n"),
    }
}

/// The buyer cancels on the approval page: back to the cancel URL, nothing sent.
async fn buyer_cancel(sim: web::Data<PaypalSimulator>, id: web::Path<String>) -> HttpResponse {
    let back = sim.billing().subscriptions.get(id.as_str()).map(|s| {
        format!(
            "{}{}ba_token={}",
            s.cancel_url,
            if s.cancel_url.contains('?') { '&' } else { '?' },
            s.ba_token
        )
    });
    match back {
        Some(back) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .finish(),
        None => HttpResponse::NotFound().body("no such subscription\n"),
    }
}

/// `POST /webapps/billing/subscriptions/{id}/next` (payments page): the next cycle.
async fn next(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/webapps/billing/subscriptions/{id}/next"));
    let sim = sim.into_inner();
    let result = sim.next_cycle(&id, &api);
    super::handlers::after_action(&sim, result)
}

/// `POST /webapps/billing/subscriptions/{id}/end` (payments page): the buyer cancels at PayPal.
async fn end(sim: web::Data<PaypalSimulator>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let api = own_base(&req, &format!("/webapps/billing/subscriptions/{id}/end"));
    let sim = sim.into_inner();
    let result = sim.end_subscription(&id, &api).map_err(|status| match status {
        None => SimulatorError::UnknownSubscription(id.to_string()),
        Some(status) => SimulatorError::WrongState(format!("subscription {id} is {status}: it cannot be cancelled")),
    });
    super::handlers::after_action(&sim, result)
}

/// The Subscriptions API's routes, inside the simulator's scope.
pub(super) fn routes(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/v1/catalogs/products", web::post().to(create_product))
        .route("/v1/catalogs/products/{id}", web::get().to(show_product))
        .route("/v1/billing/plans", web::post().to(create_plan))
        .route("/v1/billing/plans", web::get().to(list_plans))
        .route("/v1/billing/subscriptions", web::post().to(create_subscription))
        .route("/v1/billing/subscriptions/{id}", web::get().to(show_subscription))
        .route(
            "/v1/billing/subscriptions/{id}/cancel",
            web::post().to(cancel_subscription),
        )
        .route("/webapps/billing/subscriptions", web::get().to(approval_page))
        .route("/webapps/billing/subscriptions/{id}/approve", web::post().to(approve))
        .route(
            "/webapps/billing/subscriptions/{id}/cancel",
            web::post().to(buyer_cancel),
        )
        .route("/webapps/billing/subscriptions/{id}/next", web::post().to(next))
        .route("/webapps/billing/subscriptions/{id}/end", web::post().to(end))
}
