//! The drain at a postback latency: how many PayPal messages per second the server's worker verifies and
//! applies when every postback takes 0, 50, 200 or 1,000 ms, on SQLite and PostgreSQL.
//!
//! One run: fresh database; the server starts once to migrate and take one `/pay`, which is cloned into
//! `messages` payments, and stops; the log gets `history` applied messages with their dispatched events
//! (a shop that has been running: PostgreSQL's statistics are then those of a used database); `messages`
//! IPNs (one per payment, distinct `txn_id`s) are queued in SQL exactly as intake logs them; the server
//! starts again with the postback stub answering after the latency, and its worker drains the queue. The
//! queue's length is sampled every 100 ms (a message leaves it in the transaction that applies it).
//! *Steady rate* = messages verified and applied between the samples at 10 % and 90 % of the run, divided
//! by the time between them (server start and the last stragglers excluded); *end to end* = messages / time
//! from the second start to the empty queue. Every message must be verified, applied and emit its two
//! events: the run says when not. Then django-paypal is measured at each latency ([`peer_rows`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::db::Db;
use crate::intake::{create_payment, start_server, work_dir};
use crate::load::Mode;
use crate::report::{Report, mib};
use crate::{ipn, peer, plot, stub};

/// What `pay-bench drain` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Postback latencies, milliseconds.
    pub latencies: Vec<u64>,
    /// Messages queued per run.
    pub messages: u64,
    /// Runs per (backend, latency); the median is reported.
    pub repeat: usize,
    /// `engine.verification_concurrency` for the server; `None` = its default.
    pub concurrency: Option<usize>,
    /// Skip PostgreSQL.
    pub sqlite_only: bool,
    /// Also measure django-paypal's verified requests/s at each latency.
    pub peer: bool,
    /// Applied messages in the log before the run (see [`Db::prefill`]).
    pub history: u64,
    /// Report path.
    pub out: Option<PathBuf>,
    /// The arguments, for the report.
    pub command_line: String,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Messages per second between 10 % and 90 % verified.
    pub steady: f64,
    /// Messages per second from the server's start to the empty queue (`None`: not drained in time).
    pub end_to_end: Option<f64>,
    /// Events written.
    pub events: i64,
    /// PayPal's postback answers written to the gateway log.
    pub answers: i64,
    /// Peak RSS of the server, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Server CPU seconds per 1,000 messages.
    pub cpu_ms_per_msg: Option<f64>,
}

/// Runs the drain matrix and writes the report and the SVG plot beside it.
pub async fn suite(o: Options) -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let out = o.out.clone().unwrap_or_else(|| {
        workspace
            .join("bench/results")
            .join(format!("drain-{}.md", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let svg_path = out.with_extension("svg");
    let mut report = Report::new(out, &o.command_line);
    let bin = crate::server::server_binary(&workspace)?;
    let work = work_dir();
    std::fs::create_dir_all(&work)?;
    let concurrency = o.concurrency.map_or_else(
        || format!("server default ({SERVER_DEFAULT_CONCURRENCY})"),
        |c| c.to_string(),
    );
    let mut md = format!(
        "## 6. Drain at a postback latency\n\n\
         {} messages queued per run (one per payment), after {} applied messages (each with two dispatched \
         events) in the log, drained by the server's worker with \
         `engine.verification_concurrency` = {concurrency}; the postback stub answers `VERIFIED` after the latency. \
         Median of {} runs per row (each run's figures in brackets). *Steady* = messages verified and applied (gone from \
         the queue) between 10 % and 90 % of the run / that time; *end to end* = messages / time from the server's start to the empty queue. \
         *Applied* = `payment_accepted` events written / messages; *answers logged* = postback answers in the \
         gateway log / messages.\n\n\
         | backend | postback ms | steady msg/s | end to end msg/s | ceiling msg/s (PayPal's slots / latency) | applied | answers logged | peak RSS MiB | server CPU ms/msg |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        o.messages, o.history, o.repeat
    );
    let mut series: Vec<(String, Vec<(u64, f64)>)> = Vec::new();
    let mut run_no = 0u32;
    let backends: &[bool] = if o.sqlite_only { &[false] } else { &[false, true] };
    for &postgres in backends {
        let name = if postgres { "PostgreSQL" } else { "SQLite" };
        let mut points = Vec::new();
        for &latency in &o.latencies {
            let mut runs = Vec::new();
            for _ in 0..o.repeat.max(1) {
                run_no += 1;
                eprintln!("drain: {name}, {latency} ms, run {run_no}");
                match run(&bin, &work, postgres, latency, &o, run_no).await {
                    Ok(r) => {
                        eprintln!("  steady {:.0} msg/s, end to end {:?}", r.steady, r.end_to_end);
                        runs.push(r);
                    }
                    Err(e) => eprintln!("  failed: {e:#}"),
                }
            }
            if runs.is_empty() {
                let _ = writeln!(md, "| {name} | {latency} | failed | | | | | | |");
                continue;
            }
            let steady = median(runs.iter().map(|r| r.steady).collect());
            let e2e = median(runs.iter().filter_map(|r| r.end_to_end).collect());
            let each = |f: &dyn Fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>().join(", ");
            let ceiling = match latency {
                0 => "—".to_owned(),
                ms => format!("{:.0}", paypal_slots(o.concurrency) as f64 * 1000.0 / ms as f64),
            };
            let last = runs.last().expect("one run");
            let _ = writeln!(
                md,
                "| {name} | {latency} | **{steady:.0}** [{}] | {e2e:.0} [{}] | {ceiling} | {} | {} | {} | {} |",
                each(&|r| format!("{:.0}", r.steady)),
                each(&|r| r.end_to_end.map_or("not drained".into(), |v| format!("{v:.0}"))),
                each(&|r| format!("{}/{}", r.events / 2, o.messages)),
                each(&|r| format!("{}/{}", r.answers, o.messages)),
                mib(last.peak_rss_kib),
                last.cpu_ms_per_msg.map_or("—".into(), |v| format!("{v:.3}")),
            );
            points.push((latency, steady));
        }
        series.push((name.to_owned(), points));
    }
    if o.peer {
        match peer_rows(&o.latencies, &series).await {
            Ok((rows, points)) => {
                md.push_str(&rows);
                series.push((format!("django-paypal ({} workers)", peer::WORKERS), points));
            }
            Err(e) => {
                let _ = writeln!(md, "\ndjango-paypal could not be measured: {e:#}");
            }
        }
    }
    let svg = plot::drain_svg(&series, 1000.0);
    std::fs::write(&svg_path, svg).with_context(|| format!("write {}", svg_path.display()))?;
    let _ = writeln!(
        md,
        "\n![drain rate against postback latency]({})\n",
        svg_path.file_name().and_then(|n| n.to_str()).unwrap_or("drain.svg")
    );
    report.push(&md);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("report: {}\nplot: {}", report.path().display(), svg_path.display());
    println!("{}", std::fs::read_to_string(report.path()).unwrap_or_default());
    Ok(())
}

/// Connections of the closed-loop load on the peer (each waits for its answer before sending again).
const PEER_CONNECTIONS: usize = 8;

/// django-paypal's verified requests/s at each latency: it posts back inside the request, so every answered
/// request is a verified message. A closed loop of [`PEER_CONNECTIONS`] for 5 s (10 s from 200 ms on, so
/// that a slow postback still gives tens of requests), on a fresh database per latency. Returns the report's
/// rows and the plot's points.
async fn peer_rows(latencies: &[u64], ours: &[(String, Vec<(u64, f64)>)]) -> Result<(String, Vec<(u64, f64)>)> {
    if !peer::available() {
        anyhow::bail!("{} not found (set PEER_DIR)", peer::scripts_dir().display());
    }
    peer::setup()?;
    let workers = peer::WORKERS;
    let mut md = format!(
        "\n### django-paypal at the same latencies\n\n\
         {}; gunicorn with {workers} sync workers, a closed loop of {PEER_CONNECTIONS} connections, its own \
         postback stub answering `VERIFIED` after the latency. Every answered request has been posted back: \
         *verified req/s* is comparable with our drain's steady msg/s.\n\n\
         | postback ms | verified req/s | errors | p50 ms | {} |\n|---|---|---|---|{}\n",
        peer::versions(),
        ours.iter()
            .map(|(name, _)| format!("ours/peer ({name})"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(ours.len()),
    );
    let mut points = Vec::new();
    for (i, &latency) in latencies.iter().enumerate() {
        eprintln!("drain: django-paypal, {latency} ms");
        let p = peer::Peer::start(Duration::from_millis(latency), peer::WORKERS).await?;
        let seconds = if latency >= 200 { 10 } else { 5 };
        let stats = peer::load(
            &p,
            9_000 + i as u32,
            Mode::Closed {
                connections: PEER_CONNECTIONS,
                duration: Duration::from_secs(seconds),
                max_requests: 20_000,
            },
        )
        .await;
        drop(p);
        let verified = stats.ok as f64 / stats.elapsed.as_secs_f64().max(0.001);
        let ratios: Vec<String> = ours
            .iter()
            .map(|(_, pts)| {
                pts.iter()
                    .find(|(l, _)| *l == latency)
                    .filter(|_| verified > 0.0)
                    .map_or("—".to_owned(), |(_, r)| format!("{:.0}×", r / verified))
            })
            .collect();
        let _ = writeln!(
            md,
            "| {latency} | **{verified:.1}** | {} | {:.1} | {} |",
            stats.errors,
            stats.quantile_ms(0.5),
            ratios.join(" | ")
        );
        points.push((latency, verified));
    }
    Ok((md, points))
}

/// `engine.verification_concurrency` when the run does not set it (`payment_buttons::engine::DEFAULT_CONCURRENCY`;
/// pay-bench drives the binary and does not link the crate).
const SERVER_DEFAULT_CONCURRENCY: usize = 512;

/// The verification slots PayPal may hold in the benchmark's server, which enables three gateways (PayPal,
/// CM-CIC, Librement): all but a sixteenth per other gateway (`engine::pipeline::gateway_share`). A message
/// holds its slot until it is applied, so the drain stays below slots / latency.
fn paypal_slots(concurrency: Option<usize>) -> usize {
    let all = concurrency.unwrap_or(SERVER_DEFAULT_CONCURRENCY);
    all.saturating_sub(2 * (all / 16).max(1)).max(1)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One run; see the module documentation.
async fn run(bin: &Path, work: &Path, postgres: bool, latency_ms: u64, o: &Options, run_no: u32) -> Result<Run> {
    let label = format!("drain-{}-{latency_ms}-{run_no}", if postgres { "pg" } else { "sq" });
    let dir = work.join(&label);
    std::fs::create_dir_all(&dir)?;
    let db = if postgres {
        Db::Postgres(format!("paybench_{}", label.replace('-', "_")))
    } else {
        Db::Sqlite(dir.join("db.sqlite3"))
    };
    db.create()?;
    let result = run_on(bin, &dir, &db, latency_ms, o, run_no).await;
    db.drop_db();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_on(bin: &Path, dir: &Path, db: &Db, latency_ms: u64, o: &Options, run_no: u32) -> Result<Run> {
    let (messages, concurrency) = (o.messages, o.concurrency);
    let stub = stub::start(Duration::from_millis(latency_ms)).await?;
    let env: Vec<(&str, String)> = concurrency
        .map(|c| ("PAY_ENGINE_VERIFICATION_CONCURRENCY", c.to_string()))
        .into_iter()
        .collect();
    {
        let server = start_server(bin, dir, db, stub.addr, &env)?;
        let first = create_payment(server.addr).await.context("create the first payment")?;
        drop(server);
        db.clone_payments(&first, 'B', messages)?;
        db.prefill(
            &first,
            &ipn::bodies(run_no, 1, "seller%40example.com")(u64::MAX),
            o.history,
        )?;
    }
    let base = db.high_water()?;
    db.queue_messages(&ipn::template("seller%40example.com"), run_no, messages)?;

    let started = Instant::now();
    let server = start_server(bin, dir, db, stub.addr, &env)?;
    let cpu_before = server.cpu_seconds();
    // Generous: the ceiling at this latency, three times over, plus a minute.
    let ceiling = paypal_slots(concurrency) as f64 * 1000.0 / latency_ms.max(1) as f64;
    let timeout = Duration::from_secs_f64(messages as f64 / ceiling.min(20_000.0) * 3.0 + 60.0);
    // A message leaves the queue in the transaction that applies it: messages - queued = applied.
    let mut samples: Vec<(Duration, i64)> = Vec::new();
    let mut queued = messages as i64;
    let mut drained_after = None;
    let mut probe = db.queue_probe()?;
    loop {
        queued = probe.queued().unwrap_or(queued);
        samples.push((started.elapsed(), messages as i64 - queued));
        if queued == 0 {
            drained_after = Some(started.elapsed());
            break;
        }
        if started.elapsed() > timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = match (cpu_before, server.cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) * 1000.0 / messages.max(1) as f64),
        _ => None,
    };
    let peak_rss_kib = server.peak_rss_kib();
    drop(server);
    let [_, _, verified, events, answers] = db.progress(base)?;
    if verified < messages as i64 {
        drained_after = None;
    }
    let at = |fraction: f64| {
        let goal = (messages as f64 * fraction) as i64;
        samples.iter().find(|(_, v)| *v >= goal).copied()
    };
    let steady = match (at(0.1), at(0.9)) {
        (Some((t1, v1)), Some((t2, v2))) if t2 > t1 => (v2 - v1) as f64 / (t2 - t1).as_secs_f64(),
        _ => {
            let (t, v) = samples.last().copied().unwrap_or_default();
            v as f64 / t.as_secs_f64().max(0.001)
        }
    };
    Ok(Run {
        steady,
        end_to_end: drained_after.map(|d| messages as f64 / d.as_secs_f64()),
        events,
        answers,
        peak_rss_kib,
        cpu_ms_per_msg: cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
