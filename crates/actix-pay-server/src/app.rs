//! The actix application: the core's routes (`/pay`, `/notify/{gateway}`, the status page `/payments/{id}`
//! in the server's style), the server's pages and API.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, middleware, web};
use payment_buttons::engine::Engine;
use payment_buttons::forwarded::TrustedProxies;
use payment_buttons::store::Store;
use payment_buttons::tera::ButtonFunction;

use crate::rate_limits::{self, RateLimits};
use crate::{api, health, pages};

/// Bearer keys of the API (`server.api_keys`), compared in constant time (see [`api::Authorized`]).
#[derive(Clone, Default)]
pub struct ApiKeys(Vec<Vec<u8>>);

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.0.len())
    }
}

impl ApiKeys {
    /// From the configured keys.
    pub fn new(keys: impl IntoIterator<Item = String>) -> Self {
        ApiKeys(
            keys.into_iter()
                .filter(|k| !k.is_empty())
                .map(String::into_bytes)
                .collect(),
        )
    }

    /// True when `candidate` is one of the keys. Every key is compared, in constant time.
    pub fn accepts(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        let candidate = candidate.as_bytes();
        self.0
            .iter()
            .fold(false, |found, key| found | bool::from(key.as_slice().ct_eq(candidate)))
    }
}

/// What every handler of the server shares.
pub struct AppState<S: Store> {
    /// The payment pipeline.
    pub engine: Arc<Engine<S>>,
    /// The server's templates.
    pub templates: Arc<tera::Tera>,
    /// Renders buttons (for the API and the demo shop).
    pub buttons: ButtonFunction,
    /// Keys for `POST /api/buttons`.
    pub api_keys: ApiKeys,
    /// True when every gateway runs in simulator mode (pages show a banner).
    pub simulator: bool,
    /// `server.trusted_proxies`, offered to every handler (see [`payment_buttons::actix::client_ip`]).
    pub trusted_proxies: TrustedProxies,
    /// Makes the refunds of the payments API (Librement purchases by their parts).
    pub refunds: Arc<dyn crate::refunds::Refunder>,
}

/// Mounts every route of the server.
pub fn configure<S: Store>(state: Arc<AppState<S>>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let status_page = pages::status::ServerStatusPage::new(state.templates.clone(), state.simulator);
        payment_buttons::actix::configure_with(state.engine.clone(), Arc::new(status_page))(cfg);
        cfg.app_data(web::Data::new(state.trusted_proxies.clone()))
            .app_data(web::Data::new(state.api_keys.clone()))
            .app_data(web::Data::from(state))
            .route("/static/{name}", web::get().to(pages::assets::serve))
            .route("/healthz", web::get().to(health::check::<S>))
            .configure(api::configure::<S>);
    }
}

/// The whole application as `librement-server serve` runs it: the routes of `mount`, behind (outermost
/// first) path normalization, the security headers of every page (429s included) and the per-address
/// `limits`.
pub fn application<F>(
    mount: F,
    limits: Arc<RateLimits>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
>
where
    F: FnOnce(&mut web::ServiceConfig),
{
    App::new()
        .app_data(web::Data::from(limits))
        .wrap(middleware::from_fn(rate_limits::limit))
        // Outside the limits: a 429 is counted too.
        .wrap(middleware::from_fn(crate::metrics::record_request))
        .wrap(payment_buttons::actix::security_headers())
        .wrap(middleware::NormalizePath::trim())
        .configure(mount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_accept_only_configured_keys() {
        let keys = ApiKeys::new(["k1".to_owned(), "a-longer-key".to_owned(), String::new()]);
        assert!(keys.accepts("k1"));
        assert!(keys.accepts("a-longer-key"));
        assert!(!keys.accepts("k2"));
        assert!(!keys.accepts(""), "an empty configured key must not open the API");
        assert!(!ApiKeys::default().accepts("anything"));
    }
}
