//! The server's own pages, rendered from the Tera templates under the repository's `templates/`,
//! embedded in the binary at build time so that it runs from any directory.
//!
//! `base.html` is the layout of every page, the Librement pages included (their templates are
//! librement-pay's, [`librement_pay::web::TEMPLATES`]). When every gateway is a simulator it shows a
//! banner saying so, in the words of [`PageWords::simulator_banner`], through the template function
//! `simulator_banner(lang=...)`, so that pages rendered by other crates need not carry those words.

pub mod assets;
pub mod status;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use serde::Serialize;

/// Every template, embedded.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../../templates/base.html")),
    ("status.html", include_str!("../../../../templates/status.html")),
    ("error.html", include_str!("../../../../templates/error.html")),
    ("demo/shop.html", include_str!("../../../../templates/demo/shop.html")),
    (
        "demo/result.html",
        include_str!("../../../../templates/demo/result.html"),
    ),
    (
        "simulator/cmcic.html",
        include_str!("../../../../templates/simulator/cmcic.html"),
    ),
    (
        "simulator/cmcic_notify_failed.html",
        include_str!("../../../../templates/simulator/cmcic_notify_failed.html"),
    ),
    (
        "simulator/cmcic_payments.html",
        include_str!("../../../../templates/simulator/cmcic_payments.html"),
    ),
    (
        "simulator/paypal_checkout.html",
        include_str!("../../../../templates/simulator/paypal_checkout.html"),
    ),
    (
        "simulator/paypal_payments.html",
        include_str!("../../../../templates/simulator/paypal_payments.html"),
    ),
    (
        "simulator/mail.html",
        include_str!("../../../../templates/simulator/mail.html"),
    ),
    ("admin/nav.html", include_str!("../../../../templates/admin/nav.html")),
    (
        "admin/sign_in.html",
        include_str!("../../../../templates/admin/sign_in.html"),
    ),
    (
        "admin/payments.html",
        include_str!("../../../../templates/admin/payments.html"),
    ),
    (
        "admin/payment.html",
        include_str!("../../../../templates/admin/payment.html"),
    ),
    (
        "admin/messages.html",
        include_str!("../../../../templates/admin/messages.html"),
    ),
    (
        "admin/message.html",
        include_str!("../../../../templates/admin/message.html"),
    ),
    (
        "admin/webhooks.html",
        include_str!("../../../../templates/admin/webhooks.html"),
    ),
    (
        "admin/librement.html",
        include_str!("../../../../templates/admin/librement.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../../../templates/admin/audit.html"),
    ),
];

/// The embedded templates, the server's and Librement's, parsed once. Auto-escaping is on for every
/// `.html` template.
pub fn templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.register_function("simulator_banner", simulator_banner);
    tera.add_raw_templates(TEMPLATES.iter().chain(librement_pay::web::TEMPLATES).copied())?;
    Ok(tera)
}

/// The template function `simulator_banner(lang=...)`: the banner's words in that language.
fn simulator_banner(args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let language = args.get("lang").and_then(tera::Value::as_str).unwrap_or("en");
    Ok(words(language).simulator_banner.into())
}

/// Words of the server's pages.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageWords {
    /// The simulator-mode banner.
    pub simulator_banner: &'static str,
    /// "Order".
    pub order: &'static str,
}

const EN: PageWords = PageWords {
    simulator_banner: "Simulator mode: no real payment is made. The gateways are stand-ins that speak the real protocols.",
    order: "Order",
};

const FR: PageWords = PageWords {
    simulator_banner: "Mode simulateur : aucun paiement réel n'est effectué. Les passerelles sont simulées avec leurs vrais protocoles.",
    order: "Commande",
};

/// The page words for `language` (French or English).
pub fn words(language: &str) -> &'static PageWords {
    if language == "fr" { &FR } else { &EN }
}

/// Renders `template` with `context`, or a plain 500 page that reveals nothing.
pub fn render(tera: &tera::Tera, template: &str, context: &tera::Context, status: StatusCode) -> HttpResponse {
    match tera.render(template, context) {
        Ok(html) => HttpResponse::build(status).content_type(ContentType::html()).body(html),
        Err(e) => {
            tracing::error!(template, error = ?e, "template failed");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("internal error\n")
        }
    }
}

/// A page context with the common variables: language, words, simulator banner.
pub fn context(language: &str, simulator: bool) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("lang", language);
    ctx.insert("t", words(language));
    ctx.insert("simulator", &simulator);
    ctx
}

/// An error page with a reason the reader can act on.
pub fn error(
    tera: &tera::Tera,
    status: StatusCode,
    language: &str,
    simulator: bool,
    title: &str,
    reason: &str,
) -> HttpResponse {
    let mut ctx = context(language, simulator);
    ctx.insert("title", title);
    ctx.insert("reason", reason);
    render(tera, "error.html", &ctx, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        templates().unwrap();
    }

    #[test]
    fn the_layout_speaks_the_simulator_banner_in_the_page_language() {
        let tera = templates().unwrap();
        for language in ["en", "fr"] {
            let mut ctx = context(language, true);
            ctx.insert("title", "T");
            ctx.insert("reason", "R");
            let html = tera.render("error.html", &ctx).unwrap();
            assert!(
                html.contains(&tera::escape_html(words(language).simulator_banner)),
                "{html}"
            );
        }
        let html = tera.render("error.html", &{
            let mut ctx = context("en", false);
            ctx.insert("title", "T");
            ctx.insert("reason", "R");
            ctx
        });
        assert!(!html.unwrap().contains(EN.simulator_banner));
    }
}
