//! Zero configuration (every gateway simulated), served over HTTP as `librement-server serve` assembles it:
//! the PayPal gateway the server builds refunds and cancels through the simulator mounted in the same
//! server, with the simulator's credentials, no PayPal account needed — also for a payment to another
//! account than `paypal.business`, as the demo shop's are (one simulator stands in for every account).

use actix_pay_server::config::Config;
use actix_pay_server::serve::assemble;
use actix_pay_server::store::ServerStore;
use actix_web::{App, HttpServer};
use chrono::Utc;
use payment_buttons::gateway::{CancelAnswer, CancelRequest, RefundAnswer, RefundRequest, StoredPaymentFacts};
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use url::form_urlencoded;

#[actix_web::test]
async fn the_server_gateway_refunds_and_cancels_through_its_own_simulator() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(None, Vec::new()).unwrap();
    let store = ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
        .await
        .unwrap();
    let assembled = assemble(
        &config,
        &url::Url::parse(&public).unwrap(),
        b"a test secret of at least thirty-two bytes",
        store,
    )
    .unwrap();
    let routes = assembled.configure();
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    // A Buy Now and a subscription paid at the simulator, to the simulated business account.
    let business = config
        .paypal
        .as_ref()
        .and_then(|p| p.business.clone())
        .expect("simulated business");
    let sim = assembled.paypal_simulator.clone().expect("simulator mode");
    let notify = format!("{public}/notify/paypal");
    let form = |cmd: &str, extra: &[(&str, &str)]| {
        let mut f = form_urlencoded::Serializer::new(String::new());
        f.append_pair("cmd", cmd)
            .append_pair("business", &business)
            .append_pair("item_name", "Manual")
            .append_pair("currency_code", "EUR")
            .append_pair("notify_url", &notify);
        for (k, v) in extra {
            f.append_pair(k, v);
        }
        f.finish()
    };
    let (checkout, _) = sim
        .open_checkout(form("_xclick", &[("amount", "20.00")]).as_bytes())
        .unwrap();
    sim.pay(&checkout, false).await.unwrap();
    let (checkout, _) = sim
        .open_checkout(
            form(
                "_xclick-subscriptions",
                &[("a3", "3.00"), ("p3", "1"), ("t3", "M"), ("src", "1")],
            )
            .as_bytes(),
        )
        .unwrap();
    sim.pay(&checkout, false).await.unwrap();
    let page = reqwest::get(format!("{public}/simulator/paypal/payments"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Newest first: the Buy Now is the last transaction listed.
    let txn_id = between(&page[page.rfind("id=\"txn-").unwrap()..], "id=\"txn-", "\"");
    let subscr_id = between(&page, "id=\"subscr-", "\"");

    let gateway = assembled.state.engine.gateways().get("paypal").unwrap().clone();
    let id = PaymentId::generate();
    let details = serde_json::Map::new();
    let facts = StoredPaymentFacts {
        payment_id: &id,
        gateway_reference: Some(&txn_id),
        receiver: Some(&business),
        amount: Money::parse("20.00", "EUR").unwrap(),
        refunded_before: Money::parse("0.00", "EUR").unwrap(),
        created_at: Utc::now(),
        details: &details,
        gateway_subscription_id: Some(&subscr_id),
    };
    let refunds = gateway.refunds().expect("PayPal refunds");
    refunds
        .check(&facts)
        .expect("the simulator's credentials refund the simulated account's payments");
    let attempt = refunds
        .refund(&RefundRequest {
            payment: facts.clone(),
            refund_id: "rf_server",
            amount: Money::parse("8.00", "EUR").unwrap(),
            reason: None,
            first_sent_at: None,
            now: Utc::now(),
        })
        .await;
    assert!(
        matches!(attempt.answer, RefundAnswer::Succeeded { .. }),
        "{:?}",
        attempt.answer
    );

    let cancels = gateway.subscription_cancels().expect("PayPal cancellations");
    cancels.check(&facts).unwrap();
    let attempt = cancels
        .cancel(&CancelRequest {
            payment: facts,
            reason: None,
        })
        .await;
    assert_eq!(
        attempt.answer,
        CancelAnswer::Cancelled {
            idempotency_key: format!("subscr_cancel:{subscr_id}")
        }
    );
    handle.stop(false).await;
}

/// The text between `start` and the next `end` (the first row's id on the simulator's page).
fn between(page: &str, start: &str, end: &str) -> String {
    let from = page.find(start).unwrap_or_else(|| panic!("no {start} in\n{page}")) + start.len();
    page[from..from + page[from..].find(end).unwrap()].to_owned()
}
