//! `GET /simulator/mail`: the mailbox of every e-mail the service sent, in simulator mode only (it shows
//! reset links: a real server must never have it). Links to this service are shown as links, so that a
//! verification or reset can be clicked through with no mail server.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use librement_pay::mail::MailQueue;
use serde::Serialize;

/// The mailbox: the queue it reads and the templates.
pub struct MailboxPage<Q: MailQueue> {
    queue: Arc<Q>,
    templates: Arc<tera::Tera>,
    base: String,
}

impl<Q: MailQueue> MailboxPage<Q> {
    /// The mailbox of `queue`; links starting with `base` (the public URL) are clickable.
    pub fn new(queue: Arc<Q>, templates: Arc<tera::Tera>, base: &str) -> Self {
        MailboxPage {
            queue,
            templates,
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

/// Mounts `GET /simulator/mail`.
pub fn configure<Q: MailQueue>(page: Arc<MailboxPage<Q>>) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource("/simulator/mail")
                .app_data(web::Data::from(page))
                .route(web::get().to(show::<Q>)),
        );
    }
}

/// A piece of a message's text: plain, or a link to this service.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Piece {
    text: String,
    link: bool,
}

#[derive(Serialize)]
struct MailView {
    id: i64,
    to: String,
    subject: String,
    created_at: String,
    sent: bool,
    lines: Vec<Vec<Piece>>,
}

/// Splits `line` into text and the links (to `base`) it holds.
fn pieces(line: &str, base: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, word) in line.split(' ').enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let link = word.starts_with(base) && word.len() > base.len();
        match out.last_mut() {
            Some(Piece { text, link: false }) if !link => {
                text.push_str(sep);
                text.push_str(word);
            }
            _ => {
                if !sep.is_empty() {
                    out.push(Piece {
                        text: sep.into(),
                        link: false,
                    });
                }
                out.push(Piece {
                    text: word.into(),
                    link,
                });
            }
        }
    }
    out
}

async fn show<Q: MailQueue>(page: web::Data<MailboxPage<Q>>) -> HttpResponse {
    let mails = match page.queue.mailbox(100).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "simulator mailbox");
            return HttpResponse::ServiceUnavailable().body("the mailbox cannot be read now\n");
        }
    };
    let views: Vec<MailView> = mails
        .into_iter()
        .map(|m| MailView {
            id: m.id,
            to: m.to,
            subject: m.subject,
            created_at: m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            sent: m.sent_at.is_some(),
            lines: m.text.lines().map(|l| pieces(l, &page.base)).collect(),
        })
        .collect();
    let mut ctx = crate::pages::context("en", true);
    ctx.insert("mails", &views);
    crate::pages::render(&page.templates, "simulator/mail.html", &ctx, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_links_to_this_service_become_links() {
        let p = pieces(
            "open http://127.0.0.1:8080/librement/verify?token=x now, not http://evil.example/",
            "http://127.0.0.1:8080",
        );
        assert_eq!(p.iter().filter(|p| p.link).count(), 1);
        assert_eq!(
            p.iter().map(|p| p.text.as_str()).collect::<String>(),
            "open http://127.0.0.1:8080/librement/verify?token=x now, not http://evil.example/"
        );
    }
}
