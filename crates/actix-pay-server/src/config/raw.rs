//! The file's shape as serde reads it, before any value is interpreted. Unknown keys are refused here too
//! (`deny_unknown_fields`), behind the friendlier check of [`schema`](super::schema). No `Debug`: these
//! structs hold secrets in clear.

use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub(crate) server: Option<RawServer>,
    pub(crate) database: Option<RawDatabase>,
    pub(crate) paypal: Option<RawPaypal>,
    pub(crate) cmcic: Option<RawCmcic>,
    pub(crate) librement: Option<RawLibrement>,
    pub(crate) limits: Option<RawLimits>,
    pub(crate) engine: Option<RawEngine>,
    pub(crate) mail: Option<RawMail>,
    pub(crate) metrics: Option<RawMetrics>,
    pub(crate) log: Option<RawLog>,
    #[serde(default)]
    pub(crate) webhooks: Vec<RawWebhook>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) bind: Option<String>,
    pub(crate) public_url: Option<String>,
    pub(crate) secret_key: Option<String>,
    pub(crate) api_keys: Option<Vec<String>>,
    pub(crate) button_token_ttl: Option<String>,
    pub(crate) demo: Option<bool>,
    /// Removed (operator accounts replaced it): still read, to refuse it with a clear error.
    pub(crate) admin_password: Option<String>,
    pub(crate) trusted_proxies: Option<Vec<String>>,
    pub(crate) abandon_after: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatabase {
    pub(crate) url: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPaypal {
    pub(crate) mode: Option<String>,
    pub(crate) business: Option<String>,
    pub(crate) webscr_url: Option<String>,
    pub(crate) postback_url: Option<String>,
    pub(crate) postback_pool_size: Option<i64>,
    pub(crate) logo_url: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) api_url: Option<String>,
    pub(crate) nvp_user: Option<String>,
    pub(crate) nvp_password: Option<String>,
    pub(crate) nvp_signature: Option<String>,
    pub(crate) nvp_url: Option<String>,
    pub(crate) integration: Option<String>,
    pub(crate) webhook_id: Option<String>,
    pub(crate) webhook_verification: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCmcic {
    pub(crate) mode: Option<String>,
    pub(crate) tpe: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) societe: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) payment_url: Option<String>,
    pub(crate) recredit_url: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLibrement {
    pub(crate) mode: Option<String>,
    pub(crate) gateways: Option<Vec<String>>,
    pub(crate) top_up_min: Option<String>,
    pub(crate) top_up_max: Option<String>,
    pub(crate) payout_hold: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMail {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<i64>,
    pub(crate) tls: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) from: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) pay_per_minute: Option<i64>,
    pub(crate) sign_in_per_minute: Option<i64>,
    pub(crate) sign_up_per_hour: Option<i64>,
    pub(crate) notify_body_bytes: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEngine {
    pub(crate) verification_concurrency: Option<i64>,
    pub(crate) apply_concurrency: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub(crate) url: Option<String>,
    pub(crate) secrets: Option<Vec<String>>,
    pub(crate) events: Option<Vec<String>>,
    pub(crate) retry_for: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub(crate) enabled: Option<bool>,
    pub(crate) allow: Option<Vec<String>>,
    pub(crate) token: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub(crate) format: Option<String>,
}
