//! Feature `tera`: the `payment_button` function, registered on the application's own [`tera::Tera`].
//!
//! ```
//! use std::sync::Arc;
//! use payment_buttons::tera::ButtonFunction;
//! use payment_buttons::token::ButtonSigner;
//!
//! let mut tera = tera::Tera::default();
//! let function = ButtonFunction::new(ButtonSigner::new(b"service secret, 32 bytes or more."), "https://pay.example/pay");
//! tera.register_function("payment_button", function);
//! tera.add_raw_template("shop.html", "<main>{{ payment_button(config=button) }}</main>").unwrap();
//!
//! let mut ctx = tera::Context::new();
//! ctx.insert("button", &serde_json::json!({
//!     "order_reference": "ORDER-7",
//!     "options": [{ "description": "Manual", "amount": "12.50", "currency": "EUR" }],
//!     "payment_options": { "paypal": {} },
//!     "urls": { "back": "https://shop.example/", "accepted": "https://shop.example/ok",
//!               "declined": "https://shop.example/ko" }
//! }));
//! let html = tera.render("shop.html", &ctx).unwrap();
//! // Tera's auto-escaping writes `/` as `&#x2F;` in attributes; browsers read it back as `/`.
//! assert!(html.contains(r#"action="https:&#x2F;&#x2F;pay.example&#x2F;pay""#));
//! assert!(html.contains("€12.50"));
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::button::{ButtonConfig, ButtonError};
use crate::gateway::Gateways;
use crate::i18n;
use crate::token::ButtonSigner;

/// The default button template (Tera syntax). Replace it with [`ButtonFunction::with_template`].
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/button.html");

type Check = Arc<dyn Fn(&ButtonConfig) -> Result<(), ButtonError> + Send + Sync>;
type Label = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

/// The `payment_button(config=...)` Tera function: validates the configuration, signs it and renders the
/// button. Its output is marked safe (it is HTML built by an auto-escaping template).
#[derive(Clone)]
pub struct ButtonFunction {
    signer: ButtonSigner,
    action: String,
    ttl: Duration,
    templates: Arc<tera::Tera>,
    check: Option<Check>,
    label: Label,
}

impl std::fmt::Debug for ButtonFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ButtonFunction")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// What the button template sees, besides the configuration.
#[derive(Debug, Serialize)]
struct View<'a> {
    action: &'a str,
    token: &'a str,
    text: &'a str,
    choose_label: &'a str,
    image_url: Option<&'a str>,
    language: &'a str,
    options: Vec<OptionView>,
    methods: Vec<MethodView>,
}

#[derive(Debug, Serialize)]
struct OptionView {
    description: String,
    price: String,
    recurrence_months: Option<u8>,
}

#[derive(Debug, Serialize)]
struct MethodView {
    name: String,
    label: String,
}

fn template_set(source: &str) -> Result<tera::Tera, tera::Error> {
    let mut t = tera::Tera::default();
    // The .html name turns auto-escaping on.
    t.add_raw_template("button.html", source)?;
    Ok(t)
}

impl ButtonFunction {
    /// A function that signs with `signer` and posts to `action` (the service's absolute `/pay` URL).
    pub fn new(signer: ButtonSigner, action: impl Into<String>) -> Self {
        ButtonFunction {
            signer,
            action: action.into(),
            ttl: Duration::from_secs(30 * 24 * 3600),
            templates: Arc::new(template_set(DEFAULT_TEMPLATE).expect("the default template parses")),
            check: None,
            label: Arc::new(|name, _| name.to_owned()),
        }
    }

    /// Checks buttons against these gateways before signing ([`Gateways::check_button`]), and labels the
    /// submit buttons with the gateways' names in the button's language ([`Gateway::label`]).
    ///
    /// [`Gateway::label`]: crate::gateway::Gateway::label
    pub fn with_gateways(mut self, gateways: Gateways) -> Self {
        let for_check = gateways.clone();
        self.check = Some(Arc::new(move |button| for_check.check_button(button)));
        self.label = Arc::new(move |name, language| match gateways.get(name) {
            Some(g) => g.label(language),
            None => name.to_owned(),
        });
        self
    }

    /// Token lifetime (default 30 days).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Replaces the button template (Tera syntax; see [`DEFAULT_TEMPLATE`] for the variables).
    pub fn with_template(mut self, source: &str) -> Result<Self, tera::Error> {
        self.templates = Arc::new(template_set(source)?);
        Ok(self)
    }

    /// Validates, signs and renders a button: the same HTML the Tera function returns.
    pub fn render(&self, config: &ButtonConfig, now: chrono::DateTime<chrono::Utc>) -> Result<Rendered, RenderError> {
        if let Some(check) = &self.check {
            check(config)?;
        }
        let token = self.signer.sign(config, self.ttl, now)?;
        let html = self.render_with_token(config, &token)?;
        Ok(Rendered { token, html })
    }

    /// Renders a button for an already signed token. Pure: same inputs, same HTML.
    pub fn render_with_token(&self, config: &ButtonConfig, token: &str) -> Result<String, RenderError> {
        let language = config.language().as_str();
        let words = i18n::words(language);
        let view = View {
            action: &self.action,
            token,
            text: config.text().unwrap_or(words.pay),
            choose_label: words.choose,
            image_url: config.image_url().map(|u| u.as_str()),
            language,
            options: config
                .options()
                .iter()
                .map(|o| OptionView {
                    description: o.description().to_owned(),
                    price: i18n::price(&o.amount(), o.recurrence_months(), language),
                    recurrence_months: o.recurrence_months(),
                })
                .collect(),
            methods: config
                .payment_options()
                .keys()
                .map(|name| MethodView {
                    name: name.clone(),
                    label: (self.label)(name, language),
                })
                .collect(),
        };
        let ctx = tera::Context::from_serialize(&view).map_err(|e| RenderError::Template(e.to_string()))?;
        self.templates
            .render("button.html", &ctx)
            .map_err(|e| RenderError::Template(template_error(&e)))
    }
}

fn template_error(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A rendered button and the token inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The signed token.
    pub token: String,
    /// The `<form>`.
    pub html: String,
}

/// Why a button could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The configuration is not valid (for these gateways).
    #[error("{0}")]
    Button(#[from] ButtonError),
    /// The template failed.
    #[error("button template: {0}")]
    Template(String),
}

impl tera::Function for ButtonFunction {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let config = args
            .get("config")
            .ok_or_else(|| tera::Error::msg("payment_button: missing `config` argument"))?;
        let config: ButtonConfig = serde_json::from_value(config.clone())
            .map_err(|e| tera::Error::msg(format!("payment_button: invalid config: {e}")))?;
        let rendered = self
            .render(&config, chrono::Utc::now())
            .map_err(|e| tera::Error::msg(format!("payment_button: {e}")))?;
        Ok(tera::Value::String(rendered.html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// A [`StatusPage`](crate::status::StatusPage) rendered from the application's own Tera template: the
/// template sees the [`StatusView`](crate::status::StatusView) as `view` (`view.headline`, `view.next_url`,
/// `view.refresh_url`...). Errors (an unknown payment) use `error_template` when given, with `title` and
/// `reason`, else the plain page.
///
/// ```
/// use std::sync::Arc;
/// use payment_buttons::tera::TeraStatusPage;
/// let mut tera = tera::Tera::default();
/// tera.add_raw_template("status.html", "<h1>{{ view.title }}</h1><p>{{ view.headline }}</p>").unwrap();
/// let page = TeraStatusPage::new(Arc::new(tera), "status.html");
/// // mounted with payment_buttons::actix::configure_with(engine, Arc::new(page))
/// ```
#[derive(Debug, Clone)]
pub struct TeraStatusPage {
    tera: Arc<tera::Tera>,
    template: String,
    error_template: Option<String>,
}

impl TeraStatusPage {
    /// Renders `template` of `tera`.
    pub fn new(tera: Arc<tera::Tera>, template: impl Into<String>) -> Self {
        TeraStatusPage {
            tera,
            template: template.into(),
            error_template: None,
        }
    }

    /// Renders errors with `template` too (context: `title`, `reason`).
    pub fn with_error_template(mut self, template: impl Into<String>) -> Self {
        self.error_template = Some(template.into());
        self
    }
}

impl crate::status::StatusPage for TeraStatusPage {
    fn render(&self, view: &crate::status::StatusView) -> Result<String, String> {
        let mut ctx = tera::Context::new();
        ctx.insert("view", view);
        // Debug: a template error's cause is in its source chain, not in its Display.
        self.tera.render(&self.template, &ctx).map_err(|e| format!("{e:?}"))
    }

    fn error(&self, error: crate::status::StatusError) -> String {
        let (title, reason) = error.words();
        let rendered = self.error_template.as_ref().and_then(|template| {
            let mut ctx = tera::Context::new();
            ctx.insert("title", title);
            ctx.insert("reason", reason);
            self.tera
                .render(template, &ctx)
                .inspect_err(|e| tracing::error!(template, error = ?e, "status error page failed"))
                .ok()
        });
        rendered.unwrap_or_else(|| crate::html::error_page(title, reason))
    }
}
