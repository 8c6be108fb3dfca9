//! What an operator watches, on the real binary: `/metrics` values moving as gateway messages arrive,
//! `/metrics` refused to an address outside `metrics.allow` unless it brings the token, `/readyz`, and the
//! JSON log format read back line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_librement-server");
const TOKEN: &str = "a-metrics-token-0123456789";

struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("PAY_SERVER_BIND", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let lines = stderr.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = out.next().expect("the server prints its address").unwrap();
    let base = first
        .strip_prefix("librement-server listening on ")
        .expect(&first)
        .trim()
        .to_owned();
    std::thread::spawn(move || for _ in out {});
    Server {
        child,
        base,
        stderr,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The sum of the samples of `name` whose labels contain every one of `labels`.
fn sample_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let answer = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus text format"
    );
    answer.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_as_messages_arrive_and_logs_are_json_lines_without_the_body() {
    let server = start(&[("PAY_LOG_FORMAT", "json")]);
    let http = client();
    let before = scrape(&http, &server.base).await;
    assert_eq!(
        sample_sum(&before, "librement_gateway_messages_total", &["gateway=\"cmcic\""]),
        0.0
    );

    // A CM-CIC notification with a seal that is not the bank's: logged, verified (bad_mac), counted.
    let body = "TPE=1234567&date=03%2F12%2F2026_a_11%3A00%3A00&montant=12.50EUR&reference=SECRETREF42&MAC=00&code-retour=payetest";
    let answer = http
        .post(format!("{}/notify/cmcic", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success() || answer.status().is_client_error());

    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&http, &server.base).await;
        if sample_sum(&text, "librement_gateway_messages_total", &["gateway=\"cmcic\""]) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sample_sum(&text, "librement_gateway_messages_total", &["gateway=\"cmcic\""]),
        1.0,
        "{text}"
    );
    assert!(sample_sum(&text, "librement_verification_seconds_count", &["gateway=\"cmcic\""]) >= 1.0);
    assert!(
        sample_sum(&text, "librement_http_requests_total", &["route=\"/notify/{gateway}\""]) >= 1.0,
        "requests are counted by route pattern, never by path: {text}"
    );
    assert!(
        sample_sum(
            &text,
            "librement_http_requests_total",
            &["route=\"/metrics\"", "status=\"200\""]
        ) >= 1.0
    );
    assert!(text.contains("librement_queue_depth"), "{text}");
    assert!(text.contains("librement_outbox_lag_seconds"), "{text}");
    assert!(
        text.contains("librement_http_request_duration_seconds_bucket"),
        "{text}"
    );

    let ready = http.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready\n");

    // The log, line by line: every line one JSON object, no colour codes, the message's line and its
    // verification, and never the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = server.stderr.lock().unwrap().clone();
    let mut received = None;
    let mut verified = None;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        assert!(!line.contains('\u{1b}'), "no ANSI codes when not a terminal: {line}");
        assert!(!line.contains("SECRETREF42"), "the body never reaches the log: {line}");
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        match value["message"].as_str() {
            Some("gateway message received") => received = Some(value),
            Some("gateway message verified") => verified = Some(value),
            _ => {}
        }
    }
    let received = received.unwrap_or_else(|| panic!("no 'gateway message received' line in {lines:#?}"));
    assert_eq!(received["level"], "INFO");
    assert_eq!(received["gateway"], "cmcic");
    assert_eq!(received["size"], body.len());
    assert_eq!(received["remote_addr"], "127.0.0.1");
    assert!(received["log_id"].as_i64().is_some());
    let verified = verified.expect("a 'gateway message verified' line");
    assert_eq!(verified["gateway"], "cmcic");
    assert!(verified["verification"].as_str().is_some());
}

#[tokio::test]
async fn metrics_are_refused_outside_the_allowed_addresses_unless_the_token_is_given() {
    let server = start(&[("PAY_METRICS_ALLOW", "10.0.0.0/8"), ("PAY_METRICS_TOKEN", TOKEN)]);
    let http = client();
    let url = format!("{}/metrics", server.base);
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let wrong = http
        .get(&url)
        .bearer_auth("not-the-metrics-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let with_token = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(with_token.status(), 200);
    assert!(
        with_token
            .text()
            .await
            .unwrap()
            .contains("librement_http_requests_total")
    );

    drop(server);
    let disabled = start(&[("PAY_METRICS_ENABLED", "false")]);
    let gone = http.get(format!("{}/metrics", disabled.base)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}
