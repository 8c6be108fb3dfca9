//! `librement-server [--config FILE] [serve|migrate]`.

use std::path::Path;
use std::process::ExitCode;

use actix_pay_server::admin::accounts;
use actix_pay_server::cli::{Cli, Command, OperatorCommand};
use actix_pay_server::config::{Config, LogFormat, process_env};
use actix_pay_server::serve;
use actix_pay_server::store::{Role, ServerStore};
use clap::Parser;

/// Where the generated secret key (and the default SQLite database) live, relative to the working directory.
const DATA_DIR: &str = "data";

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    init_logs(config.log.format);
    match cli.effective_command() {
        Command::Migrate => serve::migrate(&config)?,
        Command::Serve => {
            actix_web::rt::System::new().block_on(serve::serve(config, Path::new(DATA_DIR)))?;
        }
        Command::Operator(command) => operator(&config, command)?,
    }
    Ok(())
}

/// `librement-server operator add|list|remove`, on the configured database (migrated first).
fn operator(config: &Config, command: OperatorCommand) -> anyhow::Result<()> {
    let store = ServerStore::open_blocking(&config.database.url).map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
    actix_web::rt::System::new().block_on(async move {
        match command {
            OperatorCommand::Add { email, role } => {
                let role = Role::parse(&role).unwrap_or(Role::Operator);
                let password = accounts::read_password(&mut std::io::stdin().lock())?;
                accounts::add(&store, &email, role, password).await?;
                println!(
                    "operator added: {} ({})",
                    accounts::normalize_email(&email)?,
                    role.as_str()
                );
            }
            OperatorCommand::List => {
                for line in accounts::list(&store).await? {
                    println!("{line}");
                }
            }
            OperatorCommand::Remove { email } => {
                accounts::remove(&store, &email).await?;
                println!("operator removed: {}", accounts::normalize_email(&email)?);
            }
        }
        Ok(())
    })
}

/// Log lines on standard error: `RUST_LOG` chooses what (default `info`), `log.format` how: text (colours
/// only on a terminal) or one JSON object per line.
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
