//! `GET /static/{name}`: the pages' stylesheets and scripts, embedded in the binary like the templates.
//!
//! They are files, not inline `<style>` or `<script>`, so that the Content-Security-Policy of every page
//! (see [`payment_buttons::actix::security_headers`]) can refuse all inline code: an injected tag or
//! `on*=` attribute would not run.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every asset: name under `/static/`, content type, contents.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("site.css", CSS, include_str!("../../../../static/site.css")),
    ("choose.css", CSS, include_str!("../../../../static/choose.css")),
    ("choose.js", JS, include_str!("../../../../static/choose.js")),
    ("account.css", CSS, include_str!("../../../../static/account.css")),
    ("demo-shop.css", CSS, include_str!("../../../../static/demo-shop.css")),
    ("demo-shop.js", JS, include_str!("../../../../static/demo-shop.js")),
    (
        "simulator-paypal.css",
        CSS,
        include_str!("../../../../static/simulator-paypal.css"),
    ),
];

/// The handler: the asset, cached for an hour, or 404.
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*body),
        None => HttpResponse::NotFound()
            .content_type(header::ContentType::plaintext())
            .body("no such file\n"),
    }
}
