//! One intake run against `librement-server`: fresh database, postback stub, payments created beforehand,
//! a bounded load on `POST /notify/paypal`, then the drain (until every message is verified and its
//! events are in the outbox), peak memory and CPU.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::db::Db;
use crate::http::Connection;
use crate::load::{self, Mode, Stats, Target};
use crate::server::Process;
use crate::{ipn, stub};

/// Bench-only credentials (loopback, throw-away database).
const SECRET_KEY: &str = "pay-bench secret key, only for loopback benchmarks";
const API_KEY: &str = "pay-bench-api-key-0123456789";
const SELLER: &str = "seller@example.com";

/// One configuration of an intake run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Short label (also the run directory and PostgreSQL database name).
    pub label: String,
    /// SQLite or PostgreSQL.
    pub postgres: bool,
    /// The postback stub's delay.
    pub stub_delay: Duration,
    /// The load.
    pub mode: Mode,
    /// Messages already in the log before the run.
    pub prefill: u64,
    /// How long to wait for the drain at most.
    pub drain_timeout: Duration,
    /// A number distinct per run, in `txn_id`s.
    pub run: u32,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan.
    pub plan: Plan,
    /// The load's statistics.
    pub stats: Stats,
    /// From the first request until the queue was empty and every logged message verified; `None` if the
    /// drain did not finish within the plan's timeout.
    pub drained_after: Option<Duration>,
    /// Messages verified after the load, and the time it took (to compute a rate when not drained).
    pub verified: i64,
    /// Events written by the run.
    pub events: i64,
    /// Seconds from the first request to the last drain sample.
    pub observed: Duration,
    /// Peak RSS of the server, KiB.
    pub peak_rss_kib: Option<u64>,
    /// CPU seconds the server used during the load and drain.
    pub cpu_seconds: Option<f64>,
    /// Postbacks the stub answered.
    pub postbacks: u64,
    /// Query plans, when asked.
    pub explain: Option<String>,
    /// Time spent pre-filling the log.
    pub prefill_time: Duration,
}

impl Outcome {
    /// Messages verified and applied per second, from the first request to the end of the drain (or of
    /// observation).
    pub fn drain_rate(&self) -> f64 {
        let secs = self.drained_after.unwrap_or(self.observed).as_secs_f64();
        if secs > 0.0 { self.verified as f64 / secs } else { 0.0 }
    }
}

/// Runs one plan with the server binary `bin`, under `work` (run directories).
pub async fn run(bin: &Path, work: &Path, plan: Plan, explain: bool) -> Result<Outcome> {
    let dir = work.join(&plan.label);
    std::fs::create_dir_all(&dir)?;
    let db = if plan.postgres {
        Db::Postgres(format!("paybench_{}", plan.label.replace('-', "_")))
    } else {
        Db::Sqlite(dir.join("db.sqlite3"))
    };
    db.create()?;
    let result = run_on(bin, &dir, &db, plan, explain).await;
    db.drop_db();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Starts the server in `dir` on `db`, its PayPal postbacks going to the stub at `postback`, with the extra
/// `PAY_*` variables of `env`.
pub fn start_server(
    bin: &Path,
    dir: &Path,
    db: &Db,
    postback: std::net::SocketAddr,
    env: &[(&str, String)],
) -> Result<Process> {
    let mut command = Command::new(bin);
    command
        .current_dir(dir)
        .env("PAY_SERVER_BIND", "127.0.0.1:0")
        .env("PAY_DATABASE_URL", db.url())
        .env("PAY_PAYPAL_MODE", "simulator")
        .env("PAY_PAYPAL_BUSINESS", SELLER)
        .env("PAY_PAYPAL_POSTBACK_URL", format!("http://{postback}/cgi-bin/webscr"))
        .env("PAY_SERVER_SECRET_KEY", SECRET_KEY)
        .env("PAY_SERVER_API_KEYS", API_KEY)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    Process::start("librement-server", command)
}

async fn run_on(bin: &Path, dir: &Path, db: &Db, plan: Plan, explain: bool) -> Result<Outcome> {
    let stub = stub::start(plan.stub_delay).await?;
    let server = start_server(bin, dir, db, stub.addr, &[])?;

    let first = create_payment(server.addr).await.context("create the first payment")?;
    let payments = match plan.mode {
        Mode::Closed { max_requests, .. } => max_requests,
        Mode::Open { rate, duration, .. } => rate * duration.as_secs().max(1),
    };
    db.clone_payments(&first, 'B', payments)?;
    let bodies = ipn::bodies(plan.run, payments, "seller%40example.com");
    let prefill_started = Instant::now();
    db.prefill(&first, &bodies(u64::MAX), plan.prefill)?;
    let prefill_time = prefill_started.elapsed();
    let base = db.high_water()?;
    let cpu_before = server.cpu_seconds();
    let postbacks_before = stub.postbacks.load(std::sync::atomic::Ordering::Relaxed);

    let started = Instant::now();
    let stats = load::run(
        Target {
            addr: server.addr,
            path: "/notify/paypal".into(),
            body: bodies,
        },
        plan.mode,
    )
    .await;

    let deadline = started + stats.elapsed + plan.drain_timeout;
    let mut drained_after = None;
    let mut last = [0i64; 5];
    loop {
        last = db.progress(base).unwrap_or(last);
        let [queued, logged, verified, _, _] = last;
        if queued == 0 && logged >= stats.ok as i64 && verified >= logged {
            drained_after = Some(started.elapsed());
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let observed = started.elapsed();
    let explain = if explain { Some(db.explain_claim()?) } else { None };
    let outcome = Outcome {
        stats,
        drained_after,
        verified: last[2],
        events: last[3],
        observed,
        peak_rss_kib: server.peak_rss_kib(),
        cpu_seconds: match (cpu_before, server.cpu_seconds()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        },
        postbacks: stub.postbacks.load(std::sync::atomic::Ordering::Relaxed) - postbacks_before,
        explain,
        prefill_time,
        plan,
    };
    drop(server);
    Ok(outcome)
}

/// Creates one paid-by-PayPal payment the way a shop does: a signed button from `POST /api/buttons`, posted
/// to `/pay`. Returns its id (the hand-off form's `invoice`).
pub async fn create_payment(addr: std::net::SocketAddr) -> Result<String> {
    let config = serde_json::json!({
        "order_reference": "BENCH-1",
        "email": "buyer@example.net",
        "options": [
            { "description": "Blue widget", "amount": ipn::AMOUNT, "currency": ipn::CURRENCY }
        ],
        "payment_options": { "paypal": { "paypal_email": SELLER } },
        "urls": { "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                  "declined": "https://shop.example/sorry" }
    });
    let mut conn = Connection::new(addr);
    let auth = format!("Bearer {API_KEY}");
    let response = conn
        .request(
            "POST",
            "/api/buttons",
            &[("Content-Type", "application/json"), ("Authorization", &auth)],
            config.to_string().as_bytes(),
        )
        .await?;
    if response.status != 200 {
        bail!(
            "POST /api/buttons answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&response.body)?;
    let token = json["token"].as_str().context("no token in the /api/buttons answer")?;
    let form = format!("button={}&option=0", form_encode(token));
    let response = conn
        .request(
            "POST",
            "/pay",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await?;
    let html = String::from_utf8_lossy(&response.body);
    if response.status != 200 {
        bail!("POST /pay answered {}: {html}", response.status);
    }
    hidden_value(&html, "invoice").context("no invoice field in the /pay hand-off")
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `value` of the `<input>` named `name`.
pub(crate) fn hidden_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value.split('"').next()?.to_owned())
}

/// Where run directories go.
pub fn work_dir() -> PathBuf {
    std::env::temp_dir().join("pay-bench")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoice_is_read_whatever_the_attribute_order() {
        let html =
            r#"<form><input type="hidden" value="Xk3f9QpL2mZa" name="invoice"><input name="x" value="y"></form>"#;
        assert_eq!(hidden_value(html, "invoice").as_deref(), Some("Xk3f9QpL2mZa"));
        let html = r#"<input type="hidden" name="invoice" value="Ab12Cd34Ef56">"#;
        assert_eq!(hidden_value(html, "invoice").as_deref(), Some("Ab12Cd34Ef56"));
        assert_eq!(hidden_value(html, "custom"), None);
    }

    #[test]
    fn tokens_are_form_encoded() {
        assert_eq!(form_encode("a.b+c/="), "a.b%2Bc%2F%3D");
    }
}
