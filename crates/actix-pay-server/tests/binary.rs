//! The real binary, started as a newcomer would: zero configuration, port 0, a fresh working directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_librement-server");

struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Server {
    start_with(env, None)
}

/// Starts the binary; `config` is written to `pay.toml` in its working directory and passed with `--config`.
fn start_with(env: &[(&str, &str)], config: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = config {
        std::fs::write(dir.path().join("pay.toml"), text).unwrap();
    }
    spawn_in(dir, env)
}

/// Starts the binary in `dir` (with `--config pay.toml` when that file is there).
fn spawn_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
    let args: &[&str] = if dir.path().join("pay.toml").exists() {
        &["--config", "pay.toml"]
    } else {
        &[]
    };
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .env("PAY_SERVER_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the server prints its address").unwrap();
    let base = first
        .strip_prefix("librement-server listening on ")
        .expect(&first)
        .trim()
        .to_owned();
    let second = lines.next().unwrap().unwrap();
    assert!(
        second.starts_with("simulator mode") || second.starts_with("gateways:"),
        "{second}"
    );
    // Keep reading stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base, dir }
}

impl Server {
    /// Kills the process without warning (SIGKILL) and starts a new one on the same directory: same
    /// database, same generated key.
    fn kill_and_restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        spawn_in(dir, &[])
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| s.replace("&#x2F;", "/").replace("&quot;", "\"").replace("&amp;", "&");
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once("value=\"")?.1.split_once('"')?.0;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

fn form_action(html: &str, ending: &str) -> String {
    html.split("action=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&#x2F;", "/"))
        .find(|a| a.ends_with(ending))
        .unwrap_or_else(|| panic!("no form posting to …{ending} in {html}"))
}

#[tokio::test]
async fn zero_configuration_starts_in_simulator_mode_and_a_paypal_payment_goes_through() {
    let server = start(&[("PAY_SERVER_API_KEYS", "test-api-key-0123456789")]);
    let http = client();
    assert_eq!(
        http.get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        server.dir.path().join("data/librement.sqlite3").exists(),
        "SQLite under ./data"
    );
    assert!(
        server.dir.path().join("data/secret_key").exists(),
        "a generated key, kept"
    );

    pay_through_the_paypal_simulator(&server, &http).await;
}

/// Signs a 12.50 EUR PayPal button (in French, paid to `seller@example.com`) through `POST /api/buttons`;
/// returns its token.
async fn button_token(server: &Server, http: &reqwest::Client, order_reference: &str) -> String {
    let button = serde_json::json!({
        "order_reference": order_reference, "language": "fr",
        "options": [{ "description": "Manuel", "amount": "12.50", "currency": "EUR", "custom": { "sku": "m" } }],
        "payment_options": { "paypal": { "paypal_email": "seller@example.com" } },
        "urls": { "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                  "declined": "https://shop.example/sorry" }
    });
    let api: serde_json::Value = http
        .post(format!("{}/api/buttons", server.base))
        .bearer_auth("test-api-key-0123456789")
        .json(&button)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    api["token"].as_str().expect("a token").to_owned()
}

/// Creates a button through the API, pays it in the PayPal simulator and waits for the status page to say
/// accepted; returns the payment id.
async fn pay_through_the_paypal_simulator(server: &Server, http: &reqwest::Client) -> String {
    let token = button_token(server, http, "ORDER-1042").await;

    // The buyer presses the button; the hand-off page posts to the PayPal simulator.
    let hand_off = http
        .post(format!("{}/pay", server.base))
        .form(&[("button", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(hand_off.status(), 200);
    let hand_off = hand_off.text().await.unwrap();
    let fields = hidden_fields(&hand_off);
    let invoice = fields.iter().find(|(k, _)| k == "invoice").unwrap().1.clone();
    let checkout = http
        .post(form_action(&hand_off, "/simulator/paypal"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), 200);
    let checkout = checkout.text().await.unwrap();
    let pay = format!("{}{}", server.base, form_action(&checkout, "/pay"));
    let paid = http.post(pay).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        back,
        format!("{}/payments/{invoice}", server.base),
        "PayPal returns the buyer to our status page"
    );

    // The IPN was logged, verified by postback to the simulator and applied by the worker.
    let mut state = String::new();
    for _ in 0..50 {
        let page = http.get(&back).send().await.unwrap().text().await.unwrap();
        state = page
            .split("data-state=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        if state == "accepted" {
            assert!(
                page.contains("https:&#x2F;&#x2F;shop.example&#x2F;thanks"),
                "then on to the shop's page"
            );
            assert!(page.contains("Merci"), "in the button's language");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "accepted");
    invoice
}

#[tokio::test]
async fn with_paypal_checkout_the_binary_takes_a_payment_through_the_simulated_orders_api() {
    let server = start(&[
        ("PAY_SERVER_API_KEYS", "test-api-key-0123456789"),
        ("PAY_PAYPAL_INTEGRATION", "checkout"),
    ]);
    let http = client();
    let token = button_token(&server, &http, "ORDER-16").await;
    // The order is created by the server: the buyer is sent straight to the approval page.
    let pay = http
        .post(format!("{}/pay", server.base))
        .form(&[("button", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(pay.status(), 303);
    let approval = pay.headers()["location"].to_str().unwrap().to_owned();
    assert!(approval.contains("/simulator/paypal/checkoutnow?token="), "{approval}");
    let page = http.get(&approval).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("seller@example.com") && page.contains("12.50"), "{page}");
    let order = approval.split("token=").nth(1).unwrap();
    let approved = http
        .post(format!("{}/simulator/paypal/checkoutnow/{order}/approve", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 303);
    let back = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{}/return/paypal/", server.base)), "{back}");
    let returned = http.get(&back).send().await.unwrap();
    assert_eq!(returned.status(), 303);
    let status = returned.headers()["location"].to_str().unwrap().to_owned();
    // Captured on the return: the status page says so at once.
    let page = http.get(&status).send().await.unwrap().text().await.unwrap();
    let state = page.split("data-state=\"").nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(state, "accepted", "{page}");
}

#[tokio::test]
async fn webhooks_configured_in_the_file_receive_the_signed_events() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use payment_buttons::webhook::{ReceivedHeaders, WebhookSecret, verify};
    use std::sync::{Arc, Mutex};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = received.clone();
    let receiver = HttpServer::new(move || {
        let sink = sink.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let sink = sink.clone();
                async move {
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                    let headers = ReceivedHeaders::from_lookup(header).unwrap();
                    let secret = WebhookSecret::parse(SECRET).unwrap();
                    verify(&[secret], &headers, &body, chrono::Utc::now(), Duration::from_secs(300)).unwrap();
                    sink.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = receiver.addrs()[0];
    tokio::spawn(receiver.run());

    let config = format!(
        "[server]\napi_keys = [\"test-api-key-0123456789\"]\n\n[[webhooks]]\nurl = \"http://{addr}/hook\"\nsecrets = [\"{SECRET}\"]\n"
    );
    let server = start_with(&[], Some(&config));
    let http = client();
    let id = pay_through_the_paypal_simulator(&server, &http).await;

    let mut kinds = Vec::new();
    for _ in 0..100 {
        kinds = received
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        if kinds.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kinds, ["payment_processed", "payment_accepted"]);
    let events = received.lock().unwrap();
    assert_eq!(events[1]["payment"]["id"], id.as_str());
    assert_eq!(
        events[1]["button"]["options"][0]["custom"]["sku"], "m",
        "the whole button configuration"
    );
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.contains("serve") && text.contains("migrate") && text.contains("--config"),
        "{text}"
    );
    let out = Command::new(BIN).args(["migrate", "--help"]).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("PAY_SERVER_BIND", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("PAY_SERVER_BIND") && !err.contains("panicked") && !err.contains("backtrace"));

    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("PAY_SERVER_BINDD", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("PAY_SERVER_BINDD"));
}

#[test]
fn a_real_gateway_with_a_generated_secret_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .envs([
            ("PAY_SERVER_BIND", "127.0.0.1:0"),
            ("PAY_PAYPAL_MODE", "sandbox"),
            ("PAY_PAYPAL_BUSINESS", "s@example.com"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("secret_key"), "{err}");
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("data/librement.sqlite3").exists());
}

#[tokio::test]
async fn killing_the_server_mid_delivery_loses_no_event() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    struct Receiver {
        accepting: AtomicBool,
        refused: AtomicUsize,
        ids: Mutex<Vec<String>>,
    }
    let receiver = Arc::new(Receiver {
        accepting: AtomicBool::new(false),
        refused: AtomicUsize::new(0),
        ids: Mutex::default(),
    });
    let shared = receiver.clone();
    let http_server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest| {
                let shared = shared.clone();
                async move {
                    if !shared.accepting.load(Ordering::SeqCst) {
                        shared.refused.fetch_add(1, Ordering::SeqCst);
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                    let id = req.headers().get("webhook-id").unwrap().to_str().unwrap().to_owned();
                    shared.ids.lock().unwrap().push(id);
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = http_server.addrs()[0];
    tokio::spawn(http_server.run());

    let config = format!(
        "[server]\napi_keys = [\"test-api-key-0123456789\"]\nsecret_key = \"a-fixed-secret-key-of-32-characters-or-more\"\n\n[[webhooks]]\nurl = \"http://{addr}/hook\"\nsecrets = [\"{SECRET}\"]\n"
    );
    let server = start_with(&[], Some(&config));
    let http = client();
    for _ in 0..3 {
        pay_through_the_paypal_simulator(&server, &http).await;
    }
    // The receiver is down: deliveries are being attempted and retried.
    for _ in 0..100 {
        if receiver.refused.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(receiver.refused.load(Ordering::SeqCst) > 0, "delivery was under way");

    let server = server.kill_and_restart();
    receiver.accepting.store(true, Ordering::SeqCst);
    let mut distinct = BTreeSet::new();
    for _ in 0..300 {
        distinct = receiver.ids.lock().unwrap().iter().cloned().collect();
        if distinct.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        distinct.len(),
        6,
        "three payments, two events each, all delivered after the restart"
    );
    assert_eq!(
        http.get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_binary_sets_the_security_headers_limits_pay_and_answers_413_to_an_oversize_notification() {
    let server = start(&[("PAY_LIMITS_PAY_PER_MINUTE", "2")]);
    let http = client();

    let shop = http.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(shop.headers()["x-frame-options"], "DENY");
    let csp = shop.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(shop.headers()["x-content-type-options"], "nosniff");
    assert_eq!(shop.headers()["referrer-policy"], "strict-origin-when-cross-origin");

    let mut statuses = Vec::new();
    for _ in 0..4 {
        let answer = http
            .post(format!("{}/pay", server.base))
            .form(&[("button", "forged")])
            .send()
            .await
            .unwrap();
        if answer.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            assert!(answer.headers().contains_key("retry-after"));
        }
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(statuses, [400, 400, 429, 429]);

    // 250 KB to the CM-CIC route: the sender reads a 413 (it is not cut off mid-request).
    let answer = http
        .post(format!("{}/notify/cmcic", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'x'; 250_000])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
}

/// `GET /api/payments/{id}` as JSON.
async fn payment_json(server: &Server, http: &reqwest::Client, id: &str) -> serde_json::Value {
    http.get(format!("{}/api/payments/{id}", server.base))
        .bearer_auth("test-api-key-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the payment's `refunded_amount` is `amount`; returns the payment.
async fn wait_for_refunded(server: &Server, http: &reqwest::Client, id: &str, amount: &str) -> serde_json::Value {
    let mut payment = serde_json::Value::Null;
    for _ in 0..100 {
        payment = payment_json(server, http, id).await;
        if payment["refunded_amount"] == amount {
            return payment;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("refunded_amount never reached {amount}: {payment}");
}

async fn refund(
    server: &Server,
    http: &reqwest::Client,
    id: &str,
    key: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let answer = http
        .post(format!("{}/api/payments/{id}/refunds", server.base))
        .bearer_auth("test-api-key-0123456789")
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn a_shop_refunds_a_paypal_payment_in_part_then_in_full_through_the_api_and_each_refund_counts_once() {
    let server = start(&[("PAY_SERVER_API_KEYS", "test-api-key-0123456789")]);
    let http = client();
    let id = pay_through_the_paypal_simulator(&server, &http).await;

    // Part of it: PayPal's REST refund (the simulator's), then its IPN `Refunded` for the same refund.
    let (status, first) = refund(
        &server,
        &http,
        &id,
        "refund-1",
        serde_json::json!({"amount": "5.00", "reason": "damaged"}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["amount"], "5.00");
    let payment = wait_for_refunded(&server, &http, &id, "5.00").await;
    assert_eq!(payment["state"], "accepted", "partly refunded: still accepted");
    // The same key and body: the same refund, nothing sent again.
    let (status, replay) = refund(
        &server,
        &http,
        &id,
        "refund-1",
        serde_json::json!({"amount": "5.00", "reason": "damaged"}),
    )
    .await;
    assert_eq!((status, &replay["id"]), (201, &first["id"]), "{replay}");

    // What is left (no amount): the payment becomes refunded.
    let (status, second) = refund(
        &server,
        &http,
        &id,
        "refund-2",
        serde_json::json!({"reason": "returned"}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["amount"], "7.50");
    let payment = wait_for_refunded(&server, &http, &id, "12.50").await;
    assert_eq!(payment["state"], "refunded");
    // Nothing is left to refund.
    let (status, nothing) = refund(&server, &http, &id, "refund-3", serde_json::json!({})).await;
    assert_eq!(status, 409, "{nothing}");

    // The simulator's IPNs for both refunds arrive after the answers: each refund is one event, whichever
    // came first, and both refunds succeeded.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let payment = payment_json(&server, &http, &id).await;
    let refunded_events = payment["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "payment_refunded")
        .count();
    assert_eq!(refunded_events, 2, "{payment}");
    let states: Vec<&str> = payment["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded", "succeeded"], "{payment}");
    assert_eq!(payment["refunded_amount"], "12.50");

    // The metrics count the refunds' moves like the notifications': accepted (by the IPN, then again by the
    // partial refund) and refunded once.
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |state: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("librement_payments_total{")
                    && l.contains("gateway=\"paypal\"")
                    && l.contains(&format!("state=\"{state}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(count("refunded").as_deref(), Some("1"), "{metrics}");
    assert_eq!(count("accepted").as_deref(), Some("2"), "{metrics}");
}
