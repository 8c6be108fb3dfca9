//! The server's look of the buyer's status page (`GET /payments/{id}`, served by the core's routes):
//! what the page says is the core's [`StatusView`]; this renders it with the server's templates
//! (`status.html` on `base.html`, the simulator banner) and its error page.

use std::sync::Arc;

use payment_buttons::status::{StatusError, StatusPage, StatusView};

/// The status page in the server's style.
#[derive(Debug, Clone)]
pub struct ServerStatusPage {
    templates: Arc<tera::Tera>,
    simulator: bool,
}

impl ServerStatusPage {
    /// Over the server's templates; `simulator` shows the simulator banner.
    pub fn new(templates: Arc<tera::Tera>, simulator: bool) -> Self {
        ServerStatusPage { templates, simulator }
    }
}

impl StatusPage for ServerStatusPage {
    fn render(&self, view: &StatusView) -> Result<String, String> {
        let mut ctx = super::context(&view.lang, self.simulator);
        ctx.insert("view", view);
        self.templates.render("status.html", &ctx).map_err(|e| format!("{e:?}"))
    }

    fn error(&self, error: StatusError) -> String {
        let (title, reason) = error.words();
        let mut ctx = super::context("en", self.simulator);
        ctx.insert("title", title);
        ctx.insert("reason", reason);
        self.templates.render("error.html", &ctx).unwrap_or_else(|e| {
            tracing::error!(error = ?e, "error template failed");
            payment_buttons::html::error_page(title, reason)
        })
    }
}
