//! `librement-server serve`: builds everything from the configuration and runs the HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use payment_buttons::engine::Engine;
use payment_buttons::gateway::ServiceUrls;
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

use crate::app::{ApiKeys, AppState};
use crate::config::{CmcicMode, Config, ConfigError, PaypalMode, resolve_secret_key};
use crate::demo::{Demo, EventFeed, Offered};
use crate::rate_limits::RateLimits;
use crate::simulator::cmcic::CmcicSimulator;
use crate::simulator::paypal::PaypalSimulator;
use crate::store::ServerStore;
use crate::webhooks::{Webhooks, WorkerOptions};
use crate::{gateways, pages, simulator};

/// Verified messages of different payments applied at once on PostgreSQL: half the store's pool of eight
/// connections, leaving the rest to intake's log writer, claims and the event dispatcher.
const POSTGRES_APPLY_CONCURRENCY: usize = 4;

/// Most verified messages applied in one transaction on SQLite. A batch holds SQLite's one writer, and the
/// gateway log waits for the batch in progress (it goes before the ones queued after it): 32 applications
/// held it 6-10 ms and made intake's p99 at 1,000 req/s 13 ms; 8 hold it 2-3 ms. PostgreSQL, which locks
/// rows rather than the database, keeps the engine's default.
const SQLITE_APPLY_BATCH: usize = 8;

/// Why the server could not start. One line each, naming what is wrong; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The address could not be bound.
    #[error("server.bind: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database.url: {0}")]
    Database(String),
    /// A gateway could not be set up.
    #[error(transparent)]
    Gateway(#[from] gateways::GatewaySetupError),
    /// Anything else at start-up (templates, the HTTP server).
    #[error("{0}")]
    Other(String),
}

/// How often workers look for due retries when nothing wakes them.
const WORKER_POLL: Duration = Duration::from_secs(2);
/// How often the rate limiters forget addresses whose quota is full again.
const LIMITS_CLEANUP: Duration = Duration::from_secs(60);

/// Everything the HTTP server mounts, built from the configuration: the app state (engine, templates,
/// buttons) and, in simulator mode, the gateway simulators.
pub struct Assembled {
    /// The shared state of every route.
    pub state: Arc<AppState<ServerStore>>,
    /// Wakes the message worker (see [`payment_buttons::actix::spawn_workers`]).
    pub wake: Arc<tokio::sync::Notify>,
    /// The CM-CIC simulator, in simulator mode.
    pub cmcic_simulator: Option<Arc<CmcicSimulator>>,
    /// The PayPal simulator, in simulator mode.
    pub paypal_simulator: Option<Arc<PaypalSimulator>>,
    /// Webhook delivery, when `[[webhooks]]` names endpoints.
    pub webhooks: Option<Webhooks>,
    /// The Librement pages under `/librement`, when Librement is enabled.
    pub librement: Option<Arc<librement_pay::web::Librement<ServerStore>>>,
    /// Sends Librement's e-mail: SMTP (`[mail]`) or the simulator's mailbox.
    pub mailer: Arc<dyn librement_pay::mail::Mailer>,
    /// The simulator's mailbox page, in simulator mode.
    pub mailbox: Option<Arc<simulator::mail::MailboxPage<ServerStore>>>,
    /// Wakes the mail worker when a message is queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// The store, for the workers.
    pub store: ServerStore,
    /// The demo shop, when `server.demo` is on.
    pub demo: Option<Arc<Demo>>,
    /// The per-address limits of `[limits]`.
    pub limits: Arc<RateLimits>,
    /// The operator console under `/admin`.
    pub console: Arc<crate::admin::Console>,
    /// `/metrics` and `/readyz`.
    pub observability: Arc<crate::metrics::Observability>,
}

impl Assembled {
    /// Mounts every route: the core's, the server's pages and API, and the simulators.
    pub fn configure(&self) -> impl FnOnce(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static {
        let state = self.state.clone();
        let cmcic = self.cmcic_simulator.clone();
        let paypal = self.paypal_simulator.clone();
        let librement = self.librement.clone();
        let demo = self.demo.clone();
        let mailbox = self.mailbox.clone();
        let console = self.console.clone();
        let observability = self.observability.clone();
        move |cfg: &mut actix_web::web::ServiceConfig| {
            crate::app::configure(state)(cfg);
            crate::metrics::configure(observability)(cfg);
            crate::admin::configure(console)(cfg);
            if let Some(librement) = librement {
                librement_pay::web::configure(librement)(cfg);
            }
            if let Some(mailbox) = mailbox {
                simulator::mail::configure(mailbox)(cfg);
            }
            if let Some(sim) = cmcic {
                simulator::cmcic::configure(sim)(cfg);
            }
            if let Some(sim) = paypal {
                simulator::paypal::configure(sim)(cfg);
            }
            if let Some(demo) = demo {
                crate::demo::configure(demo)(cfg);
            }
        }
    }
}

/// Builds the engine, the gateways, the pages and the simulators over `store`.
pub fn assemble(
    config: &Config,
    public_url: &url::Url,
    secret: &[u8],
    store: ServerStore,
) -> Result<Assembled, StartError> {
    let built = gateways::build(config, public_url, secret)?;
    // Librement is a payment option of ordinary buttons: a gateway whose hand-off leads to its pages.
    let all_gateways = if config.librement.enabled {
        built
            .all
            .clone()
            .with(Arc::new(librement_pay::gateway::LibrementGateway))
    } else {
        built.all.clone()
    };
    let urls =
        ServiceUrls::new(public_url.as_str()).map_err(|e| StartError::Other(format!("server.public_url: {e}")))?;
    let signer = ButtonSigner::new(secret);
    let wake = Arc::new(tokio::sync::Notify::new());
    let wake_for_engine = wake.clone();
    let mut engine = Engine::new(
        Arc::new(store.clone()),
        all_gateways.clone(),
        signer.clone(),
        urls.clone(),
    )
    .with_token_ttl(config.server.button_token_ttl)
    .with_abandon_after(config.server.abandon_after)
    .with_notify_body_limit(config.limits.notify_body_bytes)
    .with_concurrency(config.engine.verification_concurrency)
    // SQLite has one writer: applying in parallel would only queue on its lock. PostgreSQL locks the
    // payment's row only, so verified messages of different payments are applied side by side.
    .with_apply_concurrency(
        config
            .engine
            .apply_concurrency
            .unwrap_or(if config.database.url.is_postgres() {
                POSTGRES_APPLY_CONCURRENCY
            } else {
                1
            }),
    )
    .with_apply_batch(if config.database.url.is_postgres() {
        payment_buttons::engine::DEFAULT_APPLY_BATCH
    } else {
        SQLITE_APPLY_BATCH
    })
    .with_metrics_prefix(crate::metrics::PREFIX)
    .with_wakeup(Arc::new(move || wake_for_engine.notify_one()));
    // Webhooks: the outbox fans events out to delivery rows; a worker sends them.
    let webhooks = if config.webhooks.is_empty() {
        None
    } else {
        let webhooks = Webhooks::new(store.clone(), &config.webhooks).map_err(|e| StartError::Other(e.to_string()))?;
        engine = engine.with_listener(webhooks.fanout());
        Some(webhooks)
    };
    // The demo's events panel is an in-process listener, as a shop's own code would be.
    let demo_feed = config.server.demo.then(|| Arc::new(EventFeed::default()));
    if let Some(feed) = &demo_feed {
        engine = engine.with_listener(feed.clone());
    }
    let engine = Arc::new(engine);
    let templates = Arc::new(pages::templates().map_err(|e| StartError::Other(format!("templates: {e}")))?);
    let buttons = ButtonFunction::new(signer, urls.pay())
        .with_gateways(all_gateways)
        .with_ttl(config.server.button_token_ttl);
    let simulator = config.is_simulator();
    let mail_wake = Arc::new(tokio::sync::Notify::new());
    let mailer = crate::mail::mailer(config.mail.as_ref()).map_err(StartError::Other)?;
    let mailbox = simulator.then(|| {
        Arc::new(simulator::mail::MailboxPage::new(
            Arc::new(store.clone()),
            templates.clone(),
            urls.base(),
        ))
    });
    let store_for_metrics = store.clone();
    let payout_hold = chrono::Duration::from_std(config.librement.payout_hold)
        .map_err(|_| StartError::Other("librement.payout_hold: too long".into()))?;
    let hashing =
        librement_pay::accounts::PasswordHashing::owasp().map_err(|e| StartError::Other(format!("librement: {e}")))?;
    // One argon2 hash per core at a time (19 MiB each), Librement's and operators' together; a burst
    // queues, then gets 503.
    let slots = Arc::new(librement_pay::web::HashingSlots::for_this_machine());
    let console = Arc::new(crate::admin::Console {
        store: store.clone(),
        templates: templates.clone(),
        hashing: hashing.clone(),
        slots: slots.clone(),
        throttle: librement_pay::accounts::Throttle::default(),
        secure_cookies: librement_pay::web::needs_secure_cookies(public_url.as_str()),
        simulator,
        endpoints: webhooks.as_ref().map(|w| w.endpoints().to_vec()).unwrap_or_default(),
        webhook_wake: webhooks.as_ref().map(Webhooks::wake),
        engine_wake: Some(wake.clone()),
        engine: engine.clone(),
    });
    let librement = Arc::new(librement_pay::web::Librement {
        store: Arc::new(store.clone()),
        engine: engine.clone(),
        templates: templates.clone(),
        key: librement_pay::session::SessionKey::derive(secret),
        hashing,
        slots,
        throttle: librement_pay::accounts::Throttle::default(),
        mode: config.librement.mode,
        gateways: config
            .librement
            .gateways
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        secure_cookies: librement_pay::web::needs_secure_cookies(public_url.as_str()),
        simulator: config.is_simulator(),
        accounts: librement_pay::web::AccountSettings {
            top_up: librement_pay::web::TopUpBounds {
                min: config.librement.top_up_min,
                max: config.librement.top_up_max,
            },
            payout_hold,
            mail_throttle: librement_pay::email_tokens::MailThrottle::default(),
            mail_wake: mail_wake.clone(),
        },
    });
    let demo = match demo_feed {
        Some(feed) => {
            let offered = Offered {
                paypal: built.all.get("paypal").is_some(),
                // Checkout's subscriptions are paid to paypal.business, the account that owns the plans.
                paypal_subscriptions: built.all.get("paypal").is_some()
                    && config.paypal.as_ref().is_some_and(|p| {
                        p.integration == payment_buttons::paypal::PaypalIntegration::Standard || p.business.is_some()
                    }),
                paypal_checkout: config
                    .paypal
                    .as_ref()
                    .is_some_and(|p| p.integration == payment_buttons::paypal::PaypalIntegration::Checkout),
                cmcic: built.all.get("cmcic").is_some(),
            };
            let demo = Demo::new(buttons.clone(), feed, urls.base(), offered, simulator)
                .map_err(|e| StartError::Other(format!("demo templates: {e}")))?;
            Some(Arc::new(demo))
        }
        None => None,
    };
    let state = Arc::new(AppState {
        engine: engine.clone(),
        templates,
        buttons,
        api_keys: ApiKeys::new(config.server.api_keys.iter().map(|k| k.expose().to_owned())),
        simulator,
        trusted_proxies: config.server.trusted_proxies.clone(),
        refunds: Arc::new(crate::refunds::LibrementRefunds(engine.clone())),
    });

    let cmcic_simulator = match (&built.cmcic, config.cmcic.as_ref().map(|c| c.mode)) {
        (Some(gateway), Some(CmcicMode::Simulator)) => Some(Arc::new(
            CmcicSimulator::new(gateway.clone(), state.templates.clone(), &urls)
                .map_err(|e| StartError::Other(format!("CM-CIC simulator: {e}")))?,
        )),
        _ => None,
    };

    let paypal_simulator = match config.paypal.as_ref() {
        Some(paypal) if paypal.mode == PaypalMode::Simulator => {
            let client =
                simulator::paypal::default_client().map_err(|e| StartError::Other(format!("PayPal simulator: {e}")))?;
            // Its APIs accept exactly the credentials the gateway was built with.
            let credentials = gateways::paypal_api_credentials(paypal);
            let mut sim = PaypalSimulator::new(state.templates.clone(), client)
                // It only ever posts IPNs to this server: never a relay to other hosts.
                .only_notify_under(format!("{}/notify/", urls.base()));
            if let (Some((client_id, client_secret)), Some((nvp_user, nvp_password, nvp_signature))) =
                (credentials.rest, credentials.nvp)
            {
                sim = sim.with_api_credentials(simulator::paypal::ApiCredentials {
                    client_id,
                    client_secret: client_secret.expose().to_owned(),
                    nvp_user,
                    nvp_password: nvp_password.expose().to_owned(),
                    nvp_signature: nvp_signature.expose().to_owned(),
                    // One simulator stands in for every account: its credentials act for all of them,
                    // so that the demo shop's payments (to their own paypal_email) can be refunded.
                    account: None,
                });
            }
            if paypal.integration == payment_buttons::paypal::PaypalIntegration::Checkout {
                let api = paypal.api_url(public_url).to_string();
                sim = sim.with_checkout_webhooks(simulator::paypal::CheckoutWebhooks {
                    url: format!("{}/notify/paypal/webhook", urls.base()),
                    webhook_id: gateways::paypal_webhook_id(paypal).unwrap_or_default(),
                    cert_url: format!("{}{}", api.trim_end_matches('/'), simulator::paypal::CERT_PATH),
                });
            }
            Some(Arc::new(sim))
        }
        _ => None,
    };

    Ok(Assembled {
        state,
        wake,
        cmcic_simulator,
        paypal_simulator,
        webhooks,
        librement: config.librement.enabled.then_some(librement),
        mailer,
        mailbox,
        mail_wake,
        store,
        demo,
        limits: Arc::new(RateLimits::new(&config.limits)),
        console,
        observability: Arc::new(crate::metrics::Observability::new(
            store_for_metrics,
            config.metrics.clone(),
        )),
    })
}

/// Runs the server until it is stopped. `data_dir` holds the generated secret key.
pub async fn serve(config: Config, data_dir: &Path) -> Result<(), StartError> {
    let bind = config.server.bind.to_string();
    let listener = TcpListener::bind(&bind).map_err(|source| StartError::Bind {
        addr: bind.clone(),
        source,
    })?;
    let bound: SocketAddr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let public_url = config.public_url(bound);
    let secret = resolve_secret_key(&config, data_dir)?;

    let store = ServerStore::open_blocking(&config.database.url).map_err(|e| StartError::Database(e.to_string()))?;
    let assembled = assemble(&config, &public_url, secret.as_bytes(), store)?;
    let simulator = assembled.state.simulator;
    // Background work runs on its own, lower-priority runtime: answering gateways and buyers goes first.
    let background = crate::background::runtime().map_err(|e| StartError::Other(format!("background runtime: {e}")))?;
    let (workers, webhook_worker, limits_cleanup, mail_worker) = {
        let _on_background = background.enter();
        let workers =
            payment_buttons::actix::spawn_workers(assembled.state.engine.clone(), assembled.wake.clone(), WORKER_POLL);
        let webhook_worker = match &assembled.webhooks {
            Some(w) => Some(
                w.spawn_worker(WorkerOptions::default())
                    .map_err(|e| StartError::Other(e.to_string()))?,
            ),
            None => None,
        };
        let limits_cleanup = assembled.limits.spawn_cleanup(LIMITS_CLEANUP);
        let mail_worker = tokio::spawn(librement_pay::mail::run_worker(
            Arc::new(assembled.store.clone()),
            assembled.mailer.clone(),
            assembled.mail_wake.clone(),
            WORKER_POLL,
        ));
        (workers, webhook_worker, limits_cleanup, mail_worker)
    };
    let obs = &assembled.observability;
    for (name, task) in workers.handles() {
        obs.workers.watch(name, task);
    }
    for task in webhook_worker.iter().flat_map(|w| w.handles()) {
        obs.workers.watch("webhooks", task);
    }
    obs.workers.watch("mail", mail_worker.abort_handle());
    let mount = assembled.configure();
    let limits = assembled.limits.clone();
    let server = HttpServer::new(move || crate::app::application(mount.clone(), limits.clone()))
        .listen(listener)
        .map_err(|e| StartError::Other(format!("HTTP server: {e}")))?
        .run();

    let modes: Vec<String> = config
        .cmcic
        .iter()
        .map(|c| format!("cmcic={}", c.mode.as_str()))
        .chain(config.paypal.iter().map(|p| format!("paypal={}", p.mode.as_str())))
        .collect();
    // Tests and scripts read this line to learn the port chosen for `:0`.
    println!("librement-server listening on http://{bound}");
    if simulator {
        println!("simulator mode: no real payment is made ({})", modes.join(", "));
    } else {
        println!("gateways: {}", modes.join(", "));
    }
    println!("public URL: {public_url}; database: {}", config.database.url.redacted());
    let result = server.await.map_err(|e| StartError::Other(format!("HTTP server: {e}")));
    workers.abort();
    limits_cleanup.abort();
    mail_worker.abort();
    drop(webhook_worker);
    drop(background);
    result
}

/// `librement-server migrate`: runs pending migrations and exits.
pub fn migrate(config: &Config) -> Result<(), StartError> {
    ServerStore::open_blocking(&config.database.url).map_err(|e| StartError::Database(e.to_string()))?;
    println!("migrations applied: {}", config.database.url.redacted());
    Ok(())
}
