//! The list of settings: what the file may hold, which `PAY_*` variable overrides what, and where each value
//! came from, so that an error names the key the operator actually wrote.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::error::ConfigError;

/// The TOML shape of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string (addresses, URLs, durations and enums are strings too).
    Text,
    /// An array of strings; comma-separated in the environment.
    List,
    /// `true` or `false`.
    Bool,
    /// A TOML integer; in the environment, decimal digits.
    Integer,
}

/// One key of one section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting {
    pub(crate) section: &'static str,
    pub(crate) key: &'static str,
    pub(crate) kind: Kind,
}

impl Setting {
    /// `section.key`.
    pub(crate) fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// `PAY_SECTION_KEY`.
    pub(crate) fn env_name(&self) -> String {
        format!(
            "PAY_{}_{}",
            self.section.to_ascii_uppercase(),
            self.key.to_ascii_uppercase()
        )
    }
}

const fn setting(section: &'static str, key: &'static str, kind: Kind) -> Setting {
    Setting { section, key, kind }
}

/// Every setting of the single-table sections. `[[webhooks]]` is listed apart: it is an array, file only.
pub(crate) const SETTINGS: &[Setting] = &[
    setting("server", "bind", Kind::Text),
    setting("server", "public_url", Kind::Text),
    setting("server", "secret_key", Kind::Text),
    setting("server", "api_keys", Kind::List),
    setting("server", "button_token_ttl", Kind::Text),
    setting("server", "demo", Kind::Bool),
    setting("server", "admin_password", Kind::Text),
    setting("server", "trusted_proxies", Kind::List),
    setting("server", "abandon_after", Kind::Text),
    setting("database", "url", Kind::Text),
    setting("paypal", "mode", Kind::Text),
    setting("paypal", "business", Kind::Text),
    setting("paypal", "webscr_url", Kind::Text),
    setting("paypal", "postback_url", Kind::Text),
    setting("paypal", "postback_pool_size", Kind::Integer),
    setting("paypal", "logo_url", Kind::Text),
    setting("paypal", "client_id", Kind::Text),
    setting("paypal", "client_secret", Kind::Text),
    setting("paypal", "api_url", Kind::Text),
    setting("paypal", "nvp_user", Kind::Text),
    setting("paypal", "nvp_password", Kind::Text),
    setting("paypal", "nvp_signature", Kind::Text),
    setting("paypal", "nvp_url", Kind::Text),
    setting("paypal", "integration", Kind::Text),
    setting("paypal", "webhook_id", Kind::Text),
    setting("paypal", "webhook_verification", Kind::Text),
    setting("cmcic", "mode", Kind::Text),
    setting("cmcic", "tpe", Kind::Text),
    setting("cmcic", "key", Kind::Text),
    setting("cmcic", "societe", Kind::Text),
    setting("cmcic", "protocol", Kind::Text),
    setting("cmcic", "payment_url", Kind::Text),
    setting("cmcic", "recredit_url", Kind::Text),
    setting("librement", "mode", Kind::Text),
    setting("librement", "gateways", Kind::List),
    setting("librement", "top_up_min", Kind::Text),
    setting("librement", "top_up_max", Kind::Text),
    setting("librement", "payout_hold", Kind::Text),
    setting("mail", "host", Kind::Text),
    setting("mail", "port", Kind::Integer),
    setting("mail", "tls", Kind::Text),
    setting("mail", "username", Kind::Text),
    setting("mail", "password", Kind::Text),
    setting("mail", "from", Kind::Text),
    setting("limits", "pay_per_minute", Kind::Integer),
    setting("limits", "sign_in_per_minute", Kind::Integer),
    setting("limits", "sign_up_per_hour", Kind::Integer),
    setting("limits", "notify_body_bytes", Kind::Integer),
    setting("engine", "verification_concurrency", Kind::Integer),
    setting("engine", "apply_concurrency", Kind::Integer),
    setting("metrics", "enabled", Kind::Bool),
    setting("metrics", "allow", Kind::List),
    setting("metrics", "token", Kind::Text),
    setting("log", "format", Kind::Text),
];

/// Settings that are still read only to refuse them with an error naming what replaced them; not
/// documented, not in the example file.
pub(crate) const REMOVED: &[&str] = &["server.admin_password"];

/// The keys of one `[[webhooks]]` entry.
pub(crate) const WEBHOOK_KEYS: &[(&str, Kind)] = &[
    ("url", Kind::Text),
    ("secrets", Kind::List),
    ("events", Kind::List),
    ("retry_for", Kind::Text),
];

pub(super) const SECTIONS: &[&str] = &[
    "server",
    "database",
    "paypal",
    "cmcic",
    "librement",
    "limits",
    "engine",
    "mail",
    "metrics",
    "log",
];

/// Names each value by where it came from: the environment variable when one set it, else the file's key.
#[derive(Debug, Default)]
pub(crate) struct Origins {
    from_env: BTreeMap<String, String>,
}

impl Origins {
    /// The name to put in an error about the setting at `path` (`server.bind`).
    pub(crate) fn label(&self, path: &str) -> String {
        self.from_env.get(path).cloned().unwrap_or_else(|| path.to_owned())
    }
}

/// Refuses keys that match no setting and values of the wrong TOML type.
pub(crate) fn check_file(table: &Table) -> Result<(), ConfigError> {
    for (name, value) in table {
        if name == "webhooks" {
            check_webhooks(value)?;
        } else if SECTIONS.contains(&name.as_str()) {
            let Value::Table(section) = value else {
                return Err(ConfigError::invalid(
                    name,
                    format!("expected a [{name}] section, found {}", a(value)),
                ));
            };
            for (key, value) in section {
                let path = format!("{name}.{key}");
                let setting = SETTINGS
                    .iter()
                    .find(|s| s.section == name && s.key == key)
                    .ok_or_else(|| ConfigError::Unknown { key: path.clone() })?;
                check_kind(&path, setting.kind, value)?;
            }
        } else {
            return Err(ConfigError::Unknown { key: name.clone() });
        }
    }
    Ok(())
}

fn check_webhooks(value: &Value) -> Result<(), ConfigError> {
    let Value::Array(entries) = value else {
        return Err(ConfigError::invalid(
            "webhooks",
            format!("expected [[webhooks]] entries, found {}", a(value)),
        ));
    };
    for (index, entry) in entries.iter().enumerate() {
        let Value::Table(entry) = entry else {
            return Err(ConfigError::invalid(
                format!("webhooks[{index}]"),
                format!("expected a table, found {}", a(entry)),
            ));
        };
        for (key, value) in entry {
            let path = format!("webhooks[{index}].{key}");
            let (_, kind) = WEBHOOK_KEYS
                .iter()
                .find(|(k, _)| k == key)
                .ok_or_else(|| ConfigError::Unknown { key: path.clone() })?;
            check_kind(&path, *kind, value)?;
        }
    }
    Ok(())
}

fn check_kind(path: &str, kind: Kind, value: &Value) -> Result<(), ConfigError> {
    let fits = match kind {
        Kind::Text => value.is_str(),
        Kind::Bool => value.is_bool(),
        Kind::Integer => value.is_integer(),
        Kind::List => value.as_array().is_some_and(|items| items.iter().all(Value::is_str)),
    };
    if fits {
        return Ok(());
    }
    let expected = match kind {
        Kind::Text => "a string",
        Kind::Bool => "true or false",
        Kind::List => "a list of strings",
        Kind::Integer => "an integer",
    };
    Err(ConfigError::invalid(
        path,
        format!("expected {expected}, found {}", a(value)),
    ))
}

/// "a string", "an integer": the article and TOML type of a value, for messages that never quote it.
fn a(value: &Value) -> String {
    let kind = match value {
        Value::Array(items) if !items.is_empty() => "list with a non-string item",
        other => other.type_str(),
    };
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// Writes the `PAY_*` variables of `env` over `table` (the environment wins) and records which they set.
///
/// Variables not starting with `PAY_` are ignored; a `PAY_*` variable that names no setting is refused, the
/// first in name order when there are several.
pub(crate) fn apply_env(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Origins, ConfigError> {
    let pay: BTreeMap<String, String> = env.into_iter().filter(|(name, _)| name.starts_with("PAY_")).collect();
    let mut origins = Origins::default();
    for (name, raw) in pay {
        let Some(setting) = SETTINGS.iter().find(|s| s.env_name() == name) else {
            if name.starts_with("PAY_WEBHOOKS") {
                return Err(ConfigError::invalid(
                    name,
                    "webhooks are configured in the file only ([[webhooks]])",
                ));
            }
            return Err(ConfigError::Unknown { key: name });
        };
        let value = match setting.kind {
            Kind::Text => Value::String(raw),
            Kind::List => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            Kind::Bool => match raw.trim() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return Err(ConfigError::invalid(name, "expected true or false")),
            },
            Kind::Integer => match raw.trim().parse::<i64>() {
                Ok(n) => Value::Integer(n),
                Err(_) => return Err(ConfigError::invalid(name, "expected an integer")),
            },
        };
        let section = table
            .entry(setting.section)
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(section) = section {
            section.insert(setting.key.to_owned(), value);
        }
        origins.from_env.insert(setting.path(), name);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_section_and_key() {
        let names: Vec<String> = SETTINGS.iter().map(Setting::env_name).collect();
        assert!(names.contains(&"PAY_DATABASE_URL".to_owned()));
        assert!(names.contains(&"PAY_PAYPAL_POSTBACK_URL".to_owned()));
        assert!(names.contains(&"PAY_SERVER_API_KEYS".to_owned()));
    }

    #[test]
    fn a_list_variable_is_split_on_commas_and_trimmed() {
        let mut table = Table::new();
        let env = vec![("PAY_SERVER_API_KEYS".to_owned(), "k1, k2,,k3".to_owned())];
        apply_env(&mut table, env).expect("known variable");
        let keys = table["server"]["api_keys"].as_array().expect("a list");
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        assert_eq!(keys, ["k1", "k2", "k3"]);
    }

    #[test]
    fn a_variable_is_named_in_errors_about_the_value_it_set() {
        let mut table = Table::new();
        let origins =
            apply_env(&mut table, vec![("PAY_SERVER_BIND".to_owned(), "x".to_owned())]).expect("known variable");
        assert_eq!(origins.label("server.bind"), "PAY_SERVER_BIND");
        assert_eq!(origins.label("server.public_url"), "server.public_url");
    }

    #[test]
    fn a_wrongly_typed_file_value_is_refused_without_quoting_it() {
        let table: Table = toml::from_str("[server]\nsecret_key = 12345678").expect("valid TOML");
        let err = check_file(&table).expect_err("an integer is not a key");
        assert_eq!(
            err.to_string(),
            "server.secret_key: expected a string, found an integer"
        );
    }
}
