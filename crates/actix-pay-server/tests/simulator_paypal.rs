//! The PayPal simulator, driven like a browser, delivering to a local stand-in for `/notify/paypal`, and
//! checked against the core's own IPN decoding and verification (postback over HTTP to the simulator).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use actix_pay_server::pages;
use actix_pay_server::simulator::paypal::{PaypalSimulator, configure, default_client};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::test as atest;
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::Utc;
use payment_buttons::gateway::{Gateway, IncomingMessage};
use payment_buttons::money::Money;
use payment_buttons::notification::{Notification, Outcome, Verification, VerificationStatus};
use payment_buttons::paypal::simulator::decode_ipn;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use url::form_urlencoded;

const SELLER: &str = "seller@example.com";
const RETURN_URL: &str = "https://shop.example/payments/Xk3f9QpL2mZa";
const CANCEL_URL: &str = "https://shop.example/payments/Xk3f9QpL2mZa?cancelled=1";

/// What the stand-in for `/notify/paypal` received, and the status it answers with.
#[derive(Default)]
struct Receiver {
    bodies: Mutex<Vec<Vec<u8>>>,
    answer: AtomicU16,
}

/// A real HTTP server on 127.0.0.1 holding the notification stand-in and the simulator (for postbacks),
/// plus the simulator's service for browser requests.
struct World {
    sim: Arc<PaypalSimulator>,
    base: String,
    receiver: Arc<Receiver>,
    server: actix_web::dev::ServerHandle,
}

impl World {
    async fn start() -> World {
        let templates = Arc::new(pages::templates().expect("templates parse"));
        let client = default_client().expect("client builds");
        let sim = Arc::new(PaypalSimulator::new(templates, client));
        let receiver = Arc::new(Receiver {
            answer: AtomicU16::new(200),
            ..Receiver::default()
        });
        let (sim_for_server, receiver_for_server) = (sim.clone(), receiver.clone());
        let server = HttpServer::new(move || {
            let receiver = receiver_for_server.clone();
            App::new().configure(configure(sim_for_server.clone())).route(
                "/notify/paypal",
                web::post().to(move |body: web::Bytes| {
                    let receiver = receiver.clone();
                    async move {
                        receiver.bodies.lock().unwrap().push(body.to_vec());
                        let status = StatusCode::from_u16(receiver.answer.load(Ordering::SeqCst)).unwrap();
                        HttpResponse::build(status).finish()
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("binds");
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        World {
            sim,
            base,
            receiver,
            server: handle,
        }
    }

    fn notify_url(&self) -> String {
        format!("{}/notify/paypal", self.base)
    }

    fn received(&self) -> Vec<Vec<u8>> {
        self.receiver.bodies.lock().unwrap().clone()
    }

    /// The core's PayPal gateway in simulator mode, verifying by posting back to the simulator over HTTP.
    fn gateway(&self) -> PaypalGateway {
        let config = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                business: Some(SELLER.to_owned()),
                webscr_url: Some(format!("{}/simulator/paypal", self.base)),
                postback_url: Some(format!("{}/simulator/paypal/postback", self.base)),
                logo_url: None,
                ..Default::default()
            },
        )
        .unwrap();
        PaypalGateway::with_reqwest(config).unwrap()
    }

    /// Verifies a received body the way `/notify/paypal` does; the notification when verified.
    async fn verify(&self, body: &[u8]) -> Verification {
        let message = IncomingMessage {
            received_at: Utc::now(),
            remote_addr: Some("127.0.0.1".to_owned()),
            method: "POST".to_owned(),
            content_type: Some("application/x-www-form-urlencoded".to_owned()),
            body: body.to_vec(),
            headers: Default::default(),
        };
        self.gateway().verify(&message).await
    }

    async fn verified(&self, body: &[u8]) -> Notification {
        match self.verify(body).await {
            Verification::Verified(notification) => notification.into_inner(),
            other => panic!("not verified: {other:?}"),
        }
    }

    async fn stop(self) {
        self.server.stop(false).await;
    }
}

fn form(fields: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The Buy Now hand-off form, as the core writes it.
fn buy_now_form(notify_url: &str, lc: &str) -> String {
    form(&[
        ("cmd", "_xclick"),
        ("business", SELLER),
        ("item_name", "Manual, PDF"),
        ("amount", "12.50"),
        ("currency_code", "EUR"),
        ("invoice", "Xk3f9QpL2mZa"),
        ("custom", "Xk3f9QpL2mZa"),
        ("notify_url", notify_url),
        ("return", RETURN_URL),
        ("cancel_return", CANCEL_URL),
        ("rm", "1"),
        ("lc", lc),
        ("charset", "utf-8"),
        ("no_shipping", "1"),
    ])
}

/// The Subscribe hand-off form, as the core writes it.
fn subscription_form(notify_url: &str, lc: &str, months: &str) -> String {
    form(&[
        ("cmd", "_xclick-subscriptions"),
        ("business", SELLER),
        ("item_name", "Supporter, monthly"),
        ("a3", "5.00"),
        ("p3", months),
        ("t3", "M"),
        ("src", "1"),
        ("sra", "1"),
        ("no_note", "1"),
        ("currency_code", "EUR"),
        ("invoice", "Sub5mZa2LpQ9"),
        ("custom", "Sub5mZa2LpQ9"),
        ("notify_url", notify_url),
        ("return", RETURN_URL),
        ("cancel_return", CANCEL_URL),
        ("rm", "1"),
        ("lc", lc),
        ("charset", "utf-8"),
    ])
}

fn fields(body: &[u8]) -> BTreeMap<String, String> {
    let decoded = decode_ipn(body);
    assert!(
        decoded.flags.is_empty(),
        "flags {:?} in {}",
        decoded.flags,
        String::from_utf8_lossy(body)
    );
    decoded.fields
}

fn location(response: &ServiceResponse) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers().get("location").unwrap().to_str().unwrap().to_owned()
}

async fn text(response: ServiceResponse) -> String {
    String::from_utf8(atest::read_body(response).await.to_vec()).unwrap()
}

/// The value of the first `name="..."` attribute after `marker`, with Tera's escaping undone.
fn attribute_after(html: &str, marker: &str, name: &str) -> String {
    let from = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in page:\n{html}"));
    let rest = &html[from..];
    let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + rest[start..].find('"').unwrap();
    rest[start..end].replace("&#x2F;", "/").replace("&amp;", "&")
}

fn post_request(uri: &str, body: impl Into<String>) -> actix_web::test::TestRequest {
    atest::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body.into())
}

/// POSTs a form body to the service, as a browser would.
macro_rules! post {
    ($app:expr, $uri:expr, $body:expr) => {
        atest::call_service($app, post_request($uri, $body).to_request()).await
    };
}

/// GETs a page of the service as text.
macro_rules! get_text {
    ($app:expr, $uri:expr) => {
        text(atest::call_service($app, atest::TestRequest::get().uri($uri).to_request()).await).await
    };
}

/// Posts a hand-off form and reads the payment page: its HTML and the Pay and Cancel targets.
macro_rules! open_checkout {
    ($app:expr, $form:expr) => {{
        let response = post!($app, "/simulator/paypal", $form);
        assert_eq!(response.status(), StatusCode::OK);
        let html = text(response).await;
        let pay = attribute_after(&html, "<form", "action");
        let cancel = attribute_after(&html, "id=\"cancel\"", "formaction");
        (html, pay, cancel)
    }};
}

/// Runs an action button of the payments page, found by its label.
macro_rules! press {
    ($app:expr, $label:expr) => {{
        let page = get_text!($app, "/simulator/paypal/payments");
        let action = action_of(&page, $label);
        post!($app, &action, "")
    }};
}

/// The target of the form holding the button labelled `label`.
fn action_of(page: &str, label: &str) -> String {
    let button = page
        .find(&format!(">{label}</button>"))
        .unwrap_or_else(|| panic!("no {label} button:\n{page}"));
    let form_start = page[..button].rfind("<form").unwrap();
    attribute_after(&page[form_start..], "<form", "action")
}

#[actix_web::test]
async fn buy_now_pay_sends_a_verified_completed_web_accept_before_sending_the_buyer_to_return() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;

    let (html, pay, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    assert!(
        html.contains(SELLER) && html.contains("Manual, PDF") && html.contains("12.50 EUR"),
        "{html}"
    );
    assert!(html.contains("One payment"), "{html}");
    let response = post!(&app, &pay, "");

    assert_eq!(location(&response), RETURN_URL);
    let received = world.received();
    assert_eq!(received.len(), 1, "one IPN, delivered before the redirect");
    let ipn = fields(&received[0]);
    assert_eq!(ipn["txn_type"], "web_accept");
    assert_eq!(ipn["payment_status"], "Completed");
    assert_eq!(ipn["mc_gross"], "12.50");
    assert_eq!(ipn["mc_currency"], "EUR");
    assert_eq!(ipn["receiver_email"], SELLER);
    assert_eq!(ipn["business"], SELLER);
    assert_eq!(ipn["invoice"], "Xk3f9QpL2mZa");
    assert_eq!(ipn["custom"], "Xk3f9QpL2mZa");
    assert_eq!(ipn["item_name"], "Manual, PDF");
    assert_eq!(ipn["charset"], "UTF-8");
    assert_eq!(ipn["test_ipn"], "1");
    assert_eq!(ipn["txn_id"].len(), 17);
    for present in [
        "payer_email",
        "payer_id",
        "payment_date",
        "notify_version",
        "verify_sign",
        "ipn_track_id",
    ] {
        assert!(ipn.contains_key(present), "{present} missing");
    }

    let notification = world.verified(&received[0]).await;
    assert_eq!(notification.outcome, Some(Outcome::Accepted));
    assert_eq!(notification.payment_ref.as_deref(), Some("Xk3f9QpL2mZa"));
    assert_eq!(notification.gateway_reference.as_deref(), Some(ipn["txn_id"].as_str()));
    assert_eq!(notification.amount, Some(Money::parse("12.50", "EUR").unwrap()));
    assert_eq!(notification.receiver.as_deref(), Some(SELLER));

    let mut altered = received[0].clone();
    let at = altered.iter().position(|&b| b == b'5').unwrap();
    altered[at] = b'6';
    match world.verify(&altered).await {
        Verification::Rejected { status, .. } => assert_eq!(status, VerificationStatus::Invalid),
        other => panic!("an altered body must be INVALID: {other:?}"),
    }
    world.stop().await;
}

#[actix_web::test]
async fn cancel_sends_the_buyer_to_cancel_return_and_no_ipn() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;

    let (_, pay, cancel) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    let response = post!(&app, &cancel, "");

    assert_eq!(location(&response), CANCEL_URL);
    assert!(world.received().is_empty());
    let after = post!(&app, &pay, "");
    assert_eq!(
        after.status(),
        StatusCode::NOT_FOUND,
        "a cancelled checkout cannot be paid"
    );
    assert!(world.received().is_empty());
    world.stop().await;
}

#[actix_web::test]
async fn a_subscription_sends_a_signup_then_its_first_payment() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;

    let (html, pay, _) = open_checkout!(&app, subscription_form(&world.notify_url(), "US", "3"));
    assert!(html.contains("every 3 months"), "{html}");
    assert!(!html.contains("echeck"), "no eCheck choice for a subscription");
    let response = post!(&app, &pay, "");

    assert_eq!(location(&response), RETURN_URL);
    let received = world.received();
    assert_eq!(received.len(), 2);
    let (signup, payment) = (fields(&received[0]), fields(&received[1]));
    assert_eq!(signup["txn_type"], "subscr_signup");
    assert_eq!(signup["mc_amount3"], "5.00");
    assert_eq!(signup["period3"], "3 M");
    assert_eq!(signup["recurring"], "1");
    assert!(!signup.contains_key("txn_id") && !signup.contains_key("payment_status"));
    assert_eq!(payment["txn_type"], "subscr_payment");
    assert_eq!(payment["payment_status"], "Completed");
    assert_eq!(payment["mc_gross"], "5.00");
    assert_eq!(payment["subscr_id"], signup["subscr_id"]);
    assert_eq!(payment["txn_id"].len(), 17);

    let signed_up = world.verified(&received[0]).await;
    assert_eq!(signed_up.outcome, None, "a sign-up moves no money");
    let paid = world.verified(&received[1]).await;
    assert_eq!(paid.outcome, Some(Outcome::Accepted));
    assert_eq!(paid.amount, Some(Money::parse("5.00", "EUR").unwrap()));
    world.stop().await;
}

#[actix_web::test]
async fn a_refund_is_a_new_transaction_with_a_negative_amount_and_the_parent_id() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (_, pay, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    post!(&app, &pay, "");
    let original = fields(&world.received()[0]);

    let response = press!(&app, "Refund");

    assert_eq!(location(&response), "/simulator/paypal/payments");
    let received = world.received();
    assert_eq!(received.len(), 2);
    let refund = fields(&received[1]);
    assert_eq!(refund["payment_status"], "Refunded");
    assert_eq!(refund["mc_gross"], "-12.50");
    assert_eq!(refund["parent_txn_id"], original["txn_id"]);
    assert_eq!(refund["reason_code"], "refund");
    assert_ne!(refund["txn_id"], original["txn_id"]);
    assert_eq!(refund["invoice"], "Xk3f9QpL2mZa");
    let notification = world.verified(&received[1]).await;
    assert_eq!(
        notification.outcome,
        Some(Outcome::Refunded {
            amount: Some(Money::parse("12.50", "EUR").unwrap())
        })
    );

    let page = get_text!(&app, "/simulator/paypal/payments");
    assert!(
        page.contains("Refunded") && !page.contains(">Refund</button>"),
        "{page}"
    );
    let again = post!(
        &app,
        &format!("/simulator/paypal/payments/{}/refund", original["txn_id"]),
        ""
    );
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(text(again).await.contains("only a completed payment can be refunded"));
    assert_eq!(world.received().len(), 2, "no second refund");
    world.stop().await;
}

#[actix_web::test]
async fn a_pending_echeck_is_completed_later_under_the_same_transaction_id() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (html, pay, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    assert!(html.contains("<label for=\"echeck\">"), "{html}");

    let response = post!(&app, &pay, "echeck=1".to_owned());
    assert_eq!(location(&response), RETURN_URL);
    let pending = fields(&world.received()[0]);
    assert_eq!(pending["payment_status"], "Pending");
    assert_eq!(pending["pending_reason"], "echeck");
    assert_eq!(pending["payment_type"], "echeck");
    assert_eq!(
        world.verified(&world.received()[0]).await.outcome,
        Some(Outcome::Pending)
    );

    let response = press!(&app, "Complete it");

    assert_eq!(location(&response), "/simulator/paypal/payments");
    let received = world.received();
    assert_eq!(received.len(), 2);
    let completed = fields(&received[1]);
    assert_eq!(completed["payment_status"], "Completed");
    assert_eq!(completed["txn_id"], pending["txn_id"]);
    assert!(!completed.contains_key("pending_reason"));
    assert_ne!(completed["ipn_track_id"], pending["ipn_track_id"]);
    assert_eq!(world.verified(&received[1]).await.outcome, Some(Outcome::Accepted));
    world.stop().await;
}

#[actix_web::test]
async fn the_next_subscription_payment_has_a_new_transaction_id_and_the_same_subscription() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (_, pay, _) = open_checkout!(&app, subscription_form(&world.notify_url(), "US", "1"));
    post!(&app, &pay, "");
    let first = fields(&world.received()[1]);

    let response = press!(&app, "Next payment");

    assert_eq!(location(&response), "/simulator/paypal/payments");
    let received = world.received();
    assert_eq!(received.len(), 3);
    let next = fields(&received[2]);
    assert_eq!(next["txn_type"], "subscr_payment");
    assert_eq!(next["subscr_id"], first["subscr_id"]);
    assert_ne!(next["txn_id"], first["txn_id"]);
    assert_eq!(next["mc_gross"], "5.00");
    let notification = world.verified(&received[2]).await;
    assert_eq!(notification.outcome, Some(Outcome::Accepted));
    assert_eq!(notification.gateway_reference.as_deref(), Some(next["txn_id"].as_str()));
    world.stop().await;
}

#[actix_web::test]
async fn a_cancelled_subscription_sends_subscr_cancel_and_no_more_payments() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (_, pay, _) = open_checkout!(&app, subscription_form(&world.notify_url(), "US", "1"));
    post!(&app, &pay, "");
    let subscr_id = fields(&world.received()[0])["subscr_id"].clone();

    let response = press!(&app, "Cancel subscription");

    assert_eq!(location(&response), "/simulator/paypal/payments");
    let received = world.received();
    assert_eq!(received.len(), 3);
    let cancel = fields(&received[2]);
    assert_eq!(cancel["txn_type"], "subscr_cancel");
    assert_eq!(cancel["subscr_id"], subscr_id);
    assert_eq!(
        world.verified(&received[2]).await.outcome,
        Some(Outcome::SubscriptionCancelled)
    );

    let next = post!(&app, &format!("/simulator/paypal/subscriptions/{subscr_id}/next"), "");
    assert_eq!(next.status(), StatusCode::CONFLICT);
    assert_eq!(world.received().len(), 3, "a cancelled subscription is not charged");
    world.stop().await;
}

#[actix_web::test]
async fn the_postback_answers_verified_only_for_bodies_the_simulator_sent() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (_, pay, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    post!(&app, &pay, "");
    let sent = String::from_utf8(world.received()[0].clone()).unwrap();
    assert_eq!(world.sim.sent_bodies(), vec![sent.clone().into_bytes()]);

    let answer = |body: String| {
        let app = &app;
        async move {
            let response = post!(app, "/simulator/paypal/postback", body);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "text/plain; charset=utf-8"
            );
            text(response).await
        }
    };
    assert_eq!(answer(format!("cmd=_notify-validate&{sent}")).await, "VERIFIED");
    assert_eq!(answer(sent.clone()).await, "INVALID", "the prefix is required");
    assert_eq!(answer(format!("cmd=_notify-validate&{sent}&")).await, "INVALID");
    assert_eq!(
        answer(format!("cmd=_notify-validate&{}", sent.replace("12.50", "12.51"))).await,
        "INVALID"
    );
    let fixture = include_str!("../../payment-buttons/tests/fixtures/paypal-ipn/c-07-web_accept-completed-utf8.txt");
    assert_eq!(
        answer(format!("cmd=_notify-validate&{fixture}")).await,
        "INVALID",
        "PayPal's real messages are not ours"
    );
    assert_eq!(answer("cmd=_notify-validate&".to_owned()).await, "INVALID");
    world.stop().await;
}

#[actix_web::test]
async fn the_payment_page_speaks_french_for_lc_fr() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;

    let (buy_now, _, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "FR"));
    let (subscription, _, _) = open_checkout!(&app, subscription_form(&world.notify_url(), "FR", "1"));

    assert!(buy_now.contains("<html lang=\"fr\">"), "{buy_now}");
    assert!(
        buy_now.contains(">Payer</button>") && buy_now.contains(">Annuler</button>"),
        "{buy_now}"
    );
    assert!(
        buy_now.contains("Paiement unique") && buy_now.contains("Vendeur"),
        "{buy_now}"
    );
    assert!(subscription.contains("tous les mois"), "{subscription}");
    let (english, _, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    assert!(
        english.contains(">Pay</button>") && english.contains(">Cancel</button>"),
        "{english}"
    );
    world.stop().await;
}

#[actix_web::test]
async fn an_undelivered_ipn_is_explained_on_the_page_and_the_buyer_can_try_again() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    let (_, pay, _) = open_checkout!(&app, buy_now_form(&world.notify_url(), "US"));
    world.receiver.answer.store(503, Ordering::SeqCst);

    let failed = post!(&app, &pay, "");

    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let page = text(failed).await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(
        page.contains("could not be delivered") && page.contains("HTTP 503"),
        "{page}"
    );
    world.receiver.answer.store(200, Ordering::SeqCst);
    let retried = post!(&app, &pay, "");
    assert_eq!(location(&retried), RETURN_URL);
    assert_eq!(
        world.received().len(),
        2,
        "the failed attempt reached the receiver, then the retry"
    );
    world.stop().await;
}

#[actix_web::test]
async fn an_unreachable_notify_url_is_explained_too() {
    let world = World::start().await;
    let app = atest::init_service(App::new().configure(configure(world.sim.clone()))).await;
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    let (_, pay, _) = open_checkout!(&app, buy_now_form("http://127.0.0.1:9/notify/paypal", "FR"));

    let failed = post!(&app, &pay, "");

    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let page = text(failed).await;
    assert!(
        page.contains("n&#x27;a pas pu être remise") || page.contains("n'a pas pu être remise"),
        "{page}"
    );
    assert!(page.contains("127.0.0.1:9"), "{page}");
    world.stop().await;
}

#[actix_web::test]
async fn forms_the_simulator_refuses_get_a_page_saying_why() {
    let templates = Arc::new(pages::templates().unwrap());
    let sim = Arc::new(
        PaypalSimulator::new(templates, default_client().unwrap()).only_notify_under("https://pay.example/notify/"),
    );
    let app = atest::init_service(App::new().configure(configure(sim))).await;

    let elsewhere = post!(&app, "/simulator/paypal", buy_now_form("http://10.0.0.1/admin", "US"));
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert!(
        text(elsewhere)
            .await
            .contains("https:&#x2F;&#x2F;pay.example&#x2F;notify&#x2F;")
    );

    let no_amount = form(&[
        ("cmd", "_xclick"),
        ("business", SELLER),
        ("notify_url", "https://pay.example/notify/paypal"),
    ]);
    let refused = post!(&app, "/simulator/paypal", no_amount);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(text(refused).await.contains("amount is wrong: missing"));

    let unknown = post!(&app, "/simulator/paypal/NoSuchCheckout/pay", "");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
