//! The Librement pages over a Diesel store of any backend (see `store.rs`), with the helpers that read
//! what a browser would: the session and device cookies, the CSRF field, the redirect target.
#![allow(dead_code)]

use std::sync::Arc;

use actix_pay_server::app::{ApiKeys, AppState};
use actix_pay_server::store::ServerStore;
use actix_web::test as atest;
use librement_pay::accounts::{PasswordHashing, Throttle};
use librement_pay::gateway::LibrementGateway;
use librement_pay::session::SessionKey;
use librement_pay::web::{HashingSlots, Librement, Mode};
use payment_buttons::engine::Engine;
use payment_buttons::forwarded::TrustedProxies;
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::paypal::testing::ScriptedPostback;
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

/// The public URL of these tests.
pub const BASE: &str = "http://127.0.0.1:8080";
/// A password every estimator finds strong enough.
pub const PASSWORD: &str = "correct horse battery";

/// The core's state and the Librement pages over one store.
pub struct Pages {
    /// The core's engine (to sign buttons).
    pub engine: Arc<Engine<ServerStore>>,
    /// The core's routes.
    pub state: Arc<AppState<ServerStore>>,
    /// The Librement pages.
    pub librement: Arc<Librement<ServerStore>>,
}

/// The pages over `store` in embedded mode, hashing with the service's parameters, `slots` bounding the
/// hashes in flight.
pub fn pages(store: &ServerStore, slots: HashingSlots) -> Pages {
    pages_with(store, Mode::Embedded, TrustedProxies::default(), slots)
}

/// The pages over `store` in `mode`, behind `trusted_proxies`.
pub fn pages_with(store: &ServerStore, mode: Mode, trusted_proxies: TrustedProxies, slots: HashingSlots) -> Pages {
    let signer = ButtonSigner::new(b"test secret");
    let urls = ServiceUrls::new(BASE).unwrap();
    let paypal = PaypalConfig::new(
        PaypalMode::Simulator,
        PaypalOverrides {
            business: Some("seller@example.com".into()),
            webscr_url: Some(format!("{BASE}/simulator/paypal/webscr")),
            postback_url: Some(format!("{BASE}/simulator/paypal/postback")),
            logo_url: None,
            ..Default::default()
        },
    )
    .unwrap();
    let gateways = Gateways::new()
        .with(Arc::new(LibrementGateway))
        // These tests never verify an IPN.
        .with(Arc::new(PaypalGateway::new(
            paypal,
            ScriptedPostback::failing("not used in these tests").shared(),
        )));
    let engine = Arc::new(Engine::new(
        Arc::new(store.clone()),
        gateways.clone(),
        signer.clone(),
        urls.clone(),
    ));
    let templates = Arc::new(actix_pay_server::pages::templates().unwrap());
    let state = Arc::new(AppState {
        engine: engine.clone(),
        templates: templates.clone(),
        buttons: ButtonFunction::new(signer, urls.pay()).with_gateways(gateways),
        api_keys: ApiKeys::default(),
        simulator: true,
        trusted_proxies,
        refunds: Arc::new(actix_pay_server::refunds::LibrementRefunds(engine.clone())),
    });
    let librement = Arc::new(Librement {
        store: Arc::new(store.clone()),
        engine: engine.clone(),
        templates,
        key: SessionKey::derive(b"test secret"),
        hashing: PasswordHashing::owasp().unwrap(),
        slots: Arc::new(slots),
        throttle: Throttle::default(),
        mode,
        gateways: vec!["paypal".into()],
        secure_cookies: false,
        simulator: true,
        accounts: librement_pay::web::AccountSettings::default(),
    });
    Pages {
        engine,
        state,
        librement,
    }
}

/// The app of `pages`, as `actix_web::test` serves it (the module is included with `#[macro_use]`).
#[allow(unused_macros)]
macro_rules! librement_app {
    ($pages:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(actix_pay_server::app::configure($pages.state.clone()))
                .configure(librement_pay::web::configure($pages.librement.clone())),
        )
        .await
    };
}

/// The value of the hidden `csrf` field of a page.
pub fn csrf(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The cookie named `name` that a response sets, as `name=value`.
pub fn cookie_set(resp: &actix_web::dev::ServiceResponse, name: &str) -> Option<String> {
    resp.response()
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| format!("{name}={}", c.value()))
}

/// The response's body as text.
pub async fn body(resp: actix_web::dev::ServiceResponse) -> String {
    String::from_utf8(atest::read_body(resp).await.to_vec()).unwrap()
}

/// The `Location` of a redirect.
pub fn location(resp: &actix_web::dev::ServiceResponse) -> String {
    resp.headers().get("location").unwrap().to_str().unwrap().to_owned()
}

/// What `actix_web::test::init_service` returns.
pub trait TestApp:
    actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse, Error = actix_web::Error>
{
}
impl<S> TestApp for S where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >
{
}

/// One browser: its cookies (kept and dropped as the answers say) and its address.
#[derive(Debug, Clone)]
pub struct Browser {
    cookies: std::collections::BTreeMap<String, String>,
    address: std::net::SocketAddr,
}

impl Browser {
    /// A browser without cookies, connecting from `ip`.
    pub fn at(ip: &str) -> Self {
        Browser {
            cookies: Default::default(),
            address: format!("{ip}:40000").parse().unwrap(),
        }
    }

    /// The value of its cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets a cookie as another site could not (to put a copied cookie in this browser).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    fn keep(&mut self, resp: &actix_web::dev::ServiceResponse) {
        for c in resp.response().cookies() {
            if c.value().is_empty() {
                self.cookies.remove(c.name());
            } else {
                self.cookies.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    fn request(&self, req: atest::TestRequest) -> actix_http::Request {
        let mut req = req.peer_addr(self.address);
        if !self.cookies.is_empty() {
            let header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.insert_header(("cookie", header.join("; ")));
        }
        req.to_request()
    }

    /// GET `uri`; the status and the page.
    pub async fn get(&mut self, app: &impl TestApp, uri: &str) -> (actix_web::http::StatusCode, String) {
        let resp = atest::call_service(app, self.request(atest::TestRequest::get().uri(uri))).await;
        self.keep(&resp);
        (resp.status(), body(resp).await)
    }

    /// POST a form to `uri`; the answer (its cookies already kept).
    pub async fn post(
        &mut self,
        app: &impl TestApp,
        uri: &str,
        form: &[(&str, &str)],
    ) -> actix_web::dev::ServiceResponse {
        let resp = atest::call_service(app, self.request(atest::TestRequest::post().uri(uri).set_form(form))).await;
        self.keep(&resp);
        resp
    }

    /// Opens the sign-in page and signs in as `email`; the answer.
    pub async fn sign_in(
        &mut self,
        app: &impl TestApp,
        email: &str,
        password: &str,
    ) -> actix_web::dev::ServiceResponse {
        let (_, page) = self.get(app, "/librement/sign-in").await;
        let token = csrf(&page);
        self.post(
            app,
            "/librement/sign-in",
            &[("csrf", &token), ("email", email), ("password", password)],
        )
        .await
    }

    /// Opens the sign-up page and creates an account; the answer.
    pub async fn sign_up(
        &mut self,
        app: &impl TestApp,
        email: &str,
        password: &str,
        lang: &str,
    ) -> actix_web::dev::ServiceResponse {
        let (_, page) = self.get(app, &format!("/librement/sign-up?lang={lang}")).await;
        let token = csrf(&page);
        self.post(
            app,
            "/librement/sign-up",
            &[
                ("csrf", &token),
                ("email", email),
                ("display_name", "Ann Reader"),
                ("password", password),
                ("lang", lang),
            ],
        )
        .await
    }

    /// True when `/librement/account` shows an account to this browser.
    pub async fn is_signed_in(&mut self, app: &impl TestApp) -> bool {
        self.get(app, "/librement/account").await.0 == actix_web::http::StatusCode::OK
    }
}
