//! A complete shop on payment-buttons: one page with a PayPal button rendered by the Tera function, the
//! payment routes mounted in the same actix-web app, the workers running on the durable Diesel store
//! (SQLite), and a listener that logs every event. The crate's README walks through it.
//!
//! ```text
//! cargo run -p payment-buttons --example shop --features actix,tera,reqwest,diesel
//! ```
//!
//! Then open http://127.0.0.1:8000. Settings, from the environment:
//! - `SHOP_PUBLIC_URL` (default `http://127.0.0.1:8000`): the address PayPal sends the buyer back to and
//!   posts its notifications to (it must reach this process for payments to complete);
//! - `SHOP_DATABASE_URL` (default `sqlite://shop-data/shop.sqlite3`; `postgres://...` works too);
//! - `SHOP_SECRET`: the key that signs buttons (32 bytes or more; a fixed development key otherwise);
//! - `PAYPAL_BUSINESS`: your PayPal sandbox seller account (default `seller@example.com`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use payment_buttons::diesel::DieselStore;
use payment_buttons::engine::Engine;
use payment_buttons::event::{Event, Listener, ListenerError};
use payment_buttons::gateway::{Gateways, ServiceUrls};
use payment_buttons::paypal::{PaypalConfig, PaypalGateway, PaypalMode, PaypalOverrides};
use payment_buttons::tera::ButtonFunction;
use payment_buttons::token::ButtonSigner;

/// The shop's one page: the button is the `payment_button` function's output.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The manual shop</title></head>
<body>
<h1>The manual</h1>
<p>Everything about payment buttons, as a PDF.</p>
{{ payment_button(config=button) }}
</body></html>
"#;

/// What the button sells, where the buyer goes afterwards.
fn button(public_url: &str) -> serde_json::Value {
    serde_json::json!({
        "order_reference": format!("ORDER-{}", chrono::Utc::now().timestamp()),
        "options": [{ "description": "The manual, PDF", "amount": "12.50", "currency": "EUR" }],
        "payment_options": { "paypal": {} },
        "urls": {
            "back": format!("{public_url}/"),
            "accepted": format!("{public_url}/thanks"),
            "declined": format!("{public_url}/"),
        }
    })
}

/// The shop's own code that reacts to payments: here, it logs them. An error makes the outbox retry.
struct LogEvents;

#[async_trait::async_trait]
impl Listener for LogEvents {
    async fn handle(&self, event: &Event) -> Result<(), ListenerError> {
        println!(
            "event {} {}: payment {} of order {} is {}",
            event.id,
            event.kind.as_str(),
            event.payment.id,
            event.payment.order_reference,
            event.payment.state.as_str()
        );
        Ok(())
    }
}

async fn shop_page(tera: web::Data<tera::Tera>, urls: web::Data<ServiceUrls>) -> HttpResponse {
    let mut context = tera::Context::new();
    context.insert("button", &button(urls.base()));
    match tera.render("shop.html", &context) {
        Ok(html) => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            eprintln!("page failed: {e:?}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn thanks() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><title>Thank you</title><h1>Thank you!</h1><p>Your manual is on its way.</p>")
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let public_url = setting("SHOP_PUBLIC_URL", "http://127.0.0.1:8000");
    let secret = setting("SHOP_SECRET", "a development key: set SHOP_SECRET in production");

    // The durable store: the core's tables in SQLite, created and migrated on first start.
    let store = DieselStore::open(&setting("SHOP_DATABASE_URL", "sqlite://shop-data/shop.sqlite3")).await?;

    // PayPal's sandbox; IPNs are verified by posting them back to PayPal over HTTPS.
    let paypal = PaypalConfig::new(
        PaypalMode::Sandbox,
        PaypalOverrides {
            business: Some(setting("PAYPAL_BUSINESS", "seller@example.com")),
            ..PaypalOverrides::default()
        },
    )?;
    let gateways = Gateways::new().with(Arc::new(PaypalGateway::with_reqwest(paypal)?));

    let urls = ServiceUrls::new(&public_url)?;
    let signer = ButtonSigner::new(secret.as_bytes());
    let wake = Arc::new(tokio::sync::Notify::new());
    let wake_on_log = wake.clone();
    let engine = Arc::new(
        Engine::new(Arc::new(store), gateways.clone(), signer.clone(), urls.clone())
            .with_listener(Arc::new(LogEvents))
            // A logged notification wakes the worker at once instead of at its next poll.
            .with_wakeup(Arc::new(move || wake_on_log.notify_one())),
    );
    // Verify and apply notifications, hand events to the listener, mark unpaid payments abandoned.
    let workers = payment_buttons::actix::spawn_workers(engine.clone(), wake, Duration::from_secs(2));

    let mut tera = tera::Tera::default();
    tera.register_function(
        "payment_button",
        ButtonFunction::new(signer, urls.pay()).with_gateways(gateways),
    );
    tera.add_raw_template("shop.html", PAGE)?;

    println!("the shop listens on http://127.0.0.1:8000 (public URL {public_url})");
    HttpServer::new(move || {
        App::new()
            .wrap(payment_buttons::actix::security_headers())
            // /pay, /notify/{gateway}, the buyer's status page /payments/{id}
            .configure(payment_buttons::actix::configure(engine.clone()))
            .app_data(web::Data::new(tera.clone()))
            .app_data(web::Data::new(urls.clone()))
            .route("/", web::get().to(shop_page))
            .route("/thanks", web::get().to(thanks))
    })
    .bind(("127.0.0.1", 8000))?
    .run()
    .await?;
    workers.abort();
    Ok(())
}
