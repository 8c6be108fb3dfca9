//! Attacks on Librement accounts over HTTP (issue 11, items 3 to 7), each reproduced as an attacker would
//! make it, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL: concurrent password guessing, floods of
//! password hashing, forced sign-out by a forged form, weak passwords, control characters in `next`.

#[path = "common/store.rs"]
mod common;
#[macro_use]
#[path = "common/librement_pages.rs"]
mod librement;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::on_every_backend;
use futures_util::future::join_all;
use librement::{Browser, PASSWORD, TestApp, body, csrf, location, pages};
use librement_pay::web::HashingSlots;

/// `n` wrong passwords for `email`, sent at once, each from a fresh browser (its own session and CSRF
/// token, its own address): the status of every answer.
async fn guess_concurrently(app: &impl TestApp, email: &str, n: usize) -> Vec<StatusCode> {
    let mut tabs = Vec::new();
    for i in 0..n {
        let mut browser = Browser::at(&format!("198.51.100.{}", i + 1));
        let (_, page) = browser.get(app, "/librement/sign-in").await;
        let token = csrf(&page);
        tabs.push((browser, token, format!("wrong guess number {i}")));
    }
    join_all(tabs.into_iter().map(|(mut browser, token, guess)| async move {
        browser
            .post(
                app,
                "/librement/sign-in",
                &[("csrf", &token), ("email", email), ("password", &guess)],
            )
            .await
            .status()
    }))
    .await
}

#[actix_web::test]
async fn thirty_concurrent_wrong_passwords_for_one_account_are_at_most_five_evaluated() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        let resp = Browser::at("192.0.2.1")
            .sign_up(&app, "ann@example.org", PASSWORD, "en")
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);

        let answers = guess_concurrently(&app, "ann@example.org", 30).await;

        let evaluated: Vec<_> = answers
            .iter()
            .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
            .collect();
        assert!(evaluated.len() <= 5, "{}: {answers:?}", db.backend);
        assert!(
            evaluated.iter().all(|s| **s == StatusCode::OK),
            "{}: an evaluated guess is answered 'wrong password': {answers:?}",
            db.backend
        );
    })
    .await;
}

#[actix_web::test]
async fn the_owner_signs_in_from_a_known_browser_while_an_attacker_keeps_the_account_locked() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        // Ann created her account in this browser, then signed out.
        let mut ann = Browser::at("192.0.2.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let (_, account) = ann.get(&app, "/librement/account").await;
        ann.post(&app, "/librement/sign-out", &[("csrf", &csrf(&account))])
            .await;
        assert!(!ann.is_signed_in(&app).await);
        // Mallory has an account of her own, and keeps guessing at Ann's.
        let mut mallory = Browser::at("203.0.113.66");
        mallory.sign_up(&app, "mallory@example.org", PASSWORD, "en").await;
        guess_concurrently(&app, "ann@example.org", 30).await;

        // The lock holds for every browser Ann never signed in with, even with the right password...
        let resp = Browser::at("192.0.2.200")
            .sign_in(&app, "ann@example.org", PASSWORD)
            .await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{}", db.backend);
        // ...and for Mallory's browser, known for her own account only.
        let resp = mallory.sign_in(&app, "ann@example.org", "one more guess").await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{}", db.backend);
        // Ann's own browser still signs in.
        let resp = ann.sign_in(&app, "ann@example.org", PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", db.backend);
        assert!(ann.is_signed_in(&app).await);
    })
    .await;
}

#[actix_web::test]
async fn a_known_browser_gets_five_wrong_passwords_of_its_own_and_no_more() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        let mut ann = Browser::at("192.0.2.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let mut answers = Vec::new();
        for i in 0..6 {
            answers.push(
                ann.sign_in(&app, "ann@example.org", &format!("mistyped {i}"))
                    .await
                    .status(),
            );
        }
        let expected = [[StatusCode::OK; 5].as_slice(), &[StatusCode::TOO_MANY_REQUESTS]].concat();
        assert_eq!(answers, expected, "{}", db.backend);
    })
    .await;
}

/// One answer to a sign-up: its status, its `Retry-After`, its page.
type Answer = (StatusCode, Option<String>, String);

/// `n` sign-ups at once, each from a fresh browser with its own e-mail, in `lang`.
async fn sign_up_concurrently(app: &impl TestApp, n: usize, lang: &str) -> Vec<Answer> {
    join_all((0..n).map(|i| async move {
        let mut browser = Browser::at(&format!("198.51.100.{}", i + 1));
        let resp = browser
            .sign_up(app, &format!("reader{i}@example.org"), PASSWORD, lang)
            .await;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (resp.status(), retry_after, body(resp).await)
    }))
    .await
}

#[actix_web::test]
async fn argon2_hashes_in_flight_never_exceed_the_slots() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::new(2, Duration::from_secs(60)));
        let app = librement_app!(pages);
        let answers = sign_up_concurrently(&app, 12, "en").await;
        assert!(answers.iter().all(|(s, ..)| *s == StatusCode::SEE_OTHER), "{answers:?}");
        let peak = pages.librement.slots.peak_in_flight();
        assert!((1..=2).contains(&peak), "{}: {peak} hashes at once", db.backend);
    })
    .await;
}

#[actix_web::test]
async fn a_password_that_waits_too_long_for_a_hashing_slot_is_answered_503_with_retry_after() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::new(1, Duration::from_millis(1)));
        let app = librement_app!(pages);
        let answers = sign_up_concurrently(&app, 8, "fr").await;
        let busy: Vec<_> = answers
            .iter()
            .filter(|(s, ..)| *s == StatusCode::SERVICE_UNAVAILABLE)
            .collect();
        assert!(!busy.is_empty(), "{}: one slot, seven waiting", db.backend);
        for (_, retry_after, page) in &busy {
            assert!(
                retry_after.as_deref().is_some_and(|s| s.parse::<u32>().is_ok()),
                "{retry_after:?}"
            );
            assert!(page.contains("Le service est occupé"), "{page}");
        }
        assert!(
            answers
                .iter()
                .all(|(s, ..)| [StatusCode::SEE_OTHER, StatusCode::SERVICE_UNAVAILABLE].contains(s)),
            "{answers:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn a_cross_site_post_with_a_wrong_csrf_token_leaves_the_session_signed_in() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        let mut victim = Browser::at("192.0.2.1");
        victim.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        assert!(victim.is_signed_in(&app).await);
        let forms: [(&str, &[(&str, &str)]); 3] = [
            ("/librement/sign-out", &[("csrf", "forged")]),
            (
                "/librement/sign-in",
                &[("csrf", "forged"), ("email", "eve@example.org"), ("password", PASSWORD)],
            ),
            (
                "/librement/sign-up",
                &[
                    ("csrf", "forged"),
                    ("email", "eve@example.org"),
                    ("display_name", "Eve"),
                    ("password", PASSWORD),
                ],
            ),
        ];
        for (route, form) in forms {
            // What another site's page makes the victim's browser send: the victim's cookies, a
            // token the attacker cannot know.
            let resp = victim.post(&app, route, form).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{route}");
            assert!(
                resp.headers().get("set-cookie").is_none(),
                "{route}: the forged form sets no cookie"
            );
            assert!(victim.is_signed_in(&app).await, "{route}: still signed in");
        }
    })
    .await;
}

#[actix_web::test]
async fn weak_passwords_are_refused_with_the_reason_in_english_and_french() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        let cases = [
            ("1234567890", "en", "This password is too easy to guess"),
            ("          ", "en", "This password is too easy to guess"),
            ("1234567890", "fr", "Ce mot de passe est trop facile à deviner"),
            ("ann@example.org!", "en", "This password is too easy to guess"),
        ];
        for (password, lang, reason) in cases {
            let mut browser = Browser::at("192.0.2.1");
            let resp = browser.sign_up(&app, "ann@example.org", password, lang).await;
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password:?}");
            let page = body(resp).await;
            assert!(page.contains(reason), "{password:?} {lang}: {page}");
            assert!(!browser.is_signed_in(&app).await, "no account for {password:?}");
        }
        let resp = Browser::at("192.0.2.1")
            .sign_up(&app, "ann@example.org", PASSWORD, "en")
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "a strong password is accepted");
    })
    .await;
}

#[actix_web::test]
async fn control_characters_in_next_fall_back_to_the_account_page() {
    on_every_backend(|db| async move {
        let pages = pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(pages);
        Browser::at("192.0.2.1")
            .sign_up(&app, "ann@example.org", PASSWORD, "en")
            .await;
        let nexts = [
            "/librement/pay/x\r\nSet-Cookie: librement_session=forged",
            "/librement/account\n",
            "/librement/account\0",
            "/librement/\tpay",
            "/librement/\x7f",
            "/librement/caf\u{e9}",
        ];
        for (n, next) in nexts.into_iter().enumerate() {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            let mut browser = Browser::at("192.0.2.1");
            for page in ["sign-in", "sign-up"] {
                let (status, html) = browser.get(&app, &format!("/librement/{page}?{query}")).await;
                assert_eq!(status, StatusCode::OK, "{page} {next:?}");
                // Tera writes `/` as `&#x2F;`.
                assert!(
                    html.contains(r#"name="next" value="&#x2F;librement&#x2F;account""#),
                    "{page} {next:?}: {html}"
                );
            }
            let (_, html) = browser.get(&app, "/librement/sign-in").await;
            let resp = browser
                .post(
                    &app,
                    "/librement/sign-in",
                    &[
                        ("csrf", &csrf(&html)),
                        ("email", "ann@example.org"),
                        ("password", PASSWORD),
                        ("next", next),
                    ],
                )
                .await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "sign-in {next:?}");
            assert_eq!(location(&resp), "/librement/account", "sign-in {next:?}");
            let mut newcomer = Browser::at("192.0.2.2");
            let (_, html) = newcomer.get(&app, "/librement/sign-up").await;
            let email = format!("reader{n}@example.org");
            let resp = newcomer
                .post(
                    &app,
                    "/librement/sign-up",
                    &[
                        ("csrf", &csrf(&html)),
                        ("email", &email),
                        ("display_name", "Reader"),
                        ("password", PASSWORD),
                        ("next", next),
                    ],
                )
                .await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "sign-up {next:?}");
            assert_eq!(location(&resp), "/librement/account", "sign-up {next:?}");
        }
    })
    .await;
}
