//! `librement-server operator add|list|remove`, run as an operator would, on a fresh SQLite database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_librement-server");
const PASSWORD: &str = "a long operator passphrase 42";

fn run(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn operators_are_added_listed_and_removed_with_the_password_read_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let added = run(dir, &["operator", "add", "Ops@Example.org"], &format!("{PASSWORD}\n"));
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("operator added: ops@example.org (operator)"));
    let viewer = run(
        dir,
        &["operator", "add", "viewer@example.org", "--role", "viewer"],
        &format!("{PASSWORD}\n"),
    );
    assert!(viewer.status.success(), "{}", text(&viewer));

    let again = run(dir, &["operator", "add", "ops@example.org"], &format!("{PASSWORD}\n"));
    assert!(!again.status.success());
    assert!(text(&again).contains("exists already"), "{}", text(&again));

    let listed = run(dir, &["operator", "list"], "");
    let listed = text(&listed);
    assert!(listed.contains("ops@example.org\toperator"), "{listed}");
    assert!(listed.contains("viewer@example.org\tviewer"), "{listed}");
    assert!(!listed.contains("argon2"), "hashes are never listed: {listed}");

    let removed = run(dir, &["operator", "remove", "ops@example.org"], "");
    assert!(removed.status.success(), "{}", text(&removed));
    let listed = text(&run(dir, &["operator", "list"], ""));
    assert!(!listed.contains("ops@example.org"), "{listed}");
    let missing = run(dir, &["operator", "remove", "ops@example.org"], "");
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no operator ops@example.org"));
}

#[test]
fn a_weak_or_missing_password_is_refused_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let weak = run(dir.path(), &["operator", "add", "ops@example.org"], "password\n");
    assert!(!weak.status.success());
    assert!(
        text(&weak).starts_with("librement-server: password:"),
        "{}",
        text(&weak)
    );
    assert!(!text(&weak).contains("password\n\n"));
    let none = run(dir.path(), &["operator", "add", "ops@example.org"], "");
    assert!(!none.status.success());
    assert!(text(&none).contains("standard input"), "{}", text(&none));
    let listed = text(&run(dir.path(), &["operator", "list"], ""));
    assert!(listed.trim().is_empty(), "{listed}");
}

#[test]
fn a_configuration_that_still_sets_admin_password_stops_start_up_naming_its_replacement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pay.toml"),
        "[server]\nadmin_password = \"the-old-shared-one\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["--config", "pay.toml", "serve"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(message.contains("server.admin_password: removed"), "{message}");
    assert!(message.contains("operator add"), "{message}");
    assert!(!message.contains("the-old-shared-one"), "{message}");
}
