//! The demo's request handlers.

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::Demo;
use super::catalogue;
use super::feed::FeedEntry;
use super::words;

/// One line of the events panel, as the page and `/demo/events` show it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    entry: &'a FeedEntry,
    /// `HH:MM:SS`, UTC.
    time: String,
}

fn rows(entries: &[FeedEntry]) -> Vec<Row<'_>> {
    entries
        .iter()
        .map(|entry| Row {
            entry,
            time: entry.created_at.format("%H:%M:%S").to_string(),
        })
        .collect()
}

fn page_context(demo: &Demo, language: &str) -> tera::Context {
    let mut ctx = crate::pages::context(language, demo.simulator);
    ctx.insert("d", words::words(language));
    ctx
}

/// `GET /`: the shop.
pub async fn shop(demo: web::Data<Demo>, req: HttpRequest) -> HttpResponse {
    let language = words::language(req.query_string());
    let stamp = chrono::Utc::now().format("%m%d-%H%M%S").to_string();
    let products = catalogue::products(&demo.base_url, language, &stamp, demo.offered);
    let entries = demo.feed.latest();
    let mut ctx = page_context(&demo, language);
    ctx.insert("products", &products);
    ctx.insert("events", &rows(&entries));
    let mut response = crate::pages::render(&demo.templates, "demo/shop.html", &ctx, StatusCode::OK);
    // Each render signs fresh buttons with fresh order references: never serve a cached copy.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /demo/events`: the panel's events as JSON, newest first: `{"events": [...]}`.
pub async fn events(demo: web::Data<Demo>) -> HttpResponse {
    let entries = demo.feed.latest();
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(serde_json::json!({ "events": rows(&entries) }))
}

/// The image of the image button.
const BUTTON_SVG: &str = include_str!("button.svg");

/// `GET /demo/button.svg`.
pub async fn button_image() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(3600)]))
        .body(BUTTON_SVG)
}

fn result_page(demo: &Demo, req: &HttpRequest, outcome: &str) -> HttpResponse {
    let language = words::language(req.query_string());
    let d = words::words(language);
    let mut ctx = page_context(demo, language);
    ctx.insert("outcome", outcome);
    let (title, text) = if outcome == "thanks" {
        (d.thanks_title, d.thanks_text)
    } else {
        (d.sorry_title, d.sorry_text)
    };
    ctx.insert("title", title);
    ctx.insert("text", text);
    ctx.insert("shop_url", if language == "fr" { "/?lang=fr" } else { "/" });
    crate::pages::render(&demo.templates, "demo/result.html", &ctx, StatusCode::OK)
}

/// `GET /demo/thanks`: the shop's "accepted" URL.
pub async fn thanks(demo: web::Data<Demo>, req: HttpRequest) -> HttpResponse {
    result_page(&demo, &req, "thanks")
}

/// `GET /demo/sorry`: the shop's "declined" URL.
pub async fn sorry(demo: web::Data<Demo>, req: HttpRequest) -> HttpResponse {
    result_page(&demo, &req, "sorry")
}
