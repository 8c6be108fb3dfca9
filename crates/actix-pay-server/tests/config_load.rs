//! Loading: defaults, the file, the environment over the file, and refusals with one-line messages.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use actix_pay_server::config::{
    Config, ConfigError, DatabaseUrl, Gateway, LibrementMode, LimitsConfig, ModeKind, WebhookEvent,
};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn load(file: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(file, "pay.toml", env(pairs))
}

fn error(file: &str, pairs: &[(&str, &str)]) -> String {
    load(file, pairs)
        .expect_err("the configuration must be refused")
        .to_string()
}

const DAY: u64 = 86_400;

#[test]
fn zero_config_runs_every_gateway_as_a_simulator_on_localhost_8080() {
    let config = Config::load(None, Vec::new()).expect("no configuration is a valid configuration");

    assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.public_url, None);
    assert!(config.server.secret_key.is_none());
    assert!(config.server.api_keys.is_empty());
    assert_eq!(config.server.button_token_ttl, Duration::from_secs(30 * DAY));
    assert!(config.server.demo);
    assert_eq!(
        config.database.url.sqlite_path(),
        Some(Path::new("data/librement.sqlite3"))
    );
    assert_eq!(
        config.enabled_gateways(),
        vec![
            (Gateway::Cmcic, ModeKind::Simulator),
            (Gateway::Paypal, ModeKind::Simulator)
        ]
    );
    assert!(config.is_simulator());
    assert!(!config.any_real_mode());
    assert_eq!(config.librement.mode, LibrementMode::Embedded);
    assert_eq!(config.librement.gateways, vec![Gateway::Cmcic, Gateway::Paypal]);
    assert!(config.webhooks.is_empty());
}

#[test]
fn public_url_defaults_to_the_address_actually_bound_on_port_zero() {
    let config = load("", &[("PAY_SERVER_BIND", "127.0.0.1:0")]).expect("port 0 is allowed");
    assert_eq!(config.server.bind.port(), 0);

    let bound: SocketAddr = "127.0.0.1:38211".parse().expect("an address");
    assert_eq!(config.public_url(bound).as_str(), "http://127.0.0.1:38211/");

    let bound_v6: SocketAddr = "[::1]:38212".parse().expect("an address");
    assert_eq!(config.public_url(bound_v6).as_str(), "http://[::1]:38212/");
}

#[test]
fn a_configured_public_url_is_used_whatever_the_bound_address() {
    let config = load("[server]\npublic_url = \"https://pay.example.org/\"\n", &[]).expect("valid");
    let bound: SocketAddr = "0.0.0.0:8080".parse().expect("an address");
    assert_eq!(config.public_url(bound).as_str(), "https://pay.example.org/");
}

#[test]
fn the_environment_wins_over_the_file() {
    let file =
        "[server]\nbind = \"127.0.0.1:9000\"\nbutton_token_ttl = \"7d\"\n[database]\nurl = \"sqlite://file.db\"\n";
    let config = load(
        file,
        &[
            ("PAY_DATABASE_URL", "postgres://pay@db.example/pay"),
            ("PAY_SERVER_BUTTON_TOKEN_TTL", "12h"),
        ],
    )
    .expect("valid");

    assert_eq!(
        config.server.bind.to_string(),
        "127.0.0.1:9000",
        "the file's value stays where no variable is set"
    );
    assert_eq!(config.server.button_token_ttl, Duration::from_secs(12 * 3600));
    assert!(matches!(config.database.url, DatabaseUrl::Postgres(_)));
    assert_eq!(config.database.url.redacted(), "postgres://pay@db.example/pay");
}

#[test]
fn lists_come_from_the_environment_comma_separated() {
    let config = load(
        "[server]\napi_keys = [\"file-key-0123456789\"]\n",
        &[("PAY_SERVER_API_KEYS", "first-key-0123456789,second-key-0123456789")],
    )
    .expect("valid");

    assert_eq!(config.server.api_keys.len(), 2);
    assert!(config.server.accepts_api_key("second-key-0123456789"));
    assert!(
        !config.server.accepts_api_key("file-key-0123456789"),
        "the environment replaces the file's list"
    );
}

#[test]
fn trusted_proxies_are_addresses_or_networks_and_a_bad_one_is_named() {
    let config = load("", &[("PAY_SERVER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]).expect("valid");
    assert!(config.server.trusted_proxies.trusts("10.20.30.40".parse().unwrap()));
    assert!(!config.server.trusted_proxies.trusts("192.0.2.1".parse().unwrap()));
    assert!(load("", &[]).expect("valid").server.trusted_proxies.is_empty());
    assert_eq!(
        error("[server]\ntrusted_proxies = [\"nginx\"]\n", &[]),
        "server.trusted_proxies: \"nginx\" is not an IP address or a network such as 10.0.0.0/8"
    );
}

#[test]
fn booleans_come_from_the_environment_as_true_or_false() {
    let config = load("", &[("PAY_SERVER_DEMO", "false")]).expect("valid");
    assert!(!config.server.demo);
    assert_eq!(
        error("", &[("PAY_SERVER_DEMO", "yes")]),
        "PAY_SERVER_DEMO: expected true or false"
    );
}

#[test]
fn variables_without_the_pay_prefix_are_ignored() {
    let config = load(
        "",
        &[("HOME", "/root"), ("PAYMENT_MODE", "live"), ("pay_server_bind", "x")],
    )
    .expect("valid");
    assert!(config.is_simulator());
}

#[test]
fn an_unknown_file_key_is_refused_naming_it() {
    assert_eq!(
        error("[server]\nbindd = \"127.0.0.1:1\"\n", &[]),
        "server.bindd: no such setting"
    );
    assert_eq!(error("[paypall]\nmode = \"live\"\n", &[]), "paypall: no such setting");
    assert_eq!(
        error("[[webhooks]]\nurl = \"http://h/\"\nsecret = \"x\"\n", &[]),
        "webhooks[0].secret: no such setting"
    );
}

#[test]
fn an_unknown_pay_variable_stops_start_up() {
    assert_eq!(
        error("", &[("PAY_SERVER_BINDD", "127.0.0.1:1")]),
        "PAY_SERVER_BINDD: no such setting"
    );
    assert_eq!(
        error("", &[("PAY_WEBHOOKS_URL", "http://h/")]),
        "PAY_WEBHOOKS_URL: webhooks are configured in the file only ([[webhooks]])"
    );
}

#[test]
fn an_invalid_value_is_named_by_the_key_that_set_it() {
    assert_eq!(
        error("[server]\nbind = \"abc\"\n", &[]),
        "server.bind: \"abc\" is not an address (expected host:port)"
    );
    assert_eq!(
        error("[server]\nbind = \"127.0.0.1:1\"\n", &[("PAY_SERVER_BIND", "abc")]),
        "PAY_SERVER_BIND: \"abc\" is not an address (expected host:port)"
    );
    assert_eq!(
        error("[server]\nbutton_token_ttl = \"30 days\"\n", &[]),
        "server.button_token_ttl: \"30 days\": expected a duration such as 90s, 15m, 12h or 30d"
    );
    assert_eq!(
        error("[server]\npublic_url = \"ftp://x/\"\n", &[]),
        "server.public_url: \"ftp://x/\" is not an http or https URL"
    );
    assert_eq!(
        error("[server]\ndemo = \"yes\"\n", &[]),
        "server.demo: expected true or false, found a string"
    );
    assert_eq!(
        error("", &[("PAY_SERVER_PUBLIC_URL", "")]),
        "PAY_SERVER_PUBLIC_URL: must not be empty"
    );
}

#[test]
fn a_database_url_the_server_cannot_run_on_is_refused_without_repeating_it() {
    assert_eq!(
        error("", &[("PAY_DATABASE_URL", "mysql://root:s3cret@db/pay")]),
        "PAY_DATABASE_URL: unsupported scheme \"mysql\" (expected sqlite://path, sqlite::memory:, postgres:// or postgresql://)"
    );
    assert_eq!(
        error("[database]\nurl = \"sqlite::memory:\"\n", &[]),
        "database.url: sqlite::memory: keeps nothing across restarts and is for tests; use sqlite://<path>"
    );
}

#[test]
fn a_toml_syntax_error_is_one_line_with_its_position() {
    let message = error("[server]\nbind = \n", &[]);
    assert!(message.starts_with("pay.toml:2:"), "{message}");
    assert!(message.contains("not valid TOML"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = Config::load(Some(Path::new("/nonexistent/pay.toml")), Vec::new()).expect_err("no such file");
    assert!(
        err.to_string().starts_with("/nonexistent/pay.toml: cannot read: "),
        "{err}"
    );
}

#[test]
fn webhooks_are_read_from_the_file_with_defaults() {
    let file = r#"
[[webhooks]]
url = "http://127.0.0.1:9000/payment-events"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[webhooks]]
url = "https://hooks.example/pay"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAECAwQFBgcICQoLDA0ODxAREhM="]
events = ["payment_accepted", "payment_declined"]
retry_for = "12h"
"#;
    let config = load(file, &[]).expect("valid");

    assert_eq!(config.webhooks.len(), 2);
    let first = &config.webhooks[0];
    assert_eq!(first.retry_for, Duration::from_secs(3 * DAY));
    assert!(WebhookEvent::ALL.iter().all(|event| first.wants(*event)));
    let second = &config.webhooks[1];
    assert_eq!(second.secrets.len(), 2);
    assert_eq!(second.retry_for, Duration::from_secs(12 * 3600));
    assert!(second.wants(WebhookEvent::PaymentDeclined));
    assert!(!second.wants(WebhookEvent::PaymentProcessed));
}

#[test]
fn a_webhook_needs_a_url_and_a_valid_secret_and_known_events() {
    assert_eq!(
        error(
            "[[webhooks]]\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n",
            &[]
        ),
        "webhooks[0].url: missing; every [[webhooks]] entry says where to deliver"
    );
    assert_eq!(
        error(
            "[[webhooks]]\nurl = \"http://h/\"\nsecrets = [\"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n",
            &[]
        ),
        "webhooks[0].secrets: secret 1: must start with whsec_"
    );
    let file = "[[webhooks]]\nurl = \"http://h/\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\nevents = [\"accepted\"]\n";
    assert_eq!(
        error(file, &[]),
        "webhooks[0].events: \"accepted\" is not an event type"
    );
}

#[test]
fn librement_gateways_must_be_enabled_gateways() {
    let file = "[paypal]\nmode = \"simulator\"\n[librement]\ngateways = [\"cmcic\"]\n";
    assert_eq!(
        error(file, &[]),
        "librement.gateways: \"cmcic\" is not enabled (there is no [cmcic] section)"
    );

    let config = load("[paypal]\nmode = \"simulator\"\n", &[]).expect("valid");
    assert_eq!(
        config.librement.gateways,
        vec![Gateway::Paypal],
        "the default offers what is enabled"
    );

    let config = load(
        "",
        &[
            ("PAY_LIBREMENT_GATEWAYS", "paypal,cmcic"),
            ("PAY_LIBREMENT_MODE", "non_embedded"),
        ],
    )
    .expect("valid");
    assert_eq!(config.librement.gateways, vec![Gateway::Paypal, Gateway::Cmcic]);
    assert_eq!(config.librement.mode, LibrementMode::NonEmbedded);
}

#[test]
fn limits_default_to_the_documented_values_and_come_from_the_file_or_the_environment() {
    let defaults = Config::load(None, Vec::new()).unwrap().limits;
    assert_eq!(
        defaults,
        LimitsConfig {
            pay_per_minute: 60,
            sign_in_per_minute: 20,
            sign_up_per_hour: 20,
            notify_body_bytes: 65_536,
        }
    );
    let file = "[limits]\npay_per_minute = 120\nsign_in_per_minute = 0\nnotify_body_bytes = 8192\n";
    let limits = load(
        file,
        &[
            ("PAY_LIMITS_SIGN_UP_PER_HOUR", "5"),
            ("PAY_LIMITS_PAY_PER_MINUTE", "30"),
        ],
    )
    .unwrap()
    .limits;
    assert_eq!(
        limits,
        LimitsConfig {
            pay_per_minute: 30,
            sign_in_per_minute: 0,
            sign_up_per_hour: 5,
            notify_body_bytes: 8192,
        }
    );
}

#[test]
fn a_limit_that_is_not_a_whole_number_in_range_is_refused_naming_it() {
    assert_eq!(
        error("[limits]\npay_per_minute = \"60\"\n", &[]),
        "limits.pay_per_minute: expected an integer, found a string"
    );
    assert_eq!(
        error("", &[("PAY_LIMITS_PAY_PER_MINUTE", "sixty")]),
        "PAY_LIMITS_PAY_PER_MINUTE: expected an integer"
    );
    assert!(
        error("[limits]\nsign_up_per_hour = -1\n", &[]).starts_with("limits.sign_up_per_hour: must be a whole number")
    );
    assert!(
        error("", &[("PAY_LIMITS_NOTIFY_BODY_BYTES", "100")])
            .starts_with("PAY_LIMITS_NOTIFY_BODY_BYTES: must be from 4096 to 1048576 bytes")
    );
    assert!(error("[limits]\nnotify_body_bytes = 2000000\n", &[]).contains("must be from 4096 to 1048576 bytes"));
}

#[test]
fn the_engine_and_the_postback_pool_have_documented_defaults_and_can_be_set() {
    let config = load("", &[]).unwrap();
    assert_eq!(config.engine.verification_concurrency, 512);
    assert_eq!(config.engine.apply_concurrency, None, "chosen by database");
    let paypal = config.paypal.expect("the simulator's PayPal");
    assert_eq!(paypal.postback_pool_size, 512);

    let file = "[engine]\nverification_concurrency = 1024\n[paypal]\npostback_pool_size = 64\n";
    let config = load(file, &[("PAY_ENGINE_APPLY_CONCURRENCY", "2")]).unwrap();
    assert_eq!(config.engine.verification_concurrency, 1024);
    assert_eq!(config.engine.apply_concurrency, Some(2));
    assert_eq!(config.paypal.expect("PayPal").postback_pool_size, 64);
}

#[test]
fn an_engine_setting_out_of_range_is_refused_naming_it() {
    assert!(
        error("[engine]\nverification_concurrency = 0\n", &[])
            .starts_with("engine.verification_concurrency: must be from 1 to 4096")
    );
    assert!(
        error("", &[("PAY_ENGINE_APPLY_CONCURRENCY", "9")])
            .starts_with("PAY_ENGINE_APPLY_CONCURRENCY: must be from 1 to 8")
    );
    assert!(
        error("[paypal]\npostback_pool_size = -1\n", &[])
            .starts_with("paypal.postback_pool_size: must be from 1 to 4096")
    );
}

#[test]
fn the_removed_admin_password_is_refused_saying_what_replaced_it() {
    for (file, pairs, key) in [
        (
            "[server]\nadmin_password = \"an-old-shared-password\"\n",
            &[][..],
            "server.admin_password",
        ),
        (
            "",
            &[("PAY_SERVER_ADMIN_PASSWORD", "an-old-shared-password")][..],
            "PAY_SERVER_ADMIN_PASSWORD",
        ),
    ] {
        let message = error(file, pairs);
        assert!(message.starts_with(&format!("{key}: removed")), "{message}");
        assert!(message.contains("librement-server operator add"), "{message}");
        assert!(
            !message.contains("an-old-shared-password"),
            "the old password is never repeated: {message}"
        );
    }
}
