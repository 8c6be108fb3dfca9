//! `pay-bench`: the benchmark runner of librement-pay. It never runs in the test suite and never fails on
//! a number: it measures, and writes a Markdown report a person reads (see `docs/benchmarks.md`).
//!
//! `cargo run -p pay-bench --release -- all` runs every measure; `intake`, `fixed`, `limit`, `peer`,
//! `growth`, `render`, `drain` and `console` run one each. Everything listens on 127.0.0.1 and every load is bounded.

mod bare;
mod console;
mod db;
mod drain;
mod http;
mod intake;
mod ipn;
mod load;
mod peer;
mod plot;
mod report;
mod server;
mod stub;
mod suite;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(about = "Benchmarks of librement-pay: intake, drain, growth, rendering, against django-paypal")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Seconds of each closed-loop load.
    #[arg(long, default_value_t = 3, global = true)]
    seconds: u64,
    /// Growth steps (messages already in the log), comma-separated.
    #[arg(long, default_value = "0,100000,1000000", value_delimiter = ',', global = true)]
    growth: Vec<u64>,
    /// Where to write the Markdown report (default: `bench/results/report-<time>.md` in the workspace).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Runs only the intake, fixed-rate and growth rows whose label contains one of these (comma-separated;
    /// labels look like `intake-sq-d0-c8`, `fixed-pg-d0-r1000`, `growth-sq-100000`): one row again, quickly.
    #[arg(long, value_delimiter = ',', global = true)]
    only: Vec<String>,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
enum Cmd {
    /// Every measure below, one after the other.
    All,
    /// Notification intake and drain: SQLite and PostgreSQL, stub at once and after 200 ms, 1/8/64 connections.
    Intake,
    /// Fixed-rate latency (open loop, 1,000 requests/s).
    Fixed,
    /// The bare actix-web handler (the framework's limit).
    Limit,
    /// django-paypal under gunicorn, same generator and bodies.
    Peer,
    /// Intake, fixed rate and django-paypal in one run: the intake ratio against the peer (issue 18's target)
    /// without the growth and rendering measures of `all`.
    Compare,
    /// Intake and drain after the log holds the `--growth` sizes.
    Growth,
    /// Button and hand-off rendering (criterion) against django-paypal's form (timeit).
    Render,
    /// The worker's drain at a postback latency (0, 50, 200, 1000 ms), SQLite and PostgreSQL, with a plot.
    Drain {
        /// Postback latencies, milliseconds, comma-separated.
        #[arg(long, default_value = "0,50,200,1000", value_delimiter = ',')]
        latencies: Vec<u64>,
        /// Messages queued per run.
        #[arg(long, default_value_t = 10_000)]
        messages: u64,
        /// Runs per row (the median is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// The server's `engine.verification_concurrency` (default: the server's own default).
        #[arg(long)]
        verification_concurrency: Option<usize>,
        /// SQLite only.
        #[arg(long)]
        sqlite_only: bool,
        /// Skip django-paypal's verified requests/s at each latency.
        #[arg(long)]
        no_peer: bool,
        /// Applied messages already in the log (each with two dispatched events) before the queue is filled:
        /// a shop that has been running, whose tables' statistics are not those of an empty database.
        #[arg(long, default_value_t = 20_000)]
        history: u64,
    },
    /// The operator console's payment list with each filter at `--payments` payments, SQLite and PostgreSQL.
    Console {
        /// Payments in the table.
        #[arg(long, default_value_t = 1_000_000)]
        payments: u64,
        /// Timed requests per filter (the median and the slowest are reported).
        #[arg(long, default_value_t = 7)]
        repeat: usize,
        /// SQLite only.
        #[arg(long)]
        sqlite_only: bool,
    },
    /// Internal: serve the bare actix-web handler (started by `limit`).
    #[command(hide = true)]
    BareServer {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Cmd::BareServer { bind } = &cli.command {
        return bare::serve(bind);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Cmd::Drain {
        latencies,
        messages,
        repeat,
        verification_concurrency,
        sqlite_only,
        no_peer,
        history,
    } = cli.command.clone()
    {
        return runtime.block_on(drain::suite(drain::Options {
            latencies,
            messages: messages.max(100),
            repeat,
            concurrency: verification_concurrency,
            sqlite_only,
            peer: !no_peer,
            history,
            out: cli.out,
            command_line: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        }));
    }
    if let Cmd::Console {
        payments,
        repeat,
        sqlite_only,
    } = cli.command.clone()
    {
        return runtime.block_on(console::suite(console::Options {
            payments: payments.max(100),
            repeat,
            sqlite_only,
            out: cli.out,
            command_line: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        }));
    }
    runtime.block_on(suite::run(suite::Options {
        all: cli.command == Cmd::All,
        intake: matches!(cli.command, Cmd::All | Cmd::Intake | Cmd::Compare),
        fixed: matches!(cli.command, Cmd::All | Cmd::Fixed | Cmd::Compare),
        limit: matches!(cli.command, Cmd::All | Cmd::Limit),
        peer: matches!(cli.command, Cmd::All | Cmd::Peer | Cmd::Compare),
        growth: matches!(cli.command, Cmd::All | Cmd::Growth),
        render: matches!(cli.command, Cmd::All | Cmd::Render),
        seconds: cli.seconds.clamp(1, 60),
        growth_sizes: cli.growth,
        only: cli.only,
        out: cli.out,
        command_line: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
    }))
}
