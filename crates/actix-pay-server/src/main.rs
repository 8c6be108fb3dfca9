//! `librement-server [--config FILE] [serve|migrate]`.

use std::path::Path;
use std::process::ExitCode;

use actix_pay_server::cli::{Cli, Command};
use actix_pay_server::config::{Config, process_env};
use actix_pay_server::serve;
use clap::Parser;

/// Where the generated secret key (and the default SQLite database) live, relative to the working directory.
const DATA_DIR: &str = "data";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming what is wrong; no backtrace.
            eprintln!("librement-server: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let env = process_env()?;
    let config = Config::load(cli.config.as_deref(), env)?;
    match cli.effective_command() {
        Command::Migrate => serve::migrate(&config)?,
        Command::Serve => {
            actix_web::rt::System::new().block_on(serve::serve(config, Path::new(DATA_DIR)))?;
        }
    }
    Ok(())
}
