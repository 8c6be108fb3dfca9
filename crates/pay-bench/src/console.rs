//! The operator console at a million payments: how long `/admin/payments` takes to answer, over HTTP from
//! the real binary, for each filter an operator uses, on SQLite and PostgreSQL.
//!
//! One run per backend: fresh database; the server starts (it migrates), takes one `/pay` through
//! `/api/buttons`, and that payment is copied `payments` times in SQL with varied gateways, states,
//! currencies, amounts, buyers' e-mails (five payments per buyer) and creation times (one every 30 s,
//! going back a year); `ANALYZE`; a viewer added with `librement-server operator add` signs in. Each
//! request is sent once to warm the cache, then `repeat` times; the median and the slowest are reported.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::db::Db;
use crate::http::Connection;
use crate::intake::{create_payment, form_encode, hidden_value, start_server, work_dir};
use crate::report::Report;
use crate::stub;

/// What `pay-bench console` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Payments in the table.
    pub payments: u64,
    /// Timed requests per filter (after one warm-up).
    pub repeat: usize,
    /// Skip PostgreSQL.
    pub sqlite_only: bool,
    /// Report path.
    pub out: Option<PathBuf>,
    /// The arguments, for the report.
    pub command_line: String,
}

const OPERATOR: &str = "viewer@bench.example";
const PASSWORD: &str = "a long benchmark passphrase 42";
/// Seconds between two generated payments.
const SPACING: u64 = 30;

/// Runs the console's filters on each backend and writes the report.
pub async fn suite(o: Options) -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let out = o.out.clone().unwrap_or_else(|| {
        workspace
            .join("bench/results")
            .join(format!("console-{}.md", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
    });
    let mut report = Report::new(out, &o.command_line);
    let bin = crate::server::server_binary(&workspace)?;
    let work = work_dir();
    std::fs::create_dir_all(&work)?;
    let mut md = format!(
        "## 7. The operator console's payment list\n\n\
         {} payments. `GET /admin/payments` with each filter, signed in as a viewer, over loopback HTTP from the release \
         binary (the page is rendered: 50 rows). One warm-up request, then {} timed; median and slowest in ms. \
         Payments: one every {SPACING} s going back from now, gateways, states, currencies and amounts varied, \
         five per buyer's e-mail.\n\n\
         | backend | request | rows on the page | median ms | slowest ms |\n|---|---|---|---|---|\n",
        o.payments, o.repeat
    );
    let backends: &[bool] = if o.sqlite_only { &[false] } else { &[false, true] };
    for &postgres in backends {
        let name = if postgres { "PostgreSQL" } else { "SQLite" };
        eprintln!("console: {name}, {} payments", o.payments);
        match run(&bin, &work, postgres, &o).await {
            Ok(rows) => {
                for (request, count, median, slowest) in rows {
                    let _ = writeln!(md, "| {name} | `{request}` | {count} | {median:.1} | {slowest:.1} |");
                }
            }
            Err(e) => {
                eprintln!("  failed: {e:#}");
                let _ = writeln!(md, "| {name} | failed: {e:#} | | | |");
            }
        }
    }
    report.push(&md);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("report: {}", report.path().display());
    println!("{}", std::fs::read_to_string(report.path()).unwrap_or_default());
    Ok(())
}

/// One backend: fill, sign in, time every filter. Rows: (request, rows on the page, median, slowest).
async fn run(bin: &Path, work: &Path, postgres: bool, o: &Options) -> Result<Vec<(String, usize, f64, f64)>> {
    let dir = work.join(if postgres { "console-pg" } else { "console-sqlite" });
    std::fs::create_dir_all(&dir)?;
    let db = if postgres {
        Db::Postgres(format!("pay_bench_console_{}", std::process::id()))
    } else {
        Db::Sqlite(dir.join("console.sqlite3"))
    };
    db.create()?;
    let result = measure(bin, &dir, &db, o).await;
    db.drop_db();
    result
}

async fn measure(bin: &Path, dir: &Path, db: &Db, o: &Options) -> Result<Vec<(String, usize, f64, f64)>> {
    let stub = stub::start(Duration::ZERO).await?;
    let server = start_server(bin, dir, db, stub.addr, &[])?;
    let source = create_payment(server.addr).await.context("create the first payment")?;
    let started = Instant::now();
    fill(db, &source, o.payments)?;
    eprintln!("  filled in {:.0} s", started.elapsed().as_secs_f64());
    add_viewer(bin, dir, db)?;
    let mut conn = Connection::new(server.addr);
    let cookie = sign_in(&mut conn).await?;

    let now = chrono::Utc::now();
    let week_from = (now - chrono::Duration::days(100)).format("%Y-%m-%d");
    let week_to = (now - chrono::Duration::days(94)).format("%Y-%m-%d");
    let deep = deep_cursor(&mut conn, &cookie, o.payments / 2).await?;
    let requests = [
        "/admin/payments".to_owned(),
        format!("/admin/payments?before={deep}"),
        "/admin/payments?state=declined".to_owned(),
        format!("/admin/payments?order_reference=ORDER-{}", o.payments * 3 / 4),
        format!(
            "/admin/payments?email=buyer{}%40example.org",
            (o.payments / 3) % buyers(o.payments)
        ),
        format!("/admin/payments?from={week_from}&to={week_to}"),
        "/admin/payments?gateway=cmcic&state=accepted".to_owned(),
        "/admin/payments?currency=EUR&amount_min=10.00&amount_max=20.00".to_owned(),
        "/admin/payments?flagged=1".to_owned(),
    ];
    let mut rows = Vec::new();
    for path in requests {
        let (count, _) = get(&mut conn, &path, &cookie).await?;
        let mut times = Vec::with_capacity(o.repeat);
        for _ in 0..o.repeat.max(1) {
            let t = Instant::now();
            get(&mut conn, &path, &cookie).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let slowest = *times.last().expect("one time");
        eprintln!("  {path}: {count} rows, median {median:.1} ms, slowest {slowest:.1} ms");
        rows.push((path, count, median, slowest));
    }
    Ok(rows)
}

/// Distinct buyers among `payments` (five payments each).
fn buyers(payments: u64) -> u64 {
    (payments / 5).max(1)
}

/// Copies payment `source` into `n` payments `C` + 11 digits with varied columns.
fn fill(db: &Db, source: &str, n: u64) -> Result<()> {
    let buyers = buyers(n);
    let columns = "id, gateway, order_reference, button, option_index, amount_minor, currency, state, receiver, \
                   details, created_at, updated_at, refunded_minor, email";
    let varied = |id: &str, created: &str| {
        format!(
            "{id}, CASE i % 2 WHEN 0 THEN 'paypal' ELSE 'cmcic' END, 'ORDER-' || i, p.button, 0, \
             100 + (i * 37) % 100000, CASE i % 3 WHEN 0 THEN 'USD' ELSE 'EUR' END, \
             CASE i % 5 WHEN 0 THEN 'created' WHEN 1 THEN 'pending' WHEN 2 THEN 'declined' ELSE 'accepted' END, \
             p.receiver, '{{}}', {created}, {created}, 0, 'buyer' || (i % {buyers}) || '@example.org'"
        )
    };
    let source = source.replace('\'', "''");
    let sql = match db {
        Db::Sqlite(_) => format!(
            "INSERT INTO payments ({columns}) \
             WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) \
             SELECT {} FROM s, payments p WHERE p.id = '{source}'; ANALYZE;",
            varied(
                "printf('C%011d', i)",
                &format!("strftime('%Y-%m-%d %H:%M:%f', p.created_at, printf('-%d seconds', i * {SPACING}))")
            )
        ),
        Db::Postgres(_) => format!(
            "INSERT INTO payments ({columns}) \
             SELECT {} FROM generate_series(0, {n} - 1) AS s(i), payments p WHERE p.id = '{source}'; ANALYZE;",
            varied(
                "'C' || lpad(i::text, 11, '0')",
                &format!("p.created_at - make_interval(secs => i * {SPACING})")
            )
        ),
    };
    db.query(&sql).map(drop)
}

/// `librement-server operator add` with the password on standard input, as an operator does.
fn add_viewer(bin: &Path, dir: &Path, db: &Db) -> Result<()> {
    let mut child = Command::new(bin)
        .current_dir(dir)
        .env("PAY_DATABASE_URL", db.url())
        .args(["operator", "add", OPERATOR, "--role", "viewer"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("run librement-server operator add")?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("operator add: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Signs in through the form (its double-submit token) and returns the session's `Cookie` header.
async fn sign_in(conn: &mut Connection) -> Result<String> {
    let form = conn.request("GET", "/admin", &[], b"").await?;
    let html = String::from_utf8_lossy(&form.body);
    let csrf = hidden_value(&html, "csrf").context("no csrf field on the sign-in page")?;
    let cookies = form.cookies.join("; ");
    let body = format!(
        "csrf={}&email={}&password={}",
        form_encode(&csrf),
        form_encode(OPERATOR),
        form_encode(PASSWORD)
    );
    let signed = conn
        .request(
            "POST",
            "/admin/sign-in",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookies),
            ],
            body.as_bytes(),
        )
        .await?;
    if signed.status != 303 || signed.cookies.is_empty() {
        bail!(
            "sign-in answered {}: {}",
            signed.status,
            String::from_utf8_lossy(&signed.body)
        );
    }
    Ok(signed.cookies.join("; "))
}

/// `GET path` signed in; the number of payment rows on the page and its HTML.
async fn get(conn: &mut Connection, path: &str, cookie: &str) -> Result<(usize, String)> {
    let response = conn.request("GET", path, &[("Cookie", cookie)], b"").await?;
    let html = String::from_utf8_lossy(&response.body).into_owned();
    if response.status != 200 {
        bail!("GET {path} answered {}: {html}", response.status);
    }
    let rows = html.matches("<a href=\"/admin/payments/").count();
    Ok((rows, html))
}

/// A keyset cursor about `depth` payments in: the first page's next-page cursor moved back in time by
/// `depth` generated payments.
async fn deep_cursor(conn: &mut Connection, cookie: &str, depth: u64) -> Result<String> {
    let (_, html) = get(conn, "/admin/payments", cookie).await?;
    let next = html
        .split("before=")
        .nth(1)
        .and_then(|rest| rest.split(['"', '&']).next())
        .context("no next-page link on the first page")?;
    let (micros, _) = next.split_once('.').context("a cursor is MICROS.ID")?;
    let micros: i64 = micros.parse().context("a cursor starts with microseconds")?;
    let deep = micros - (depth * SPACING) as i64 * 1_000_000;
    Ok(format!("{deep}.C{depth:011}"))
}
