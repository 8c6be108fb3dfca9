//! The command line: `librement-server [--config FILE] [serve|migrate]`.

use std::path::Path;

use actix_pay_server::cli::{Cli, Command};
use clap::Parser;
use clap::error::ErrorKind;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("librement-server").chain(args.iter().copied()))
}

#[test]
fn no_arguments_serve_without_a_file() {
    let cli = parse(&[]).expect("valid");
    assert_eq!(cli.effective_command(), Command::Serve);
    assert_eq!(cli.config, None);
}

#[test]
fn config_is_accepted_after_the_subcommand() {
    let cli = parse(&["migrate", "--config", "x.toml"]).expect("valid");
    assert_eq!(cli.effective_command(), Command::Migrate);
    assert_eq!(cli.config.as_deref(), Some(Path::new("x.toml")));
}

#[test]
fn config_is_accepted_before_the_subcommand() {
    let cli = parse(&["--config", "x.toml", "migrate"]).expect("valid");
    assert_eq!(cli.effective_command(), Command::Migrate);
    assert_eq!(cli.config.as_deref(), Some(Path::new("x.toml")));
}

#[test]
fn serve_can_be_named_explicitly() {
    let cli = parse(&["-c", "pay.toml", "serve"]).expect("valid");
    assert_eq!(cli.effective_command(), Command::Serve);
    assert_eq!(cli.config.as_deref(), Some(Path::new("pay.toml")));
}

#[test]
fn an_unknown_subcommand_is_an_error() {
    let err = parse(&["frobnicate"]).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
}

#[test]
fn help_lists_the_commands_and_options() {
    let err = parse(&["--help"]).expect_err("help is shown, not parsed");
    assert_eq!(err.kind(), ErrorKind::DisplayHelp);
    let help = err.to_string();
    for word in ["serve", "migrate", "--config", "--help", "--version"] {
        assert!(help.contains(word), "--help does not mention {word}:\n{help}");
    }
    let err = parse(&["migrate", "--help"]).expect_err("help is shown, not parsed");
    assert!(err.to_string().contains("--config"));
}

#[test]
fn version_is_printed() {
    let err = parse(&["--version"]).expect_err("version is shown, not parsed");
    assert_eq!(err.kind(), ErrorKind::DisplayVersion);
    assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")));
}
