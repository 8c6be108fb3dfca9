//! Secrets: the generated key and its file, refusal in real modes, and no secret in any output.

use std::fs;

use actix_pay_server::config::{Config, ConfigError, SECRET_KEY_FILE, resolve_secret_key};

fn load(file: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Config::from_toml(file, "pay.toml", env)
}

const SERVER_KEY: &str = "a-configured-server-key-of-40-characters!";
const BANK_KEY: &str = "0123456789ABCDEF0123456789ABCDEF0123456M";

#[test]
fn a_generated_key_is_kept_private_and_read_back_on_the_next_start() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let config = Config::load(None, Vec::new()).expect("zero config");

    let first = resolve_secret_key(&config, &data).expect("generated");
    let second = resolve_secret_key(&config, &data).expect("read back");

    assert!(first.is_generated());
    assert_eq!(first.as_bytes().len(), 64, "32 random bytes, hex");
    assert_eq!(first.as_bytes(), second.as_bytes(), "a restart keeps buttons valid");
    let stored = fs::read_to_string(data.join(SECRET_KEY_FILE)).expect("the key file");
    assert_eq!(stored.trim().as_bytes(), first.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(data.join(SECRET_KEY_FILE))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leftovers: Vec<_> = fs::read_dir(&data).expect("listing").collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn two_data_directories_get_different_keys() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = Config::load(None, Vec::new()).expect("zero config");
    let one = resolve_secret_key(&config, &dir.path().join("one")).expect("generated");
    let two = resolve_secret_key(&config, &dir.path().join("two")).expect("generated");
    assert_ne!(one.as_bytes(), two.as_bytes());
}

#[test]
fn a_configured_key_is_used_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = load("", &[("PAY_SERVER_SECRET_KEY", SERVER_KEY)]).expect("valid");
    let key = resolve_secret_key(&config, dir.path()).expect("configured");
    assert!(!key.is_generated());
    assert_eq!(key.as_bytes(), SERVER_KEY.as_bytes());
    assert!(!dir.path().join(SECRET_KEY_FILE).exists());
}

#[test]
fn a_real_mode_refuses_a_generated_key_even_one_kept_from_a_simulator_run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let simulator = Config::load(None, Vec::new()).expect("zero config");
    resolve_secret_key(&simulator, dir.path()).expect("generated in simulator mode");

    let sandbox = load("[paypal]\nmode = \"sandbox\"\n", &[]).expect("valid");
    let err = resolve_secret_key(&sandbox, dir.path()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "server.secret_key: missing; a gateway runs in a real mode, which needs a key you set (in the file or PAY_SERVER_SECRET_KEY), not a generated one"
    );
}

#[test]
fn a_damaged_key_file_stops_start_up() {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(dir.path().join(SECRET_KEY_FILE), "short\n").expect("written");
    let config = Config::load(None, Vec::new()).expect("zero config");
    let err = resolve_secret_key(&config, dir.path()).expect_err("refused");
    assert!(
        err.to_string()
            .ends_with("holds no usable key (64 hexadecimal characters); delete it to generate a new one")
    );
    assert!(!err.to_string().contains("short"));
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let file = format!(
        r#"
[server]
secret_key = "{SERVER_KEY}"
api_keys = ["api-key-visible-nowhere-1"]
[database]
url = "postgres://shop:db-password-nowhere@db.example/pay"
[cmcic]
mode = "test"
tpe = "1234567"
key = "{BANK_KEY}"
societe = "monSite1"
[paypal]
mode = "sandbox"
client_id = "AYclient-id"
client_secret = "paypal-client-secret-nowhere"
nvp_user = "seller_api1.example.com"
nvp_password = "nvp-password-nowhere"
nvp_signature = "nvp-signature-nowhere"
[[webhooks]]
url = "https://hooks.example/pay"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
"#
    );
    let config = load(&file, &[]).expect("valid");
    let printed = format!("{config:?} {config:#?}");
    for secret in [
        SERVER_KEY,
        "api-key-visible-nowhere-1",
        "db-password-nowhere",
        BANK_KEY,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "paypal-client-secret-nowhere",
        "nvp-password-nowhere",
        "nvp-signature-nowhere",
    ] {
        assert!(!printed.contains(secret), "{secret} appears in Debug output");
    }
    assert!(printed.contains("***"));
    let key = resolve_secret_key(&config, std::path::Path::new("/nonexistent")).expect("configured");
    assert!(!format!("{key:?} {key}").contains(SERVER_KEY));
}

#[test]
fn secrets_never_appear_in_error_messages() {
    let cases: [(&str, &[(&str, &str)]); 7] = [
        ("[paypal]\nmode = \"sandbox\"\nclient_secret = \"s3cret\"\n", &[]),
        (
            "",
            &[("PAY_PAYPAL_NVP_SIGNATURE", "s3cret"), ("PAY_PAYPAL_MODE", "sandbox")],
        ),
        ("[server]\nsecret_key = \"short-s3cret\"\n", &[]),
        ("", &[("PAY_SERVER_API_KEYS", "ok-key-0123456789,s3cret")]),
        ("", &[("PAY_SERVER_ADMIN_PASSWORD", " s3cret-with-space ")]),
        ("[database]\nurl = \"mysql://root:s3cret@db/pay\"\n", &[]),
        ("[[webhooks]]\nurl = \"http://h/\"\nsecrets = [\"whsec_s3cret\"]\n", &[]),
    ];
    for (file, env) in cases {
        let message = load(file, env).expect_err("refused").to_string();
        assert!(!message.contains("s3cret"), "a secret leaked: {message}");
        assert!(!message.contains('\n'));
    }
}

#[test]
fn short_secrets_are_refused_with_the_rule() {
    let err = load("", &[("PAY_SERVER_SECRET_KEY", "too-short")]).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "PAY_SERVER_SECRET_KEY: too short (at least 32 characters)"
    );
    let err = load("", &[("PAY_SERVER_API_KEYS", "long-enough-key-0001,k2")]).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "PAY_SERVER_API_KEYS: key 2: too short (at least 16 characters)"
    );
}
