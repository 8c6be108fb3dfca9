//! The mode rules: simulators by default, a mode required with credentials, never simulators next to real
//! gateways.

use actix_pay_server::config::{CmcicMode, CmcicProtocol, Config, ConfigError, Gateway, ModeKind, PaypalMode};
use url::Url;

const KEY: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

fn load(file: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Config::from_toml(file, "pay.toml", env)
}

fn error(file: &str, pairs: &[(&str, &str)]) -> String {
    load(file, pairs)
        .expect_err("the configuration must be refused")
        .to_string()
}

fn cmcic_section(mode: &str) -> String {
    format!("[cmcic]\nmode = \"{mode}\"\ntpe = \"1234567\"\nkey = \"{KEY}\"\nsociete = \"monSite1\"\n")
}

#[test]
fn a_present_section_enables_only_its_gateway() {
    let config = load("[paypal]\nmode = \"sandbox\"\nbusiness = \"seller@example.com\"\n", &[]).expect("valid");
    assert_eq!(config.enabled_gateways(), vec![(Gateway::Paypal, ModeKind::Test)]);
    assert!(config.cmcic.is_none());
    assert!(config.any_real_mode());
    assert!(!config.is_simulator());
    assert!(
        !config.server.demo,
        "the demo shop is off by default outside simulator mode"
    );
}

#[test]
fn an_empty_section_without_credentials_is_a_simulator() {
    let config = load("[cmcic]\n", &[]).expect("valid");
    assert_eq!(config.enabled_gateways(), vec![(Gateway::Cmcic, ModeKind::Simulator)]);
    assert!(config.server.demo);
}

#[test]
fn a_variable_alone_creates_its_section() {
    let config = load("", &[("PAY_PAYPAL_MODE", "live")]).expect("valid");
    assert_eq!(config.enabled_gateways(), vec![(Gateway::Paypal, ModeKind::Live)]);
}

#[test]
fn credentials_without_a_mode_stop_start_up_and_ask_for_it() {
    assert_eq!(
        error("[paypal]\nbusiness = \"seller@example.com\"\n", &[]),
        "paypal.mode: missing; [paypal] holds credentials (business), so say which mode: simulator, sandbox or live"
    );
    assert_eq!(
        error("", &[("PAY_CMCIC_TPE", "1234567")]),
        "cmcic.mode: missing; [cmcic] holds credentials, so say which mode: simulator, test or production"
    );
}

#[test]
fn an_unknown_mode_lists_the_valid_ones() {
    assert_eq!(
        error("[paypal]\nmode = \"production\"\n", &[]),
        "paypal.mode: \"production\" is not a mode (expected simulator, sandbox or live)"
    );
}

#[test]
fn simulator_and_real_modes_never_mix() {
    let file = format!("[paypal]\nmode = \"simulator\"\n{}", cmcic_section("production"));
    assert_eq!(
        error(&file, &[]),
        "cmcic.mode: \"production\" cannot run next to paypal in simulator mode (every gateway is a simulator, or none is)"
    );
    let file = format!("[paypal]\nmode = \"simulator\"\n{}", cmcic_section("test"));
    assert!(error(&file, &[]).starts_with("cmcic.mode: \"test\" cannot run next to paypal"));
    assert_eq!(
        error(&cmcic_section("simulator"), &[("PAY_PAYPAL_MODE", "sandbox")]),
        "PAY_PAYPAL_MODE: \"sandbox\" cannot run next to cmcic in simulator mode (every gateway is a simulator, or none is)"
    );
}

#[test]
fn test_and_live_modes_may_run_together() {
    let file = format!("[paypal]\nmode = \"live\"\n{}", cmcic_section("test"));
    let config = load(&file, &[]).expect("two real modes are allowed");
    assert_eq!(
        config.enabled_gateways(),
        vec![(Gateway::Cmcic, ModeKind::Test), (Gateway::Paypal, ModeKind::Live)]
    );
}

#[test]
fn a_real_cmcic_mode_needs_all_three_credentials() {
    assert_eq!(
        error("[cmcic]\nmode = \"test\"\n", &[]),
        "cmcic.tpe: missing; test mode needs tpe, key and societe"
    );
    assert_eq!(
        error(
            &format!("[cmcic]\nmode = \"production\"\ntpe = \"1234567\"\nkey = \"{KEY}\"\n"),
            &[]
        ),
        "cmcic.societe: missing; tpe, key and societe go together"
    );
}

#[test]
fn cmcic_credentials_are_typed_and_the_payment_url_follows_mode_and_protocol() {
    let config = load(&cmcic_section("test"), &[]).expect("valid");
    let cmcic = config.cmcic.expect("enabled");
    assert_eq!(cmcic.mode, CmcicMode::Test);
    assert_eq!(cmcic.protocol, CmcicProtocol::Monetico);
    let credentials = cmcic.credentials.as_ref().expect("given");
    assert_eq!(
        (credentials.tpe.as_str(), credentials.societe.as_str()),
        ("1234567", "monSite1")
    );
    assert_eq!(
        credentials.key.expose(),
        KEY,
        "the key is kept as given; the core crate derives the usable key"
    );
    let public = Url::parse("http://127.0.0.1:8080/").expect("valid");
    assert_eq!(
        cmcic.payment_url(&public).as_str(),
        "https://p.monetico-services.com/test/paiement.cgi"
    );
}

#[test]
fn a_malformed_bank_key_is_refused_without_being_quoted() {
    let file = "[cmcic]\nmode = \"test\"\ntpe = \"1234567\"\nkey = \"not-a-key-s3cret\"\nsociete = \"monSite1\"\n";
    let message = error(file, &[]);
    assert_eq!(message, "cmcic.key: must be the 40 characters the bank gives");
}

#[test]
fn live_urls_must_be_https() {
    let file = "[paypal]\nmode = \"live\"\npostback_url = \"http://ipnpb.paypal.com/cgi-bin/webscr\"\n";
    assert_eq!(
        error(file, &[]),
        "paypal.postback_url: \"http://ipnpb.paypal.com/cgi-bin/webscr\" must be an https URL in live mode"
    );
    let config = load(
        "[paypal]\nmode = \"sandbox\"\npostback_url = \"http://127.0.0.1:8000/ipn\"\n",
        &[],
    )
    .expect("plain http is allowed against a test peer");
    let paypal = config.paypal.expect("enabled");
    assert_eq!(paypal.mode, PaypalMode::Sandbox);
    let public = Url::parse("http://127.0.0.1:8080/").expect("valid");
    assert_eq!(paypal.postback_url(&public).as_str(), "http://127.0.0.1:8000/ipn");
    assert_eq!(
        paypal.webscr_url(&public).as_str(),
        "https://www.sandbox.paypal.com/cgi-bin/webscr"
    );
}

#[test]
fn an_explicit_demo_setting_wins_over_the_mode_default() {
    let config = load("[server]\ndemo = false\n", &[]).expect("valid");
    assert!(!config.server.demo);
}

#[test]
fn paypal_api_credentials_come_whole_need_a_mode_and_default_their_urls() {
    let message = error("[paypal]\nclient_id = \"AYx\"\nclient_secret = \"EHx\"\n", &[]);
    assert!(
        message.contains("paypal.mode") && message.contains("client_id"),
        "{message}"
    );
    let message = error("[paypal]\nmode = \"sandbox\"\nclient_id = \"AYx\"\n", &[]);
    assert!(message.contains("paypal.client_secret"), "{message}");
    let message = error(
        "",
        &[
            ("PAY_PAYPAL_MODE", "sandbox"),
            ("PAY_PAYPAL_NVP_USER", "u_api1.example.com"),
        ],
    );
    assert!(message.contains("nvp_password"), "{message}");

    let config = load(
        "[paypal]\nmode = \"live\"\nclient_id = \"AYx\"\nclient_secret = \"EHx\"\n",
        &[],
    )
    .expect("valid");
    let paypal = config.paypal.expect("enabled");
    let public = Url::parse("https://pay.example/").unwrap();
    assert_eq!(paypal.rest.as_ref().expect("REST credentials").client_id, "AYx");
    assert!(paypal.nvp.is_none());
    assert_eq!(paypal.api_url(&public).as_str(), "https://api-m.paypal.com/");
    assert_eq!(paypal.nvp_url(&public).as_str(), "https://api-3t.paypal.com/nvp");
    let message = error("[paypal]\nmode = \"live\"\napi_url = \"http://api.example\"\n", &[]);
    assert!(
        message.contains("paypal.api_url") && message.contains("https"),
        "{message}"
    );
}
