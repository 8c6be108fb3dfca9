//! E-mail over HTTP: the verification link sent at sign-up, password reset (the same answer with or without
//! an account, throttled under parallel requests, every session ended), receipts, read from a local SMTP
//! sink through the real `lettre` transport and from the simulator's mailbox, links followed. On SQLite and
//! (with `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;
#[macro_use]
#[path = "common/librement_pages.rs"]
mod pages;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use std::sync::Arc;

use actix_pay_server::config::{MailConfig, MailTls};
use actix_pay_server::mail::SmtpMailer;
use actix_pay_server::simulator::mail::MailboxPage;
use actix_pay_server::store::DieselStore;
use actix_web::http::StatusCode;
use chrono::Utc;
use common::*;
use librement_pay::accounts::{Email, UserStore};
use librement_pay::ledger::{LedgerStore, NewTransaction};
use librement_pay::mail::{Mailbox, send_due};
use librement_pay::purchase::BalancePayments;
use librement_pay::web::HashingSlots;
use pages::{BASE, Browser, PASSWORD, body, csrf, location};
use smtp_sink::{SmtpSink, link};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn mailer(sink: &SmtpSink) -> SmtpMailer {
    SmtpMailer::new(&MailConfig {
        host: "127.0.0.1".into(),
        port: sink.port,
        tls: MailTls::None,
        username: None,
        password: None,
        from: "Librement <no-reply@pay.example>".into(),
    })
    .expect("a mailer")
}

/// The pages, and the simulator's mailbox, over `store`.
macro_rules! app {
    ($store:expr) => {{
        let p = pages::pages($store, HashingSlots::for_this_machine());
        let mailbox = Arc::new(MailboxPage::new(
            Arc::new($store.clone()),
            p.state.templates.clone(),
            BASE,
        ));
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(actix_pay_server::app::configure(p.state.clone()))
                .configure(librement_pay::web::configure(p.librement.clone()))
                .configure(actix_pay_server::simulator::mail::configure(mailbox)),
        )
        .await
    }};
}

/// A link of ours as a path the test app serves.
fn path(link: &str) -> String {
    link.strip_prefix(BASE).expect("a link to the service").to_owned()
}

async fn user_verified(store: &DieselStore, email: &str) -> bool {
    store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .is_some_and(|u| u.email_verified)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_link_sent_at_sign_up_verifies_the_signed_in_account_once() {
    on_every_backend(|db| async move {
        let sink = SmtpSink::start().await;
        let app = app!(&db.store);
        let mut ann = Browser::at("10.0.0.1");
        assert_eq!(
            ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await.status(),
            StatusCode::SEE_OTHER
        );
        let (_, page) = ann.get(&app, "/librement/account").await;
        assert!(page.contains(r#"id="not-verified""#), "{page}");

        assert_eq!(send_due(&db.store, &mailer(&sink), Utc::now()).await.unwrap(), 1);
        let mail = sink.to("ann@example.org").pop().expect("the verification e-mail");
        assert_eq!(mail.subject, "Confirm your Librement e-mail address");
        let link = link(&mail.text, BASE).expect("a link");
        assert!(link.starts_with(&format!("{BASE}/librement/verify?token=")), "{link}");

        // Opened in another browser, not signed in: sign in first; nothing is verified.
        let mut elsewhere = Browser::at("10.0.0.2");
        let resp = elsewhere.post(&app, "/librement/sign-out", &[]).await;
        drop(resp);
        let (status, _) = elsewhere.get(&app, &path(&link)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(!user_verified(&db.store, "ann@example.org").await);

        let (status, page) = ann.get(&app, &path(&link)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Your e-mail address is confirmed."), "{page}");
        assert!(user_verified(&db.store, "ann@example.org").await, "{}", db.backend);
        let (status, page) = ann.get(&app, &path(&link)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "single use: {page}");
        // A tampered link is refused.
        let (status, _) = ann.get(&app, &path(&link).replace("token=", "token=x")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // The SMTP server took it: the queue keeps no usable link.
        let queued = librement_pay::mail::MailQueue::mailbox(&db.store, 10).await.unwrap();
        assert!(queued.iter().all(|m| !m.text.contains("token=")), "{queued:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_answers_alike_with_or_without_an_account_and_ends_every_session() {
    on_every_backend(|db| async move {
        let sink = SmtpSink::start().await;
        let app = app!(&db.store);
        let mut ann = Browser::at("10.0.1.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let mut copy = ann.clone();
        assert!(copy.is_signed_in(&app).await);

        let ask = |email: &'static str| {
            let app = &app;
            async move {
                let mut b = Browser::at("10.0.1.2");
                let (_, form) = b.get(app, "/librement/password-reset").await;
                let resp = b
                    .post(
                        app,
                        "/librement/password-reset",
                        &[("csrf", &csrf(&form)), ("email", email)],
                    )
                    .await;
                (resp.status(), body(resp).await)
            }
        };
        let (known_status, known) = ask("ann@example.org").await;
        let (unknown_status, unknown) = ask("nobody@example.org").await;
        assert_eq!((known_status, unknown_status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(known, unknown, "the same answer");
        assert!(known.contains("If an account uses this address"), "{known}");

        send_due(&db.store, &mailer(&sink), Utc::now()).await.unwrap();
        assert!(sink.to("nobody@example.org").is_empty());
        let reset = sink
            .to("ann@example.org")
            .into_iter()
            .find(|m| m.subject == "Reset your Librement password")
            .expect("the reset e-mail");
        let link = link(&reset.text, BASE).expect("a link");
        let mut reader = Browser::at("10.0.1.3");
        let (status, form) = reader.get(&app, &path(&link)).await;
        assert_eq!(status, StatusCode::OK, "{form}");
        let weak = reader
            .post(
                &app,
                &path(&link),
                &[("csrf", &csrf(&form)), ("password", "1234567890")],
            )
            .await;
        assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let done = reader
            .post(
                &app,
                &path(&link),
                &[("csrf", &csrf(&form)), ("password", NEW_PASSWORD)],
            )
            .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&done), "/librement/sign-in?notice=reset");

        assert!(!ann.is_signed_in(&app).await, "{}: the old session ended", db.backend);
        assert!(!copy.is_signed_in(&app).await, "and every copy of it");
        let (status, _) = reader.get(&app, &path(&link)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "single use");
        let mut fresh = Browser::at("10.0.1.4");
        assert_eq!(
            fresh.sign_in(&app, "ann@example.org", PASSWORD).await.status(),
            StatusCode::OK,
            "old password"
        );
        assert_eq!(
            fresh.sign_in(&app, "ann@example.org", NEW_PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
        assert!(
            user_verified(&db.store, "ann@example.org").await,
            "the link proved the mailbox"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_reset_requests_for_one_address_send_at_most_three_links() {
    on_every_backend(|db| async move {
        let app = app!(&db.store);
        let mut ann = Browser::at("10.0.2.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let mut browsers = Vec::new();
        for i in 0..12 {
            let mut b = Browser::at(&format!("10.0.3.{i}"));
            let (_, form) = b.get(&app, "/librement/password-reset").await;
            browsers.push((b, csrf(&form)));
        }
        let answers = futures_util::future::join_all(browsers.iter_mut().map(|(b, token)| {
            let app = &app;
            async move {
                b.post(
                    app,
                    "/librement/password-reset",
                    &[("csrf", token.as_str()), ("email", "ann@example.org")],
                )
                .await
                .status()
            }
        }))
        .await;
        let granted = answers.iter().filter(|s| **s == StatusCode::OK).count();
        let throttled = answers.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((granted, throttled), (3, 9), "{}: {answers:?}", db.backend);
        let resets = librement_pay::mail::MailQueue::mailbox(&db.store, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.subject == "Reset your Librement password")
            .count();
        assert_eq!(resets, 3);
        // An address without an account is throttled alike.
        let mut last = Browser::at("10.0.4.1");
        for expected in [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
        ] {
            let (_, form) = last.get(&app, "/librement/password-reset").await;
            let status = last
                .post(
                    &app,
                    "/librement/password-reset",
                    &[("csrf", &csrf(&form)), ("email", "nobody@example.org")],
                )
                .await
                .status();
            assert_eq!(status, expected);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_from_the_balance_sends_the_buyer_a_receipt_through_smtp() {
    on_every_backend(|db| async move {
        let sink = SmtpSink::start().await;
        let app = app!(&db.store);
        let mut ann = Browser::at("10.0.5.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let id = db
            .store
            .user_by_email(&Email::parse("ann@example.org").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id;
        db.store
            .post(NewTransaction::top_up("seed", id, "cmcic", pages_eur("50.00")).unwrap())
            .await
            .unwrap();
        let purchase = librement_purchase(&db, "30.00").await;
        db.store.pay_from_balance(&purchase, id, Utc::now()).await.unwrap();
        send_due(&db.store, &mailer(&sink), Utc::now()).await.unwrap();
        let receipt = sink
            .to("ann@example.org")
            .into_iter()
            .find(|m| m.subject.starts_with("Your Librement receipt"))
            .expect("a receipt");
        assert!(receipt.subject.contains("€30.00"), "{}", receipt.subject);
        assert!(
            receipt.text.contains("Paid: €30.00 from your Librement account"),
            "{}",
            receipt.text
        );
        assert!(receipt.text.contains("Paid to: author@example.org"), "{}", receipt.text);
        assert!(receipt.text.contains(&format!("Payment number: {purchase}")));
        // Sent once: a second round sends nothing.
        assert_eq!(send_due(&db.store, &mailer(&sink), Utc::now()).await.unwrap(), 0);
        let _ = app;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_mailbox_shows_each_message_and_its_links_work() {
    on_every_backend(|db| async move {
        let app = app!(&db.store);
        let mut ann = Browser::at("10.0.6.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "fr").await;
        send_due(&db.store, &Mailbox, Utc::now()).await.unwrap();
        let (status, page) = ann.get(&app, "/simulator/mail").await;
        assert_eq!(status, StatusCode::OK);
        let page = page.replace("&#x2F;", "/");
        assert!(page.contains("Confirmez votre adresse e-mail Librement"), "{page}");
        let start = page
            .find(&format!(r#"<a href="{BASE}/librement/verify?token="#))
            .expect("a link")
            + 9;
        let href = page[start..].split('"').next().unwrap().replace("&amp;", "&");
        let (status, confirmed) = ann.get(&app, &path(&href)).await;
        assert_eq!(status, StatusCode::OK, "{confirmed}");
        assert!(confirmed.contains("Votre adresse e-mail est confirmée."), "{confirmed}");
    })
    .await;
}

fn pages_eur(s: &str) -> payment_buttons::money::Money {
    payment_buttons::money::Money::parse(s, "EUR").unwrap()
}

async fn librement_purchase(db: &TestDb, amount: &str) -> payment_buttons::payment::PaymentId {
    use payment_buttons::store::{NewPayment, Store};
    let button = payment_buttons::button::ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-5",
          "options": [{{"description": "Book", "amount": "{amount}", "currency": "EUR"}}],
          "payment_options": {{"librement": {{"seller": "author@example.org"}}}},
          "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
    ))
    .unwrap();
    let p = NewPayment {
        id: payment_buttons::payment::PaymentId::generate(),
        gateway: "librement".into(),
        button,
        option_index: 0,
        amount: pages_eur(amount),
        receiver: Some("author@example.org".into()),
        subscription_id: None,
        created_at: t0(),
    };
    let id = p.id.clone();
    db.store.create_payment(p).await.unwrap();
    id
}
