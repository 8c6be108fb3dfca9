//! PayPal Checkout over HTTP, with the server assembled as `librement-server serve` assembles it in simulator
//! mode with `paypal.integration = "checkout"`: the buyer's browser is a plain HTTP client following the
//! redirects by hand, and the simulator sends its signed webhooks to the server's real route.

use std::sync::Arc;
use std::time::Duration;

use actix_pay_server::config::Config;
use actix_pay_server::serve::{Assembled, assemble};
use actix_pay_server::store::ServerStore;
use actix_web::{App, HttpServer};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::RefundOrder;
use payment_buttons::event::EventKind;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::refund::RefundOrigin;
use payment_buttons::store::{Direction, Store};
use payment_buttons::token::ButtonSigner;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

struct Shop {
    public: String,
    assembled: Assembled,
    browser: reqwest::Client,
    _dir: tempfile::TempDir,
    _server: actix_web::dev::ServerHandle,
    _workers: payment_buttons::actix::Workers,
}

impl Shop {
    async fn start() -> Shop {
        Shop::start_with(&[]).await
    }

    /// The shop with these `PAY_*` settings on top of simulated Checkout.
    async fn start_with(extra: &[(&str, &str)]) -> Shop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let public = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("PAY_PAYPAL_MODE", "simulator"),
            ("PAY_PAYPAL_INTEGRATION", "checkout"),
            ("PAY_PAYPAL_BUSINESS", "librement-simulator@example.org"),
        ];
        let env = env.iter().chain(extra).map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let config = Config::load(None, env).unwrap();
        let store = ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
            .await
            .unwrap();
        let assembled = assemble(&config, &url::Url::parse(&public).unwrap(), SECRET, store).unwrap();
        let routes = assembled.configure();
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(2)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let workers = payment_buttons::actix::spawn_workers(
            assembled.state.engine.clone(),
            assembled.wake.clone(),
            Duration::from_millis(50),
        );
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Shop {
            public,
            assembled,
            browser,
            _dir: dir,
            _server: handle,
            _workers: workers,
        }
    }

    fn store(&self) -> &Arc<ServerStore> {
        self.assembled.state.engine.store()
    }

    /// A signed Buy Now button of `amount` EUR paid to the simulated business.
    fn button(&self, amount: &str) -> String {
        let button = ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": "ORDER-16", "email": "buyer@example.org", "language": "fr",
                "options": [{ "description": "Manual", "amount": amount, "currency": "EUR" }],
                "payment_options": { "paypal": {} },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
            })
            .to_string(),
        )
        .unwrap();
        ButtonSigner::new(SECRET)
            .sign(&button, Duration::from_secs(600), chrono::Utc::now())
            .unwrap()
    }

    /// Posts the button to `/pay`: the 303 to PayPal's approval page.
    async fn pay(&self, amount: &str) -> String {
        let answer = self
            .browser
            .post(format!("{}/pay", self.public))
            .form(&[("button", self.button(amount))])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
        location(&answer)
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.browser.get(url).send().await.unwrap()
    }

    /// Approves the order on the simulator's page: the 303 back to our return URL.
    async fn approve(&self, approval_url: &str, echeck: bool) -> String {
        let page = self.get(approval_url).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("id=\"pay\""), "{html}");
        let token = approval_url.split("token=").nth(1).unwrap();
        let form: &[(&str, &str)] = if echeck { &[("echeck", "1")] } else { &[] };
        let answer = self
            .browser
            .post(format!("{}/simulator/paypal/checkoutnow/{token}/approve", self.public))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303);
        location(&answer)
    }

    /// The payment the last `/pay` recorded (its buyer has not approved yet).
    async fn newest_payment(&self) -> PaymentId {
        self.store().payments_for_order("ORDER-16").await.unwrap()[0].id.clone()
    }

    async fn payment(&self, id: &PaymentId) -> payment_buttons::store::StoredPayment {
        self.store().payment(id).await.unwrap().unwrap()
    }

    async fn kinds(&self, id: &PaymentId) -> Vec<EventKind> {
        self.store()
            .events_for_payment(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// Waits until every logged message of `id` is processed and at least `webhooks` webhooks came.
    async fn settled(&self, id: &PaymentId, webhooks: usize) {
        for _ in 0..200 {
            let rows = self.store().core().messages_for_payment(id).await.unwrap();
            let came = rows
                .iter()
                .filter(|r| r.headers.as_ref().is_some_and(|h| h.get(":route").is_some()))
                .count();
            let queued = self.store().core().queued_count().await.unwrap_or(0);
            if came >= webhooks && queued == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the webhooks of {id} were not processed in time");
    }
}

impl Shop {
    /// The whole gateway log, oldest first (answers to a verification name no payment).
    async fn log(&self) -> Vec<payment_buttons::diesel::LogRow> {
        let mut rows = Vec::new();
        while let Some(row) = self.store().core().message(rows.len() as i64 + 1).await.unwrap() {
            rows.push(row);
        }
        rows
    }

    /// Waits until no message is queued.
    async fn drained(&self) {
        for _ in 0..200 {
            if self.store().core().queued_count().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("messages still queued");
    }
}

fn location(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

fn payment_of(return_url: &str) -> PaymentId {
    let path = return_url.split('?').next().unwrap();
    PaymentId::parse(path.rsplit('/').next().unwrap()).unwrap()
}

fn count(kinds: &[EventKind], kind: EventKind) -> usize {
    kinds.iter().filter(|k| **k == kind).count()
}

#[actix_web::test]
async fn buy_now_creates_an_order_captures_on_return_and_the_webhooks_change_nothing_more() {
    let shop = Shop::start().await;
    let approval = shop.pay("12.50").await;
    assert!(
        approval.starts_with(&format!("{}/simulator/paypal/checkoutnow?token=", shop.public)),
        "{approval}"
    );
    let back = shop.approve(&approval, false).await;
    assert!(back.starts_with(&format!("{}/return/paypal/", shop.public)), "{back}");
    let id = payment_of(&back);

    let returned = shop.get(&back).await;
    assert_eq!(returned.status(), 303);
    assert_eq!(location(&returned), format!("{}/payments/{id}", shop.public));
    // Applied during the return, before the buyer sees the status page.
    let payment = shop.payment(&id).await;
    assert_eq!(payment.state, PaymentState::Accepted);

    // CHECKOUT.ORDER.APPROVED (which captures again, with the same request id) and PAYMENT.CAPTURE.COMPLETED.
    shop.settled(&id, 2).await;
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
    let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
    let answers: Vec<_> = rows.iter().filter(|r| r.direction == Direction::Answer).collect();
    assert!(
        answers
            .iter()
            .any(|r| r.fields["request"].as_str().unwrap().ends_with("/v2/checkout/orders")),
        "the order's creation is logged: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|r| r.fields["request"].as_str().unwrap().ends_with("/capture")),
        "the capture is logged"
    );
    let webhooks: Vec<_> = rows.iter().filter(|r| r.direction == Direction::Incoming).collect();
    assert_eq!(webhooks.len(), 2, "{webhooks:?}");
    for w in &webhooks {
        assert_eq!(w.verification.as_str(), "verified", "{w:?}");
        let headers = w.headers.as_ref().unwrap();
        assert!(headers.get("paypal-transmission-sig").is_some(), "{headers:?}");
    }
}

#[actix_web::test]
async fn with_api_verification_the_webhooks_are_verified_by_the_simulated_paypal_api() {
    let shop = Shop::start_with(&[("PAY_PAYPAL_WEBHOOK_VERIFICATION", "api")]).await;
    let approval = shop.pay("12.50").await;
    let back = shop.approve(&approval, false).await;
    let id = payment_of(&back);
    shop.get(&back).await;
    shop.settled(&id, 2).await;
    let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
    let webhooks: Vec<_> = rows.iter().filter(|r| r.direction == Direction::Incoming).collect();
    assert_eq!(webhooks.len(), 2);
    for w in webhooks {
        assert_eq!(w.verification.as_str(), "verified", "{w:?}");
    }
    // A body changed after signing fails the API's check.
    let hooks = actix_pay_server::simulator::paypal::CheckoutWebhooks {
        url: format!("{}/notify/paypal/webhook", shop.public),
        webhook_id: actix_pay_server::gateways::SIMULATOR_PAYPAL_WEBHOOK_ID.to_owned(),
        cert_url: format!("{}/simulator/paypal/certs/webhook.pem", shop.public),
    };
    let signed = br#"{"id":"WH-X","event_type":"PAYMENT.CAPTURE.REVERSED","resource":{}}"#;
    let tampered = br#"{"id":"WH-X","event_type":"PAYMENT.CAPTURE.REVERSED","resource":{"x":1}}"#;
    let mut request = shop.browser.post(&hooks.url).header("content-type", "application/json");
    for (k, v) in actix_pay_server::simulator::paypal::sign_webhook(&hooks, signed) {
        request = request.header(k, v);
    }
    assert_eq!(request.body(&tampered[..]).send().await.unwrap().status(), 200);
    shop.drained().await;
    let mut log = shop.log().await;
    let (answer, tampered) = (log.pop().unwrap(), log.pop().unwrap());
    assert_eq!(tampered.verification.as_str(), "invalid", "{tampered:?}");
    assert_eq!(
        answer.direction,
        Direction::Answer,
        "PayPal's answer is logged too: {answer:?}"
    );
    assert_eq!(answer.body, br#"{"verification_status":"FAILURE"}"#);
}

#[actix_web::test]
async fn with_api_verification_each_answer_of_paypals_api_is_logged_before_the_webhook_is_acted_on() {
    let shop = Shop::start_with(&[("PAY_PAYPAL_WEBHOOK_VERIFICATION", "api")]).await;
    let approval = shop.pay("9.00").await;
    let back = shop.approve(&approval, false).await;
    let id = payment_of(&back);
    // The buyer never comes back: the approval webhook, once verified, captures the order.
    shop.settled(&id, 2).await;
    assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);

    let log = shop.log().await;
    let webhooks: Vec<_> = log.iter().filter(|r| r.direction == Direction::Incoming).collect();
    assert_eq!(webhooks.len(), 2, "{log:#?}");
    let answer_to = |webhook: i64| {
        let answers: Vec<_> = log
            .iter()
            .filter(|r| {
                r.direction == Direction::Answer
                    && r.fields["request"]
                        .as_str()
                        .unwrap()
                        .ends_with("/v1/notifications/verify-webhook-signature")
                    && r.outcome.as_deref()
                        == Some(&format!("answer to the verification of message {webhook} (attempt 1)"))
            })
            .collect();
        assert_eq!(
            answers.len(),
            1,
            "one verification answer of message {webhook}: {log:#?}"
        );
        answers[0]
    };
    for webhook in &webhooks {
        let answer = answer_to(webhook.id);
        let said: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(said["verification_status"], "SUCCESS", "{answer:?}");
        assert_eq!(answer.verification.as_str(), "verified");
        assert!(answer.id > webhook.id);
    }
    // The approval webhook's verification answer was logged before the capture it led to was even made.
    let approved = webhooks
        .iter()
        .find(|w| String::from_utf8_lossy(&w.body).contains("CHECKOUT.ORDER.APPROVED"))
        .unwrap();
    let capture = log
        .iter()
        .find(|r| r.direction == Direction::Answer && r.fields["request"].as_str().unwrap().ends_with("/capture"))
        .unwrap();
    assert!(answer_to(approved.id).id < capture.id, "{log:#?}");
    assert!(
        capture.outcome.as_deref().unwrap().starts_with("applied"),
        "{capture:?}"
    );
}

#[actix_web::test]
async fn a_double_return_and_the_approval_webhook_capture_once_and_accept_once() {
    let shop = Shop::start().await;
    let approval = shop.pay("20.00").await;
    let back = shop.approve(&approval, false).await;
    let id = payment_of(&back);
    // The buyer's browser returns twice at once while the approval webhook captures too.
    let (a, b) = tokio::join!(shop.get(&back), shop.get(&back));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    shop.settled(&id, 2).await;
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
    let payment = shop.payment(&id).await;
    assert_eq!(payment.state, PaymentState::Accepted);
    // One capture at PayPal: every capture answer names the same capture id.
    let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
    let mut captures: Vec<String> = rows
        .iter()
        .filter(|r| r.direction == Direction::Answer && r.fields["request"].as_str().unwrap().ends_with("/capture"))
        .map(|r| {
            let order: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            order["purchase_units"][0]["payments"]["captures"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(captures.len() >= 2, "{captures:?}");
    captures.dedup();
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert_eq!(payment.gateway_reference.as_deref(), Some(captures[0].as_str()));
}

#[actix_web::test]
async fn a_buyer_who_approves_and_never_comes_back_is_captured_by_the_approval_webhook() {
    let shop = Shop::start().await;
    let approval = shop.pay("7.00").await;
    let back = shop.approve(&approval, false).await;
    let id = payment_of(&back);
    // The browser closes here: no return. CHECKOUT.ORDER.APPROVED then PAYMENT.CAPTURE.COMPLETED.
    shop.settled(&id, 2).await;
    assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
}

#[actix_web::test]
async fn the_ipn_route_stays_and_unknown_routes_and_returns_are_not_found() {
    let shop = Shop::start().await;
    let ipn = shop
        .browser
        .post(format!("{}/notify/paypal", shop.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("txn_type=web_accept&payment_status=Completed")
        .send()
        .await
        .unwrap();
    assert_eq!(ipn.status(), 200, "IPN stays mounted with Checkout");
    for path in ["/notify/paypal/other", "/notify/cmcic/webhook"] {
        let answer = shop
            .browser
            .post(format!("{}{path}", shop.public))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    let id = PaymentId::generate();
    for path in [
        format!("/return/paypal/{id}?token=ABC"),
        format!("/return/cmcic/{id}"),
        "/return/paypal/not-an-id".to_owned(),
    ] {
        assert_eq!(
            shop.get(&format!("{}{path}", shop.public)).await.status(),
            404,
            "{path}"
        );
    }
}

#[actix_web::test]
async fn a_buyer_who_cancels_at_paypal_comes_back_to_the_status_page_and_nothing_is_paid() {
    let shop = Shop::start().await;
    let approval = shop.pay("9.00").await;
    let token = approval.split("token=").nth(1).unwrap().to_owned();
    let answer = shop
        .browser
        .post(format!("{}/simulator/paypal/checkoutnow/{token}/cancel", shop.public))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let back = location(&answer);
    assert!(back.contains("/payments/") && back.contains("cancelled=1"), "{back}");
    let page = shop.get(&back).await;
    assert_eq!(page.status(), 200);
    let id = PaymentId::parse(back.split("/payments/").nth(1).unwrap().split('?').next().unwrap()).unwrap();
    assert_eq!(shop.payment(&id).await.state, PaymentState::Created);
    assert!(shop.kinds(&id).await.is_empty());
}

#[actix_web::test]
async fn a_refund_of_a_checkout_payment_counts_once_with_its_webhook() {
    let shop = Shop::start().await;
    let approval = shop.pay("30.00").await;
    let back = shop.approve(&approval, false).await;
    let id = payment_of(&back);
    shop.get(&back).await;
    shop.settled(&id, 2).await;
    let refund = shop
        .assembled
        .state
        .engine
        .refund(
            RefundOrder {
                payment_id: &id,
                amount: None,
                reason: Some("returned"),
                idempotency_key: "refund-16",
                origin: RefundOrigin::Api,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(refund.state.as_str(), "succeeded", "{refund:?}");
    // PAYMENT.CAPTURE.REFUNDED arrives too, under the refund answer's key.
    shop.settled(&id, 3).await;
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentRefunded), 1, "{kinds:?}");
    assert_eq!(shop.payment(&id).await.state, PaymentState::Refunded);
}

#[actix_web::test]
async fn an_echeck_capture_is_pending_then_its_webhook_is_the_same_pending() {
    let shop = Shop::start().await;
    let approval = shop.pay("15.00").await;
    let back = shop.approve(&approval, true).await;
    let id = payment_of(&back);
    shop.get(&back).await;
    shop.settled(&id, 2).await;
    assert_eq!(shop.payment(&id).await.state, PaymentState::Pending);
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentPending), 1, "{kinds:?}");
}

/// Webhooks posted to the real route, signed with the simulator's key as the simulator signs them.
mod webhook_route {
    use super::*;
    use actix_pay_server::simulator::paypal::{CheckoutWebhooks, sign_webhook};

    async fn post(shop: &Shop, body: &serde_json::Value, signed: bool) -> u16 {
        let body = body.to_string();
        let hooks = CheckoutWebhooks {
            url: format!("{}/notify/paypal/webhook", shop.public),
            webhook_id: actix_pay_server::gateways::SIMULATOR_PAYPAL_WEBHOOK_ID.to_owned(),
            cert_url: format!("{}/simulator/paypal/certs/webhook.pem", shop.public),
        };
        let mut request = shop.browser.post(&hooks.url).header("content-type", "application/json");
        if signed {
            for (k, v) in sign_webhook(&hooks, body.as_bytes()) {
                request = request.header(k, v);
            }
        }
        request.body(body).send().await.unwrap().status().as_u16()
    }

    /// A paid Checkout payment and its capture id.
    async fn paid(shop: &Shop) -> (PaymentId, String) {
        let approval = shop.pay("10.00").await;
        let back = shop.approve(&approval, false).await;
        let id = payment_of(&back);
        shop.get(&back).await;
        shop.settled(&id, 2).await;
        let capture = shop.payment(&id).await.gateway_reference.unwrap();
        (id, capture)
    }

    fn event(kind: &str, resource: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"id": format!("WH-{kind}-{}", rand_suffix()), "event_type": kind, "resource_type": "capture", "resource": resource})
    }

    fn rand_suffix() -> String {
        PaymentId::generate().to_string()
    }

    #[actix_web::test]
    async fn a_forged_webhook_is_logged_answered_200_and_changes_nothing() {
        let shop = Shop::start().await;
        let (id, capture) = paid(&shop).await;
        let forged = event(
            "PAYMENT.CAPTURE.REVERSED",
            serde_json::json!({"id": capture, "status": "REVERSED", "invoice_id": id.as_str(),
                "amount": {"currency_code": "EUR", "value": "10.00"}, "payee": {"email_address": "librement-simulator@example.org"}}),
        );
        assert_eq!(post(&shop, &forged, false).await, 200);
        // A forged message names no payment in the log (it is never trusted): wait for the queue.
        shop.drained().await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
        let last = shop.log().await.pop().unwrap();
        assert_eq!(last.verification.as_str(), "invalid", "{last:?}");
        assert!(last.flags.contains(&"invalid".to_owned()), "{last:?}");
    }

    #[actix_web::test]
    async fn a_signed_reversal_refunds_the_payment_once() {
        let shop = Shop::start().await;
        let (id, capture) = paid(&shop).await;
        let reversal = event(
            "PAYMENT.CAPTURE.REVERSED",
            serde_json::json!({"id": "REV123", "status": "COMPLETED", "invoice_id": id.as_str(),
                "amount": {"currency_code": "EUR", "value": "10.00"},
                "payer": {"email_address": "librement-simulator@example.org"},
                "links": [{"rel": "up", "href": format!("https://api/v2/payments/captures/{capture}")}]}),
        );
        assert_eq!(post(&shop, &reversal, true).await, 200);
        assert_eq!(post(&shop, &reversal, true).await, 200);
        shop.settled(&id, 4).await;
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentRefunded), 1, "{kinds:?}");
        assert_eq!(shop.payment(&id).await.state, PaymentState::Refunded);
    }

    /// A signed `PAYMENT.CAPTURE.DENIED` of `capture`, for the payment `id` of `amount` EUR.
    fn denial(id: &PaymentId, capture: &str, amount: &str) -> serde_json::Value {
        event(
            "PAYMENT.CAPTURE.DENIED",
            serde_json::json!({"id": capture, "status": "DECLINED", "invoice_id": id.as_str(),
                "amount": {"currency_code": "EUR", "value": amount},
                "payee": {"email_address": "librement-simulator@example.org"}}),
        )
    }

    #[actix_web::test]
    async fn a_signed_denial_of_a_pending_capture_declines_the_payment_once() {
        let shop = Shop::start().await;
        let approval = shop.pay("11.00").await;
        let back = shop.approve(&approval, true).await;
        let id = payment_of(&back);
        shop.get(&back).await;
        shop.settled(&id, 2).await;
        let pending = shop.payment(&id).await;
        assert_eq!(pending.state, PaymentState::Pending);
        let denied = denial(&id, &pending.gateway_reference.unwrap(), "11.00");
        assert_eq!(post(&shop, &denied, true).await, 200);
        assert_eq!(post(&shop, &denied, true).await, 200);
        shop.settled(&id, 4).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Declined);
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentDeclined), 1, "{kinds:?}");
    }

    /// The simulator sends the approval webhook on its own task, so a denial posted meanwhile may be logged
    /// before or after it (this test once raced them). Both orders, each made certain: the payment ends
    /// accepted once either way.
    #[actix_web::test]
    async fn a_denial_of_another_capture_never_undoes_an_acceptance_whichever_comes_first() {
        let shop = Shop::start().await;
        // The denial first: the unpaid payment is declined, then the approval's capture accepts it.
        let approval = shop.pay("11.00").await;
        let id = shop.newest_payment().await;
        assert_eq!(post(&shop, &denial(&id, "DENIED1", "11.00"), true).await, 200);
        shop.settled(&id, 1).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Declined);
        shop.approve(&approval, false).await;
        shop.settled(&id, 3).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentDeclined), 1, "{kinds:?}");
        assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");

        // The capture first: the later denial is stale, logged, flagged and changes nothing.
        let approval = shop.pay("11.00").await;
        let id = payment_of(&shop.approve(&approval, false).await);
        shop.settled(&id, 2).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
        assert_eq!(post(&shop, &denial(&id, "DENIED2", "11.00"), true).await, 200);
        shop.settled(&id, 3).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentDeclined), 0, "{kinds:?}");
        assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let stale = rows
            .iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains("DENIED2"))
            .unwrap();
        assert!(stale.flags.contains(&"stale_status".to_owned()), "{stale:?}");
    }

    #[actix_web::test]
    async fn a_signed_capture_for_another_receiver_or_amount_is_flagged_and_not_applied() {
        let shop = Shop::start().await;
        let approval = shop.pay("12.00").await;
        let back = shop.approve(&approval, false).await;
        let id = payment_of(&back);
        let wrong_amount = event(
            "PAYMENT.CAPTURE.COMPLETED",
            serde_json::json!({"id": "CAPX", "status": "COMPLETED", "invoice_id": id.as_str(),
                "amount": {"currency_code": "EUR", "value": "0.01"},
                "payee": {"email_address": "librement-simulator@example.org"}}),
        );
        let wrong_payee = event(
            "PAYMENT.CAPTURE.COMPLETED",
            serde_json::json!({"id": "CAPY", "status": "COMPLETED", "invoice_id": id.as_str(),
                "amount": {"currency_code": "EUR", "value": "12.00"},
                "payee": {"email_address": "thief@example.org"}}),
        );
        assert_eq!(post(&shop, &wrong_amount, true).await, 200);
        assert_eq!(post(&shop, &wrong_payee, true).await, 200);
        shop.settled(&id, 3).await;
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let flags: Vec<String> = rows.iter().flat_map(|r| r.flags.clone()).collect();
        assert!(flags.contains(&"amount_mismatch".to_owned()), "{flags:?}");
        assert!(flags.contains(&"receiver_mismatch".to_owned()), "{flags:?}");
        // Only the approval webhook's real capture was applied.
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
        let payment = shop.payment(&id).await;
        assert_ne!(payment.gateway_reference.as_deref(), Some("CAPX"));
        assert_ne!(payment.gateway_reference.as_deref(), Some("CAPY"));
    }

    #[actix_web::test]
    async fn an_unhandled_event_is_verified_and_ignored() {
        let shop = Shop::start().await;
        let other = event("CUSTOMER.DISPUTE.CREATED", serde_json::json!({"id": "PP-D-1"}));
        assert_eq!(post(&shop, &other, true).await, 200);
        shop.drained().await;
        let row = shop.store().core().message(1).await.unwrap().unwrap();
        assert_eq!(row.verification.as_str(), "verified");
        assert!(row.outcome.unwrap().starts_with("ignored"));
        assert!(row.flags.contains(&"unknown_type".to_owned()));
    }
}

/// Subscriptions through PayPal's Subscriptions API, with the simulator's products, plans, approval page and
/// webhooks (`BILLING.SUBSCRIPTION.*`, `PAYMENT.SALE.COMPLETED`) on the real routes.
mod subscriptions {
    use super::*;
    use actix_pay_server::simulator::paypal::{CheckoutWebhooks, sign_webhook};

    const API_KEY: &str = "subscriptions-test-key";

    /// A signed button of one option: `amount` EUR every month, to `paypal_email` (absent: `paypal.business`).
    fn button(order_reference: &str, amount: &str, paypal_email: Option<&str>) -> String {
        let paypal = match paypal_email {
            Some(email) => serde_json::json!({ "paypal_email": email }),
            None => serde_json::json!({}),
        };
        let button = ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": order_reference, "email": "buyer@example.org", "language": "en",
                "options": [{ "description": "Supporter, monthly", "amount": amount, "currency": "EUR",
                              "recurrence_months": 1 }],
                "payment_options": { "paypal": paypal },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
            })
            .to_string(),
        )
        .unwrap();
        ButtonSigner::new(SECRET)
            .sign(&button, Duration::from_secs(600), chrono::Utc::now())
            .unwrap()
    }

    /// Posts a subscription button to `/pay`: the 303 to the simulated approval page.
    async fn subscribe(shop: &Shop, order_reference: &str, amount: &str) -> String {
        let answer = shop
            .browser
            .post(format!("{}/pay", shop.public))
            .form(&[("button", button(order_reference, amount, None))])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
        location(&answer)
    }

    /// Approves on the simulated page: the 303 back to our return URL, with `subscription_id`.
    async fn approve(shop: &Shop, approval_url: &str) -> String {
        let page = shop.get(approval_url).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("id=\"pay\""), "{html}");
        assert!(html.contains("every month"), "the page states the terms: {html}");
        let answer = press(shop, approval_url, &html, "action").await;
        assert_eq!(answer.status(), 303);
        location(&answer)
    }

    /// Posts the approval page's form to its `action` (Pay) or `formaction` (Cancel), a URL relative to
    /// the page, as a browser would.
    async fn press(shop: &Shop, page_url: &str, html: &str, attribute: &str) -> reqwest::Response {
        let target = html
            .split(&format!(" {attribute}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            // Tera escapes `/` in attribute values.
            .replace("&#x2F;", "/");
        let base = page_url.split('?').next().unwrap();
        let base = &base[..base.rfind('/').unwrap()];
        shop.browser.post(format!("{base}/{target}")).send().await.unwrap()
    }

    /// A subscribed buyer whose first cycle was paid: our payment and PayPal's subscription id.
    async fn subscribed(shop: &Shop, order_reference: &str) -> (PaymentId, String) {
        let approval = subscribe(shop, order_reference, "5.00").await;
        let back = approve(shop, &approval).await;
        let id = payment_of(&back);
        let subscription = back
            .split("subscription_id=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let returned = shop.get(&back).await;
        assert_eq!(returned.status(), 303);
        assert_eq!(location(&returned), format!("{}/payments/{id}", shop.public));
        // BILLING.SUBSCRIPTION.ACTIVATED, then the first PAYMENT.SALE.COMPLETED.
        shop.settled(&id, 2).await;
        (id, subscription)
    }

    async fn post_webhook(shop: &Shop, body: &serde_json::Value) {
        let body = body.to_string();
        let hooks = CheckoutWebhooks {
            url: format!("{}/notify/paypal/webhook", shop.public),
            webhook_id: actix_pay_server::gateways::SIMULATOR_PAYPAL_WEBHOOK_ID.to_owned(),
            cert_url: format!("{}/simulator/paypal/certs/webhook.pem", shop.public),
        };
        let mut request = shop.browser.post(&hooks.url).header("content-type", "application/json");
        for (k, v) in sign_webhook(&hooks, body.as_bytes()) {
            request = request.header(k, v);
        }
        assert_eq!(request.body(body).send().await.unwrap().status(), 200);
    }

    fn sale(sale_id: &str, subscription: &str, payment: &PaymentId, amount: &str) -> serde_json::Value {
        serde_json::json!({"id": format!("WH-SALE-{}", PaymentId::generate()), "event_type": "PAYMENT.SALE.COMPLETED",
            "resource_type": "sale", "resource": {"id": sale_id, "state": "completed",
                "amount": {"total": amount, "currency": "EUR"}, "billing_agreement_id": subscription,
                "custom": payment.as_str()}})
    }

    async fn cycles(shop: &Shop, order_reference: &str) -> Vec<payment_buttons::store::StoredPayment> {
        shop.store().payments_for_order(order_reference).await.unwrap()
    }

    /// Waits until the order has `n` payments (the first and its later cycles).
    async fn until_payments(
        shop: &Shop,
        order_reference: &str,
        n: usize,
    ) -> Vec<payment_buttons::store::StoredPayment> {
        for _ in 0..200 {
            let found = cycles(shop, order_reference).await;
            if found.len() >= n && shop.store().core().queued_count().await.unwrap() == 0 {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{order_reference} did not reach {n} payments");
    }

    #[actix_web::test]
    async fn subscribe_activate_pay_each_cycle_as_a_payment_of_its_own_then_cancel_through_the_api() {
        let shop = Shop::start_with(&[("PAY_SERVER_API_KEYS", API_KEY)]).await;
        let approval = subscribe(&shop, "SUB-1", "5.00").await;
        assert!(
            approval.starts_with(&format!(
                "{}/simulator/paypal/webapps/billing/subscriptions?ba_token=",
                shop.public
            )),
            "{approval}"
        );
        let back = approve(&shop, &approval).await;
        assert!(back.starts_with(&format!("{}/return/paypal/", shop.public)), "{back}");
        let id = payment_of(&back);
        shop.get(&back).await;
        shop.settled(&id, 2).await;

        // Activated (recorded, no outcome) and the first cycle accepted on the payment itself.
        let first = shop.payment(&id).await;
        assert_eq!(first.state, PaymentState::Accepted);
        let subscription = back
            .split("subscription_id=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert_eq!(first.details["subscription_reference"], subscription);
        assert_eq!(first.details["paypal_integration"], "checkout");
        let kinds = shop.kinds(&id).await;
        assert_eq!(
            kinds,
            vec![
                EventKind::PaymentProcessed,
                EventKind::PaymentProcessed,
                EventKind::PaymentAccepted
            ],
            "sign-up recorded, then the first cycle"
        );
        // Every call's answer is in the log before the buyer left: plan look-up and creation, subscription.
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let requests: Vec<String> = rows
            .iter()
            .filter(|r| r.direction == Direction::Answer)
            .map(|r| r.fields["request"].as_str().unwrap().to_owned())
            .collect();
        for called in [
            "GET /v1/billing/plans?product_id=LIBREMENT-EUR-500-1M&page_size=20",
            "GET /v1/catalogs/products/LIBREMENT-EUR-500-1M",
            "POST /v1/catalogs/products",
            "POST /v1/billing/plans",
            "POST /v1/billing/subscriptions",
        ] {
            let (method, path) = called.split_once(' ').unwrap();
            assert!(
                requests
                    .iter()
                    .any(|r| r.starts_with(method) && r.contains("/simulator/paypal") && r.ends_with(path)),
                "{called} is logged: {requests:?}"
            );
        }

        // The second cycle, from the simulator's payments page: a new payment of its own.
        let page = shop
            .get(&format!("{}/simulator/paypal/payments", shop.public))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(&format!("checkout-subscr-{subscription}")), "{page}");
        let next = shop
            .browser
            .post(format!(
                "{}/simulator/paypal/webapps/billing/subscriptions/{subscription}/next",
                shop.public
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 303);
        let payments = until_payments(&shop, "SUB-1", 2).await;
        let cycle = payments.iter().find(|p| p.id != id).expect("the second cycle");
        assert_eq!(cycle.state, PaymentState::Accepted);
        assert_eq!(cycle.subscription_id.as_ref(), Some(&id));
        assert_eq!(cycle.amount.to_string(), "5.00");
        assert_ne!(cycle.gateway_reference, first.gateway_reference, "its own sale");
        assert_eq!(count(&shop.kinds(&cycle.id).await, EventKind::PaymentAccepted), 1);

        // Cancelled through our API: REST cancel at PayPal, then its CANCELLED webhook, counted once.
        let cancel = shop
            .browser
            .post(format!("{}/api/payments/{id}/cancel", shop.public))
            .header("Authorization", format!("Bearer {API_KEY}"))
            .header("content-type", "application/json")
            .body(r#"{"reason": "moving away"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(cancel.status(), 202, "{:?}", cancel.text().await);
        assert_eq!(shop.payment(&id).await.state, PaymentState::Cancelled);
        shop.settled(&id, 3).await;
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::SubscriptionCancelled), 1, "{kinds:?}");
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        // The CANCELLED webhook that follows is the same cancellation (whichever of it and the answer is
        // applied first, the other is the duplicate): never flagged for anything else.
        let cancelled_hook = rows
            .iter()
            .find(|r| r.direction == Direction::Incoming && r.fields["event_type"] == "BILLING.SUBSCRIPTION.CANCELLED")
            .expect("the CANCELLED webhook is logged");
        assert!(
            cancelled_hook.flags.iter().all(|f| f == "duplicate"),
            "{cancelled_hook:?}"
        );
        assert!(
            rows.iter().any(|r| r.direction == Direction::Answer
                && r.fields["request"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/v1/billing/subscriptions/{subscription}/cancel"))),
            "the cancellation's answer is logged"
        );
        // Cancelled at PayPal too: no later cycle can be charged.
        let again = shop
            .browser
            .post(format!(
                "{}/simulator/paypal/webapps/billing/subscriptions/{subscription}/next",
                shop.public
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409);
        // A second cancellation is refused: the subscription is no longer active.
        let twice = shop
            .browser
            .post(format!("{}/api/payments/{id}/cancel", shop.public))
            .header("Authorization", format!("Bearer {API_KEY}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(twice.status(), 409);
    }

    #[actix_web::test]
    async fn a_resent_sale_counts_once_and_a_sale_of_another_subscription_or_amount_changes_nothing() {
        let shop = Shop::start().await;
        let (id, subscription) = subscribed(&shop, "SUB-2").await;
        let first_sale = shop.payment(&id).await.gateway_reference.unwrap();

        // The genuine first sale again (PayPal resends until it sees a 200): a duplicate.
        post_webhook(&shop, &sale(&first_sale, &subscription, &id, "5.00")).await;
        // A sale naming our payment but another subscription (someone's own subscription, same seller).
        post_webhook(&shop, &sale("FORGED0SALE0001", "I-ATTACKER00001", &id, "5.00")).await;
        // A sale of our subscription for another amount.
        post_webhook(&shop, &sale("TAMPERED0SALE01", &subscription, &id, "0.50")).await;
        shop.settled(&id, 5).await;

        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let flags: Vec<String> = rows.iter().flat_map(|r| r.flags.clone()).collect();
        for flag in ["duplicate", "subscription_mismatch", "amount_mismatch"] {
            assert!(flags.contains(&flag.to_owned()), "{flag}: {flags:?}");
        }
        // Nothing changed: one payment, accepted once, its sale the first one.
        let payments = cycles(&shop, "SUB-2").await;
        assert_eq!(payments.len(), 1, "no cycle was recorded: {payments:?}");
        let payment = shop.payment(&id).await;
        assert_eq!(payment.gateway_reference.as_deref(), Some(first_sale.as_str()));
        assert_eq!(payment.details["subscription_reference"], subscription.as_str());
        assert_eq!(count(&shop.kinds(&id).await, EventKind::PaymentAccepted), 1);
    }

    fn subscription_event(kind: &str, subscription: &str, payment: &PaymentId, status: &str) -> serde_json::Value {
        serde_json::json!({"id": format!("WH-SUB-{}", PaymentId::generate()), "event_type": kind,
            "resource_type": "subscription", "resource": {"id": subscription, "status": status,
                "custom_id": payment.as_str(), "plan_id": "P-ANY"}})
    }

    #[actix_web::test]
    async fn a_cycle_paypal_could_not_collect_is_a_declined_cycle_of_its_own_counted_once() {
        let shop = Shop::start().await;
        let (id, subscription) = subscribed(&shop, "SUB-9").await;
        let mut failed = subscription_event("BILLING.SUBSCRIPTION.PAYMENT.FAILED", &subscription, &id, "ACTIVE");
        failed["resource"]["billing_info"] = serde_json::json!({"last_failed_payment": {
            "amount": {"currency_code": "EUR", "value": "5.00"}, "time": "2027-01-03T10:00:00Z",
            "reason_code": "PAYMENT_DENIED"}});
        post_webhook(&shop, &failed).await;
        // PayPal resends the same event (a new event id, the same failed payment).
        failed["id"] = serde_json::json!("WH-SUB-RESENT-FAILURE");
        post_webhook(&shop, &failed).await;
        // A failure naming someone else's subscription changes nothing.
        let foreign = subscription_event("BILLING.SUBSCRIPTION.PAYMENT.FAILED", "I-ATTACKER00001", &id, "ACTIVE");
        post_webhook(&shop, &foreign).await;
        // (Each is logged before its 200: once the queue is empty, all three are concluded.)
        shop.drained().await;

        let payments = cycles(&shop, "SUB-9").await;
        let declined: Vec<_> = payments.iter().filter(|p| p.state == PaymentState::Declined).collect();
        assert_eq!(declined.len(), 1, "one declined cycle: {payments:?}");
        assert_eq!(declined[0].subscription_id.as_ref(), Some(&id));
        assert_eq!(declined[0].details["reason_code"], "PAYMENT_DENIED");
        assert_eq!(
            shop.payment(&id).await.state,
            PaymentState::Accepted,
            "the first cycle stays paid"
        );
        assert_eq!(count(&shop.kinds(&declined[0].id).await, EventKind::PaymentDeclined), 1);
        let mut rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        rows.extend(shop.store().core().messages_for_payment(&declined[0].id).await.unwrap());
        let flags: Vec<String> = rows.iter().flat_map(|r| r.flags.clone()).collect();
        for flag in ["duplicate", "subscription_mismatch"] {
            assert!(flags.contains(&flag.to_owned()), "{flag}: {flags:?}");
        }
    }

    /// A subscription activated and paid once ([`subscribed`]), then suspended at PayPal.
    async fn subscribed_then_suspended(shop: &Shop, order_reference: &str) -> (PaymentId, String) {
        let (id, subscription) = subscribed(shop, order_reference).await;
        post_webhook(
            shop,
            &subscription_event("BILLING.SUBSCRIPTION.SUSPENDED", &subscription, &id, "SUSPENDED"),
        )
        .await;
        shop.settled(&id, 3).await;
        (id, subscription)
    }

    #[actix_web::test]
    async fn suspended_is_recorded_expired_ends_it_once_and_a_later_cancelled_changes_nothing() {
        let shop = Shop::start().await;
        let (id, subscription) = subscribed_then_suspended(&shop, "SUB-7").await;
        let payment = shop.payment(&id).await;
        assert_eq!(payment.state, PaymentState::Accepted, "a suspension changes no state");
        assert_eq!(payment.details["subscription_status"], "SUSPENDED");

        post_webhook(
            &shop,
            &subscription_event("BILLING.SUBSCRIPTION.EXPIRED", &subscription, &id, "EXPIRED"),
        )
        .await;
        post_webhook(
            &shop,
            &subscription_event("BILLING.SUBSCRIPTION.CANCELLED", &subscription, &id, "CANCELLED"),
        )
        .await;
        // A sale that is no subscription's (no billing_agreement_id): verified and ignored.
        let plain = serde_json::json!({"id": "WH-PLAIN-SALE", "event_type": "PAYMENT.SALE.COMPLETED",
            "resource_type": "sale", "resource": {"id": "PLAINSALE0001", "state": "completed",
                "amount": {"total": "5.00", "currency": "EUR"}, "custom": id.as_str()}});
        post_webhook(&shop, &plain).await;
        shop.settled(&id, 5).await;
        shop.drained().await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Cancelled);
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::SubscriptionCancelled), 1, "{kinds:?}");
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        assert!(
            rows.iter().any(|r| r.flags.contains(&"stale_status".to_owned())),
            "the CANCELLED after EXPIRED is stale: {rows:?}"
        );
        assert_eq!(cycles(&shop, "SUB-7").await.len(), 1, "the plain sale made no cycle");
    }

    #[actix_web::test]
    async fn a_reactivation_after_a_suspension_is_recorded_once_and_accepts_nothing_again() {
        let shop = Shop::start().await;
        let (id, subscription) = subscribed_then_suspended(&shop, "SUB-8").await;
        let reactivated = subscription_event("BILLING.SUBSCRIPTION.ACTIVATED", &subscription, &id, "ACTIVE");
        post_webhook(&shop, &reactivated).await;
        post_webhook(&shop, &reactivated).await;
        shop.settled(&id, 5).await;

        let payment = shop.payment(&id).await;
        assert_eq!(payment.state, PaymentState::Accepted);
        assert_eq!(payment.details["subscription_status"], "ACTIVE");
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let activations: Vec<_> = rows
            .iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains("BILLING.SUBSCRIPTION.ACTIVATED"))
            .map(|r| (r.outcome.clone().unwrap(), r.flags.clone()))
            .collect();
        assert_eq!(
            activations.len(),
            3,
            "the approval's and the reactivation twice: {activations:?}"
        );
        assert!(activations[0].0.starts_with("recorded"), "{activations:?}");
        assert!(
            activations[1].0.starts_with("recorded") && activations[1].1.is_empty(),
            "the reactivation is recorded, not taken for the first activation: {activations:?}"
        );
        assert_eq!(
            activations[2].1,
            vec!["duplicate".to_owned()],
            "its resend is: {activations:?}"
        );
        assert_eq!(cycles(&shop, "SUB-8").await.len(), 1, "no new cycle");
    }

    /// A signed `PAYMENT.SALE.REFUNDED` (or `.REVERSED`) of `amount` EUR of a subscription's sale.
    fn sale_refund(
        kind: &str,
        refund: &str,
        sale: &str,
        subscription: &str,
        payment: &PaymentId,
        amount: &str,
    ) -> serde_json::Value {
        serde_json::json!({"id": format!("WH-REFUND-{}", PaymentId::generate()), "event_type": kind,
            "resource_type": "refund", "resource": {"id": refund, "state": "completed", "sale_id": sale,
                "amount": {"total": format!("-{amount}"), "currency": "EUR"},
                "billing_agreement_id": subscription, "custom": payment.as_str()}})
    }

    #[actix_web::test]
    async fn a_refunded_or_reversed_sale_refunds_its_cycle_once_and_never_more_than_was_paid() {
        let shop = Shop::start().await;
        let (id, subscription) = subscribed(&shop, "SUB-9").await;
        let sale = shop.payment(&id).await.gateway_reference.unwrap();
        let refund = sale_refund(
            "PAYMENT.SALE.REFUNDED",
            "REFUND0000001",
            &sale,
            &subscription,
            &id,
            "2.00",
        );
        post_webhook(&shop, &refund).await;
        post_webhook(&shop, &refund).await;
        shop.settled(&id, 4).await;
        let payment = shop.payment(&id).await;
        assert_eq!(payment.state, PaymentState::Accepted, "partly refunded");
        assert_eq!(
            payment.refunded,
            payment_buttons::money::Money::parse("2.00", "EUR").unwrap()
        );
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentRefunded), 1, "{kinds:?}");

        // A reversal of more than is left is refused; one of what is left refunds the rest.
        let too_much = sale_refund(
            "PAYMENT.SALE.REVERSED",
            "REVERSAL000001",
            &sale,
            &subscription,
            &id,
            "5.00",
        );
        post_webhook(&shop, &too_much).await;
        shop.settled(&id, 5).await;
        let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
        let refused = rows
            .iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains("REVERSAL000001"))
            .unwrap();
        assert!(
            refused.flags.contains(&"refund_exceeds_amount".to_owned()),
            "{refused:?}"
        );
        let rest = sale_refund(
            "PAYMENT.SALE.REVERSED",
            "REVERSAL000002",
            &sale,
            &subscription,
            &id,
            "3.00",
        );
        post_webhook(&shop, &rest).await;
        shop.settled(&id, 6).await;
        assert_eq!(shop.payment(&id).await.state, PaymentState::Refunded);
        let kinds = shop.kinds(&id).await;
        assert_eq!(count(&kinds, EventKind::PaymentRefunded), 2, "{kinds:?}");
        assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
    }

    #[actix_web::test]
    async fn two_buyers_of_the_same_option_share_one_plan() {
        let shop = Shop::start().await;
        let (first, _) = subscribed(&shop, "SUB-3A").await;
        let (second, _) = subscribed(&shop, "SUB-3B").await;
        let answers = |rows: Vec<payment_buttons::diesel::LogRow>| {
            rows.into_iter()
                .filter(|r| r.direction == Direction::Answer)
                .map(|r| (r.fields["request"].as_str().unwrap().to_owned(), r.body))
                .collect::<Vec<_>>()
        };
        let first = answers(shop.store().core().messages_for_payment(&first).await.unwrap());
        let second = answers(shop.store().core().messages_for_payment(&second).await.unwrap());
        let made = |calls: &[(String, Vec<u8>)]| {
            calls
                .iter()
                .filter(|(r, _)| r.starts_with("POST") && r.ends_with("/v1/billing/plans"))
                .count()
        };
        assert_eq!(made(&first), 1, "{first:?}");
        assert_eq!(made(&second), 0, "the second buyer reuses the plan: {second:?}");
        let plan_of = |calls: &[(String, Vec<u8>)]| {
            let (_, body) = calls
                .iter()
                .find(|(r, _)| r.starts_with("POST") && r.ends_with("/v1/billing/subscriptions"))
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(body).unwrap()["plan_id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(plan_of(&first), plan_of(&second));
    }

    #[actix_web::test]
    async fn two_buyers_of_a_new_option_at_the_same_moment_make_one_plan() {
        let shop = Shop::start().await;
        let (a, b) = tokio::join!(subscribe(&shop, "SUB-8A", "7.00"), subscribe(&shop, "SUB-8B", "7.00"));
        let plan_of = |approval: String| {
            let shop = &shop;
            async move {
                let back = approve(shop, &approval).await;
                let id = payment_of(&back);
                let rows = shop.store().core().messages_for_payment(&id).await.unwrap();
                let created = rows
                    .iter()
                    .find(|r| {
                        r.direction == Direction::Answer
                            && r.fields["request"].as_str().unwrap().starts_with("POST")
                            && r.fields["request"]
                                .as_str()
                                .unwrap()
                                .ends_with("/v1/billing/subscriptions")
                    })
                    .unwrap();
                serde_json::from_slice::<serde_json::Value>(&created.body).unwrap()["plan_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        assert_eq!(plan_of(a).await, plan_of(b).await);
        // One plan at the simulated PayPal for the product.
        let token = shop
            .browser
            .post(format!("{}/simulator/paypal/v1/oauth2/token", shop.public))
            .basic_auth(
                actix_pay_server::gateways::SIMULATOR_PAYPAL_CLIENT_ID,
                Some(actix_pay_server::gateways::SIMULATOR_PAYPAL_CLIENT_SECRET),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let plans = shop
            .browser
            .get(format!(
                "{}/simulator/paypal/v1/billing/plans?product_id=LIBREMENT-EUR-700-1M",
                shop.public
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(plans["plans"].as_array().unwrap().len(), 1, "{plans}");
    }

    #[actix_web::test]
    async fn a_plan_made_before_a_restart_is_found_at_paypal_not_made_again() {
        let shop = Shop::start().await;
        subscribed(&shop, "SUB-4A").await;
        // Another gateway (a restart, a second instance) with an empty memory, on the same simulated PayPal.
        let engine = &shop.assembled.state.engine;
        let fresh = actix_pay_server::gateways::build(
            &Config::load(
                None,
                [
                    ("PAY_PAYPAL_MODE", "simulator"),
                    ("PAY_PAYPAL_INTEGRATION", "checkout"),
                    ("PAY_PAYPAL_BUSINESS", "librement-simulator@example.org"),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .unwrap(),
            &url::Url::parse(&shop.public).unwrap(),
            SECRET,
        )
        .unwrap();
        let gateway = fresh.all.get("paypal").unwrap().clone();
        let button = ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": "SUB-4B", "options": [{ "description": "Supporter, monthly", "amount": "5.00",
                    "currency": "EUR", "recurrence_months": 1 }], "payment_options": { "paypal": {} },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko" }
            })
            .to_string(),
        )
        .unwrap();
        let id = PaymentId::generate();
        let request = payment_buttons::gateway::PaymentRequest {
            payment_id: &id,
            button: &button,
            option_index: 0,
            buyer_email: None,
            identity: None,
            urls: engine.urls(),
            created_at: chrono::Utc::now(),
        };
        let (hand_off, calls) = gateway.api_hand_off().unwrap().hand_off_via_api(&request).await;
        assert!(hand_off.is_ok(), "{hand_off:?}");
        let requests: Vec<&str> = calls.iter().map(|c| c.request.as_str()).collect();
        assert!(
            requests.iter().any(|r| r.contains("/v1/billing/plans?product_id=")),
            "{requests:?}"
        );
        assert!(
            !requests
                .iter()
                .any(|r| r.starts_with("POST") && r.ends_with("/v1/billing/plans")),
            "the plan is found, not made again: {requests:?}"
        );
        assert!(
            !requests.iter().any(|r| r.ends_with("/v1/catalogs/products")),
            "{requests:?}"
        );
    }

    #[actix_web::test]
    async fn a_subscription_to_another_account_than_the_plans_owner_is_refused_at_pay() {
        let shop = Shop::start().await;
        let answer = shop
            .browser
            .post(format!("{}/pay", shop.public))
            .form(&[("button", button("SUB-5", "5.00", Some("someone-else@example.org")))])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400);
        let text = answer.text().await.unwrap();
        assert!(text.contains("paypal.business"), "{text}");
        assert!(cycles(&shop, "SUB-5").await.is_empty(), "nothing recorded");
    }

    #[actix_web::test]
    async fn a_buyer_who_cancels_on_the_approval_page_comes_back_and_nothing_is_paid() {
        let shop = Shop::start().await;
        let approval = subscribe(&shop, "SUB-6", "5.00").await;
        let page = shop.get(&approval).await.text().await.unwrap();
        let answer = press(&shop, &approval, &page, "formaction").await;
        assert_eq!(answer.status(), 303);
        let back = location(&answer);
        assert!(back.contains("cancelled=1"), "{back}");
        let payments = cycles(&shop, "SUB-6").await;
        assert_eq!(payments.len(), 1);
        assert_eq!(payments[0].state, PaymentState::Created);
        assert!(shop.kinds(&payments[0].id).await.is_empty());
    }
}

#[actix_web::test]
async fn a_pending_echeck_capture_completes_from_the_simulators_payments_page() {
    let shop = Shop::start().await;
    let approval = shop.pay("16.00").await;
    let back = shop.approve(&approval, true).await;
    let id = payment_of(&back);
    shop.get(&back).await;
    shop.settled(&id, 2).await;
    assert_eq!(shop.payment(&id).await.state, PaymentState::Pending);
    let capture = shop.payment(&id).await.gateway_reference.unwrap();
    let page = shop
        .get(&format!("{}/simulator/paypal/payments", shop.public))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(id.as_str()),
        "the payments page lists Checkout orders: {page}"
    );
    let complete = format!("/simulator/paypal/checkout-captures/{capture}/complete");
    // Tera escapes `/` in attribute values.
    assert!(page.contains(&complete.replace('/', "&#x2F;")), "{page}");
    let answer = shop
        .browser
        .post(format!("{}{complete}", shop.public))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    shop.settled(&id, 3).await;
    assert_eq!(shop.payment(&id).await.state, PaymentState::Accepted);
    let kinds = shop.kinds(&id).await;
    assert_eq!(count(&kinds, EventKind::PaymentAccepted), 1, "{kinds:?}");
    // Completed once: the button is gone.
    let again = shop
        .browser
        .post(format!("{}{complete}", shop.public))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}
