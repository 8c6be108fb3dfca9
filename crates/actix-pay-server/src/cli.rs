//! The command line of `librement-server`: `librement-server [--config FILE] [serve|migrate|operator ...]`.
//!
//! ```
//! use actix_pay_server::cli::{Cli, Command};
//! use clap::Parser;
//! let cli = Cli::parse_from(["librement-server", "migrate", "--config", "pay.toml"]);
//! assert_eq!(cli.effective_command(), Command::Migrate);
//! assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("pay.toml")));
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Payment buttons, gateway notifications and Librement accounts, on SQLite or PostgreSQL.
///
/// With no configuration at all it runs every gateway in simulator mode on http://127.0.0.1:8080 with a
/// demo shop. Every setting of the file can be overridden by an environment variable PAY_SECTION_KEY, such
/// as PAY_DATABASE_URL for `url` in `[database]`.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "librement-server", version, about, long_about)]
pub struct Cli {
    /// The TOML configuration file (optional: defaults and PAY_* variables apply without one).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run, `serve` when none was given.
    pub fn effective_command(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the database migrations, then serve HTTP (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Manage the accounts of the operator console (/admin).
    #[command(subcommand)]
    Operator(OperatorCommand),
}

/// `librement-server operator ...`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum OperatorCommand {
    /// Add an operator; the password is read as one line on standard input (never an argument, which
    /// other users of the machine could see).
    Add {
        /// The operator's e-mail address (its sign-in name).
        email: String,
        /// `operator` (reads and acts) or `viewer` (reads only).
        #[arg(long, default_value = "operator", value_parser = ["operator", "viewer"])]
        role: String,
    },
    /// List the operators and their roles.
    List,
    /// Remove an operator and end its sessions (its audit rows stay).
    Remove {
        /// The operator's e-mail address.
        email: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        <Cli as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn operator_add_takes_the_address_and_a_role_but_never_a_password() {
        let cli = Cli::parse_from([
            "librement-server",
            "operator",
            "add",
            "ops@example.org",
            "--role",
            "viewer",
        ]);
        assert_eq!(
            cli.effective_command(),
            Command::Operator(OperatorCommand::Add {
                email: "ops@example.org".into(),
                role: "viewer".into()
            })
        );
        assert!(Cli::try_parse_from(["librement-server", "operator", "add", "a@b.org", "--password", "x"]).is_err());
        assert!(Cli::try_parse_from(["librement-server", "operator", "add", "a@b.org", "--role", "root"]).is_err());
    }
}
