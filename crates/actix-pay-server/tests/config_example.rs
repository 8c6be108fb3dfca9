//! The documentation cannot rot: the example file parses and holds every key, and the reference page names
//! every key and its variable.

use std::path::PathBuf;

use actix_pay_server::config::{self, Config, Gateway, ModeKind};

fn docs(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(file)
}

#[test]
fn the_example_file_is_a_valid_configuration() {
    let config = Config::load(Some(&docs("config.example.toml")), Vec::new()).expect("the example must load");
    assert_eq!(
        config.enabled_gateways(),
        vec![(Gateway::Cmcic, ModeKind::Test), (Gateway::Paypal, ModeKind::Test)]
    );
    assert_eq!(config.webhooks.len(), 1);
}

#[test]
fn the_example_file_shows_every_key() {
    let text = std::fs::read_to_string(docs("config.example.toml")).expect("readable");
    let table: toml::Table = toml::from_str(&text).expect("valid TOML");
    for (path, _) in config::settings() {
        let (section, key) = path.split_once('.').expect("section.key");
        let present = table.get(section).and_then(|s| s.get(key)).is_some();
        assert!(present, "{path} is missing from config.example.toml");
    }
    let webhook = table["webhooks"]
        .as_array()
        .and_then(|w| w.first())
        .expect("a [[webhooks]] entry");
    for key in ["url", "secrets", "events", "retry_for"] {
        assert!(
            webhook.get(key).is_some(),
            "webhooks.{key} is missing from config.example.toml"
        );
    }
}

#[test]
fn the_reference_page_names_every_key_and_variable() {
    let page = std::fs::read_to_string(docs("configuration.md")).expect("readable");
    for (path, variable) in config::settings() {
        let (section, key) = path.split_once('.').expect("section.key");
        assert!(
            page.contains(&format!("## `[{section}]`")),
            "configuration.md has no [{section}] section"
        );
        assert!(
            page.contains(&format!("| `{key}` | `{variable}` |")),
            "configuration.md does not document {path}"
        );
    }
}
