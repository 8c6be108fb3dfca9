//! The PayPal simulator's APIs over HTTP, called by the core's own PayPal gateway: OAuth2 token, refunds in
//! full and in part (honouring PayPal-Request-Id, refusing more than what is left and another account's
//! payment), the look-up past the PayPal-Request-Id window, and the NVP cancellation; each followed by the
//! IPN PayPal would send, whose key is the one the gateway's answer carried.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_pay_server::pages;
use actix_pay_server::simulator::paypal::{ApiCredentials, PaypalSimulator, configure, default_client};
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::Utc;
use payment_buttons::gateway::{
    CancelAnswer, CancelRequest, Gateway, IncomingMessage, RefundAnswer, RefundRequest, StoredPaymentFacts,
};
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Verification};
use payment_buttons::payment::PaymentId;
use payment_buttons::paypal::{ApiSecret, PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use url::form_urlencoded;

const SELLER: &str = "seller@example.com";
const CLIENT_ID: &str = "sim-client";
const CLIENT_SECRET: &str = "sim-secret";

struct World {
    sim: Arc<PaypalSimulator>,
    base: String,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    server: actix_web::dev::ServerHandle,
}

impl World {
    async fn start() -> World {
        let templates = Arc::new(pages::templates().expect("templates parse"));
        let sim = Arc::new(
            PaypalSimulator::new(templates, default_client().unwrap()).with_api_credentials(ApiCredentials {
                client_id: CLIENT_ID.to_owned(),
                client_secret: CLIENT_SECRET.to_owned(),
                nvp_user: "sim_api1.example.org".to_owned(),
                nvp_password: "sim-nvp-password".to_owned(),
                nvp_signature: "sim-nvp-signature".to_owned(),
                account: Some(SELLER.to_owned()),
            }),
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let (sim_for_server, received_for_server) = (sim.clone(), received.clone());
        let server = HttpServer::new(move || {
            let received = received_for_server.clone();
            App::new().configure(configure(sim_for_server.clone())).route(
                "/notify/paypal",
                web::post().to(move |body: web::Bytes| {
                    let received = received.clone();
                    async move {
                        received.lock().unwrap().push(body.to_vec());
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        World {
            sim,
            base,
            received,
            server: handle,
        }
    }

    fn gateway_with_secret(&self, secret: &str) -> PaypalGateway {
        let config = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                business: Some(SELLER.to_owned()),
                webscr_url: Some(format!("{}/simulator/paypal", self.base)),
                postback_url: Some(format!("{}/simulator/paypal/postback", self.base)),
                api_url: Some(format!("{}/simulator/paypal", self.base)),
                nvp_url: Some(format!("{}/simulator/paypal/nvp", self.base)),
                client_id: Some(CLIENT_ID.to_owned()),
                client_secret: Some(ApiSecret::new(secret)),
                nvp_user: Some("sim_api1.example.org".to_owned()),
                nvp_password: Some(ApiSecret::new("sim-nvp-password")),
                nvp_signature: Some(ApiSecret::new("sim-nvp-signature")),
                ..Default::default()
            },
        )
        .unwrap();
        PaypalGateway::with_reqwest(config).unwrap()
    }

    fn gateway(&self) -> PaypalGateway {
        self.gateway_with_secret(CLIENT_SECRET)
    }

    /// Pays a checkout through the simulator; gives the IPN fields it sent last.
    async fn pay(&self, form: String) -> BTreeMap<String, String> {
        let (id, _) = self.sim.open_checkout(form.as_bytes()).unwrap();
        self.sim.pay(&id, false).await.unwrap();
        fields(self.received.lock().unwrap().last().unwrap())
    }

    /// Waits for the `n`th IPN (they follow the API's answers).
    async fn ipn(&self, n: usize) -> Vec<u8> {
        for _ in 0..100 {
            if let Some(body) = self.received.lock().unwrap().get(n - 1) {
                return body.clone();
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("IPN {n} never came");
    }

    async fn page(&self) -> String {
        reqwest::get(format!("{}/simulator/paypal/payments", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn form(business: &str, cmd: &str) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("cmd", cmd)
        .append_pair("business", business)
        .append_pair("item_name", "Manual, PDF")
        .append_pair("currency_code", "EUR")
        .append_pair("invoice", "Xk3f9QpL2mZa")
        .append_pair("notify_url", "http://127.0.0.1:1/placeholder");
    if cmd == "_xclick" {
        f.append_pair("amount", "12.50");
    } else {
        f.append_pair("a3", "5.00")
            .append_pair("p3", "1")
            .append_pair("t3", "M")
            .append_pair("src", "1");
    }
    f.finish()
}

fn checkout(world: &World, business: &str, cmd: &str) -> String {
    form(business, cmd).replace(
        "http%3A%2F%2F127.0.0.1%3A1%2Fplaceholder",
        &form_urlencoded::byte_serialize(format!("{}/notify/paypal", world.base).as_bytes()).collect::<String>(),
    )
}

fn fields(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn eur(amount: &str) -> Money {
    Money::parse(amount, "EUR").unwrap()
}

async fn verified_key_and_outcome(gateway: &PaypalGateway, body: &[u8]) -> (String, Option<Outcome>) {
    let message = IncomingMessage {
        received_at: Utc::now(),
        remote_addr: None,
        method: "POST".to_owned(),
        content_type: Some("application/x-www-form-urlencoded".to_owned()),
        body: body.to_vec(),
        headers: Default::default(),
    };
    match gateway.verify(&message).await {
        Verification::Verified(n) => {
            let n = n.into_inner();
            (n.idempotency_key, n.outcome)
        }
        other => panic!("not verified: {other:?}"),
    }
}

#[actix_web::test]
async fn partial_refunds_through_the_api_are_counted_once_and_followed_by_their_ipn() {
    let world = World::start().await;
    let gateway = world.gateway();
    let paid = world.pay(checkout(&world, SELLER, "_xclick")).await;
    let txn_id = paid["txn_id"].clone();
    let id = PaymentId::generate();
    let details = serde_json::Map::new();
    let facts = || StoredPaymentFacts {
        payment_id: &id,
        gateway_reference: Some(&txn_id),
        receiver: Some(SELLER),
        amount: eur("12.50"),
        refunded_before: eur("0.00"),
        created_at: Utc::now(),
        details: &details,
        gateway_subscription_id: None,
    };
    let request = |refund_id: &'static str, amount: &str| RefundRequest {
        payment: facts(),
        refund_id,
        amount: eur(amount),
        reason: Some("Late delivery"),
        first_sent_at: None,
        now: Utc::now(),
    };
    let refunds = gateway.refunds().unwrap();
    refunds.check(&facts()).unwrap();

    let first = refunds.refund(&request("rf_first", "5.00")).await;
    let RefundAnswer::Succeeded {
        gateway_refund_id: Some(refund_txn),
        idempotency_key,
    } = first.answer.clone()
    else {
        panic!("refunded: {:?}", first.answer);
    };
    let ipn = world.ipn(2).await;
    let ipn_fields = fields(&ipn);
    assert_eq!(
        ipn_fields["txn_id"], refund_txn,
        "the IPN's txn_id is the REST refund id"
    );
    assert_eq!(ipn_fields["parent_txn_id"], txn_id);
    assert_eq!(ipn_fields["mc_gross"], "-5.00");
    assert_eq!(ipn_fields["payment_status"], "Refunded");
    let (ipn_key, outcome) = verified_key_and_outcome(&gateway, &ipn).await;
    assert_eq!(ipn_key, idempotency_key, "answer and IPN apply under one key");
    assert_eq!(
        outcome,
        Some(Outcome::Refunded {
            amount: Some(eur("5.00"))
        })
    );

    // The same PayPal-Request-Id: the same refund, no second one, no second IPN.
    let again = refunds.refund(&request("rf_first", "5.00")).await;
    assert_eq!(again.answer, first.answer);

    // More than what is left (7.50): refused.
    let RefundAnswer::Failed { reason } = refunds.refund(&request("rf_too_much", "10.00")).await.answer else {
        panic!("more than what is left");
    };
    assert!(reason.contains("REFUND_AMOUNT_EXCEEDED"), "{reason}");

    // The rest: the payment is then refunded in full.
    let rest = refunds.refund(&request("rf_rest", "7.50")).await;
    assert!(
        matches!(rest.answer, RefundAnswer::Succeeded { .. }),
        "{:?}",
        rest.answer
    );
    let ipn = world.ipn(3).await;
    assert_eq!(fields(&ipn)["mc_gross"], "-7.50");
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(world.received.lock().unwrap().len(), 3, "one IPN per refund");
    let RefundAnswer::Failed { reason } = refunds.refund(&request("rf_more", "0.01")).await.answer else {
        panic!("nothing left");
    };
    assert!(reason.contains("CAPTURE_FULLY_REFUNDED"), "{reason}");

    let page = world.page().await;
    assert!(
        page.contains(&refund_txn) && page.contains("5.00 EUR (API)") && page.contains("7.50 EUR (API)"),
        "{page}"
    );

    // Past the PayPal-Request-Id window, the first refund is found by Transaction Search, not sent again.
    let looked_up = refunds
        .refund(&RefundRequest {
            first_sent_at: Some(Utc::now() - chrono::Duration::days(50)),
            now: Utc::now() + chrono::Duration::seconds(1),
            ..request("rf_first", "5.00")
        })
        .await;
    assert_eq!(looked_up.answer, first.answer);
    assert!(
        looked_up
            .calls
            .iter()
            .any(|c| c.request.contains("/v1/reporting/transactions"))
    );
    assert!(looked_up.calls.iter().all(|c| !c.request.contains("/refund")));
    world.server.stop(false).await;
}

#[actix_web::test]
async fn the_simulator_refuses_wrong_credentials_and_another_account_payment() {
    let world = World::start().await;
    let paid = world.pay(checkout(&world, "other-seller@example.com", "_xclick")).await;
    let id = PaymentId::generate();
    let details = serde_json::Map::new();
    let request = RefundRequest {
        payment: StoredPaymentFacts {
            payment_id: &id,
            gateway_reference: Some(&paid["txn_id"]),
            receiver: Some("other-seller@example.com"),
            amount: eur("12.50"),
            refunded_before: eur("0.00"),
            created_at: Utc::now(),
            details: &details,
            gateway_subscription_id: None,
        },
        refund_id: "rf_other",
        amount: eur("12.50"),
        reason: None,
        first_sent_at: None,
        now: Utc::now(),
    };
    let gateway = world.gateway();
    // A simulator told which account its credentials belong to refuses another's payment, as PayPal does
    // (the gateway itself refuses before calling outside simulator mode: see tests/paypal_refunds.rs).
    let RefundAnswer::Failed { reason } = gateway.refunds().unwrap().refund(&request).await.answer else {
        panic!("another account's payment");
    };
    assert!(reason.contains("PERMISSION_DENIED"), "{reason}");

    let wrong = world.gateway_with_secret("not-the-secret");
    let RefundAnswer::Failed { reason } = wrong.refunds().unwrap().refund(&request).await.answer else {
        panic!("wrong credentials");
    };
    assert!(reason.contains("invalid_client"), "{reason}");
    world.server.stop(false).await;
}

#[actix_web::test]
async fn a_subscription_cancelled_over_nvp_is_followed_by_subscr_cancel_under_the_same_key() {
    let world = World::start().await;
    let gateway = world.gateway();
    let paid = world.pay(checkout(&world, SELLER, "_xclick-subscriptions")).await;
    let subscr_id = paid["subscr_id"].clone();
    let id = PaymentId::generate();
    let details = serde_json::Map::new();
    let request = || CancelRequest {
        payment: StoredPaymentFacts {
            payment_id: &id,
            gateway_reference: Some(&paid["txn_id"]),
            receiver: Some(SELLER),
            amount: eur("5.00"),
            refunded_before: eur("0.00"),
            created_at: Utc::now(),
            details: &details,
            gateway_subscription_id: Some(&subscr_id),
        },
        reason: Some("The customer asked"),
    };
    let cancels = gateway.subscription_cancels().unwrap();
    let attempt = cancels.cancel(&request()).await;
    let CancelAnswer::Cancelled { idempotency_key } = attempt.answer else {
        panic!("cancelled: {:?}", attempt.answer);
    };
    let ipn = world.ipn(3).await;
    assert_eq!(fields(&ipn)["txn_type"], "subscr_cancel");
    let (ipn_key, outcome) = verified_key_and_outcome(&gateway, &ipn).await;
    assert_eq!(ipn_key, idempotency_key);
    assert_eq!(outcome, Some(Outcome::SubscriptionCancelled));

    let CancelAnswer::Failed { reason } = cancels.cancel(&request()).await.answer else {
        panic!("already cancelled");
    };
    assert!(reason.contains("profile should be active or suspended"), "{reason}");
    assert!(world.page().await.contains("cancelled"));
    world.server.stop(false).await;
}

#[actix_web::test]
async fn concurrent_refunds_never_refund_more_than_was_paid_nor_twice_for_one_request_id() {
    let world = World::start().await;
    let gateway = world.gateway();
    let paid = world.pay(checkout(&world, SELLER, "_xclick")).await;
    let txn_id = paid["txn_id"].clone();
    let id = PaymentId::generate();
    let details = serde_json::Map::new();
    let request = |refund_id: &'static str, amount: &str| RefundRequest {
        payment: StoredPaymentFacts {
            payment_id: &id,
            gateway_reference: Some(&txn_id),
            receiver: Some(SELLER),
            amount: eur("12.50"),
            refunded_before: eur("0.00"),
            created_at: Utc::now(),
            details: &details,
            gateway_subscription_id: None,
        },
        refund_id,
        amount: eur(amount),
        reason: None,
        first_sent_at: None,
        now: Utc::now(),
    };
    let refunds = gateway.refunds().unwrap();

    // Two different refunds of 10.00 at once against 12.50: one goes through, the other is refused.
    let (a, b) = (request("rf_a", "10.00"), request("rf_b", "10.00"));
    let (a, b) = tokio::join!(refunds.refund(&a), refunds.refund(&b));
    let succeeded = [&a.answer, &b.answer]
        .iter()
        .filter(|answer| matches!(answer, RefundAnswer::Succeeded { .. }))
        .count();
    assert_eq!(succeeded, 1, "{:?} {:?}", a.answer, b.answer);

    // The same request id sent twice at once: one refund, the same answer to both.
    let (c, d) = (request("rf_c", "1.00"), request("rf_c", "1.00"));
    let (c, d) = tokio::join!(refunds.refund(&c), refunds.refund(&d));
    assert_eq!(c.answer, d.answer);
    assert!(matches!(c.answer, RefundAnswer::Succeeded { .. }));
    world.ipn(3).await;
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(world.received.lock().unwrap().len(), 3, "the payment and two refunds");
    world.server.stop(false).await;
}
