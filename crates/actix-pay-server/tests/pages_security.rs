//! Framing and injection defences of every page (issue 11, item 13), over HTTP through the whole
//! application as `librement-server serve` runs it: each answer carries `X-Frame-Options: DENY`, a
//! Content-Security-Policy with `frame-ancestors 'none'` and no inline scripts or styles, `nosniff` and a
//! Referrer-Policy; and no page holds inline code that such a policy would block (so the policy cannot
//! break a page), while every script and stylesheet a page links to is served.

#[path = "common/app.rs"]
mod common_app;

use actix_http::Request;
use actix_pay_server::serve::Assembled;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test as atest;
use payment_buttons::button::ButtonConfig;

/// The headers every answer must carry, with the part of the value that matters.
const REQUIRED: &[(&str, &str)] = &[
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
];

macro_rules! app {
    ($assembled:expr) => {
        atest::init_service(actix_pay_server::app::application(
            $assembled.configure(),
            $assembled.limits.clone(),
        ))
        .await
    };
}

fn button(payment_options: &str) -> ButtonConfig {
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-13", "language": "en",
          "options": [{{"description": "Manual, PDF", "amount": "12.50", "currency": "EUR"}}],
          "payment_options": {payment_options},
          "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                    "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

fn token(assembled: &Assembled, payment_options: &str) -> String {
    assembled
        .state
        .engine
        .sign_button(&button(payment_options), chrono::Utc::now())
        .unwrap()
}

fn form(fields: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// What inline code an HTML page (or template) holds: `<script>` without `src`, `<style>` elements,
/// `style=` and `on*=` attributes, `javascript:` URLs. Empty when the page works under the policy.
fn inline_code(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for tag in lower.split('<').skip(1).filter_map(|t| t.split('>').next()) {
        let name = tag.split_whitespace().next().unwrap_or("");
        if name == "script" && !tag.contains(" src=") {
            found.push(format!("inline <{tag}>"));
        }
        if name == "style" {
            found.push(format!("<{tag}> element"));
        }
        for attribute in tag.split_whitespace().skip(1) {
            let key = attribute.split('=').next().unwrap_or("");
            let handler = key.len() > 2 && key.starts_with("on") && key[2..].chars().all(|c| c.is_ascii_lowercase());
            if attribute.contains('=') && (handler || key == "style") {
                found.push(format!("{key}= attribute in <{tag}>"));
            }
        }
        if tag.contains("javascript:") {
            found.push(format!("javascript: URL in <{tag}>"));
        }
    }
    found
}

/// The value of every `attribute="..."` in `html` that starts with `/` (a link to this site).
fn local_links(html: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"/");
    html.match_indices(&marker)
        .filter_map(|(at, _)| html[at + marker.len() - 1..].split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The form of a hand-off page: its action and hidden fields.
fn hand_off_form(html: &str) -> (String, Vec<(String, String)>) {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form action")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    let fields = html
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"")?;
            let value = rest.split('"').next()?;
            Some((name.to_owned(), value.replace("&amp;", "&").replace("&quot;", "\"")))
        })
        .collect();
    (action, fields)
}

/// One answer, read whole, after checking its security headers.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    fn is_html(&self) -> bool {
        self.header("content-type").is_some_and(|v| v.starts_with("text/html"))
    }

    /// The path of a redirect, within this site.
    fn location(&self) -> Option<String> {
        self.header("location")
            .map(|l| l.trim_start_matches(common_app::PUBLIC_URL).to_owned())
    }
}

fn assert_security_headers(what: &str, headers: &HeaderMap) {
    for (name, expected) in REQUIRED {
        let value = headers
            .get(*name)
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_str()
            .unwrap();
        assert!(value.contains(expected), "{what}: {name} is {value:?}");
    }
    let csp = headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("form-action"),
        "{what}: the policy allows inline code or restricts where forms post: {csp}"
    );
}

/// Sends `request` and checks the answer's security headers.
async fn call<S, B>(app: &S, what: &str, request: Request) -> Answer
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = atest::call_service(app, request).await;
    assert_security_headers(what, response.headers());
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&atest::read_body(response).await).into_owned();
    Answer { status, headers, body }
}

fn get(uri: &str) -> Request {
    atest::TestRequest::get().uri(uri).to_request()
}

fn post_form(uri: &str, body: String) -> Request {
    atest::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

#[actix_web::test]
async fn every_page_is_served_with_the_security_headers_and_holds_no_inline_code() {
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let app = app!(assembled);
    let mut pages: Vec<(String, String)> = Vec::new();

    for uri in [
        "/",
        "/librement/sign-in",
        "/librement/sign-up",
        "/healthz",
        "/no-such-page",
        "/simulator/paypal/payments",
    ] {
        let answer = call(&app, uri, get(uri)).await;
        assert!(
            answer.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{uri}: {}",
            answer.status
        );
        if answer.is_html() {
            pages.push((uri.to_owned(), answer.body));
        }
    }

    // A gateway hand-off (the page that posts to the gateway), the gateway's page it leads to, and the
    // buyer's status page.
    for gateway in ["paypal", "cmcic"] {
        let options = match gateway {
            "paypal" => r#"{"paypal": {"paypal_email": "seller@example.com"}}"#,
            _ => r#"{"cmcic": {}}"#,
        };
        let token = token(&assembled, options);
        let hand_off = call(&app, "POST /pay", post_form("/pay", form(&[("button".into(), token)]))).await;
        assert_eq!(hand_off.status, StatusCode::OK);
        let (action, fields) = hand_off_form(&hand_off.body);
        let path = action.trim_start_matches(common_app::PUBLIC_URL).to_owned();
        pages.push((format!("hand-off to {gateway}"), hand_off.body));
        let at_gateway = call(&app, &path, post_form(&path, form(&fields))).await;
        match at_gateway
            .location()
            .filter(|_| at_gateway.status == StatusCode::SEE_OTHER)
        {
            Some(location) => {
                let page = call(&app, &location, get(&location)).await;
                pages.push((location, page.body));
            }
            None => {
                assert!(
                    at_gateway.is_html(),
                    "{path}: {} {}",
                    at_gateway.status,
                    at_gateway.body
                );
                pages.push((path, at_gateway.body));
            }
        }
        let payment = fields
            .iter()
            .find(|(k, _)| k == "invoice" || k == "reference")
            .map(|(_, v)| v.clone())
            .expect("the hand-off names the payment");
        let status_page = format!("/payments/{payment}");
        let answer = call(&app, &status_page, get(&status_page)).await;
        assert_eq!(answer.status, StatusCode::OK, "{status_page}");
        pages.push((status_page, answer.body));
    }

    // The Librement choice screen, reached from `/pay` by a redirect.
    let token = token(&assembled, r#"{"librement": {"seller": "author@example.org"}}"#);
    let pay = call(
        &app,
        "POST /pay (librement)",
        post_form("/pay", form(&[("button".into(), token)])),
    )
    .await;
    assert_eq!(pay.status, StatusCode::SEE_OTHER);
    let choice = pay.location().expect("a redirect to the choice screen");
    let answer = call(&app, &choice, get(&choice)).await;
    assert_eq!(answer.status, StatusCode::OK, "{choice}");
    pages.push((choice, answer.body));

    // A notification gets them too (they cost nothing and `nosniff` applies to any body).
    call(
        &app,
        "POST /notify/paypal",
        post_form("/notify/paypal", "txn_id=1".into()),
    )
    .await;

    let mut linked = Vec::new();
    for (what, html) in &pages {
        assert_eq!(
            inline_code(html),
            Vec::<String>::new(),
            "{what} holds inline code:\n{html}"
        );
        linked.extend(local_links(html, "src"));
        linked.extend(
            local_links(html, "href")
                .into_iter()
                .filter(|l| l.starts_with("/static/")),
        );
    }
    assert!(
        linked.iter().any(|l| l == "/pay/hand-off.js") && linked.iter().any(|l| l == "/static/site.css"),
        "the pages load the hand-off script and the stylesheet: {linked:?}"
    );
    linked.sort();
    linked.dedup();
    for link in linked {
        let answer = call(&app, &link, get(&link)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{link} is linked from a page but not served"
        );
        let content_type = answer.header("content-type").unwrap_or_default();
        assert!(
            ["text/css", "text/javascript", "image/"]
                .iter()
                .any(|t| content_type.starts_with(t)),
            "{link} is served as {content_type}"
        );
    }
}

#[actix_web::test]
async fn a_hand_off_page_of_the_core_alone_carries_the_headers() {
    // A library user who mounts only the core's routes, without wrapping the app.
    let (assembled, _dir) = common_app::assembled_app(&[]).await;
    let app = atest::init_service(
        actix_web::App::new().configure(payment_buttons::actix::configure(assembled.state.engine.clone())),
    )
    .await;
    let pay = atest::TestRequest::post()
        .uri("/pay")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&[(
            "button".into(),
            token(&assembled, r#"{"paypal": {"paypal_email": "seller@example.com"}}"#),
        )]))
        .to_request();
    let page = call(&app, "the core's hand-off page", pay).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<script src=\"/pay/hand-off.js\"></script>"),
        "{}",
        page.body
    );
    let script = call(&app, "the core's hand-off script", get("/pay/hand-off.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("form[data-auto-submit]"));
}

#[test]
fn no_template_holds_inline_code() {
    // The server's templates, and Librement's, which it renders under the same policy.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    let mut stack = vec![root.join("../../templates"), root.join("../librement-pay/templates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert_eq!(inline_code(&text), Vec::<String>::new(), "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 15, "only {seen} templates found");
}

#[test]
fn the_inline_code_check_finds_what_the_policy_would_block() {
    for page in [
        "<script>alert(1)</script>",
        "<body onload=\"go()\">",
        "<p style=\"color:red\">",
        "<style>p{}</style>",
        "<a href=\"javascript:go()\">",
    ] {
        assert!(!inline_code(page).is_empty(), "{page} was not noticed");
    }
    assert!(inline_code("<script src=\"/pay/hand-off.js\"></script><form data-auto-submit>").is_empty());
}
