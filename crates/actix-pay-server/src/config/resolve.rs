//! From the file's raw strings to typed settings: every value is checked here, and the mode rules applied.

use base64::Engine as _;
use url::Url;

use super::Config;
use super::duration::parse_duration;
use super::error::ConfigError;
use super::gateways::{
    CmcicConfig, CmcicCredentials, CmcicMode, CmcicProtocol, Gateway, LibrementConfig, LibrementMode, ModeKind,
    PaypalConfig, PaypalIntegration, PaypalMode, PaypalNvpCredentials, PaypalRestCredentials, WebhookVerification,
};
use super::raw::{RawCmcic, RawFile, RawPaypal, RawServer, RawWebhook};
use super::schema::Origins;
use super::secret::Secret;
use payment_buttons::forwarded::TrustedProxies;

use super::server::{BindAddress, DatabaseConfig, DatabaseUrl, ServerConfig};
use super::webhooks::{WebhookConfig, WebhookEvent};

const DAY: u64 = 86_400;
const MIN_SECRET_KEY_CHARS: usize = 32;
const MIN_API_KEY_CHARS: usize = 16;
const MIN_WEBHOOK_SECRET_BYTES: usize = 16;
/// The spellings of `paypal.mode`, for errors.
const PAYPAL_MODES: &str = "simulator, sandbox or live";
/// The spellings of `cmcic.mode`, for errors.
const CMCIC_MODES: &str = "simulator, test or production";

/// `text` as the enum `T`, spelled as `T` serializes: the crate that owns a mode's enum also owns how
/// the configuration writes it.
fn spelled<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let word: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
    T::deserialize(word).ok()
}

/// Checks every value of `raw` and applies the mode rules.
pub(crate) fn resolve(raw: RawFile, origins: &Origins) -> Result<Config, ConfigError> {
    let r = Resolver { origins };
    let any_gateway_section = raw.paypal.is_some() || raw.cmcic.is_some();
    let (paypal, cmcic) = if any_gateway_section {
        (
            raw.paypal.map(|p| r.paypal(p)).transpose()?,
            raw.cmcic.map(|c| r.cmcic(c)).transpose()?,
        )
    } else {
        (Some(simulated_paypal()), Some(simulated_cmcic()))
    };
    r.refuse_mixed_modes(paypal.as_ref(), cmcic.as_ref())?;
    let all_simulated =
        paypal.iter().all(|p| p.mode == PaypalMode::Simulator) && cmcic.iter().all(|c| c.mode == CmcicMode::Simulator);
    let server = r.server(raw.server.unwrap_or_default(), all_simulated)?;
    let database = DatabaseConfig {
        url: match r.text("database.url", raw.database.and_then(|d| d.url))? {
            Some(url) => server_database_url(&url).map_err(|p| ConfigError::invalid(r.at("database.url"), p))?,
            None => DatabaseUrl::default(),
        },
    };
    let enabled: Vec<Gateway> = [(Gateway::Cmcic, cmcic.is_some()), (Gateway::Paypal, paypal.is_some())]
        .into_iter()
        .filter_map(|(gateway, on)| on.then_some(gateway))
        .collect();
    let librement_section = raw.librement.is_some();
    let mut librement = r.librement(raw.librement.unwrap_or_default(), &enabled)?;
    librement.enabled = all_simulated || librement_section;
    let limits = super::limits::resolve(raw.limits.unwrap_or_default(), origins)?;
    let engine = super::engine::resolve(raw.engine.unwrap_or_default(), origins)?;
    let mail = raw.mail.map(|m| super::mail::resolve(m, origins)).transpose()?;
    if librement.enabled && !all_simulated && mail.is_none() {
        return Err(ConfigError::missing(
            "mail.host",
            "Librement sends e-mail (address verification, password reset, receipts): add a [mail] section, or remove [librement] to run without Librement",
        ));
    }
    let metrics = super::observability::resolve_metrics(raw.metrics.unwrap_or_default(), origins)?;
    let log = super::observability::resolve_log(raw.log.unwrap_or_default(), origins)?;
    let webhooks = raw
        .webhooks
        .into_iter()
        .enumerate()
        .map(|(i, w)| r.webhook(i, w))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        server,
        database,
        paypal,
        cmcic,
        librement,
        limits,
        engine,
        mail,
        webhooks,
        metrics,
        log,
    })
}

/// The simulated PayPal account of a configuration without gateway sections: what Librement's top-ups by
/// PayPal are paid to (they name no receiver of their own; a real mode sets `paypal.business`).
pub(crate) const SIMULATED_PAYPAL_BUSINESS: &str = "librement-simulator@example.org";

fn simulated_paypal() -> PaypalConfig {
    PaypalConfig {
        mode: PaypalMode::Simulator,
        business: Some(SIMULATED_PAYPAL_BUSINESS.to_owned()),
        webscr_url_override: None,
        postback_url_override: None,
        postback_pool_size: payment_buttons::paypal::DEFAULT_POOL_SIZE,
        logo_url: None,
        rest: None,
        api_url_override: None,
        nvp: None,
        nvp_url_override: None,
        integration: PaypalIntegration::Standard,
        webhook_id: None,
        webhook_verification: WebhookVerification::Local,
    }
}

fn simulated_cmcic() -> CmcicConfig {
    CmcicConfig {
        mode: CmcicMode::Simulator,
        credentials: None,
        protocol: CmcicProtocol::default(),
        payment_url_override: None,
        recredit_url_override: None,
    }
}

struct Resolver<'a> {
    origins: &'a Origins,
}

impl Resolver<'_> {
    fn at(&self, path: &str) -> String {
        self.origins.label(path)
    }

    /// A present string must hold something: an empty value never silently means "unset".
    fn text(&self, path: &str, value: Option<String>) -> Result<Option<String>, ConfigError> {
        match value {
            Some(v) if v.trim().is_empty() => Err(ConfigError::invalid(self.at(path), "must not be empty")),
            other => Ok(other),
        }
    }

    /// A secret of at least `min` characters, refused without being quoted.
    fn secret(&self, path: &str, value: Option<String>, min: usize) -> Result<Option<Secret>, ConfigError> {
        let Some(value) = self.text(path, value)? else {
            return Ok(None);
        };
        check_secret(&value, min).map_err(|p| ConfigError::invalid(self.at(path), p))?;
        Ok(Some(Secret::new(value)))
    }

    /// An absolute http(s) URL without credentials or fragment; `https` required when `https_only`.
    fn url(&self, path: &str, value: Option<String>, https_only: Option<&str>) -> Result<Option<Url>, ConfigError> {
        let Some(text) = self.text(path, value)? else {
            return Ok(None);
        };
        let not_url = || ConfigError::invalid(self.at(path), format!("{text:?} is not an http or https URL"));
        let url = Url::parse(&text).map_err(|_| not_url())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(not_url());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::invalid(
                self.at(path),
                "must not hold a user name or password",
            ));
        }
        if url.fragment().is_some() {
            return Err(ConfigError::invalid(
                self.at(path),
                format!("{text:?} must not have a #fragment"),
            ));
        }
        if let Some(mode) = https_only
            && url.scheme() != "https"
        {
            return Err(ConfigError::invalid(
                self.at(path),
                format!("{text:?} must be an https URL in {mode} mode"),
            ));
        }
        Ok(Some(url))
    }

    fn duration(
        &self,
        path: &str,
        value: Option<String>,
        default_secs: u64,
    ) -> Result<std::time::Duration, ConfigError> {
        match self.text(path, value)? {
            None => Ok(std::time::Duration::from_secs(default_secs)),
            Some(text) => {
                parse_duration(&text).map_err(|p| ConfigError::invalid(self.at(path), format!("{text:?}: {p}")))
            }
        }
    }

    fn server(&self, raw: RawServer, all_simulated: bool) -> Result<ServerConfig, ConfigError> {
        let bind = match self.text("server.bind", raw.bind)? {
            Some(text) => BindAddress::parse(&text).map_err(|p| ConfigError::invalid(self.at("server.bind"), p))?,
            None => BindAddress::default(),
        };
        let public_url = self.url("server.public_url", raw.public_url, None)?;
        if let Some(url) = &public_url
            && url.query().is_some()
        {
            return Err(ConfigError::invalid(
                self.at("server.public_url"),
                "must not have a ?query",
            ));
        }
        // A shared password is gone: it could not say who did what. The value is not quoted (a secret).
        if raw.admin_password.is_some() {
            return Err(ConfigError::invalid(
                self.at("server.admin_password"),
                "removed: the console at /admin signs in operator accounts, each with its own password; \
                 delete this setting and add an operator with `librement-server operator add EMAIL` \
                 (see docs/operations.md)",
            ));
        }
        let mut api_keys = Vec::new();
        for (n, key) in raw.api_keys.unwrap_or_default().into_iter().enumerate() {
            check_secret(&key, MIN_API_KEY_CHARS)
                .map_err(|p| ConfigError::invalid(self.at("server.api_keys"), format!("key {}: {p}", n + 1)))?;
            api_keys.push(Secret::new(key));
        }
        let trusted_proxies = TrustedProxies::parse(raw.trusted_proxies.unwrap_or_default())
            .map_err(|e| ConfigError::invalid(self.at("server.trusted_proxies"), e.to_string()))?;
        Ok(ServerConfig {
            bind,
            public_url,
            secret_key: self.secret("server.secret_key", raw.secret_key, MIN_SECRET_KEY_CHARS)?,
            api_keys,
            button_token_ttl: self.duration("server.button_token_ttl", raw.button_token_ttl, 30 * DAY)?,
            demo: raw.demo.unwrap_or(all_simulated),
            trusted_proxies,
            abandon_after: self.duration("server.abandon_after", raw.abandon_after, 7 * DAY)?,
        })
    }

    fn paypal(&self, raw: RawPaypal) -> Result<PaypalConfig, ConfigError> {
        let business = self.text("paypal.business", raw.business)?;
        if let Some(account) = &business
            && account.chars().any(char::is_whitespace)
        {
            let problem = format!("{account:?} is not an account (expected an e-mail address or merchant id)");
            return Err(ConfigError::invalid(self.at("paypal.business"), problem));
        }
        let rest = self.paypal_rest(raw.client_id, raw.client_secret)?;
        let nvp = self.paypal_nvp(raw.nvp_user, raw.nvp_password, raw.nvp_signature)?;
        let mode = match self.text("paypal.mode", raw.mode)? {
            Some(text) => spelled::<PaypalMode>(&text).ok_or_else(|| {
                let problem = format!("{text:?} is not a mode (expected {PAYPAL_MODES})");
                ConfigError::invalid(self.at("paypal.mode"), problem)
            })?,
            None if business.is_some() || rest.is_some() || nvp.is_some() => {
                let held = [
                    business.as_ref().map(|_| "business"),
                    rest.as_ref().map(|_| "client_id, client_secret"),
                    nvp.as_ref().map(|_| "nvp_user, nvp_password, nvp_signature"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
                let why = format!("[paypal] holds credentials ({held}), so say which mode: {PAYPAL_MODES}");
                return Err(ConfigError::missing("paypal.mode", why));
            }
            None => PaypalMode::Simulator,
        };
        let https_only = (mode == PaypalMode::Live).then_some("live");
        let integration = match self.text("paypal.integration", raw.integration)? {
            Some(text) => spelled::<PaypalIntegration>(&text).ok_or_else(|| {
                let problem = format!("{text:?} is not an integration (expected standard, checkout)");
                ConfigError::invalid(self.at("paypal.integration"), problem)
            })?,
            None => PaypalIntegration::Standard,
        };
        let webhook_verification = match self.text("paypal.webhook_verification", raw.webhook_verification)? {
            Some(text) => spelled::<WebhookVerification>(&text).ok_or_else(|| {
                let problem = format!("{text:?} is not a verification (expected local, api)");
                ConfigError::invalid(self.at("paypal.webhook_verification"), problem)
            })?,
            None => WebhookVerification::Local,
        };
        let webhook_id = self.text("paypal.webhook_id", raw.webhook_id)?;
        if integration == PaypalIntegration::Checkout && mode != PaypalMode::Simulator {
            if rest.is_none() {
                return Err(ConfigError::missing(
                    self.at("paypal.client_id"),
                    "paypal.integration = \"checkout\" calls PayPal's REST API: set client_id and client_secret"
                        .to_owned(),
                ));
            }
            if webhook_id.is_none() {
                return Err(ConfigError::missing(
                    self.at("paypal.webhook_id"),
                    "paypal.integration = \"checkout\": the id PayPal shows for the webhook of \
                     {public_url}/notify/paypal/webhook"
                        .to_owned(),
                ));
            }
        }
        Ok(PaypalConfig {
            mode,
            business,
            webscr_url_override: self.url("paypal.webscr_url", raw.webscr_url, https_only)?,
            postback_url_override: self.url("paypal.postback_url", raw.postback_url, https_only)?,
            postback_pool_size: self.pool_size(raw.postback_pool_size)?,
            logo_url: self.url("paypal.logo_url", raw.logo_url, https_only)?,
            rest,
            api_url_override: self.url("paypal.api_url", raw.api_url, https_only)?,
            nvp,
            nvp_url_override: self.url("paypal.nvp_url", raw.nvp_url, https_only)?,
            integration,
            webhook_id,
            webhook_verification,
        })
    }

    /// `paypal.client_id` with `paypal.client_secret`: both or neither.
    fn paypal_rest(
        &self,
        client_id: Option<String>,
        client_secret: Option<String>,
    ) -> Result<Option<PaypalRestCredentials>, ConfigError> {
        let client_id = self.text("paypal.client_id", client_id)?;
        let client_secret = self.secret("paypal.client_secret", client_secret, 1)?;
        match (client_id, client_secret) {
            (Some(client_id), Some(client_secret)) => Ok(Some(PaypalRestCredentials {
                client_id,
                client_secret,
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::missing(
                self.at("paypal.client_secret"),
                "paypal.client_id is set: REST credentials need both".to_owned(),
            )),
            (None, Some(_)) => Err(ConfigError::missing(
                self.at("paypal.client_id"),
                "paypal.client_secret is set: REST credentials need both".to_owned(),
            )),
        }
    }

    /// `paypal.nvp_user`, `nvp_password`, `nvp_signature`: all three or none.
    fn paypal_nvp(
        &self,
        user: Option<String>,
        password: Option<String>,
        signature: Option<String>,
    ) -> Result<Option<PaypalNvpCredentials>, ConfigError> {
        let user = self.text("paypal.nvp_user", user)?;
        let password = self.secret("paypal.nvp_password", password, 1)?;
        let signature = self.secret("paypal.nvp_signature", signature, 1)?;
        match (user, password, signature) {
            (Some(user), Some(password), Some(signature)) => Ok(Some(PaypalNvpCredentials {
                user,
                password,
                signature,
            })),
            (None, None, None) => Ok(None),
            (user, password, _) => {
                let missing = if user.is_none() {
                    "paypal.nvp_user"
                } else if password.is_none() {
                    "paypal.nvp_password"
                } else {
                    "paypal.nvp_signature"
                };
                Err(ConfigError::missing(
                    self.at(missing),
                    "nvp_user, nvp_password and nvp_signature go together".to_owned(),
                ))
            }
        }
    }

    /// `paypal.postback_pool_size`: 1 to [`MAX_VERIFICATION_CONCURRENCY`](super::MAX_VERIFICATION_CONCURRENCY).
    fn pool_size(&self, value: Option<i64>) -> Result<usize, ConfigError> {
        let max = super::MAX_VERIFICATION_CONCURRENCY;
        match value {
            None => Ok(payment_buttons::paypal::DEFAULT_POOL_SIZE),
            Some(n) => u64::try_from(n)
                .ok()
                .filter(|n| (1..=max).contains(n))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        self.at("paypal.postback_pool_size"),
                        format!("must be from 1 to {max} connections, not {n}"),
                    )
                }),
        }
    }

    fn cmcic(&self, raw: RawCmcic) -> Result<CmcicConfig, ConfigError> {
        let tpe = self.text("cmcic.tpe", raw.tpe)?;
        if let Some(tpe) = &tpe
            && !tpe.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(ConfigError::invalid(
                self.at("cmcic.tpe"),
                format!("{tpe:?} is not a TPE number (letters and digits)"),
            ));
        }
        let societe = self.text("cmcic.societe", raw.societe)?;
        if let Some(societe) = &societe
            && !societe.chars().all(|c| c.is_ascii_graphic())
        {
            let problem = format!("{societe:?} is not a site code (ASCII letters, digits and signs, no spaces)");
            return Err(ConfigError::invalid(self.at("cmcic.societe"), problem));
        }
        let key = self.text("cmcic.key", raw.key)?;
        if let Some(key) = &key
            && !looks_like_bank_key(key)
        {
            return Err(ConfigError::invalid(
                self.at("cmcic.key"),
                "must be the 40 characters the bank gives",
            ));
        }
        let holds_credentials = tpe.is_some() || key.is_some() || societe.is_some();
        let mode = match self.text("cmcic.mode", raw.mode)? {
            Some(text) => spelled::<CmcicMode>(&text).ok_or_else(|| {
                let problem = format!("{text:?} is not a mode (expected {CMCIC_MODES})");
                ConfigError::invalid(self.at("cmcic.mode"), problem)
            })?,
            None if holds_credentials => {
                let why = format!("[cmcic] holds credentials, so say which mode: {CMCIC_MODES}");
                return Err(ConfigError::missing("cmcic.mode", why));
            }
            None => CmcicMode::Simulator,
        };
        let credentials = match (tpe, key, societe) {
            (Some(tpe), Some(key), Some(societe)) => Some(CmcicCredentials {
                tpe,
                key: Secret::new(key),
                societe,
            }),
            (None, None, None) if mode == CmcicMode::Simulator => None,
            (tpe, key, _) => {
                let absent = if tpe.is_none() {
                    "tpe"
                } else if key.is_none() {
                    "key"
                } else {
                    "societe"
                };
                let why = if holds_credentials {
                    "tpe, key and societe go together".to_owned()
                } else {
                    format!("{} mode needs tpe, key and societe", mode.as_str())
                };
                return Err(ConfigError::missing(format!("cmcic.{absent}"), why));
            }
        };
        let protocol = match self.text("cmcic.protocol", raw.protocol)? {
            Some(text) => spelled::<CmcicProtocol>(&text).ok_or_else(|| {
                ConfigError::invalid(
                    self.at("cmcic.protocol"),
                    format!("{text:?} is not a protocol (expected monetico or legacy)"),
                )
            })?,
            None => CmcicProtocol::default(),
        };
        let https_only = (mode == CmcicMode::Production).then_some("production");
        Ok(CmcicConfig {
            mode,
            credentials,
            protocol,
            payment_url_override: self.url("cmcic.payment_url", raw.payment_url, https_only)?,
            recredit_url_override: self.url("cmcic.recredit_url", raw.recredit_url, https_only)?,
        })
    }

    /// A process is either all simulators or all real gateways: a simulator next to real money would let
    /// anyone "pay" through the simulator for what others pay for.
    fn refuse_mixed_modes(
        &self,
        paypal: Option<&PaypalConfig>,
        cmcic: Option<&CmcicConfig>,
    ) -> Result<(), ConfigError> {
        let (Some(paypal), Some(cmcic)) = (paypal, cmcic) else {
            return Ok(());
        };
        let (real, real_mode, simulated) = match (ModeKind::from(paypal.mode), ModeKind::from(cmcic.mode)) {
            (ModeKind::Simulator, kind) if kind.is_real() => (Gateway::Cmcic, cmcic.mode.as_str(), Gateway::Paypal),
            (kind, ModeKind::Simulator) if kind.is_real() => (Gateway::Paypal, paypal.mode.as_str(), Gateway::Cmcic),
            _ => return Ok(()),
        };
        let problem = format!(
            "{real_mode:?} cannot run next to {simulated} in simulator mode (every gateway is a simulator, or none is)"
        );
        Err(ConfigError::invalid(self.at(&format!("{real}.mode")), problem))
    }

    fn librement(&self, raw: super::raw::RawLibrement, enabled: &[Gateway]) -> Result<LibrementConfig, ConfigError> {
        let mode = match self.text("librement.mode", raw.mode)? {
            Some(text) => spelled::<LibrementMode>(&text).ok_or_else(|| {
                ConfigError::invalid(
                    self.at("librement.mode"),
                    format!("{text:?} is not a mode (expected embedded or non_embedded)"),
                )
            })?,
            None => LibrementMode::default(),
        };
        let top_up_min = self.decimal("librement.top_up_min", raw.top_up_min, "5.00")?;
        let top_up_max = self.decimal("librement.top_up_max", raw.top_up_max, "500.00")?;
        if top_up_min > top_up_max {
            return Err(ConfigError::invalid(
                self.at("librement.top_up_min"),
                format!("{top_up_min} is more than librement.top_up_max ({top_up_max})"),
            ));
        }
        let payout_hold = self.duration("librement.payout_hold", raw.payout_hold, 14 * DAY)?;
        let config = |gateways| LibrementConfig {
            mode,
            gateways,
            enabled: true,
            top_up_min,
            top_up_max,
            payout_hold,
        };
        let Some(names) = raw.gateways else {
            return Ok(config(enabled.to_vec()));
        };
        let at = self.at("librement.gateways");
        if names.is_empty() {
            return Err(ConfigError::invalid(
                at,
                "must name at least one gateway (cmcic, paypal)",
            ));
        }
        let mut gateways = Vec::new();
        for name in names {
            let gateway = Gateway::parse(&name).ok_or_else(|| {
                ConfigError::invalid(&at, format!("{name:?} is not a gateway (expected cmcic or paypal)"))
            })?;
            if gateways.contains(&gateway) {
                return Err(ConfigError::invalid(&at, format!("{name:?} is listed twice")));
            }
            if !enabled.contains(&gateway) {
                return Err(ConfigError::invalid(
                    &at,
                    format!("{name:?} is not enabled (there is no [{name}] section)"),
                ));
            }
            gateways.push(gateway);
        }
        Ok(config(gateways))
    }

    /// A positive decimal amount such as `5.00` (at most 2 places: the bounds hold in every currency).
    fn decimal(&self, path: &str, value: Option<String>, default: &str) -> Result<rust_decimal::Decimal, ConfigError> {
        let text = self.text(path, value)?.unwrap_or_else(|| default.to_owned());
        text.trim()
            .parse::<rust_decimal::Decimal>()
            .ok()
            .filter(|d| d.is_sign_positive() && !d.is_zero() && d.scale() <= 2)
            .ok_or_else(|| {
                ConfigError::invalid(
                    self.at(path),
                    format!("{text:?} is not an amount (expected a positive amount such as 5.00)"),
                )
            })
    }

    fn webhook(&self, index: usize, raw: RawWebhook) -> Result<WebhookConfig, ConfigError> {
        let path = |key: &str| format!("webhooks[{index}].{key}");
        let url = self
            .url(&path("url"), raw.url, None)?
            .ok_or_else(|| ConfigError::missing(path("url"), "every [[webhooks]] entry says where to deliver"))?;
        let raw_secrets = raw.secrets.unwrap_or_default();
        if raw_secrets.is_empty() {
            return Err(ConfigError::missing(
                path("secrets"),
                "every [[webhooks]] entry needs a whsec_ secret to sign with",
            ));
        }
        let mut secrets = Vec::new();
        for (n, secret) in raw_secrets.into_iter().enumerate() {
            check_webhook_secret(&secret)
                .map_err(|p| ConfigError::invalid(path("secrets"), format!("secret {}: {p}", n + 1)))?;
            secrets.push(Secret::new(secret));
        }
        let events = match raw.events {
            None => None,
            Some(names) if names.is_empty() => {
                return Err(ConfigError::invalid(
                    path("events"),
                    "is empty; leave it out to receive every event",
                ));
            }
            Some(names) => {
                let mut events = Vec::new();
                for name in names {
                    let event = name.parse::<WebhookEvent>().ok().ok_or_else(|| {
                        ConfigError::invalid(path("events"), format!("{name:?} is not an event type"))
                    })?;
                    if !events.contains(&event) {
                        events.push(event);
                    }
                }
                Some(events)
            }
        };
        let retry_for = self.duration(&path("retry_for"), raw.retry_for, 3 * DAY)?;
        Ok(WebhookConfig {
            url,
            secrets,
            events,
            retry_for,
        })
    }
}

/// Checks a secret's shape without ever quoting it.
fn check_secret(value: &str, min_chars: usize) -> Result<(), String> {
    if value.trim() != value {
        return Err("must not begin or end with spaces".to_owned());
    }
    if value.chars().count() < min_chars {
        return Err(format!("too short (at least {min_chars} characters)"));
    }
    Ok(())
}

/// 40 characters, hexadecimal except that the last two may use the bank's special letters (see the core
/// crate's cmcic key rules, which do the actual derivation).
fn looks_like_bank_key(key: &str) -> bool {
    key.len() == 40 && key.bytes().all(|b| b.is_ascii_alphanumeric() || (71..=96).contains(&b))
}

fn check_webhook_secret(secret: &str) -> Result<(), String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| "must start with whsec_".to_owned())?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "must be whsec_ followed by base64".to_owned())?;
    if key.len() < MIN_WEBHOOK_SECRET_BYTES {
        return Err(format!(
            "too short (at least {MIN_WEBHOOK_SECRET_BYTES} bytes once decoded)"
        ));
    }
    Ok(())
}

/// A `database.url` the server can run on. `sqlite::memory:` is the store's, for tests: each connection
/// would see its own empty database, and everything would be gone at the next start.
fn server_database_url(text: &str) -> Result<DatabaseUrl, String> {
    match DatabaseUrl::parse(text) {
        Ok(DatabaseUrl::SqliteMemory) => {
            Err("sqlite::memory: keeps nothing across restarts and is for tests; use sqlite://<path>".to_owned())
        }
        Ok(url) => Ok(url),
        Err(crate::store::OpenError::Url(reason)) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_is_spelled_as_its_own_enum_writes_it() {
        for mode in [PaypalMode::Simulator, PaypalMode::Sandbox, PaypalMode::Live] {
            assert_eq!(spelled::<PaypalMode>(mode.as_str()), Some(mode));
            assert!(PAYPAL_MODES.contains(mode.as_str()));
        }
        for mode in [CmcicMode::Simulator, CmcicMode::Test, CmcicMode::Production] {
            assert_eq!(spelled::<CmcicMode>(mode.as_str()), Some(mode));
            assert!(CMCIC_MODES.contains(mode.as_str()));
        }
        for protocol in [CmcicProtocol::Monetico, CmcicProtocol::Legacy] {
            assert_eq!(spelled::<CmcicProtocol>(protocol.as_str()), Some(protocol));
        }
        assert_eq!(spelled::<LibrementMode>("embedded"), Some(LibrementMode::Embedded));
        assert_eq!(
            spelled::<LibrementMode>("non_embedded"),
            Some(LibrementMode::NonEmbedded)
        );
        for wrong in ["", "Live", "production ", "nonembedded"] {
            assert_eq!(spelled::<PaypalMode>(wrong), None, "{wrong:?}");
            assert_eq!(spelled::<LibrementMode>(wrong), None, "{wrong:?}");
        }
    }
}
