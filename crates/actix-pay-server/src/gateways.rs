//! Builds the core's gateways from the server configuration.

use std::sync::Arc;

use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::config::CmcicConfig as CoreCmcicConfig;
use payment_buttons::cmcic::key::UsableKey;
use payment_buttons::gateway::Gateways;
use payment_buttons::paypal::{PaypalConfig as CorePaypalConfig, PaypalGateway, PaypalOverrides};
use url::Url;

use crate::config::Config;

/// Credentials of the CM-CIC simulator when `[cmcic]` gives none: the bank's published sample key. The
/// simulator checks seals with the same key, so the real MAC code runs end to end.
pub const SIMULATOR_CMCIC_TPE: &str = "1234567";
/// See [`SIMULATOR_CMCIC_TPE`].
pub const SIMULATOR_CMCIC_KEY: &str = "12345678901234567890123456789012345678P0";
/// See [`SIMULATOR_CMCIC_TPE`].
pub const SIMULATOR_CMCIC_SOCIETE: &str = "librementdemo";

/// A gateway that could not be built; the text names the configuration key and never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GatewaySetupError(pub String);

/// The enabled gateways, and the CM-CIC one on its own (the simulator needs its seals).
pub struct BuiltGateways {
    /// Every enabled gateway.
    pub all: Gateways,
    /// The CM-CIC gateway, when enabled.
    pub cmcic: Option<Arc<CmcicGateway>>,
}

/// Builds every enabled gateway. `public_url` is the resolved base of our URLs; `secret` is the server's
/// secret key, which keys the CM-CIC saved-card aliases (so they survive a change of merchant key).
pub fn build(config: &Config, public_url: &Url, secret: &[u8]) -> Result<BuiltGateways, GatewaySetupError> {
    let mut all = Gateways::new();
    if let Some(p) = &config.paypal {
        let overrides = PaypalOverrides {
            business: p.business.clone(),
            webscr_url: Some(p.webscr_url(public_url).to_string()),
            postback_url: Some(p.postback_url(public_url).to_string()),
            logo_url: p.logo_url.as_ref().map(Url::to_string),
            ..Default::default()
        };
        let core = CorePaypalConfig::new(p.mode, overrides).map_err(|e| GatewaySetupError(e.to_string()))?;
        let gateway = PaypalGateway::with_reqwest_pool(core, p.postback_pool_size)
            .map_err(|e| GatewaySetupError(e.to_string()))?;
        all = all.with(Arc::new(gateway));
    }
    let mut cmcic = None;
    if let Some(c) = &config.cmcic {
        let (tpe, key, societe) = match &c.credentials {
            Some(cred) => (cred.tpe.as_str(), cred.key.expose(), cred.societe.as_str()),
            None => (SIMULATOR_CMCIC_TPE, SIMULATOR_CMCIC_KEY, SIMULATOR_CMCIC_SOCIETE),
        };
        // The key error says what is wrong with its shape, never the key itself.
        let key = UsableKey::from_merchant_key(key).map_err(|e| GatewaySetupError(format!("cmcic.key: {e}")))?;
        let core = CoreCmcicConfig::new(c.mode, tpe, key, societe)
            .map_err(|e| GatewaySetupError(e.to_string()))?
            .with_protocol(c.protocol)
            .with_alias_secret(secret)
            .with_payment_url(c.payment_url(public_url).as_str())
            .map_err(|e| GatewaySetupError(e.to_string()))?;
        let gateway = Arc::new(CmcicGateway::new(core));
        all = all.with(gateway.clone());
        cmcic = Some(gateway);
    }
    Ok(BuiltGateways { all, cmcic })
}
