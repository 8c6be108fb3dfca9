//! The little HTML this crate writes by hand (the hand-off page, the plain status and error pages).

/// Escapes text for HTML element content and double-quoted attributes.
///
/// ```
/// use payment_buttons::html::escape_html;
/// assert_eq!(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain error page for the buyer: a title and a reason, no internals.
pub fn error_page(title: &str, reason: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{r}</p></body></html>",
        t = escape_html(title),
        r = escape_html(reason)
    )
}
