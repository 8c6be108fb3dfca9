//! The peer: django-paypal 2.1 under gunicorn, started with its own scripts (`setup.sh`, `run.sh`,
//! `stop.sh` in the repository's `bench/peer/django-paypal`), measured with our generator and the same
//! bodies.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::load::{self, Mode, Stats, Target};
use crate::server::{cpu_seconds, peak_rss_kib};
use crate::{http, ipn};

/// Where the peer's scripts are: `PEER_DIR`, else the repository's `bench/peer/django-paypal`.
pub fn scripts_dir() -> PathBuf {
    std::env::var_os("PEER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peer/django-paypal"))
}

/// The peer's venv and database (kept apart from anyone else's peer).
pub fn home() -> PathBuf {
    std::env::var_os("PEER_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pay-bench-peer"))
}

/// gunicorn's address, fixed by `run.sh`.
const ADDR: &str = "127.0.0.1:8701";

fn script(name: &str) -> Command {
    let mut c = Command::new(scripts_dir().join(name));
    c.current_dir(scripts_dir()).env("PEER_HOME", home());
    c
}

/// Installs the peer (venv, pip, migrate) unless it is there already.
pub fn setup() -> Result<()> {
    if home().join("venv/bin/gunicorn").exists() {
        return Ok(());
    }
    let status = script("setup.sh").status().context("run setup.sh")?;
    if !status.success() {
        bail!("django-paypal setup.sh failed");
    }
    Ok(())
}

/// The peer while it runs; stopped when dropped.
pub struct Peer {
    /// gunicorn's address.
    pub addr: SocketAddr,
}

/// gunicorn's sync workers: its documented starting point, (2 × cores) + 1, on the 2-core machines we
/// measure on (runs before 2026-12-03 20:00 UTC used 2). A sync worker is busy for the whole postback, so
/// with a slow postback the peer's rate is about workers / latency; with an instant one the cores limit it.
pub const WORKERS: u32 = 5;

impl Peer {
    /// Starts gunicorn (`workers` workers) and its postback stub with `delay`, on a fresh database, and warms
    /// each worker up with one request.
    pub async fn start(delay: Duration, workers: u32) -> Result<Peer> {
        let status = script("run.sh")
            .env("FRESH", "1")
            .env("WORKERS", workers.to_string())
            .env("STUB_DELAY_MS", delay.as_millis().to_string())
            .status()
            .context("run run.sh")?;
        if !status.success() {
            bail!("django-paypal run.sh failed");
        }
        let peer = Peer { addr: ADDR.parse()? };
        http::wait_listening(peer.addr, Duration::from_secs(10)).await?;
        let warm = ipn::bodies(99, 1, "merchant%40example.com");
        let mut conn = http::Connection::new(peer.addr);
        for i in 0..u64::from(workers) * 2 {
            conn.request(
                "POST",
                "/paypal/",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                &warm(i),
            )
            .await?;
        }
        Ok(peer)
    }

    /// gunicorn's master and workers.
    fn pids(&self) -> Vec<u32> {
        let Ok(master) = std::fs::read_to_string(home().join("gunicorn.pid")) else {
            return vec![];
        };
        let Ok(master) = master.trim().parse::<u32>() else {
            return vec![];
        };
        let mut pids = vec![master];
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if ppid == Some(master) {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// Sum of the peak RSS of gunicorn's master and workers, KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.pids().into_iter().map(peak_rss_kib).sum()
    }

    /// CPU seconds of gunicorn's master and workers.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pids().into_iter().map(cpu_seconds).sum()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = script("stop.sh").output();
    }
}

/// One load on the peer's `/paypal/` with the same bodies as ours (addressed to its merchant).
pub async fn load(peer: &Peer, run: u32, mode: Mode) -> Stats {
    load::run(
        Target {
            addr: peer.addr,
            path: "/paypal/".into(),
            body: ipn::bodies(run, 1_000_000, "merchant%40example.com"),
        },
        mode,
    )
    .await
}

/// Times django-paypal's `PayPalPaymentsForm(...).render()` with `timeit` (median of 15 repeats), for one
/// form and for three (django-paypal has one item per form; our button holds three options). Returns
/// microseconds per call: `(one form, three forms)`.
pub fn render_timing() -> Result<(f64, f64)> {
    let python = home().join("venv/bin/python");
    let program = r#"
import os, sys, statistics, timeit
sys.path.insert(0, os.path.join(os.environ["PEER_DIR"], "peer"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproj.settings")
import django
django.setup()
from paypal.standard.forms import PayPalPaymentsForm
def initial(i, amount, item):
    return {"business": "seller@example.com", "amount": amount, "currency_code": "EUR",
            "item_name": item, "invoice": "Xk3f9QpL2mZ%d" % i, "custom": "order=1042",
            "notify_url": "https://pay.example/notify/paypal", "return": "https://shop.example/thanks",
            "cancel_return": "https://shop.example/sorry"}
def one():
    return str(PayPalPaymentsForm(initial=initial(0, "12.50", "Manual, PDF")).render())
def three():
    return "".join(str(PayPalPaymentsForm(initial=initial(i, a, d)).render())
                   for i, (a, d) in enumerate([("12.50", "Manual, PDF"), ("30.00", "Manual, paper"),
                                               ("5.00", "Supporter")]))
assert "<form" in one()
for f in (one, three):
    t = timeit.Timer(f)
    n, _ = t.autorange()
    runs = t.repeat(repeat=15, number=n)
    print(statistics.median(runs) / n * 1e6)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(program)
        .env("PEER_DIR", scripts_dir())
        .env("PEER_HOME", home())
        .output()
        .context("run the peer's Python")?;
    if !out.status.success() {
        bail!(
            "timing PayPalPaymentsForm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    match v.as_slice() {
        [one, three] => Ok((*one, *three)),
        _ => bail!("unexpected timing output {text:?}"),
    }
}

/// The installed versions (from `freeze.txt`).
pub fn versions() -> String {
    std::fs::read_to_string(home().join("freeze.txt"))
        .map(|f| {
            f.lines()
                .filter(|l| {
                    let l = l.to_ascii_lowercase();
                    l.starts_with("django==") || l.starts_with("django-paypal==") || l.starts_with("gunicorn==")
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// True when the scripts are present.
pub fn available() -> bool {
    Path::new(&scripts_dir()).join("run.sh").exists()
}
