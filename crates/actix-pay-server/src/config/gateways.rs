//! `[paypal]`, `[cmcic]` and `[librement]`: which gateways run, in which mode, with which credentials.

use std::fmt;

use url::Url;

use super::secret::Secret;

/// Path, under `public_url`, of the simulated PayPal payment page (simulator mode only).
pub const SIMULATOR_PAYPAL_WEBSCR_PATH: &str = "/simulator/paypal";
/// Path, under `public_url`, of the simulated PayPal IPN postback (simulator mode only).
pub const SIMULATOR_PAYPAL_POSTBACK_PATH: &str = "/simulator/paypal/postback";
/// Path, under `public_url`, of the simulated PayPal REST API (`/v1/oauth2/token`, refunds...): the
/// `api_url` of simulator mode.
pub const SIMULATOR_PAYPAL_API_PATH: &str = "/simulator/paypal";
/// Path, under `public_url`, of the simulated PayPal NVP endpoint: the `nvp_url` of simulator mode.
pub const SIMULATOR_PAYPAL_NVP_PATH: &str = "/simulator/paypal/nvp";
/// Path, under `public_url`, of the simulated CM-CIC payment page (simulator mode only).
pub const SIMULATOR_CMCIC_PAYMENT_PATH: &str = "/simulator/cmcic";

/// A payment gateway, named as everywhere in the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gateway {
    /// CM-CIC paiement, today branded Monetico paiement.
    Cmcic,
    /// PayPal Payments Standard.
    Paypal,
}

impl Gateway {
    /// `cmcic` or `paypal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Gateway::Cmcic => "cmcic",
            Gateway::Paypal => "paypal",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "cmcic" => Some(Gateway::Cmcic),
            "paypal" => Some(Gateway::Paypal),
            _ => None,
        }
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a gateway's mode means for money, whatever the gateway calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeKind {
    /// Our own stand-in for the gateway: nothing leaves the process.
    Simulator,
    /// The gateway's test system (PayPal `sandbox`, CM-CIC `test`): real protocol, no real money.
    Test,
    /// Real money (PayPal `live`, CM-CIC `production`).
    Live,
}

impl ModeKind {
    /// Whether this is a mode that talks to the real gateway (test or live).
    pub fn is_real(self) -> bool {
        self != ModeKind::Simulator
    }
}

/// `paypal.mode`: the core's own enum, spelled in the file as it serializes (`simulator`, `sandbox`, `live`).
pub use payment_buttons::paypal::PaypalMode;
/// `paypal.integration` and `paypal.webhook_verification`: the core's enums, spelled as they serialize.
pub use payment_buttons::paypal::{PaypalIntegration, WebhookVerification};

/// `cmcic.mode`: the core's own enum, spelled in the file as it serializes (`simulator`, `test`,
/// `production`).
pub use payment_buttons::cmcic::CmcicMode;

/// `cmcic.protocol`: the core's own enum of the MAC generations, spelled in the file as it serializes
/// (`monetico`, the default, or `legacy`).
pub use payment_buttons::cmcic::CmcicProtocol;

/// `librement.mode`: librement-pay's own enum, spelled in the file as it serializes (`embedded`, the
/// default, or `non_embedded`).
pub use librement_pay::web::Mode as LibrementMode;

impl From<PaypalMode> for ModeKind {
    fn from(mode: PaypalMode) -> Self {
        match mode {
            PaypalMode::Simulator => ModeKind::Simulator,
            PaypalMode::Sandbox => ModeKind::Test,
            PaypalMode::Live => ModeKind::Live,
        }
    }
}

impl From<CmcicMode> for ModeKind {
    fn from(mode: CmcicMode) -> Self {
        match mode {
            CmcicMode::Simulator => ModeKind::Simulator,
            CmcicMode::Test => ModeKind::Test,
            CmcicMode::Production => ModeKind::Live,
        }
    }
}

/// `[paypal]`, resolved. Present in [`Config`](crate::config::Config) only when PayPal is enabled.
#[derive(Debug, Clone)]
pub struct PaypalConfig {
    /// `mode`.
    pub mode: PaypalMode,
    /// `business`: the account (e-mail or merchant id) used when a button's payment options name none.
    pub business: Option<String>,
    /// `webscr_url` when overridden; see [`PaypalConfig::webscr_url`].
    pub webscr_url_override: Option<Url>,
    /// `postback_url` when overridden; see [`PaypalConfig::postback_url`].
    pub postback_url_override: Option<Url>,
    /// `postback_pool_size`: idle connections to the postback endpoint kept open for reuse. Default
    /// [`payment_buttons::paypal::DEFAULT_POOL_SIZE`] (512, the default verification concurrency).
    pub postback_pool_size: usize,
    /// `logo_url`: the logo PayPal shows on its own checkout page (`image_url`), not our button's image.
    pub logo_url: Option<Url>,
    /// `client_id` and `client_secret`: REST credentials, for refunds; always both or neither.
    pub rest: Option<PaypalRestCredentials>,
    /// `api_url` when overridden; see [`PaypalConfig::api_url`].
    pub api_url_override: Option<Url>,
    /// `nvp_user`, `nvp_password`, `nvp_signature`: to cancel subscriptions; always all three or none.
    pub nvp: Option<PaypalNvpCredentials>,
    /// `nvp_url` when overridden; see [`PaypalConfig::nvp_url`].
    pub nvp_url_override: Option<Url>,
    /// `integration`: Payments Standard (default) or Checkout.
    pub integration: PaypalIntegration,
    /// `webhook_id`: the id of the Checkout webhook at PayPal (the simulator's own in simulator mode when
    /// unset).
    pub webhook_id: Option<String>,
    /// `webhook_verification`: `local` (certificate, default) or `api`.
    pub webhook_verification: WebhookVerification,
}

/// `paypal.client_id` and `paypal.client_secret`.
#[derive(Debug, Clone)]
pub struct PaypalRestCredentials {
    /// The REST app's client id.
    pub client_id: String,
    /// The REST app's secret. Never printed.
    pub client_secret: Secret,
}

/// `paypal.nvp_user`, `paypal.nvp_password`, `paypal.nvp_signature`.
#[derive(Debug, Clone)]
pub struct PaypalNvpCredentials {
    /// The API user name.
    pub user: String,
    /// The API password. Never printed.
    pub password: Secret,
    /// The API signature. Never printed.
    pub signature: Secret,
}

impl PaypalConfig {
    /// Where payment forms post: the override, else the mode's page (the simulator's under `public_url`).
    pub fn webscr_url(&self, public_url: &Url) -> Url {
        self.webscr_url_override.clone().unwrap_or_else(|| match self.mode {
            PaypalMode::Simulator => under(public_url, SIMULATOR_PAYPAL_WEBSCR_PATH),
            PaypalMode::Sandbox => fixed_url(payment_buttons::paypal::SANDBOX_WEBSCR_URL),
            PaypalMode::Live => fixed_url(payment_buttons::paypal::LIVE_WEBSCR_URL),
        })
    }

    /// Where IPN messages are posted back for verification: the override, else the mode's endpoint.
    pub fn postback_url(&self, public_url: &Url) -> Url {
        self.postback_url_override.clone().unwrap_or_else(|| match self.mode {
            PaypalMode::Simulator => under(public_url, SIMULATOR_PAYPAL_POSTBACK_PATH),
            PaypalMode::Sandbox => fixed_url(payment_buttons::paypal::SANDBOX_POSTBACK_URL),
            PaypalMode::Live => fixed_url(payment_buttons::paypal::LIVE_POSTBACK_URL),
        })
    }

    /// The REST API's base URL: the override, else the mode's (the simulator's under `public_url`).
    pub fn api_url(&self, public_url: &Url) -> Url {
        self.api_url_override.clone().unwrap_or_else(|| match self.mode {
            PaypalMode::Simulator => under(public_url, SIMULATOR_PAYPAL_API_PATH),
            PaypalMode::Sandbox => fixed_url(payment_buttons::paypal::SANDBOX_API_URL),
            PaypalMode::Live => fixed_url(payment_buttons::paypal::LIVE_API_URL),
        })
    }

    /// The NVP endpoint: the override, else the mode's (the simulator's under `public_url`).
    pub fn nvp_url(&self, public_url: &Url) -> Url {
        self.nvp_url_override.clone().unwrap_or_else(|| match self.mode {
            PaypalMode::Simulator => under(public_url, SIMULATOR_PAYPAL_NVP_PATH),
            PaypalMode::Sandbox => fixed_url(payment_buttons::paypal::SANDBOX_NVP_URL),
            PaypalMode::Live => fixed_url(payment_buttons::paypal::LIVE_NVP_URL),
        })
    }
}

/// The merchant's CM-CIC credentials: always all three together.
#[derive(Debug, Clone)]
pub struct CmcicCredentials {
    /// `tpe`: the terminal number.
    pub tpe: String,
    /// `key`: the 40 characters the bank gives, as given (the core crate derives the usable key). Never printed.
    pub key: Secret,
    /// `societe`: the site code.
    pub societe: String,
}

/// `[cmcic]`, resolved. Present in [`Config`](crate::config::Config) only when CM-CIC is enabled.
#[derive(Debug, Clone)]
pub struct CmcicConfig {
    /// `mode`.
    pub mode: CmcicMode,
    /// `tpe`, `key`, `societe`: always present in test and production modes; optional for the simulator.
    pub credentials: Option<CmcicCredentials>,
    /// `protocol`.
    pub protocol: CmcicProtocol,
    /// `payment_url` when overridden; see [`CmcicConfig::payment_url`].
    pub payment_url_override: Option<Url>,
    /// `recredit_url` when overridden: where refunds are posted. Unset, the core crate's
    /// `CmcicConfig::recredit_url` decides (the payment URL's sibling `recredit_paiement.cgi`, the mode's
    /// bank, or the simulator's).
    pub recredit_url_override: Option<Url>,
}

impl CmcicConfig {
    /// Where payment forms post: the override, else the page for the mode and protocol (the simulator's
    /// under `public_url`). Legacy merchants of CIC or OBC rather than Crédit Mutuel set `payment_url`.
    pub fn payment_url(&self, public_url: &Url) -> Url {
        self.payment_url_override
            .clone()
            .unwrap_or_else(|| match (self.mode, self.protocol) {
                (CmcicMode::Simulator, _) => under(public_url, SIMULATOR_CMCIC_PAYMENT_PATH),
                (CmcicMode::Test, CmcicProtocol::Monetico) => {
                    fixed_url("https://p.monetico-services.com/test/paiement.cgi")
                }
                (CmcicMode::Production, CmcicProtocol::Monetico) => {
                    fixed_url("https://p.monetico-services.com/paiement.cgi")
                }
                (CmcicMode::Test, CmcicProtocol::Legacy) => {
                    fixed_url("https://paiement.creditmutuel.fr/test/paiement.cgi")
                }
                (CmcicMode::Production, CmcicProtocol::Legacy) => {
                    fixed_url("https://paiement.creditmutuel.fr/paiement.cgi")
                }
            })
    }
}

/// `[librement]`, resolved.
#[derive(Debug, Clone)]
pub struct LibrementConfig {
    /// `mode`.
    pub mode: LibrementMode,
    /// `gateways`: what "by card or PayPal" offers, in order; every one is enabled. Default: the enabled
    /// gateways among `cmcic`, `paypal`, in that order.
    pub gateways: Vec<Gateway>,
    /// Whether Librement runs: always in simulator mode; in a real mode only when the configuration has a
    /// `[librement]` section (or a `PAY_LIBREMENT_*` variable), which then needs `[mail]`.
    pub enabled: bool,
    /// `top_up_min`: the least amount added to an account at once (default 5.00, in the currency added).
    pub top_up_min: rust_decimal::Decimal,
    /// `top_up_max`: the most (default 500.00).
    pub top_up_max: rust_decimal::Decimal,
    /// `payout_hold`: earnings become withdrawable this long after the sale (default 14d).
    pub payout_hold: std::time::Duration,
}

/// `public_url` with `path` appended to its own path.
fn under(public_url: &Url, path: &str) -> Url {
    let mut url = public_url.clone();
    let joined = format!("{}{path}", public_url.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}

/// One of the gateways' published URLs (PayPal's are the core's constants).
fn fixed_url(text: &'static str) -> Url {
    // These are valid absolute URLs; the test below parses every one of them.
    Url::parse(text).unwrap_or_else(|_| unreachable!("invalid built-in gateway URL {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Url {
        Url::parse("https://pay.example/shop/").expect("valid")
    }

    #[test]
    fn simulator_urls_live_under_the_public_url() {
        let paypal = PaypalConfig {
            mode: PaypalMode::Simulator,
            business: None,
            webscr_url_override: None,
            postback_url_override: None,
            postback_pool_size: 8,
            logo_url: None,
            rest: None,
            api_url_override: None,
            nvp: None,
            nvp_url_override: None,
            integration: PaypalIntegration::Standard,
            webhook_id: None,
            webhook_verification: WebhookVerification::Local,
        };
        assert_eq!(
            paypal.webscr_url(&public()).as_str(),
            "https://pay.example/shop/simulator/paypal"
        );
        assert_eq!(
            paypal.postback_url(&public()).as_str(),
            "https://pay.example/shop/simulator/paypal/postback"
        );
        assert_eq!(
            paypal.api_url(&public()).as_str(),
            "https://pay.example/shop/simulator/paypal"
        );
        assert_eq!(
            paypal.nvp_url(&public()).as_str(),
            "https://pay.example/shop/simulator/paypal/nvp"
        );
    }

    #[test]
    fn every_real_mode_has_a_published_url() {
        for mode in [PaypalMode::Sandbox, PaypalMode::Live] {
            let paypal = PaypalConfig {
                mode,
                business: None,
                webscr_url_override: None,
                postback_url_override: None,
                postback_pool_size: 8,
                logo_url: None,
                rest: None,
                api_url_override: None,
                nvp: None,
                nvp_url_override: None,
                integration: PaypalIntegration::Standard,
                webhook_id: None,
                webhook_verification: WebhookVerification::Local,
            };
            assert_eq!(paypal.webscr_url(&public()).scheme(), "https");
            assert_eq!(paypal.postback_url(&public()).scheme(), "https");
            assert_eq!(paypal.api_url(&public()).scheme(), "https");
            assert_eq!(paypal.nvp_url(&public()).scheme(), "https");
        }
        for mode in [CmcicMode::Test, CmcicMode::Production] {
            for protocol in [CmcicProtocol::Monetico, CmcicProtocol::Legacy] {
                let cmcic = CmcicConfig {
                    mode,
                    credentials: None,
                    protocol,
                    payment_url_override: None,
                    recredit_url_override: None,
                };
                let url = cmcic.payment_url(&public());
                assert_eq!(url.scheme(), "https");
                assert_eq!(url.path().contains("/test/"), mode == CmcicMode::Test);
            }
        }
    }

    #[test]
    fn an_override_wins_over_the_mode() {
        let over = Url::parse("http://127.0.0.1:9000/cgi-bin/webscr").expect("valid");
        let paypal = PaypalConfig {
            mode: PaypalMode::Sandbox,
            business: None,
            webscr_url_override: None,
            postback_url_override: Some(over.clone()),
            postback_pool_size: 8,
            logo_url: None,
            rest: None,
            api_url_override: None,
            nvp: None,
            nvp_url_override: None,
            integration: PaypalIntegration::Standard,
            webhook_id: None,
            webhook_verification: WebhookVerification::Local,
        };
        assert_eq!(paypal.postback_url(&public()), over);
    }
}
