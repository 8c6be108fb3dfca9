//! The measures, one after the other, each adding its tables to the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::intake::{self, Outcome, Plan};
use crate::load::{self, Mode, Stats, Target};
use crate::report::{Report, load_cells, mib, ratio};
use crate::server::Process;
use crate::{ipn, peer};

/// What to run.
#[derive(Debug)]
pub struct Options {
    /// Everything (adds the targets summary).
    pub all: bool,
    /// Intake matrix.
    pub intake: bool,
    /// Fixed-rate latency.
    pub fixed: bool,
    /// Bare actix-web.
    pub limit: bool,
    /// django-paypal.
    pub peer: bool,
    /// Growth steps.
    pub growth: bool,
    /// Rendering.
    pub render: bool,
    /// Seconds of each closed-loop load.
    pub seconds: u64,
    /// Growth steps.
    pub growth_sizes: Vec<u64>,
    /// Label filters of the server rows (empty: every row).
    pub only: Vec<String>,
    /// Report path.
    pub out: Option<PathBuf>,
    /// The arguments, for the report.
    pub command_line: String,
}

impl Options {
    /// Whether the row labelled `label` runs (see `--only`).
    fn selects(&self, label: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|part| label.contains(part.as_str()))
    }
}

/// Connection counts of the closed-loop runs.
const CONNECTIONS: [usize; 3] = [1, 8, 64];
/// Most requests of one closed-loop run (and payments created for it).
const MAX_REQUESTS: u64 = 20_000;
/// The stub's two delays.
const DELAYS: [Duration; 2] = [Duration::ZERO, Duration::from_millis(200)];

/// Results kept for the ratios: (backend, delay ms, connections) -> outcome.
type Intakes = BTreeMap<(&'static str, u128, usize), Outcome>;

/// Runs the selected measures and writes the report.
pub async fn run(o: Options) -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let out = o.out.clone().unwrap_or_else(|| {
        workspace
            .join("bench/results")
            .join(format!("report-{}.md", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let mut report = Report::new(out, &o.command_line);
    let work = intake::work_dir();
    std::fs::create_dir_all(&work)?;
    let needs_server = o.intake || o.fixed || o.growth;
    let bin = if needs_server {
        Some(crate::server::server_binary(&workspace)?)
    } else {
        None
    };
    let mut run_no: u32 = 0;
    let mut next_run = || {
        run_no += 1;
        run_no
    };
    let mut intakes = Intakes::new();
    let mut fixed_results: Vec<Outcome> = Vec::new();
    let mut bare: BTreeMap<usize, (Stats, Option<u64>)> = BTreeMap::new();
    let mut peer_results = PeerRuns::new();
    let mut peer_fixed: Option<Stats> = None;
    let mut growth: Vec<Outcome> = Vec::new();
    let mut render: Option<RenderResult> = None;
    let seconds = Duration::from_secs(o.seconds);

    if let Some(bin) = &bin
        && o.intake
    {
        let mut md = String::from(
            "## 1. Notification intake (closed loop)\n\n\
             `POST /notify/paypal` with the `web_accept` fixture, a distinct `txn_id` per request and the `invoice` \
             of a payment created beforehand (one `/pay` then cloned in SQL), so that every message is verified by \
             the postback stub, applied, and emits `payment_processed` + `payment_accepted`. Fresh database and \
             server per row. *Drained* = from the first request until the queue is empty and every message is \
             verified (events in the outbox); *drain rate* = verified messages / that time (or / the observation \
             window when not drained). Server CPU is per message received, load and drain included.\n\n\
             | backend | postback | conns | req/s | p50 ms | p90 ms | p99 ms | errors | peak RSS MiB | server CPU ms/msg | drained after s | drain msg/s | events | postbacks |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for postgres in [false, true] {
            for delay in DELAYS {
                for conns in CONNECTIONS {
                    let plan = Plan {
                        label: format!(
                            "intake-{}-d{}-c{conns}",
                            if postgres { "pg" } else { "sq" },
                            delay.as_millis()
                        ),
                        postgres,
                        stub_delay: delay,
                        mode: Mode::Closed {
                            connections: conns,
                            duration: seconds,
                            max_requests: MAX_REQUESTS,
                        },
                        prefill: 0,
                        drain_timeout: drain_timeout(delay),
                        run: next_run(),
                    };
                    if !o.selects(&plan.label) {
                        continue;
                    }
                    eprintln!("intake: {}", plan.label);
                    match intake::run(bin, &work, plan, false).await {
                        Ok(outcome) => {
                            eprint!("{}", intake_row(&outcome));
                            md.push_str(&intake_row(&outcome));
                            intakes.insert((backend(postgres), delay.as_millis(), conns), outcome);
                        }
                        Err(e) => {
                            let _ = writeln!(
                                md,
                                "| {} | {} ms | {conns} | failed: {e:#} |",
                                backend(postgres),
                                delay.as_millis()
                            );
                        }
                    }
                }
            }
        }
        report.push(&md);
    }

    if let Some(bin) = &bin
        && o.fixed
    {
        let mut md = String::from(
            "\n## 1b. Fixed rate (open loop)\n\n\
             Requests are scheduled at a fixed rate over 64 connections; latency is measured from each request's \
             *scheduled* send time, so a server that falls behind shows its queue (no coordinated omission).\n\n\
             | backend | postback | rate req/s | achieved req/s | p50 ms | p90 ms | p99 ms | errors/unsent | peak RSS MiB | drained after s | drain msg/s |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (postgres, delay, rate) in [
            (false, Duration::ZERO, 1000),
            (false, Duration::from_millis(200), 1000),
            (true, Duration::ZERO, 1000),
            (false, Duration::ZERO, 25),
        ] {
            let plan = Plan {
                label: format!(
                    "fixed-{}-d{}-r{rate}",
                    if postgres { "pg" } else { "sq" },
                    delay.as_millis()
                ),
                postgres,
                stub_delay: delay,
                mode: Mode::Open {
                    connections: 64,
                    rate,
                    duration: Duration::from_secs(10),
                },
                prefill: 0,
                drain_timeout: drain_timeout(delay),
                run: next_run(),
            };
            if !o.selects(&plan.label) {
                continue;
            }
            eprintln!("fixed: {}", plan.label);
            match intake::run(bin, &work, plan, false).await {
                Ok(x) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} ms | {rate} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.0} |",
                        backend(x.plan.postgres),
                        x.plan.stub_delay.as_millis(),
                        x.stats.rps(),
                        x.stats.quantile_ms(0.5),
                        x.stats.quantile_ms(0.9),
                        x.stats.quantile_ms(0.99),
                        x.stats.errors + x.stats.unsent,
                        mib(x.peak_rss_kib),
                        drained(&x),
                        x.drain_rate()
                    );
                    fixed_results.push(x);
                }
                Err(e) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} ms | {rate} | failed: {e:#} |",
                        backend(postgres),
                        delay.as_millis()
                    );
                }
            }
        }
        report.push(&md);
    }

    if o.limit {
        let mut md = String::from(
            "\n## 2. The limit: a bare actix-web handler\n\n\
             `pay-bench bare-server`: one actix-web route `POST /notify/paypal` that reads the same body and answers \
             200 empty (no parsing, no database), same generator and bodies.\n\n\
             | conns | req/s | p50 ms | p90 ms | p99 ms | errors | peak RSS MiB | intake SQLite / bare | intake PostgreSQL / bare |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        match bare_runs(seconds).await {
            Ok(runs) => {
                for (conns, (stats, rss)) in &runs {
                    let frac = |b: &'static str| {
                        intakes
                            .get(&(b, 0, *conns))
                            .map(|x| format!("{:.0}%", 100.0 * x.stats.rps() / stats.rps().max(1e-9)))
                            .unwrap_or_else(|| "not run".into())
                    };
                    let _ = writeln!(
                        md,
                        "| {conns} | {} | {} | {} | {} |",
                        load_cells(stats),
                        mib(*rss),
                        frac("SQLite"),
                        frac("PostgreSQL")
                    );
                }
                bare = runs;
            }
            Err(e) => {
                let _ = writeln!(md, "| failed: {e:#} |");
            }
        }
        report.push(&md);
    }

    if o.peer {
        let mut md = String::from("\n## 3. The peer: django-paypal under gunicorn\n\n");
        match peer_runs(seconds, &mut next_run).await {
            Ok((runs, fixed)) => {
                let _ = writeln!(
                    md,
                    "{} ({} sync gunicorn workers, SQLite in WAL mode, its own Python postback stub answering \
                     `VERIFIED`), started by its `run.sh` on a fresh database, same generator and bodies (addressed to \
                     its merchant). django-paypal verifies *inside* the request (postback before answering), we \
                     answer once the message is logged and verify in a background worker: its latency includes the \
                     postback, ours does not, and our drain is measured separately (table 1).\n",
                    peer::versions(),
                    peer::WORKERS
                );
                md.push_str(
                    "| postback | conns | req/s | p50 ms | p90 ms | p99 ms | errors | peak RSS MiB (master+workers) | CPU ms/IPN | ours/peer req/s (SQLite) | ours/peer p99 (SQLite) |\n\
                     |---|---|---|---|---|---|---|---|---|---|---|\n",
                );
                for ((delay, conns), (stats, rss, cpu)) in &runs {
                    let ours = intakes.get(&("SQLite", *delay, *conns));
                    let _ = writeln!(
                        md,
                        "| {delay} ms | {conns} | {} | {} | {} | {} | {} |",
                        load_cells(stats),
                        mib(*rss),
                        cpu.map(|c| format!("{:.1}", c * 1000.0 / (stats.ok.max(1)) as f64))
                            .unwrap_or_else(|| "?".into()),
                        ours.map(|x| ratio(x.stats.rps(), stats.rps()))
                            .unwrap_or_else(|| "not run".into()),
                        ours.map(|x| ratio(x.stats.quantile_ms(0.99), stats.quantile_ms(0.99)))
                            .unwrap_or_else(|| "not run".into()),
                    );
                }
                if let Some(f) = &fixed {
                    let ours = fixed_results
                        .iter()
                        .find(|x| matches!(x.plan.mode, Mode::Open { rate: 25, .. }));
                    let _ = writeln!(
                        md,
                        "\nAt a fixed 25 requests/s for 10 s (open loop, postback at once): django-paypal p50 {:.2} ms, \
                         p99 {:.2} ms, {} errors; ours (SQLite) {}.\n",
                        f.quantile_ms(0.5),
                        f.quantile_ms(0.99),
                        f.errors + f.unsent,
                        ours.map(|x| format!(
                            "p50 {:.2} ms, p99 {:.2} ms, {} errors: p99 ratio ours/peer {}",
                            x.stats.quantile_ms(0.5),
                            x.stats.quantile_ms(0.99),
                            x.stats.errors + x.stats.unsent,
                            ratio(x.stats.quantile_ms(0.99), f.quantile_ms(0.99))
                        ))
                        .unwrap_or_else(|| "not run".into())
                    );
                }
                peer_results = runs;
                peer_fixed = fixed;
            }
            Err(e) => {
                let _ = writeln!(md, "The peer could not be measured: {e:#}");
            }
        }
        report.push(&md);
    }

    if let Some(bin) = &bin
        && o.growth
    {
        let mut md = String::from(
            "\n## 4. Growth: intake and drain with a full log\n\n\
             Before the load, the log is filled in SQL with N already applied messages (the same body; `fields` \
             left `{}`), their idempotency keys and two dispatched events each, over N/10 older payments \
             (PostgreSQL: then `VACUUM ANALYZE`, as autovacuum would). Load: 8 connections, closed loop, postback \
             at once.\n\n\
             | backend | log before | pre-fill s | req/s | p50 ms | p99 ms | errors | server CPU µs/msg | drained after s | drain msg/s | peak RSS MiB |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        let mut plans_md = String::new();
        for postgres in [false, true] {
            for &size in &o.growth_sizes {
                let plan = Plan {
                    label: format!("growth-{}-{size}", if postgres { "pg" } else { "sq" }),
                    postgres,
                    stub_delay: Duration::ZERO,
                    mode: Mode::Closed {
                        connections: 8,
                        duration: seconds,
                        max_requests: MAX_REQUESTS,
                    },
                    prefill: size,
                    drain_timeout: drain_timeout(Duration::ZERO),
                    run: next_run(),
                };
                let explain = Some(&size) == o.growth_sizes.iter().max();
                if !o.selects(&plan.label) {
                    continue;
                }
                eprintln!("growth: {}", plan.label);
                match intake::run(bin, &work, plan, explain).await {
                    Ok(x) => {
                        let _ = writeln!(
                            md,
                            "| {} | {size} | {:.1} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.0} | {} |",
                            backend(postgres),
                            x.prefill_time.as_secs_f64(),
                            x.stats.rps(),
                            x.stats.quantile_ms(0.5),
                            x.stats.quantile_ms(0.99),
                            x.stats.errors,
                            x.cpu_seconds
                                .map(|c| format!("{:.0}", c * 1e6 / x.stats.ok.max(1) as f64))
                                .unwrap_or_else(|| "?".into()),
                            drained(&x),
                            x.drain_rate(),
                            mib(x.peak_rss_kib)
                        );
                        if let Some(plan) = &x.explain {
                            let _ = writeln!(
                                plans_md,
                                "\nQuery plans on {} with {size} messages in the log:\n\n```\n{plan}\n```",
                                backend(postgres)
                            );
                        }
                        growth.push(x);
                    }
                    Err(e) => {
                        let _ = writeln!(md, "| {} | {size} | failed: {e:#} |", backend(postgres));
                    }
                }
            }
        }
        md.push_str(&plans_md);
        report.push(&md);
    }

    if o.render {
        let mut md = String::from("\n## 5. Rendering\n\n");
        match render_runs(&workspace) {
            Ok(r) => {
                md.push_str(&r.markdown());
                render = Some(r);
            }
            Err(e) => {
                let _ = writeln!(md, "Rendering could not be measured: {e:#}");
            }
        }
        report.push(&md);
    }

    if o.all {
        report.push(&targets(
            &intakes,
            &fixed_results,
            &bare,
            &peer_results,
            peer_fixed.as_ref(),
            &growth,
            render.as_ref(),
        ));
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("report: {}", report.path().display());
    println!("{}", std::fs::read_to_string(report.path()).unwrap_or_default());
    Ok(())
}

fn backend(postgres: bool) -> &'static str {
    if postgres { "PostgreSQL" } else { "SQLite" }
}

/// How long to watch the drain: with an instant postback until it ends (bounded); with a 200 ms
/// postback, long enough to measure a rate.
fn drain_timeout(delay: Duration) -> Duration {
    if delay.is_zero() {
        Duration::from_secs(90)
    } else {
        Duration::from_secs(10)
    }
}

fn drained(x: &Outcome) -> String {
    match x.drained_after {
        Some(d) => format!("{:.1}", d.as_secs_f64()),
        None => format!(
            "not within {:.0} ({} of {} verified)",
            x.observed.as_secs_f64(),
            x.verified,
            x.stats.ok
        ),
    }
}

fn intake_row(x: &Outcome) -> String {
    format!(
        "| {} | {} ms | {} | {} | {} | {} | {} | {:.0} | {} | {} |\n",
        backend(x.plan.postgres),
        x.plan.stub_delay.as_millis(),
        match x.plan.mode {
            Mode::Closed { connections, .. } | Mode::Open { connections, .. } => connections,
        },
        load_cells(&x.stats),
        mib(x.peak_rss_kib),
        x.cpu_seconds
            .map(|c| format!("{:.2}", c * 1000.0 / x.stats.ok.max(1) as f64))
            .unwrap_or_else(|| "?".into()),
        drained(x),
        x.drain_rate(),
        x.events,
        x.postbacks
    )
}

async fn bare_runs(seconds: Duration) -> Result<BTreeMap<usize, (Stats, Option<u64>)>> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["bare-server", "--bind", "127.0.0.1:0"]);
    let server = Process::start("bare actix-web", command)?;
    let mut out = BTreeMap::new();
    for conns in CONNECTIONS {
        eprintln!("limit: {conns} connections");
        let stats = load::run(
            Target {
                addr: server.addr,
                path: "/notify/paypal".into(),
                body: ipn::bodies(0, 1_000_000, "seller%40example.com"),
            },
            Mode::Closed {
                connections: conns,
                duration: seconds,
                max_requests: 2_000_000,
            },
        )
        .await;
        out.insert(conns, (stats, server.peak_rss_kib()));
    }
    Ok(out)
}

type PeerRuns = BTreeMap<(u128, usize), (Stats, Option<u64>, Option<f64>)>;

async fn peer_runs(seconds: Duration, next_run: &mut impl FnMut() -> u32) -> Result<(PeerRuns, Option<Stats>)> {
    if !peer::available() {
        anyhow::bail!("{} not found (set PEER_DIR)", peer::scripts_dir().display());
    }
    peer::setup()?;
    let mut runs = PeerRuns::new();
    let mut fixed = None;
    for delay in DELAYS {
        for conns in CONNECTIONS {
            // A fresh database per row, like ours.
            eprintln!("peer: {} ms, {conns} connections", delay.as_millis());
            let p = peer::Peer::start(delay, peer::WORKERS)
                .await
                .context("start django-paypal")?;
            let cpu0 = p.cpu_seconds();
            let stats = peer::load(
                &p,
                next_run(),
                Mode::Closed {
                    connections: conns,
                    duration: seconds,
                    max_requests: MAX_REQUESTS,
                },
            )
            .await;
            let cpu = match (cpu0, p.cpu_seconds()) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            runs.insert((delay.as_millis(), conns), (stats, p.peak_rss_kib(), cpu));
        }
    }
    let p = peer::Peer::start(Duration::ZERO, peer::WORKERS).await?;
    eprintln!("peer: fixed 25 req/s");
    fixed = fixed.or(Some(
        peer::load(
            &p,
            next_run(),
            Mode::Open {
                connections: 64,
                rate: 25,
                duration: Duration::from_secs(10),
            },
        )
        .await,
    ));
    Ok((runs, fixed))
}

/// Medians of the render benchmarks, in microseconds.
#[derive(Debug, Clone)]
pub struct RenderResult {
    button: Option<f64>,
    cmcic: Option<f64>,
    peer_one: Option<f64>,
    peer_three: Option<f64>,
    criterion_lines: String,
    peer_error: Option<String>,
}

impl RenderResult {
    fn markdown(&self) -> String {
        let us = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "?".into());
        let mut md = String::from(
            "Ours: criterion (`cargo bench -p payment-buttons --features tera,actix --bench render`, median estimate). Peer: \
             `PayPalPaymentsForm(initial=...).render()` under the peer's Django settings, `timeit` (autorange, \
             median of 15 repeats). django-paypal's form holds one item; our button holds three options, so the \
             peer is timed for one form and for three forms.\n\n\
             | what | µs per render | peer (3 forms) / ours |\n|---|---|---|\n",
        );
        let _ = writeln!(
            md,
            "| ours: button with 3 options, Tera `payment_button` (validate, sign, render) | {} | {} |",
            us(self.button),
            match (self.peer_three, self.button) {
                (Some(p), Some(b)) => ratio(p, b),
                _ => "n/a".into(),
            }
        );
        let _ = writeln!(
            md,
            "| ours: Monetico hand-off form (request fields + MAC) | {} | |",
            us(self.cmcic)
        );
        let _ = writeln!(
            md,
            "| django-paypal: `PayPalPaymentsForm` × 1 | {} | |",
            us(self.peer_one)
        );
        let _ = writeln!(
            md,
            "| django-paypal: `PayPalPaymentsForm` × 3 | {} | |",
            us(self.peer_three)
        );
        if let Some(e) = &self.peer_error {
            let _ = writeln!(md, "\nThe peer's form could not be timed: {e}");
        }
        let _ = writeln!(md, "\ncriterion output:\n\n```\n{}\n```", self.criterion_lines.trim());
        md
    }
}

fn render_runs(workspace: &Path) -> Result<RenderResult> {
    eprintln!("render: cargo bench -p payment-buttons --bench render");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "bench",
            "-p",
            "payment-buttons",
            "--features",
            "tera,actix",
            "--bench",
            "render",
        ])
        .current_dir(workspace)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("run cargo bench")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        anyhow::bail!("cargo bench failed:\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    let median = |name: &str| -> Option<f64> {
        let at = lines.iter().position(|l| l.starts_with(name))?;
        lines[at..(at + 3).min(lines.len())]
            .iter()
            .find_map(|l| criterion_median_us(l))
    };
    let criterion_lines = lines
        .iter()
        .filter(|l| l.starts_with("render/") || l.contains("time:"))
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    let (peer_one, peer_three, peer_error) = match peer::setup().and_then(|_| peer::render_timing()) {
        Ok((one, three)) => (Some(one), Some(three), None),
        Err(e) => (None, None, Some(format!("{e:#}"))),
    };
    Ok(RenderResult {
        button: median("render/button_three_options"),
        cmcic: median("render/monetico_hand_off"),
        peer_one,
        peer_three,
        criterion_lines,
        peer_error,
    })
}

/// The middle value of a criterion `time:   [low mid high]` line, in microseconds.
fn criterion_median_us(line: &str) -> Option<f64> {
    let inside = line
        .split("time:")
        .nth(1)?
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let parts: Vec<&str> = inside.split_whitespace().collect();
    let (value, unit) = (parts.get(2)?, parts.get(3)?);
    let value: f64 = value.parse().ok()?;
    let factor = match *unit {
        "ps" => 1e-6,
        "ns" => 1e-3,
        "µs" | "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return None,
    };
    Some(value * factor)
}

fn targets(
    intakes: &Intakes,
    fixed: &[Outcome],
    bare: &BTreeMap<usize, (Stats, Option<u64>)>,
    peer: &PeerRuns,
    _peer_fixed: Option<&Stats>,
    growth: &[Outcome],
    render: Option<&RenderResult>,
) -> String {
    let mut md = String::from("\n## Targets\n\n| target | measured | met |\n|---|---|---|\n");
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    // Intake vs the peer: best of ours against best of theirs, postback at once.
    let ours_best = intakes
        .iter()
        .filter(|((b, d, _), _)| *b == "SQLite" && *d == 0)
        .map(|(_, x)| x.stats.rps())
        .fold(0.0, f64::max);
    let peer_best = peer
        .iter()
        .filter(|((d, _), _)| *d == 0)
        .map(|(_, (s, _, _))| s.rps())
        .fold(0.0, f64::max);
    if ours_best > 0.0 && peer_best > 0.0 {
        let r = ours_best / peer_best;
        let _ = writeln!(
            md,
            "| intake ≥ 100× django-paypal's req/s (best of each, postback at once) | {ours_best:.0} vs {peer_best:.0} req/s = {r:.0}× | {} |",
            yes(r >= 100.0)
        );
    }
    if let Some(x) = fixed.iter().find(|x| {
        !x.plan.postgres && x.plan.stub_delay.is_zero() && matches!(x.plan.mode, Mode::Open { rate: 1000, .. })
    }) {
        let p99 = x.stats.quantile_ms(0.99);
        let _ = writeln!(
            md,
            "| p99 < 5 ms at 1,000 req/s on SQLite | p99 {p99:.2} ms (achieved {:.0} req/s) | {} |",
            x.stats.rps(),
            yes(p99 < 5.0 && x.stats.errors + x.stats.unsent == 0)
        );
    }
    let fractions: Vec<String> = CONNECTIONS
        .iter()
        .filter_map(|c| {
            let b = bare.get(c)?;
            let ours = intakes.get(&("SQLite", 0, *c))?;
            Some(format!(
                "{c} conns: {:.0}%",
                100.0 * ours.stats.rps() / b.0.rps().max(1e-9)
            ))
        })
        .collect();
    let best_fraction = CONNECTIONS
        .iter()
        .filter_map(|c| Some(intakes.get(&("SQLite", 0, *c))?.stats.rps() / bare.get(c)?.0.rps().max(1e-9)))
        .fold(0.0, f64::max);
    if !fractions.is_empty() {
        let _ = writeln!(
            md,
            "| intake ≥ 30% of the bare actix handler (SQLite) | {} | {} |",
            fractions.join(", "),
            yes(best_fraction >= 0.3)
        );
    }
    if let Some(r) = render
        && let (Some(p), Some(b)) = (r.peer_three, r.button)
    {
        let _ = writeln!(
            md,
            "| button render ≥ 50× faster than django-paypal's form (3 options vs 3 forms) | {:.0}× ({b:.1} µs vs {p:.1} µs) | {} |",
            p / b,
            yes(p / b >= 50.0)
        );
    }
    let peak = intakes
        .values()
        .chain(fixed.iter())
        .filter_map(|x| x.peak_rss_kib)
        .max();
    if let Some(peak) = peak {
        let _ = writeln!(
            md,
            "| peak RSS under load < 50 MB | max {:.1} MiB over the intake runs | {} |",
            peak as f64 / 1024.0,
            yes((peak as f64) * 1024.0 < 50e6)
        );
    }
    for b in ["SQLite", "PostgreSQL"] {
        let rows: Vec<&Outcome> = growth.iter().filter(|x| backend(x.plan.postgres) == b).collect();
        if let (Some(first), Some(last)) = (rows.first(), rows.last())
            && rows.len() > 1
        {
            let per = |x: &Outcome| x.cpu_seconds.unwrap_or(0.0) * 1e6 / x.stats.ok.max(1) as f64;
            let r = per(last) / per(first).max(1e-9);
            let _ = writeln!(
                md,
                "| flat cost from an empty log to {} messages ({b}) | server CPU per message {:.0} → {:.0} µs ({r:.2}×); drain {:.0} → {:.0} msg/s | {} |",
                last.plan.prefill,
                per(first),
                per(last),
                first.drain_rate(),
                last.drain_rate(),
                yes(r < 1.25 && last.drain_rate() > 0.8 * first.drain_rate())
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_lines_give_their_middle_estimate() {
        let line = "render/button_three_options  time:   [18.201 µs 18.402 µs 18.650 µs]";
        assert_eq!(criterion_median_us(line), Some(18.402));
        assert_eq!(
            criterion_median_us("                        time:   [1.5000 ms 2.0000 ms 2.5000 ms]"),
            Some(2000.0)
        );
        assert_eq!(criterion_median_us("no timing here"), None);
    }
}
