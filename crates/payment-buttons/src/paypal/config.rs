//! The `[paypal]` configuration section: mode, default receiver, PayPal's URLs, checkout logo.

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
        Ok(PaypalConfig {
            mode,
            business,
            webscr_url,
            postback_url,
            logo_url,
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
    fn unknown_modes_are_refused() {
        let err = "production".parse::<PaypalMode>().unwrap_err();
        assert!(err.to_string().contains("paypal.mode"), "{err}");
    }
}
