//! The merchant's CM-CIC / Monetico configuration (`[cmcic]`) and the payment URLs it implies.

use std::fmt;
use std::str::FromStr;

use super::alias::AliasKey;
use super::key::UsableKey;
use super::mac::Protocol;
use crate::gateway::{GatewayError, ServiceUrls};

/// The protocol version this module speaks (sent as `version`, sealed in legacy returns).
pub const VERSION: &str = "3.0";

/// Where payments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CmcicMode {
    /// The bank's production server: real money.
    Production,
    /// The bank's test server: real bank, test cards, `payetest` returns.
    Test,
    /// Our own stand-in pages (`{public_url}/simulator/cmcic`): no bank at all.
    Simulator,
}

impl CmcicMode {
    /// The configuration name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CmcicMode::Production => "production",
            CmcicMode::Test => "test",
            CmcicMode::Simulator => "simulator",
        }
    }
}

impl fmt::Display for CmcicMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CmcicMode {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "production" => Ok(CmcicMode::Production),
            "test" => Ok(CmcicMode::Test),
            "simulator" => Ok(CmcicMode::Simulator),
            other => Err(GatewayError::Configuration(format!(
                "cmcic.mode: unknown mode {:?} (expected production, test or simulator)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// A validated CM-CIC configuration. Its `Debug` never shows the key; a refused setting is a
/// [`GatewayError::Configuration`] naming it (`cmcic.tpe: ...`), as PayPal's are.
///
/// ```
/// use payment_buttons::cmcic::{CmcicConfig, CmcicMode, UsableKey};
/// let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
/// let config = CmcicConfig::new(CmcicMode::Test, "1234567", key, "monSite1").unwrap();
/// assert!(!format!("{config:?}").contains("1036"));
/// ```
#[derive(Debug, Clone)]
pub struct CmcicConfig {
    mode: CmcicMode,
    tpe: String,
    key: UsableKey,
    societe: String,
    protocol: Protocol,
    payment_url: Option<String>,
    recredit_url: Option<String>,
    alias_key: AliasKey,
    default_country: String,
}

impl CmcicConfig {
    /// The required settings; the protocol defaults to [`Protocol::Monetico`], the payment URL to the
    /// bank's for `mode`, the `aliascb` key to one derived from the merchant key and the fallback billing
    /// country to `FR`.
    pub fn new(mode: CmcicMode, tpe: &str, key: UsableKey, societe: &str) -> Result<Self, GatewayError> {
        if tpe.is_empty() || tpe.len() > 10 || !tpe.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refused(
                "tpe",
                "expected the terminal number the bank gave (1 to 10 letters or digits)",
            ));
        }
        let societe_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if societe.is_empty() || societe.len() > 32 || !societe.bytes().all(societe_ok) {
            return Err(refused(
                "societe",
                "expected the site code the bank gave (1 to 32 letters, digits, '-', '_' or '.')",
            ));
        }
        Ok(CmcicConfig {
            mode,
            tpe: tpe.to_owned(),
            alias_key: AliasKey::derived_from(&key),
            key,
            societe: societe.to_owned(),
            protocol: Protocol::Monetico,
            payment_url: None,
            recredit_url: None,
            default_country: "FR".to_owned(),
        })
    }

    /// Chooses the protocol generation.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Overrides the payment URL (a bank other than CIC in the legacy protocol, a proxy, a simulator).
    pub fn with_payment_url(mut self, url: &str) -> Result<Self, GatewayError> {
        check_url(url).map_err(|reason| refused("payment_url", &reason))?;
        self.payment_url = Some(url.to_owned());
        Ok(self)
    }

    /// Overrides the refund ("recrédit") URL: another bank's server, a proxy, the simulator, a test's stub.
    pub fn with_recredit_url(mut self, url: &str) -> Result<Self, GatewayError> {
        check_url(url).map_err(|reason| refused("recredit_url", &reason))?;
        self.recredit_url = Some(url.to_owned());
        Ok(self)
    }

    /// Uses a secret of its own for `aliascb` instead of one derived from the merchant key, so that
    /// aliases survive a change of merchant key.
    pub fn with_alias_secret(mut self, secret: &[u8]) -> Self {
        self.alias_key = AliasKey::from_secret(secret);
        self
    }

    /// The billing country sent in `contexte_commande` when a button gives no billing address.
    pub fn with_default_country(mut self, country: &str) -> Result<Self, GatewayError> {
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(refused("default_country", "expected two upper-case letters such as FR"));
        }
        self.default_country = country.to_owned();
        Ok(self)
    }

    /// The mode.
    pub fn mode(&self) -> CmcicMode {
        self.mode
    }
    /// The terminal number (`TPE`).
    pub fn tpe(&self) -> &str {
        &self.tpe
    }
    /// The site code (`societe`).
    pub fn societe(&self) -> &str {
        &self.societe
    }
    /// The protocol generation.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
    /// The fallback billing country.
    pub fn default_country(&self) -> &str {
        &self.default_country
    }
    /// The key that seals messages.
    pub(crate) fn key(&self) -> &UsableKey {
        &self.key
    }
    /// The key that turns vouched identities into `aliascb`.
    pub(crate) fn alias_key(&self) -> &AliasKey {
        &self.alias_key
    }

    /// Where the buyer's browser posts the payment form: the override when set, else the bank's URL for
    /// the mode and protocol, else (simulator) `{public_url}/simulator/cmcic`.
    pub fn payment_url(&self, urls: &ServiceUrls) -> String {
        if let Some(url) = &self.payment_url {
            return url.clone();
        }
        match (self.mode, self.protocol) {
            (CmcicMode::Production, Protocol::Monetico) => "https://p.monetico-services.com/paiement.cgi".into(),
            (CmcicMode::Test, Protocol::Monetico) => "https://p.monetico-services.com/test/paiement.cgi".into(),
            (CmcicMode::Production, Protocol::Legacy) => "https://ssl.paiement.cic-banques.fr/paiement.cgi".into(),
            (CmcicMode::Test, Protocol::Legacy) => "https://ssl.paiement.cic-banques.fr/test/paiement.cgi".into(),
            (CmcicMode::Simulator, _) => format!("{}/simulator/cmcic", urls.base()),
        }
    }

    /// Where refunds are posted, server to server (`recredit_paiement.cgi`): the override when set; else,
    /// when the payment URL is overridden with a bank's `.../paiement.cgi`, its sibling
    /// `.../recredit_paiement.cgi` (every bank of the protocol lays its services out so); else the bank's
    /// for the mode and protocol, or (simulator) `{public_url}/simulator/cmcic/recredit_paiement.cgi`.
    pub fn recredit_url(&self, urls: &ServiceUrls) -> String {
        if let Some(url) = &self.recredit_url {
            return url.clone();
        }
        if let Some(base) = self
            .payment_url
            .as_deref()
            .and_then(|u| u.strip_suffix("/paiement.cgi"))
        {
            return format!("{base}/recredit_paiement.cgi");
        }
        match (self.mode, self.protocol) {
            (CmcicMode::Production, Protocol::Monetico) => {
                "https://p.monetico-services.com/recredit_paiement.cgi".into()
            }
            (CmcicMode::Test, Protocol::Monetico) => {
                "https://p.monetico-services.com/test/recredit_paiement.cgi".into()
            }
            (CmcicMode::Production, Protocol::Legacy) => {
                "https://ssl.paiement.cic-banques.fr/recredit_paiement.cgi".into()
            }
            (CmcicMode::Test, Protocol::Legacy) => {
                "https://ssl.paiement.cic-banques.fr/test/recredit_paiement.cgi".into()
            }
            (CmcicMode::Simulator, _) => format!("{}/simulator/cmcic/recredit_paiement.cgi", urls.base()),
        }
    }
}

/// The error for a refused `cmcic.{setting}`. Never contains the key.
pub(crate) fn refused(setting: &str, reason: &str) -> GatewayError {
    GatewayError::Configuration(format!("cmcic.{setting}: {reason}"))
}

/// An absolute http(s) URL, or why not.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mode: CmcicMode) -> CmcicConfig {
        let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        CmcicConfig::new(mode, "1234567", key, "monSite1").unwrap()
    }

    #[test]
    fn payment_urls_follow_mode_and_protocol() {
        let urls = ServiceUrls::new("https://pay.example").unwrap();
        assert_eq!(
            config(CmcicMode::Production).payment_url(&urls),
            "https://p.monetico-services.com/paiement.cgi"
        );
        assert_eq!(
            config(CmcicMode::Test).payment_url(&urls),
            "https://p.monetico-services.com/test/paiement.cgi"
        );
        let legacy = config(CmcicMode::Test).with_protocol(Protocol::Legacy);
        assert_eq!(
            legacy.payment_url(&urls),
            "https://ssl.paiement.cic-banques.fr/test/paiement.cgi"
        );
        assert_eq!(
            config(CmcicMode::Simulator).payment_url(&urls),
            "https://pay.example/simulator/cmcic"
        );
        let other_bank = config(CmcicMode::Production)
            .with_protocol(Protocol::Legacy)
            .with_payment_url("https://paiement.creditmutuel.fr/paiement.cgi")
            .unwrap();
        assert_eq!(
            other_bank.payment_url(&urls),
            "https://paiement.creditmutuel.fr/paiement.cgi"
        );
    }

    #[test]
    fn recredit_urls_follow_mode_and_protocol_and_can_be_overridden() {
        let urls = ServiceUrls::new("https://pay.example").unwrap();
        assert_eq!(
            config(CmcicMode::Production).recredit_url(&urls),
            "https://p.monetico-services.com/recredit_paiement.cgi"
        );
        assert_eq!(
            config(CmcicMode::Test).recredit_url(&urls),
            "https://p.monetico-services.com/test/recredit_paiement.cgi"
        );
        assert_eq!(
            config(CmcicMode::Test)
                .with_protocol(Protocol::Legacy)
                .recredit_url(&urls),
            "https://ssl.paiement.cic-banques.fr/test/recredit_paiement.cgi"
        );
        assert_eq!(
            config(CmcicMode::Simulator).recredit_url(&urls),
            "https://pay.example/simulator/cmcic/recredit_paiement.cgi"
        );
        let stub = config(CmcicMode::Production)
            .with_recredit_url("http://127.0.0.1:9/recredit")
            .unwrap();
        assert_eq!(stub.recredit_url(&urls), "http://127.0.0.1:9/recredit");
        let other_bank = config(CmcicMode::Test)
            .with_protocol(Protocol::Legacy)
            .with_payment_url("https://paiement.creditmutuel.fr/test/paiement.cgi")
            .unwrap();
        assert_eq!(
            other_bank.recredit_url(&urls),
            "https://paiement.creditmutuel.fr/test/recredit_paiement.cgi"
        );
        let simulated = config(CmcicMode::Simulator)
            .with_payment_url("https://pay.example/simulator/cmcic")
            .unwrap();
        assert_eq!(
            simulated.recredit_url(&urls),
            "https://pay.example/simulator/cmcic/recredit_paiement.cgi"
        );
        assert!(matches!(
            config(CmcicMode::Test).with_recredit_url("file:///etc/passwd"),
            Err(GatewayError::Configuration(m)) if m.starts_with("cmcic.recredit_url: ")
        ));
    }

    #[test]
    fn malformed_settings_are_refused_by_name() {
        let key = || UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
        let setting = |err: GatewayError| match err {
            GatewayError::Configuration(message) => message.split(':').next().unwrap_or_default().to_owned(),
            other => panic!("not a configuration error: {other:?}"),
        };
        assert_eq!(
            setting(CmcicConfig::new(CmcicMode::Test, "12 34", key(), "s").unwrap_err()),
            "cmcic.tpe"
        );
        assert_eq!(
            setting(CmcicConfig::new(CmcicMode::Test, "1234567", key(), "a*b").unwrap_err()),
            "cmcic.societe"
        );
        let url = config(CmcicMode::Test).with_payment_url("ftp://x.example").unwrap_err();
        assert_eq!(setting(url), "cmcic.payment_url");
        let country = config(CmcicMode::Test).with_default_country("fr").unwrap_err();
        assert_eq!(setting(country), "cmcic.default_country");
        assert!(
            "live"
                .parse::<CmcicMode>()
                .unwrap_err()
                .to_string()
                .contains("cmcic.mode")
        );
    }
}
