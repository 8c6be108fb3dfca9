//! `docs/events.md` shows what the code does: each example payload shipped in the core crate's `events/`
//! folder (checked there against the code that builds events) appears on the page exactly, with a link to
//! its file, and the page's webhook receiver is the one the core compiles as a doctest.
//!
//! These checks live in this unpublished crate because they read the repository's `docs/`, which the
//! published core package does not have.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every example file, by name, with its contents.
fn example_files() -> Vec<(String, String)> {
    let dir = repository().join("crates/payment-buttons/events");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
            (name, read(&path))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_events_page_shows_every_example_file_exactly_and_links_it() {
    let page = read(&repository().join("docs/events.md"));
    let files = example_files();
    assert_eq!(files.len(), 6, "one example per event kind: {files:?}");
    for (name, json) in files {
        let block = format!("```json\n{json}```\n");
        assert!(
            page.contains(&block),
            "docs/events.md does not show {name} as it is:\n{block}"
        );
        let link = format!("(../crates/payment-buttons/events/{name})");
        assert!(page.contains(&link), "docs/events.md does not link {link}");
    }
}

/// The receiver shown in `docs/events.md` is the one compiled as a doctest in the core's `src/webhook/mod.rs`.
#[test]
fn the_receiver_example_of_the_page_is_the_compiled_doctest() {
    let source = read(&repository().join("crates/payment-buttons/src/webhook/mod.rs"));
    let doc: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect();
    let start = doc
        .iter()
        .position(|line| line.starts_with("A receiver in actix-web"))
        .expect("the receiver example in the module documentation");
    let code: String = doc[start..]
        .iter()
        .skip_while(|line| **line != "```")
        .skip(1)
        .take_while(|line| **line != "```")
        .filter(|line| !line.starts_with("# ") && **line != "#")
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(code.contains("verify_request"), "{code}");
    let page = read(&repository().join("docs/events.md"));
    assert!(
        page.contains(&format!("```rust\n{code}```\n")),
        "docs/events.md must show the receiver exactly as src/webhook/mod.rs compiles it:\n{code}"
    );
}
