//! `docs/api.md` cannot drift from the API. Every example request of the page is checked against the
//! OpenAPI document that the real server serves at `GET /api/openapi.json` (its route and method exist, its
//! body validates against the operation's schema), then sent to the real routes of the assembled app, whose
//! answer must be the one documented beside it (status, headers shown, body) and must validate against the
//! document's schema for that status. Every operation of the document must have an example, and a row in
//! the page's table of routes; the curl, Python and PHP examples must send the page's `button.json`.
//!
//! How the page writes examples, for this test to read:
//! - A fenced block ```` ```http ```` whose first line is a request line (`POST /api/buttons HTTP/1.1`) is an
//!   example request: headers, a blank line, the body. The next ```` ```http ```` block, whose first line is
//!   `HTTP/1.1 <status> <reason>`, is its documented answer.
//! - `$TOKEN` in a request stands for the `token` of the last documented answer that had one, and
//!   `$PAYMENT` for the `id` of the last payment an answer showed (`GET /api/payments...`).
//! - A header shown in an answer must be in the real answer with exactly that value.
//! - A JSON body matches when it has the same shape: a string ending with `…` matches any string that starts
//!   with what comes before it; an object with the key `"…"` may have more keys than those shown; an array
//!   whose last element is `"…"` may have more elements. Any other body matches when the real body starts
//!   with the documented one up to a last line `…`, or else is equal to it.

use std::collections::BTreeMap;

use actix_pay_server::config::Config;
use actix_pay_server::serve::assemble;
use actix_pay_server::store::ServerStore;
use actix_web::test as atest;
use serde_json::{Map, Value};

const PAGE: &str = include_str!("../../../docs/api.md");
/// The public URL the page's examples use.
const PUBLIC_URL: &str = "https://pay.example.com";
/// The test's own secret: tokens differ from the page's, which only shows their start.
const SECRET: &[u8] = b"the api documentation test's secret, 32 bytes or more";
const ELLIPSIS: &str = "…";

/// One fenced block of the page: its info string and its text.
struct Block<'a> {
    info: &'a str,
    text: String,
    /// The line where it starts, for messages.
    line: usize,
}

fn blocks(page: &str) -> Vec<Block<'_>> {
    let mut found = Vec::new();
    let mut lines = page.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let mut text = String::new();
        for (_, inner) in lines.by_ref() {
            if inner == "```" {
                break;
            }
            text.push_str(inner);
            text.push('\n');
        }
        found.push(Block {
            info: info.trim(),
            text,
            line: n + 1,
        });
    }
    found
}

/// A message of the page: a start line, headers, a body.
#[derive(Debug, Clone)]
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
    line: usize,
}

impl Message {
    fn parse(block: &Block<'_>) -> Message {
        let (head, body) = block.text.split_once("\n\n").unwrap_or((block.text.as_str(), ""));
        let mut head = head.lines();
        let start = head.next().unwrap_or_default().to_owned();
        let headers = head
            .map(|h| {
                let (name, value) = h
                    .split_once(':')
                    .unwrap_or_else(|| panic!("line {}: header {h:?}", block.line));
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        Message {
            start,
            headers,
            body: body.trim_end_matches('\n').to_owned(),
            line: block.line,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The page's example exchanges, in order.
fn exchanges() -> Vec<(Message, Message)> {
    let http: Vec<Message> = blocks(PAGE)
        .iter()
        .filter(|b| b.info == "http")
        .map(Message::parse)
        .collect();
    let mut pairs = Vec::new();
    let mut it = http.into_iter();
    while let Some(request) = it.next() {
        assert!(
            !request.start.starts_with("HTTP/"),
            "line {}: an answer without a request",
            request.line
        );
        let answer = it
            .next()
            .unwrap_or_else(|| panic!("line {}: a request without its answer", request.line));
        assert!(
            answer.start.starts_with("HTTP/1.1 "),
            "line {}: expected the answer to the request above",
            answer.line
        );
        pairs.push((request, answer));
    }
    assert!(pairs.len() >= 5, "only {} examples found in docs/api.md", pairs.len());
    pairs
}

/// `METHOD`, path (without the query) and target of a request line.
fn request_line(message: &Message) -> (String, String, String) {
    let mut parts = message.start.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "line {}: {}",
        message.line,
        message.start
    );
    let path = target.split('?').next().unwrap_or_default().to_owned();
    (method, path, target)
}

/// The operation of `document` for `method` and `path`, matching templated segments (`{id}`).
fn operation<'d>(document: &'d Value, method: &str, path: &str) -> Option<(&'d str, &'d Value)> {
    let paths = document["paths"].as_object()?;
    paths.iter().find_map(|(template, item)| {
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = path.split('/').collect();
        let same = t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()));
        let op = item.get(method.to_ascii_lowercase())?;
        same.then_some((template.as_str(), op))
    })
}

/// Validates `instance` against the schema at `pointer` inside the served `document`, whose components
/// its references name.
fn validate(document: &Value, pointer: &str, instance: &Value) -> Result<(), String> {
    let mut root = document.clone();
    root["$schema"] = Value::from("https://json-schema.org/draft/2020-12/schema");
    // A URI fragment: the braces of templated paths (`/api/payments/{id}`) are percent-encoded.
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = Value::from(format!("#{fragment}"));
    let validator = jsonschema::draft202012::new(&root).map_err(|e| format!("the schema at {pointer}: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A JSON pointer token.
fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether the documented JSON `doc` matches the real `real` (see the module documentation).
fn json_matches(doc: &Value, real: &Value) -> Result<(), String> {
    match (doc, real) {
        (Value::String(d), Value::String(r)) => match d.strip_suffix(ELLIPSIS) {
            Some(prefix) if r.starts_with(prefix) => Ok(()),
            None if d == r => Ok(()),
            _ => Err(format!("{r:?} is not {d:?}")),
        },
        (Value::Object(d), Value::Object(r)) => {
            let open = d.contains_key(ELLIPSIS);
            for (key, value) in d.iter().filter(|(k, _)| *k != ELLIPSIS) {
                let real = r.get(key).ok_or_else(|| format!("no {key:?}"))?;
                json_matches(value, real).map_err(|e| format!("{key}: {e}"))?;
            }
            let extra: Vec<&String> = r.keys().filter(|k| !d.contains_key(*k)).collect();
            if !open && !extra.is_empty() {
                return Err(format!("undocumented keys {extra:?}"));
            }
            Ok(())
        }
        (Value::Array(d), Value::Array(r)) => {
            let open = d.last() == Some(&Value::from(ELLIPSIS));
            let shown = if open { &d[..d.len() - 1] } else { &d[..] };
            if r.len() < shown.len() || (!open && r.len() != shown.len()) {
                return Err(format!("{} elements, documented {}", r.len(), d.len()));
            }
            for (i, (d, r)) in shown.iter().zip(r).enumerate() {
                json_matches(d, r).map_err(|e| format!("[{i}]: {e}"))?;
            }
            Ok(())
        }
        _ if doc == real => Ok(()),
        _ => Err(format!("{real} is not {doc}")),
    }
}

fn body_matches(doc: &str, real: &str, json: bool) -> Result<(), String> {
    if doc.is_empty() {
        return if real.is_empty() {
            Ok(())
        } else {
            Err(format!("a body: {real:.200}"))
        };
    }
    if json {
        let doc: Value = serde_json::from_str(doc).map_err(|e| format!("the documented JSON: {e}"))?;
        let real: Value = serde_json::from_str(real).map_err(|e| format!("the answer's JSON: {e}"))?;
        return json_matches(&doc, &real);
    }
    match doc.strip_suffix(ELLIPSIS) {
        Some(prefix) if real.starts_with(prefix) => Ok(()),
        None if doc == real.trim_end_matches('\n') => Ok(()),
        _ => Err(format!(
            "the body starts {:?}",
            real.chars().take(400).collect::<String>()
        )),
    }
}

/// The API key the page's examples use.
fn documented_key() -> String {
    PAGE.lines()
        .find_map(|l| l.strip_prefix("Authorization: Bearer "))
        .expect("an example with an API key")
        .trim()
        .to_owned()
}

#[actix_web::test]
async fn every_example_of_the_page_validates_against_the_served_document_and_gets_its_documented_answer() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("PAY_SERVER_API_KEYS".to_owned(), documented_key())];
    let config = Config::load(None, env).unwrap();
    let store = ServerStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
        .await
        .unwrap();
    let assembled = assemble(&config, &url::Url::parse(PUBLIC_URL).unwrap(), SECRET, store).unwrap();
    let app = atest::init_service(actix_pay_server::app::application(
        assembled.configure(),
        assembled.limits.clone(),
    ))
    .await;
    let served = atest::call_service(&app, atest::TestRequest::get().uri("/api/openapi.json").to_request()).await;
    assert_eq!(served.status(), 200);
    let document: Value = serde_json::from_slice(&atest::read_body(served).await).unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let mut last_token: Option<String> = None;
    let mut last_payment: Option<String> = None;
    let mut first_button_html: Option<String> = None;
    let mut exercised: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (request, answer) in exchanges() {
        let at = format!("docs/api.md line {}", request.line);
        let mut request = request;
        if let Some(p) = &last_payment {
            request.start = request.start.replace("$PAYMENT", p);
        }
        let (method, path, target) = request_line(&request);
        let (template, op) = operation(&document, &method, &path)
            .unwrap_or_else(|| panic!("{at}: {method} {path} is not in the OpenAPI document"));
        *exercised.entry((method.clone(), template.to_owned())).or_default() += 1;
        let op_pointer = format!("/paths/{}/{}", pointer_token(template), method.to_ascii_lowercase());

        // The request, as the document describes it.
        let body = match &last_token {
            Some(t) => request.body.replace("$TOKEN", t),
            None => request.body.clone(),
        };
        if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
            let content_type = media_type(request.header("Content-Type").unwrap_or_default());
            assert!(
                content.contains_key(&content_type),
                "{at}: the document takes {:?}, the example sends {content_type:?}",
                content.keys().collect::<Vec<_>>()
            );
            let instance = if content_type == "application/json" {
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{at}: the example's JSON: {e}"))
            } else {
                let pairs: Map<String, Value> = form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                    .collect();
                Value::Object(pairs)
            };
            let schema = format!(
                "{op_pointer}/requestBody/content/{}/schema",
                pointer_token(&content_type)
            );
            validate(&document, &schema, &instance)
                .unwrap_or_else(|e| panic!("{at}: the request does not validate against {schema}: {e}"));
        }

        // The real answer.
        let http_method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut sent = atest::TestRequest::default().method(http_method).uri(&target);
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("host") {
                sent = sent.insert_header((name.as_str(), value.as_str()));
            }
        }
        let response = atest::call_service(&app, sent.set_payload(body.clone()).to_request()).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let real_body = String::from_utf8(atest::read_body(response).await.to_vec()).unwrap();

        let documented: u16 = answer
            .start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        assert_eq!(status, documented, "{at}: answered {status}: {real_body:.300}");
        let response_pointer = format!("{op_pointer}/responses/{documented}");
        assert!(
            document.pointer(&response_pointer).is_some(),
            "{at}: the document does not list the answer {documented}"
        );
        for (name, value) in &answer.headers {
            let real = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            assert_eq!(real, Some(value.as_str()), "{at}: header {name}");
        }
        let real_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        let json = real_type == "application/json";
        body_matches(&answer.body, &real_body, json).unwrap_or_else(|e| panic!("{at}: the answer differs: {e}"));
        if json {
            let real: Value = serde_json::from_str(&real_body).unwrap();
            let schema = format!("{response_pointer}/content/application~1json/schema");
            if document.pointer(&schema).is_some() {
                validate(&document, &schema, &real)
                    .unwrap_or_else(|e| panic!("{at}: the answer does not validate against {schema}: {e}"));
            }
            if let Some(t) = real.get("token").and_then(Value::as_str) {
                last_token = Some(t.to_owned());
            }
            let payment = match &real {
                Value::Array(list) => list.first(),
                other => Some(other),
            };
            if let Some(id) = payment
                .filter(|p| p.get("order_reference").is_some())
                .and_then(|p| p.get("id"))
                .and_then(Value::as_str)
            {
                last_payment = Some(id.to_owned());
            }
            if let Some(html) = real.get("html").and_then(Value::as_str) {
                first_button_html.get_or_insert_with(|| html.to_owned());
            }
        }
    }

    // The button's HTML shown on the page is the real one, its token cut where the page cuts it.
    let shown = blocks(PAGE)
        .into_iter()
        .find(|b| b.info == "html")
        .expect("the button's HTML on the page")
        .text;
    let real = first_button_html.expect("an example answered a button");
    let marker = "name=\"button\" value=\"";
    let cut = |html: &str| {
        let start = html.find(marker).expect("the token field") + marker.len();
        let end = start + html[start..].find('"').expect("the token's end");
        (start, end)
    };
    let (shown_start, shown_end) = cut(&shown);
    let prefix = shown[shown_start..shown_end]
        .strip_suffix(ELLIPSIS)
        .expect("the shown token is cut");
    let (start, end) = cut(&real);
    assert!(
        real[start..end].starts_with(prefix),
        "the real token starts {:?}",
        &real[start..end]
    );
    let real = format!("{}{}{}", &real[..start], &shown[shown_start..shown_end], &real[end..]);
    assert_eq!(shown, real, "docs/api.md shows another button HTML than the real one");

    // Every operation of the document has an example and a row in the table of routes.
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            assert!(
                exercised.contains_key(&(method.clone(), template.clone())),
                "docs/api.md has no example of {method} {template}"
            );
            let row = format!("| `{method} {template}` |");
            assert!(PAGE.contains(&row), "docs/api.md's table of routes has no row {row}");
        }
    }
}

#[test]
fn the_curl_python_and_php_examples_send_the_pages_button_json() {
    let blocks = blocks(PAGE);
    let button = blocks
        .iter()
        .find(|b| b.info == "json button.json")
        .expect("a ```json button.json block");
    let button: Value = serde_json::from_str(&button.text).expect("button.json is JSON");
    let (first, _) = exchanges()
        .into_iter()
        .find(|(request, _)| request.start.starts_with("POST /api/buttons "))
        .expect("an example of POST /api/buttons");
    let sent: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(sent, button, "the first POST /api/buttons example sends button.json");
    for language in ["sh", "python", "php"] {
        let code = blocks
            .iter()
            .find(|b| b.info == language && b.text.contains("/api/buttons"))
            .unwrap_or_else(|| panic!("no {language} example of POST /api/buttons"));
        for needle in [PUBLIC_URL, "button.json", "Bearer", "application/json"] {
            assert!(
                code.text.contains(needle),
                "the {language} example lacks {needle:?}:\n{}",
                code.text
            );
        }
    }
}

#[test]
fn the_table_of_the_button_configuration_has_a_row_for_each_field_of_the_schema_and_no_other() {
    let document = serde_json::to_value(actix_pay_server::api::openapi::document(PUBLIC_URL)).unwrap();
    let schemas = &document["components"]["schemas"];
    let fields = |schema: &str, prefix: &str| -> Vec<String> {
        schemas[schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has properties"))
            .keys()
            .map(|k| format!("{prefix}{k}"))
            .collect()
    };
    let mut expected: Vec<String> = fields("ButtonConfig", "");
    expected.extend(fields("BuyingOption", "options[]."));
    expected.extend(fields("ButtonUrls", "urls."));
    expected.sort();

    let section = PAGE
        .split("\n## The button configuration\n")
        .nth(1)
        .expect("a section \"The button configuration\"");
    let section = section.split("\n#").next().unwrap_or_default();
    let mut rows: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(field, _)| field.to_owned()))
        .collect();
    rows.sort();
    assert_eq!(
        rows, expected,
        "docs/api.md's table of the button configuration and the schema differ"
    );
}
