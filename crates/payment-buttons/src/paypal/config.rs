//! The `[paypal]` configuration section: mode, default receiver, PayPal's URLs, checkout logo, and the API
//! credentials that refunds (REST) and subscription cancellations (NVP) need.

use std::fmt;
use std::str::FromStr;

use crate::button::{Email, HttpUrl};
use crate::gateway::GatewayError;

/// Live form page.
pub const LIVE_WEBSCR_URL: &str = "https://www.paypal.com/cgi-bin/webscr";
/// Live IPN verification endpoint.
pub const LIVE_POSTBACK_URL: &str = "https://ipnpb.paypal.com/cgi-bin/webscr";
/// Sandbox form page.
pub const SANDBOX_WEBSCR_URL: &str = "https://www.sandbox.paypal.com/cgi-bin/webscr";
/// Sandbox IPN verification endpoint.
pub const SANDBOX_POSTBACK_URL: &str = "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr";
/// Live REST API (OAuth2 token, refunds).
pub const LIVE_API_URL: &str = "https://api-m.paypal.com";
/// Sandbox REST API.
pub const SANDBOX_API_URL: &str = "https://api-m.sandbox.paypal.com";
/// Live NVP API endpoint for API-signature credentials (subscription cancellation).
pub const LIVE_NVP_URL: &str = "https://api-3t.paypal.com/nvp";
/// Sandbox NVP API endpoint for API-signature credentials.
pub const SANDBOX_NVP_URL: &str = "https://api-3t.sandbox.paypal.com/nvp";

/// A credential from the configuration (`client_secret`, NVP password and signature) or an OAuth token:
/// `Debug` and `Display` print `***`, so it can sit in a configuration that is logged.
///
/// ```
/// use payment_buttons::paypal::ApiSecret;
/// let secret = ApiSecret::new("EHx9-very-secret");
/// assert_eq!(format!("{secret} {secret:?}"), "*** ***");
/// assert_eq!(secret.expose(), "EHx9-very-secret");
/// ```
#[derive(Clone)]
pub struct ApiSecret(String);

impl ApiSecret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        ApiSecret(value.into())
    }
    /// The value, for the one place that sends it to PayPal. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for ApiSecret {
    /// Constant time for secrets of the same length: configurations are compared in tests, but a
    /// comparison of secrets should never leak where they differ.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for ApiSecret {}

/// REST API credentials (`paypal.client_id`, `paypal.client_secret`): an app of the receiving account,
/// used for refunds. They refund only payments received by their own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestCredentials {
    /// The app's client id (not secret: it appears in PayPal's JavaScript on shops' pages).
    pub client_id: String,
    /// The app's secret.
    pub client_secret: ApiSecret,
}

/// NVP API-signature credentials (`paypal.nvp_user`, `nvp_password`, `nvp_signature`), used only to cancel
/// Payments Standard subscriptions (`ManageRecurringPaymentsProfileStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvpCredentials {
    /// `USER`: the API user name.
    pub user: String,
    /// `PWD`: the API password.
    pub password: ApiSecret,
    /// `SIGNATURE`: the API signature.
    pub signature: ApiSecret,
}

/// Which PayPal the gateway talks to.
///
/// ```
/// use payment_buttons::paypal::PaypalMode;
/// assert_eq!("sandbox".parse::<PaypalMode>().unwrap(), PaypalMode::Sandbox);
/// assert_eq!(PaypalMode::Live.as_str(), "live");
/// assert!("production".parse::<PaypalMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaypalMode {
    /// Real money, `www.paypal.com`.
    Live,
    /// PayPal's sandbox: real protocol, test accounts, `test_ipn=1` on every message.
    Sandbox,
    /// This service's own stand-in pages; the server supplies both URLs.
    Simulator,
}

impl PaypalMode {
    /// The configuration value (`live`, `sandbox`, `simulator`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PaypalMode::Live => "live",
            PaypalMode::Sandbox => "sandbox",
            PaypalMode::Simulator => "simulator",
        }
    }
}

impl fmt::Display for PaypalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaypalMode {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(PaypalMode::Live),
            "sandbox" => Ok(PaypalMode::Sandbox),
            "simulator" => Ok(PaypalMode::Simulator),
            _ => Err(GatewayError::Configuration(format!(
                "paypal.mode: {:?} is not one of simulator, sandbox, live",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// Which PayPal integration runs the `paypal` gateway (`paypal.integration`). The gateway keeps its name,
/// routes and events either way, and a button is the same configuration for both.
///
/// ```
/// use payment_buttons::paypal::PaypalIntegration;
/// assert_eq!("checkout".parse::<PaypalIntegration>().unwrap(), PaypalIntegration::Checkout);
/// assert_eq!(PaypalIntegration::default(), PaypalIntegration::Standard);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaypalIntegration {
    /// Payments Standard: the buyer's browser posts a form to PayPal; IPN confirms (the default, for
    /// existing merchants).
    #[default]
    Standard,
    /// Checkout (Orders v2): the service creates an order through the REST API, captures it when the
    /// buyer comes back, and receives signed webhooks. Recommended for new merchants.
    Checkout,
}

impl PaypalIntegration {
    /// The configuration value.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaypalIntegration::Standard => "standard",
            PaypalIntegration::Checkout => "checkout",
        }
    }
}

impl FromStr for PaypalIntegration {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(PaypalIntegration::Standard),
            "checkout" => Ok(PaypalIntegration::Checkout),
            _ => Err(GatewayError::Configuration(format!(
                "paypal.integration: {:?} is not one of standard, checkout",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// How Checkout webhooks are verified (`paypal.webhook_verification`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookVerification {
    /// Here, with PayPal's certificate (fetched from `PAYPAL-CERT-URL`, cached, its chain checked): no
    /// round trip per message.
    #[default]
    Local,
    /// By PayPal's `verify-webhook-signature` API: one authenticated call per message.
    Api,
}

impl FromStr for WebhookVerification {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(WebhookVerification::Local),
            "api" => Ok(WebhookVerification::Api),
            _ => Err(GatewayError::Configuration(format!(
                "paypal.webhook_verification: {:?} is not one of local, api",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// Optional settings of the `[paypal]` section; `None` keeps the mode's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaypalOverrides {
    /// `paypal.business`: receiver used when a button's `payment_options.paypal` names none.
    pub business: Option<String>,
    /// `paypal.webscr_url`: where buyers' forms post.
    pub webscr_url: Option<String>,
    /// `paypal.postback_url`: where IPNs are verified.
    pub postback_url: Option<String>,
    /// `paypal.logo_url`: the logo PayPal shows on its checkout page (`image_url`).
    pub logo_url: Option<String>,
    /// `paypal.client_id`: REST credentials (with `client_secret`), for refunds.
    pub client_id: Option<String>,
    /// `paypal.client_secret`.
    pub client_secret: Option<ApiSecret>,
    /// `paypal.api_url`: the REST API's base URL (default from the mode; none in simulator mode).
    pub api_url: Option<String>,
    /// `paypal.nvp_user`: NVP credentials (with `nvp_password`, `nvp_signature`), to cancel subscriptions.
    pub nvp_user: Option<String>,
    /// `paypal.nvp_password`.
    pub nvp_password: Option<ApiSecret>,
    /// `paypal.nvp_signature`.
    pub nvp_signature: Option<ApiSecret>,
    /// `paypal.nvp_url`: the NVP endpoint (default from the mode; none in simulator mode).
    pub nvp_url: Option<String>,
    /// `paypal.integration` (default `standard`).
    pub integration: Option<PaypalIntegration>,
    /// `paypal.webhook_id`: the id PayPal gave the webhook (Checkout; part of every signed message).
    pub webhook_id: Option<String>,
    /// `paypal.webhook_verification` (default `local`).
    pub webhook_verification: Option<WebhookVerification>,
}

/// A complete, checked PayPal configuration.
///
/// ```
/// use payment_buttons::paypal::{PaypalConfig, PaypalMode, PaypalOverrides};
/// let config = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides {
///     business: Some("seller@example.com".into()),
///     ..Default::default()
/// }).unwrap();
/// assert_eq!(config.postback_url(), "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr");
///
/// // The simulator has no URL of its own: the server must give both.
/// assert!(PaypalConfig::new(PaypalMode::Simulator, PaypalOverrides::default()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaypalConfig {
    mode: PaypalMode,
    business: Option<Email>,
    webscr_url: HttpUrl,
    postback_url: HttpUrl,
    logo_url: Option<HttpUrl>,
    rest: Option<RestCredentials>,
    api_url: Option<HttpUrl>,
    nvp: Option<NvpCredentials>,
    nvp_url: Option<HttpUrl>,
    integration: PaypalIntegration,
    webhook_id: Option<String>,
    webhook_verification: WebhookVerification,
}

impl PaypalConfig {
    /// Builds the configuration of `mode`, with `overrides` taking precedence over the mode's URLs.
    ///
    /// Errors name the offending key (`paypal.business`, `paypal.webscr_url`, ...).
    pub fn new(mode: PaypalMode, overrides: PaypalOverrides) -> Result<Self, GatewayError> {
        let (default_webscr, default_postback) = match mode {
            PaypalMode::Live => (Some(LIVE_WEBSCR_URL), Some(LIVE_POSTBACK_URL)),
            PaypalMode::Sandbox => (Some(SANDBOX_WEBSCR_URL), Some(SANDBOX_POSTBACK_URL)),
            PaypalMode::Simulator => (None, None),
        };
        let url = |key: &str, given: Option<String>, default: Option<&str>| -> Result<HttpUrl, GatewayError> {
            let value = given
                .or_else(|| default.map(str::to_owned))
                .ok_or_else(|| GatewayError::Configuration(format!("paypal.{key}: required in {mode} mode")))?;
            HttpUrl::parse(&value).map_err(|reason| GatewayError::Configuration(format!("paypal.{key}: {reason}")))
        };
        let webscr_url = url("webscr_url", overrides.webscr_url, default_webscr)?;
        let postback_url = url("postback_url", overrides.postback_url, default_postback)?;
        let business = overrides
            .business
            .filter(|b| !b.trim().is_empty())
            .map(|b| Email::parse(&b))
            .transpose()
            .map_err(|reason| GatewayError::Configuration(format!("paypal.business: {reason}")))?;
        let logo_url = overrides
            .logo_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| HttpUrl::parse(&u))
            .transpose()
            .map_err(|reason| GatewayError::Configuration(format!("paypal.logo_url: {reason}")))?;
        let (default_api, default_nvp) = match mode {
            PaypalMode::Live => (Some(LIVE_API_URL), Some(LIVE_NVP_URL)),
            PaypalMode::Sandbox => (Some(SANDBOX_API_URL), Some(SANDBOX_NVP_URL)),
            PaypalMode::Simulator => (None, None),
        };
        let optional_url = |key: &str, given: Option<String>, default: Option<&str>| {
            given
                .filter(|u| !u.trim().is_empty())
                .or_else(|| default.map(str::to_owned))
                .map(|u| HttpUrl::parse(&u))
                .transpose()
                .map_err(|reason| GatewayError::Configuration(format!("paypal.{key}: {reason}")))
        };
        let api_url = optional_url("api_url", overrides.api_url, default_api)?;
        let nvp_url = optional_url("nvp_url", overrides.nvp_url, default_nvp)?;
        let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let given_secret = |v: Option<ApiSecret>| v.filter(|v| !v.expose().trim().is_empty());
        let rest = match (given(overrides.client_id), given_secret(overrides.client_secret)) {
            (Some(client_id), Some(client_secret)) => Some(RestCredentials {
                client_id,
                client_secret,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(GatewayError::Configuration(
                    "paypal.client_secret: required with paypal.client_id".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(GatewayError::Configuration(
                    "paypal.client_id: required with paypal.client_secret".to_owned(),
                ));
            }
        };
        let nvp = match (
            given(overrides.nvp_user),
            given_secret(overrides.nvp_password),
            given_secret(overrides.nvp_signature),
        ) {
            (Some(user), Some(password), Some(signature)) => Some(NvpCredentials {
                user,
                password,
                signature,
            }),
            (None, None, None) => None,
            (user, password, _) => {
                let missing = if user.is_none() {
                    "nvp_user"
                } else if password.is_none() {
                    "nvp_password"
                } else {
                    "nvp_signature"
                };
                return Err(GatewayError::Configuration(format!(
                    "paypal.{missing}: nvp_user, nvp_password and nvp_signature go together"
                )));
            }
        };
        let integration = overrides.integration.unwrap_or_default();
        let webhook_id = given(overrides.webhook_id);
        if integration == PaypalIntegration::Checkout {
            // Checkout cannot take a payment without the REST API, nor trust a webhook without its id.
            if rest.is_none() {
                return Err(GatewayError::Configuration(
                    "paypal.client_id: required with paypal.integration = \"checkout\" (with client_secret)".to_owned(),
                ));
            }
            if api_url.is_none() {
                return Err(GatewayError::Configuration(
                    "paypal.api_url: required with paypal.integration = \"checkout\"".to_owned(),
                ));
            }
            if webhook_id.is_none() {
                return Err(GatewayError::Configuration(
                    "paypal.webhook_id: required with paypal.integration = \"checkout\" (the id PayPal shows for \
                     the webhook of {public_url}/notify/paypal/webhook)"
                        .to_owned(),
                ));
            }
        }
        Ok(PaypalConfig {
            mode,
            business,
            webscr_url,
            postback_url,
            logo_url,
            rest,
            api_url,
            nvp,
            nvp_url,
            integration,
            webhook_id,
            webhook_verification: overrides.webhook_verification.unwrap_or_default(),
        })
    }

    /// The mode.
    pub fn mode(&self) -> PaypalMode {
        self.mode
    }
    /// The default receiver, when configured.
    pub fn business(&self) -> Option<&Email> {
        self.business.as_ref()
    }
    /// Where buyers' forms post.
    pub fn webscr_url(&self) -> &str {
        self.webscr_url.as_str()
    }
    /// Where IPNs are verified.
    pub fn postback_url(&self) -> &str {
        self.postback_url.as_str()
    }
    /// The checkout-page logo, when configured.
    pub fn logo_url(&self) -> Option<&str> {
        self.logo_url.as_ref().map(HttpUrl::as_str)
    }
    /// The REST credentials, when configured.
    pub fn rest_credentials(&self) -> Option<&RestCredentials> {
        self.rest.as_ref()
    }
    /// The REST API's base URL, without a trailing slash (none in simulator mode unless the server gives it).
    pub fn api_url(&self) -> Option<&str> {
        self.api_url.as_ref().map(|u| u.as_str().trim_end_matches('/'))
    }
    /// The NVP credentials, when configured.
    pub fn nvp_credentials(&self) -> Option<&NvpCredentials> {
        self.nvp.as_ref()
    }
    /// The NVP endpoint (none in simulator mode unless the server gives it).
    pub fn nvp_url(&self) -> Option<&str> {
        self.nvp_url.as_ref().map(HttpUrl::as_str)
    }
    /// Which integration runs the gateway.
    pub fn integration(&self) -> PaypalIntegration {
        self.integration
    }
    /// The webhook's id at PayPal (Checkout), when configured.
    pub fn webhook_id(&self) -> Option<&str> {
        self.webhook_id.as_deref()
    }
    /// How Checkout webhooks are verified.
    pub fn webhook_verification(&self) -> WebhookVerification {
        self.webhook_verification
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_and_sandbox_derive_their_urls() {
        let live = PaypalConfig::new(PaypalMode::Live, PaypalOverrides::default()).unwrap();
        assert_eq!(live.webscr_url(), LIVE_WEBSCR_URL);
        assert_eq!(live.postback_url(), LIVE_POSTBACK_URL);
        let sandbox = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap();
        assert_eq!(sandbox.webscr_url(), SANDBOX_WEBSCR_URL);
        assert_eq!(sandbox.postback_url(), SANDBOX_POSTBACK_URL);
    }

    #[test]
    fn overrides_win_over_the_mode_defaults() {
        let config = PaypalConfig::new(
            PaypalMode::Live,
            PaypalOverrides {
                postback_url: Some("https://proxy.example/verify".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(config.postback_url(), "https://proxy.example/verify");
        assert_eq!(config.webscr_url(), LIVE_WEBSCR_URL);
    }

    #[test]
    fn simulator_needs_both_urls_from_the_server() {
        let err = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                webscr_url: Some("http://127.0.0.1:8080/simulator/paypal/webscr".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("paypal.postback_url"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let bad_business = PaypalOverrides {
            business: Some("not an address".into()),
            ..Default::default()
        };
        let err = PaypalConfig::new(PaypalMode::Sandbox, bad_business).unwrap_err();
        assert!(err.to_string().contains("paypal.business"), "{err}");
        let bad_logo = PaypalOverrides {
            logo_url: Some("ftp://logo.example/x.png".into()),
            ..Default::default()
        };
        let err = PaypalConfig::new(PaypalMode::Sandbox, bad_logo).unwrap_err();
        assert!(err.to_string().contains("paypal.logo_url"), "{err}");
    }

    #[test]
    fn api_urls_come_from_the_mode_and_the_simulator_has_none_of_its_own() {
        let live = PaypalConfig::new(PaypalMode::Live, PaypalOverrides::default()).unwrap();
        assert_eq!(live.api_url(), Some(LIVE_API_URL));
        assert_eq!(live.nvp_url(), Some(LIVE_NVP_URL));
        let sandbox = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap();
        assert_eq!(sandbox.api_url(), Some(SANDBOX_API_URL));
        assert_eq!(sandbox.nvp_url(), Some(SANDBOX_NVP_URL));
        let simulator = PaypalConfig::new(
            PaypalMode::Simulator,
            PaypalOverrides {
                webscr_url: Some("http://127.0.0.1:8080/simulator/paypal".into()),
                postback_url: Some("http://127.0.0.1:8080/simulator/paypal/postback".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(simulator.api_url(), None);
        assert_eq!(simulator.nvp_url(), None);
    }

    #[test]
    fn credentials_come_whole_or_not_at_all() {
        let half_rest = PaypalOverrides {
            client_id: Some("AYx".into()),
            ..Default::default()
        };
        let err = PaypalConfig::new(PaypalMode::Sandbox, half_rest).unwrap_err();
        assert!(err.to_string().contains("paypal.client_secret"), "{err}");
        let half_nvp = PaypalOverrides {
            nvp_user: Some("seller_api1.example.com".into()),
            nvp_password: Some(ApiSecret::new("PWD")),
            ..Default::default()
        };
        let err = PaypalConfig::new(PaypalMode::Sandbox, half_nvp).unwrap_err();
        assert!(err.to_string().contains("paypal.nvp_signature"), "{err}");
        let whole = PaypalOverrides {
            client_id: Some("AYx".into()),
            client_secret: Some(ApiSecret::new("EHx-secret")),
            nvp_user: Some("seller_api1.example.com".into()),
            nvp_password: Some(ApiSecret::new("PWD-secret")),
            nvp_signature: Some(ApiSecret::new("SIG-secret")),
            ..Default::default()
        };
        let config = PaypalConfig::new(PaypalMode::Sandbox, whole).unwrap();
        assert_eq!(config.rest_credentials().unwrap().client_id, "AYx");
        assert_eq!(config.nvp_credentials().unwrap().user, "seller_api1.example.com");
    }

    #[test]
    fn secrets_never_show_in_the_configuration_debug_output() {
        let overrides = PaypalOverrides {
            client_id: Some("AYx".into()),
            client_secret: Some(ApiSecret::new("EHx-secret")),
            nvp_user: Some("seller_api1.example.com".into()),
            nvp_password: Some(ApiSecret::new("PWD-secret")),
            nvp_signature: Some(ApiSecret::new("SIG-secret")),
            ..Default::default()
        };
        let config = PaypalConfig::new(PaypalMode::Sandbox, overrides.clone()).unwrap();
        for printed in [format!("{overrides:?}"), format!("{config:?}")] {
            for secret in ["EHx-secret", "PWD-secret", "SIG-secret"] {
                assert!(!printed.contains(secret), "{printed}");
            }
        }
    }

    #[test]
    fn checkout_needs_rest_credentials_and_a_webhook_id() {
        let checkout = |client: bool, webhook: bool| PaypalOverrides {
            integration: Some(PaypalIntegration::Checkout),
            client_id: client.then(|| "AYx".to_owned()),
            client_secret: client.then(|| ApiSecret::new("EHx-secret")),
            webhook_id: webhook.then(|| "8PT597110X687430LKGECATA".to_owned()),
            ..Default::default()
        };
        let err = PaypalConfig::new(PaypalMode::Sandbox, checkout(false, true)).unwrap_err();
        assert!(err.to_string().contains("paypal.client_id"), "{err}");
        let err = PaypalConfig::new(PaypalMode::Sandbox, checkout(true, false)).unwrap_err();
        assert!(err.to_string().contains("paypal.webhook_id"), "{err}");
        let config = PaypalConfig::new(PaypalMode::Sandbox, checkout(true, true)).unwrap();
        assert_eq!(config.integration(), PaypalIntegration::Checkout);
        assert_eq!(config.webhook_verification(), WebhookVerification::Local);
        // Standard stays the default and needs none of it.
        let standard = PaypalConfig::new(PaypalMode::Sandbox, PaypalOverrides::default()).unwrap();
        assert_eq!(standard.integration(), PaypalIntegration::Standard);
    }

    #[test]
    fn unknown_integrations_are_refused() {
        let err = "orders".parse::<PaypalIntegration>().unwrap_err();
        assert!(err.to_string().contains("paypal.integration"), "{err}");
        let err = "remote".parse::<WebhookVerification>().unwrap_err();
        assert!(err.to_string().contains("paypal.webhook_verification"), "{err}");
    }

    #[test]
    fn unknown_modes_are_refused() {
        let err = "production".parse::<PaypalMode>().unwrap_err();
        assert!(err.to_string().contains("paypal.mode"), "{err}");
    }
}
