//! The end-to-end harness: the real server, a real browser, and the steps a buyer takes.
#![allow(dead_code)]

pub mod browser;
pub mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use fantoccini::Locator;
use fantoccini::elements::Element;
use serde_json::Value;

pub use browser::Browser;
pub use server::Server;

/// How long any one step may take (the machine is small and shared).
const STEP: Duration = Duration::from_secs(30);

/// One scenario: a fresh server, a fresh browser.
pub struct E2e {
    /// The server under test.
    pub server: Server,
    /// The browser.
    pub browser: Browser,
    name: String,
}

/// The outcome the buyer saw on our status page before being sent on.
#[derive(Debug)]
pub struct Landing {
    /// The payment id in `/payments/{id}`.
    pub payment_id: String,
    /// Every `data-state` read on the status page, in order (duplicates removed).
    pub states: Vec<String>,
}

impl Landing {
    /// The last state shown.
    pub fn final_state(&self) -> &str {
        self.states.last().map_or("", String::as_str)
    }
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("e2e")
}

/// Runs `body` against a fresh server in a fresh browser. On failure the page's screenshot, HTML and the
/// server's log are saved under `target/e2e/` and the test fails with the step that failed.
pub async fn scenario(name: &str, body: impl AsyncFnOnce(&mut E2e) -> anyhow::Result<()>) {
    scenario_with(name, &[], body).await;
}

/// [`scenario`] with extra environment variables for the server (`PAY_LIBREMENT_MODE`...).
pub async fn scenario_with(name: &str, env: &[(&str, &str)], body: impl AsyncFnOnce(&mut E2e) -> anyhow::Result<()>) {
    scenario_configured(name, None, env, body).await;
}

/// [`scenario`] with a configuration file for the server (its `[[webhooks]]`...) and extra environment
/// variables.
pub async fn scenario_configured(
    name: &str,
    config: Option<&str>,
    env: &[(&str, &str)],
    body: impl AsyncFnOnce(&mut E2e) -> anyhow::Result<()>,
) {
    let Some(binaries) = browser::binaries(name) else {
        return;
    };
    let server = Server::start_configured(config, env);
    let browser = Browser::start(&binaries).await;
    let mut e2e = E2e {
        server,
        browser,
        name: name.to_owned(),
    };
    let result = body(&mut e2e).await;
    if let Err(e) = &result {
        let saved = e2e.save_failure().await;
        e2e.browser.close().await;
        panic!("{name}: {e:#}\n(artifacts: {saved})");
    }
    e2e.browser.close().await;
}

impl E2e {
    async fn save_failure(&self) -> String {
        let dir = artifacts_dir();
        if std::fs::create_dir_all(&dir).is_err() {
            return format!("cannot create {}", dir.display());
        }
        let stem = dir.join(&self.name);
        if let Ok(png) = self.browser.client.screenshot().await {
            let _ = std::fs::write(stem.with_extension("png"), png);
        }
        if let Ok(html) = self.browser.client.source().await {
            let _ = std::fs::write(stem.with_extension("html"), html);
        }
        let _ = std::fs::write(stem.with_extension("server.log"), self.server.log());
        format!("{}.{{png,html,server.log}}", stem.display())
    }

    /// Saves a screenshot of the current page to `docs/screenshots/{file}` when `E2E_SCREENSHOTS=1`.
    pub async fn doc_screenshot(&self, file: &str) -> anyhow::Result<()> {
        if std::env::var("E2E_SCREENSHOTS").as_deref() != Ok("1") {
            return Ok(());
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir)?;
        let png = self.browser.client.screenshot().await?;
        std::fs::write(dir.join(file), png)?;
        Ok(())
    }

    /// Opens `path` on the server.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        let url = self.server.url(path);
        self.browser
            .client
            .goto(&url)
            .await
            .with_context(|| format!("open {url}"))
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self.browser.client.current_url().await?;
        Ok(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// Waits for an element.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let found = self
            .browser
            .client
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(e) => Err(anyhow!(
                "no element `{css}` on {}: {e}",
                self.path().await.unwrap_or_default()
            )),
        }
    }

    /// True when an element is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        self.browser.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The text of an element.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + STEP;
        loop {
            match self.find(css).await?.text().await {
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                done => return done.with_context(|| format!("text of `{css}`")),
            }
        }
    }

    /// Clicks an element. When the element found belonged to a page the browser was just leaving (a form
    /// submitted a moment ago lands on a page with the same element), the click finds it again on the new page.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + STEP;
        loop {
            match self.find(css).await?.click().await {
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                done => return done.with_context(|| format!("click `{css}`")),
            }
        }
    }

    /// Types into a field.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field
            .send_keys(value)
            .await
            .with_context(|| format!("type into `{css}`"))
    }

    /// Waits until the current page's path starts with `prefix`.
    pub async fn wait_for_path(&self, prefix: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + STEP;
        loop {
            let path = self.path().await?;
            if path.starts_with(prefix) {
                return Ok(path);
            }
            if Instant::now() > deadline {
                bail!("still on {path}, expected a page under {prefix}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts that the simulator-mode banner is on the current page and says so.
    pub async fn assert_banner(&self, words: &str) -> anyhow::Result<()> {
        let banner = self.text(".banner").await?;
        ensure!(banner.contains(words), "banner says {banner:?}, expected {words:?}");
        Ok(())
    }

    /// Follows the buyer from the gateway back to our status page `/payments/{id}` and on to the shop's page
    /// under `shop_path`, recording the states the status page showed on the way.
    pub async fn follow_status_page(&self, shop_path: &str) -> anyhow::Result<Landing> {
        let first = self.wait_for_path("/payments/").await?;
        let payment_id = first.trim_start_matches("/payments/").to_owned();
        let mut states: Vec<String> = Vec::new();
        // Long enough for a few 3-second refreshes while the notification is processed.
        let deadline = Instant::now() + STEP;
        loop {
            let path = self.path().await?;
            if path.starts_with("/payments/") {
                ensure!(path == first, "status page of another payment: {path} after {first}");
                if let Ok(el) = self.browser.client.find(Locator::Css("#payment-state")).await
                    && let Ok(Some(state)) = el.attr("data-state").await
                    && states.last() != Some(&state)
                {
                    states.push(state);
                }
            } else if path.starts_with(shop_path) {
                return Ok(Landing { payment_id, states });
            } else {
                bail!("left the status page for {path}, expected {shop_path} (states seen: {states:?})");
            }
            if Instant::now() > deadline {
                bail!("the status page never sent the buyer on to {shop_path} (states seen: {states:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /demo/events` from the page (as its script does), parsed.
    pub async fn demo_events(&self) -> anyhow::Result<Vec<Value>> {
        let body = self
            .browser
            .client
            .execute(
                "return fetch('/demo/events', {cache: 'no-store'}).then(r => r.text())",
                vec![],
            )
            .await?;
        let body = body.as_str().ok_or_else(|| anyhow!("/demo/events gave no text"))?;
        let json: Value = serde_json::from_str(body).context("/demo/events is JSON")?;
        json["events"]
            .as_array()
            .cloned()
            .ok_or_else(|| anyhow!("/demo/events has no `events` list: {json}"))
    }

    /// Waits until the demo's listener received events of exactly these types for `payment_id`, and returns
    /// them oldest first.
    pub async fn wait_for_events(&self, payment_id: &str, types: &[&str]) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + STEP;
        loop {
            let mut mine: Vec<Value> = self
                .demo_events()
                .await?
                .into_iter()
                .filter(|e| e["payment_id"] == payment_id)
                .collect();
            mine.reverse();
            let seen: Vec<&str> = mine.iter().filter_map(|e| e["type"].as_str()).collect();
            if seen == types {
                return Ok(mine);
            }
            if Instant::now() > deadline || seen.len() > types.len() {
                bail!("events for {payment_id}: {seen:?}, expected {types:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Goes back to the shop and waits until its live panel shows an event of `kind` for `payment_id`.
    pub async fn panel_shows(&self, shop_path: &str, payment_id: &str, kind: &str) -> anyhow::Result<()> {
        self.goto(shop_path).await?;
        self.find(&format!(
            r#"#events tr.event[data-payment="{payment_id}"][data-type="{kind}"]"#
        ))
        .await
        .map(|_| ())
    }

    /// Pays on the CM-CIC simulator's full card form.
    pub async fn pay_by_card(&self, number: &str, remember: bool) -> anyhow::Result<()> {
        self.fill("#card_number", number).await?;
        self.fill("#expiry", &next_year_expiry()).await?;
        self.fill("#cvv", "123").await?;
        if remember {
            self.click("#remember").await?;
        }
        self.click("form button[type=submit]").await
    }
}

/// An expiry date (`MM/YY`) a year from now.
pub fn next_year_expiry() -> String {
    use chrono::Datelike;
    let next = chrono::Utc::now().year() + 1;
    format!("12/{:02}", next % 100)
}
