//! Security headers for every page: no framing, no content sniffing, no inline scripts or styles, and no
//! path or query (payment ids, `next` links) sent to other sites in the `Referer`.
//!
//! [`security_headers`] is a [`DefaultHeaders`] middleware: it adds each header unless the handler set it,
//! so a page that needs a different policy can say so itself. [`configure`](super::configure) wraps the
//! core's own routes in it; an application wraps the whole app too:
//!
//! ```
//! use actix_web::{App, test, web, HttpResponse};
//! use payment_buttons::actix::security_headers;
//!
//! # actix_web::rt::System::new().block_on(async {
//! let app = test::init_service(
//!     App::new().wrap(security_headers()).route("/", web::get().to(HttpResponse::Ok)),
//! ).await;
//! let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert_eq!(response.headers().get("x-frame-options").unwrap(), "DENY");
//! # });
//! ```

use actix_web::middleware::DefaultHeaders;

/// The pages' Content-Security-Policy.
///
/// Scripts and styles only from files of this site (no inline code: what an injected attribute or tag
/// would need); images also from any HTTPS host (a button's `image_url`); no plugins; `<base>` cannot
/// redirect relative links; no site may frame a page (`frame-ancestors`, the modern `X-Frame-Options`).
/// There is deliberately no `form-action`: hand-off pages post to the gateways' hosts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The pages' Referrer-Policy. Other sites (the gateways, the shop) learn only our origin, never a path
/// or query that could hold a payment id; gateways still see which site the buyer comes from, and form
/// posts to them keep a real `Origin` (`no-referrer` would send `Origin: null`).
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// The middleware that adds `X-Frame-Options: DENY`, [`CONTENT_SECURITY_POLICY`],
/// `X-Content-Type-Options: nosniff` and [`REFERRER_POLICY`] to every response that does not set them.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", REFERRER_POLICY))
}

/// The script every hand-off page loads: it submits the page's `form[data-auto-submit]` at once.
pub const HAND_OFF_SCRIPT: &str = include_str!("hand-off.js");

/// Where [`configure`](super::configure) serves [`HAND_OFF_SCRIPT`], relative to where it is mounted.
pub const HAND_OFF_SCRIPT_PATH: &str = "/pay/hand-off.js";
