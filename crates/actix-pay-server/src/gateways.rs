//! Builds the core's gateways from the server configuration.

use std::sync::Arc;

use payment_buttons::cmcic::CmcicConfig as CoreCmcicConfig;
use payment_buttons::cmcic::CmcicGateway;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::paypal::{
    ApiSecret, PaypalConfig as CorePaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides,
};
use url::Url;

use crate::config::Config;

/// Credentials of the CM-CIC simulator when `[cmcic]` gives none: the bank's published sample key. The
/// simulator checks seals with the same key, so the real MAC code runs end to end.
pub const SIMULATOR_CMCIC_TPE: &str = "1234567";
/// See [`SIMULATOR_CMCIC_TPE`].
pub const SIMULATOR_CMCIC_KEY: &str = "12345678901234567890123456789012345678P0";
/// See [`SIMULATOR_CMCIC_TPE`].
pub const SIMULATOR_CMCIC_SOCIETE: &str = "librementdemo";

/// REST credentials of the PayPal simulator when `[paypal]` gives none: the simulator's token endpoint
/// accepts exactly the credentials the gateway uses (see [`paypal_api_credentials`]), so refunds run the
/// real OAuth and refund code end to end.
pub const SIMULATOR_PAYPAL_CLIENT_ID: &str = "simulator-client-id";
/// See [`SIMULATOR_PAYPAL_CLIENT_ID`].
pub const SIMULATOR_PAYPAL_CLIENT_SECRET: &str = "simulator-client-secret";
/// NVP credentials of the PayPal simulator when `[paypal]` gives none (subscription cancellation).
pub const SIMULATOR_PAYPAL_NVP_USER: &str = "simulator_api1.example.org";
/// See [`SIMULATOR_PAYPAL_NVP_USER`].
pub const SIMULATOR_PAYPAL_NVP_PASSWORD: &str = "simulator-nvp-password";
/// See [`SIMULATOR_PAYPAL_NVP_USER`].
pub const SIMULATOR_PAYPAL_NVP_SIGNATURE: &str = "simulator-nvp-signature";

/// The PayPal API credentials the gateway uses: the configured ones, else (simulator mode only) the
/// simulator's. A real mode without them cannot refund or cancel (the API answers 409 with the reason).
pub fn paypal_api_credentials(p: &crate::config::PaypalConfig) -> PaypalApiCredentials {
    let simulated = p.mode == PaypalMode::Simulator;
    let rest = p
        .rest
        .as_ref()
        .map(|r| (r.client_id.clone(), ApiSecret::new(r.client_secret.expose())))
        .or_else(|| {
            simulated.then(|| {
                (
                    SIMULATOR_PAYPAL_CLIENT_ID.to_owned(),
                    ApiSecret::new(SIMULATOR_PAYPAL_CLIENT_SECRET),
                )
            })
        });
    let nvp = p
        .nvp
        .as_ref()
        .map(|n| {
            (
                n.user.clone(),
                ApiSecret::new(n.password.expose()),
                ApiSecret::new(n.signature.expose()),
            )
        })
        .or_else(|| {
            simulated.then(|| {
                (
                    SIMULATOR_PAYPAL_NVP_USER.to_owned(),
                    ApiSecret::new(SIMULATOR_PAYPAL_NVP_PASSWORD),
                    ApiSecret::new(SIMULATOR_PAYPAL_NVP_SIGNATURE),
                )
            })
        });
    PaypalApiCredentials { rest, nvp }
}

/// The simulator's webhook id, used when simulator mode runs Checkout without `paypal.webhook_id`.
pub const SIMULATOR_PAYPAL_WEBHOOK_ID: &str = "SIMULATORWEBHOOK000000001";

/// The Checkout webhook id the gateway checks signatures against: the configured one, else (simulator
/// mode only) the simulator's.
pub fn paypal_webhook_id(p: &crate::config::PaypalConfig) -> Option<String> {
    p.webhook_id
        .clone()
        .or_else(|| (p.mode == PaypalMode::Simulator).then(|| SIMULATOR_PAYPAL_WEBHOOK_ID.to_owned()))
}

/// See [`paypal_api_credentials`]. Secrets print as `***`.
#[derive(Debug, Clone)]
pub struct PaypalApiCredentials {
    /// Client id and secret.
    pub rest: Option<(String, ApiSecret)>,
    /// NVP user, password and signature.
    pub nvp: Option<(String, ApiSecret, ApiSecret)>,
}

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
            api_url: Some(p.api_url(public_url).to_string()),
            nvp_url: Some(p.nvp_url(public_url).to_string()),
            integration: Some(p.integration),
            webhook_id: paypal_webhook_id(p),
            webhook_verification: Some(p.webhook_verification),
            ..Default::default()
        };
        let credentials = paypal_api_credentials(p);
        let mut overrides = overrides;
        if let Some((client_id, client_secret)) = credentials.rest {
            overrides.client_id = Some(client_id);
            overrides.client_secret = Some(client_secret);
        }
        if let Some((user, password, signature)) = credentials.nvp {
            overrides.nvp_user = Some(user);
            overrides.nvp_password = Some(password);
            overrides.nvp_signature = Some(signature);
        }
        let core = CorePaypalConfig::new(p.mode, overrides).map_err(|e| GatewaySetupError(e.to_string()))?;
        let mut gateway = PaypalGateway::with_reqwest_pool(core, p.postback_pool_size)
            .map_err(|e| GatewaySetupError(e.to_string()))?;
        if p.mode == PaypalMode::Simulator {
            // The simulator signs its webhooks with its own certificate: trusted here, in simulator mode only.
            let certs = format!(
                "{}{}",
                p.api_url(public_url).as_str().trim_end_matches('/'),
                crate::simulator::paypal::CERT_PATH
            );
            gateway = gateway
                .with_simulator_webhook_trust(crate::simulator::paypal::WEBHOOK_CA_PEM, &certs)
                .map_err(|e| GatewaySetupError(e.to_string()))?;
        }
        all = all.with(Arc::new(gateway));
    }
    let mut cmcic = None;
    if let Some(c) = &config.cmcic {
        let (tpe, key, societe) = match &c.credentials {
            Some(cred) => (cred.tpe.as_str(), cred.key.expose(), cred.societe.as_str()),
            None => (SIMULATOR_CMCIC_TPE, SIMULATOR_CMCIC_KEY, SIMULATOR_CMCIC_SOCIETE),
        };
        // The key error says what is wrong with its shape, never the key itself.
        let key = UsableKey::from_merchant_key(key).map_err(|e| GatewaySetupError(e.to_string()))?;
        let mut core = CoreCmcicConfig::new(c.mode, tpe, key, societe)
            .map_err(|e| GatewaySetupError(e.to_string()))?
            .with_protocol(c.protocol)
            .with_alias_secret(secret)
            .with_payment_url(c.payment_url(public_url).as_str())
            .map_err(|e| GatewaySetupError(e.to_string()))?;
        if let Some(url) = &c.recredit_url_override {
            core = core
                .with_recredit_url(url.as_str())
                .map_err(|e| GatewaySetupError(e.to_string()))?;
        }
        // Refunds go to the bank's recredit service (the simulator's in simulator mode).
        let urls =
            ServiceUrls::new(public_url.as_str()).map_err(|e| GatewaySetupError(format!("server.public_url: {e}")))?;
        let gateway = CmcicGateway::new(core)
            .with_refunds(&urls)
            .map_err(|e| GatewaySetupError(e.to_string()))?;
        let gateway = Arc::new(gateway);
        all = all.with(gateway.clone());
        cmcic = Some(gateway);
    }
    Ok(BuiltGateways { all, cmcic })
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_buttons::gateway::Gateway;

    fn built(file: &str) -> BuiltGateways {
        let config = Config::from_toml(file, "pay.toml", std::iter::empty()).expect("valid");
        let public = Url::parse("http://127.0.0.1:8080/").expect("valid");
        build(&config, &public, b"server secret").expect("built")
    }

    #[test]
    fn in_simulator_mode_refunds_go_to_the_simulators_recredit() {
        let cmcic = built("").cmcic.expect("the simulators are on by default");
        assert!(cmcic.refunds().is_some());
        assert_eq!(
            cmcic.recredit_url(),
            Some("http://127.0.0.1:8080/simulator/cmcic/recredit_paiement.cgi")
        );
    }

    #[test]
    fn a_real_mode_refunds_at_the_bank_or_where_recredit_url_says() {
        let section = "[cmcic]\nmode = \"test\"\ntpe = \"1234567\"\nkey = \"0123456789ABCDEF0123456789ABCDEF01234567\"\nsociete = \"monSite1\"\n";
        assert_eq!(
            built(section).cmcic.expect("enabled").recredit_url(),
            Some("https://p.monetico-services.com/test/recredit_paiement.cgi")
        );
        let overridden = format!("{section}recredit_url = \"http://127.0.0.1:9000/recredit\"\n");
        assert_eq!(
            built(&overridden).cmcic.expect("enabled").recredit_url(),
            Some("http://127.0.0.1:9000/recredit")
        );
    }
}
