//! The Librement pages' templates, embedded at build time so that a binary using them runs from any
//! directory. Their sources are in this crate's `templates/` folder.
//!
//! Every page extends `base.html`, the host application's layout, which must define the blocks `title`,
//! `head` and `content`. The pages' context gives the layout `lang` (`en` or `fr`) and `simulator` (true
//! when the host runs every gateway as a simulator, so that the layout can say so); what the layout says
//! with them is the host's.
//!
//! ```
//! let mut tera = tera::Tera::default();
//! let base = ("base.html", "<title>{% block title %}{% endblock title %}</title>\
//!     {% block head %}{% endblock head %}{% block content %}{% endblock content %}");
//! tera.add_raw_templates(librement_pay::web::TEMPLATES.iter().copied().chain([base]))
//!     .expect("the pages parse under the host's layout");
//! assert!(tera.get_template_names().any(|name| name == "librement/sign_in.html"));
//! ```

/// Every page, as `(name, source)`: the names the pages render, under `librement/`.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("librement/account.html", include_str!("../../templates/account.html")),
    ("librement/choose.html", include_str!("../../templates/choose.html")),
    ("librement/confirm.html", include_str!("../../templates/confirm.html")),
    ("librement/message.html", include_str!("../../templates/message.html")),
    (
        "librement/password_new.html",
        include_str!("../../templates/password_new.html"),
    ),
    (
        "librement/password_reset.html",
        include_str!("../../templates/password_reset.html"),
    ),
    ("librement/sign_in.html", include_str!("../../templates/sign_in.html")),
    ("librement/sign_up.html", include_str!("../../templates/sign_up.html")),
    ("librement/start.html", include_str!("../../templates/start.html")),
    ("librement/top_up.html", include_str!("../../templates/top_up.html")),
];
