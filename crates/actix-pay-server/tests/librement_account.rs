//! The account pages over HTTP: the balance and the statement (pages, CSV), `lang` across the sign-in,
//! adding money through a gateway until the statement shows it, the choice kept after "Password
//! confirmed", and a top-up's status page leading straight to its purchase's. Ledger paths on SQLite and
//! (with `TEST_DATABASE_URL`) PostgreSQL.

#[path = "common/store.rs"]
mod common;
#[macro_use]
#[path = "common/librement_pages.rs"]
mod pages;

use actix_web::http::StatusCode;
use chrono::Utc;
use common::*;
use librement_pay::accounts::{Email, UserStore};
use librement_pay::ledger::{Account, LedgerStore, NewTransaction};
use librement_pay::purchase::BalancePayments;
use librement_pay::web::HashingSlots;
use pages::{BASE, Browser, PASSWORD, body, csrf, location};
use payment_buttons::button::ButtonConfig;
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Target};
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{NewPayment, Store};

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

async fn user_id(db: &TestDb, email: &str) -> i64 {
    db.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A Librement purchase of `amount` with `order_reference`, the button's e-mail `email`.
async fn purchase(db: &TestDb, amount: &str, order_reference: &str, email: Option<&str>) -> PaymentId {
    let email = email.map(|e| format!(r#""email": "{e}","#)).unwrap_or_default();
    let button = ButtonConfig::from_json(&format!(
        r#"{{"order_reference": {order_reference:?}, {email}
          "options": [{{"description": "Manual, PDF", "amount": "{amount}", "currency": "EUR"}}],
          "payment_options": {{"librement": {{"seller": "author@example.org"}}}},
          "urls": {{"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}}}"#
    ))
    .unwrap();
    let p = NewPayment {
        id: PaymentId::generate(),
        gateway: "librement".into(),
        button,
        option_index: 0,
        amount: eur(amount),
        receiver: Some("author@example.org".into()),
        subscription_id: None,
        created_at: Utc::now(),
    };
    let id = p.id.clone();
    db.store.create_payment(p).await.unwrap();
    id
}

/// An attribute's text as a browser reads it (Tera escapes `/` and `&`).
fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/").replace("&amp;", "&")
}

/// The value of the hidden field `name` of a form.
fn field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    unescape(html[start..].split('"').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_keeps_french_across_the_sign_in_redirect() {
    on_every_backend(|db| async move {
        let p = pages::pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(p);
        let mut ann = Browser::at("10.1.0.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "fr").await;
        let mut other = Browser::at("10.1.0.2");
        let resp = other.post(&app, "/librement/sign-out", &[]).await;
        drop(resp);
        let (status, _) = other.get(&app, "/librement/account?lang=fr").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let req = actix_web::test::TestRequest::get()
            .uri("/librement/account?lang=fr")
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        let target = location(&resp);
        assert_eq!(
            target,
            "/librement/sign-in?lang=fr&next=%2Flibrement%2Faccount%3Flang%3Dfr"
        );
        let (_, page) = other.get(&app, &target).await;
        assert!(page.contains("Se connecter"), "French sign-in page");
        let resp = other
            .post(
                &app,
                "/librement/sign-in",
                &[
                    ("csrf", &csrf(&page)),
                    ("email", "ann@example.org"),
                    ("password", PASSWORD),
                    ("next", &field(&page, "next")),
                    ("lang", "fr"),
                ],
            )
            .await;
        assert_eq!(location(&resp), "/librement/account?lang=fr");
        let (_, account) = other.get(&app, "/librement/account?lang=fr").await;
        assert!(
            account.contains("Relevé") && account.contains("Ajouter de l&#x27;argent"),
            "{account}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_pages_back_and_downloads_as_csv_with_formula_cells_neutralized() {
    on_every_backend(|db| async move {
        let p = pages::pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(p);
        let mut ann = Browser::at("10.1.1.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let id = user_id(&db, "ann@example.org").await;
        for i in 0..27 {
            db.store
                .post(NewTransaction::top_up(format!("seed:{i}"), id, "cmcic", eur("1.00")).unwrap())
                .await
                .unwrap();
        }
        let evil = purchase(&db, "2.00", "=HYPERLINK(\"http://evil.example\",\"x\")", None).await;
        db.store.pay_from_balance(&evil, id, Utc::now()).await.unwrap();

        let (status, page) = ann.get(&app, "/librement/account").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("€25.00"), "the balance: {page}");
        assert_eq!(page.matches(r#"<tr class="line""#).count(), 25);
        assert!(page.contains(r#"data-kind="purchase""#) && page.contains("−€2.00"));
        assert!(page.contains("=HYPERLINK"), "shown as text on the page (escaped)");
        let older = page
            .split(r#"href=""#)
            .find(|s| s.contains(r#"id="older""#))
            .expect("an older page");
        let href = unescape(older.split('"').next().unwrap());
        let (_, second) = ann.get(&app, &href).await;
        assert_eq!(second.matches(r#"<tr class="line""#).count(), 3, "28 lines in all");
        assert!(second.contains(r#"id="newest""#) && !second.contains(r#"id="older""#));

        let req = actix_web::test::TestRequest::get()
            .uri("/librement/account/statement.csv")
            .insert_header((
                "cookie",
                format!("librement_session={}", ann.cookie("librement_session").unwrap()),
            ))
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
        let csv = body(resp).await;
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 29, "a header and every line");
        assert!(
            lines[1].contains(r#",Purchase,"'=HYPERLINK(""http://evil.example"",""x"")",author@example.org,"#),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(",-2.00,EUR,25.00"), "{}", lines[1]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_added_through_a_gateway_shows_in_the_statement_once_accepted() {
    on_every_backend(|db| async move {
        let p = pages::pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(p);
        let mut ann = Browser::at("10.1.2.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let (_, form) = ann.get(&app, "/librement/account/top-up").await;
        assert!(form.contains("From €5.00 to €500.00."), "{form}");
        let token = csrf(&form);
        for too in ["4.99", "500.01", "twelve"] {
            let resp = ann
                .post(
                    &app,
                    "/librement/account/top-up",
                    &[
                        ("csrf", &token),
                        ("amount", too),
                        ("currency", "EUR"),
                        ("gateway", "paypal"),
                    ],
                )
                .await;
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{too}");
        }
        let resp = ann
            .post(
                &app,
                "/librement/account/top-up",
                &[
                    ("csrf", &token),
                    ("amount", "20,00"),
                    ("currency", "EUR"),
                    ("gateway", "paypal"),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let hand_off = body(resp).await;
        assert!(
            hand_off.contains(&format!(r#"action="{BASE}/simulator/paypal/webscr""#)),
            "{hand_off}"
        );
        let top_up = PaymentId::parse(&field(&hand_off, "invoice")).unwrap();
        let (_, before) = ann.get(&app, "/librement/account").await;
        assert!(
            before.contains(r#"id="statement-empty""#),
            "nothing until the gateway accepts it"
        );

        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        let (_, applied) = log_and_apply(&db, &top_up, n).await;
        assert!(
            matches!(&applied, payment_buttons::store::Applied::Applied { events, .. } if events.is_empty()),
            "{}: money added to an account emits no event: {applied:?}",
            db.backend
        );
        let id = user_id(&db, "ann@example.org").await;
        assert_eq!(
            db.store
                .balance(&Account::User(id), eur("1.00").currency())
                .await
                .unwrap(),
            eur("20.00")
        );
        let (_, after) = ann.get(&app, "/librement/account").await;
        assert!(
            after.contains(r#"data-kind="top_up""#) && after.contains("+€20.00"),
            "{after}"
        );
        let receipts = librement_pay::mail::MailQueue::mailbox(&db.store, 10).await.unwrap();
        assert!(
            receipts
                .iter()
                .any(|m| m.text.contains("You added €20.00 to your Librement account.")),
            "{receipts:?}"
        );
        // The top-up's status page is its own (the account's): it names what was paid.
        let req = actix_web::test::TestRequest::get()
            .uri(&format!("/payments/{top_up}"))
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_choice_stays_chosen_after_password_confirmed_and_a_top_ups_status_page_leads_to_the_purchase() {
    on_every_backend(|db| async move {
        let p = pages::pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(p);
        let mut ann = Browser::at("10.1.3.1");
        ann.sign_up(&app, "ann@example.org", PASSWORD, "en").await;
        let id = user_id(&db, "ann@example.org").await;
        db.store
            .post(NewTransaction::top_up("seed", id, "cmcic", eur("30.00")).unwrap())
            .await
            .unwrap();
        let (_, account) = ann.get(&app, "/librement/account").await;
        let resp = ann
            .post(&app, "/librement/sign-out", &[("csrf", &csrf(&account))])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);

        // Not signed in, the button's e-mail has an account: the methods by name, then the password.
        let bought = purchase(&db, "42.00", "ORDER-42", Some("ann@example.org")).await;
        let (_, choice) = ann.get(&app, &format!("/librement/pay/{bought}")).await;
        assert!(!choice.contains(" checked"), "nothing chosen yet");
        let resp = ann
            .post(
                &app,
                &format!("/librement/pay/{bought}"),
                &[
                    ("csrf", &csrf(&choice)),
                    ("method", "split:paypal"),
                    ("email", "ann@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let confirmed = body(resp).await;
        assert!(confirmed.contains("Password confirmed."), "{confirmed}");
        assert!(
            confirmed.contains(r#"value="split:paypal" checked"#),
            "the split stays chosen: {confirmed}"
        );
        // The final confirmation starts the top-up of the missing €12.00.
        let resp = ann
            .post(
                &app,
                &format!("/librement/pay/{bought}"),
                &[("csrf", &csrf(&confirmed)), ("method", "split:paypal")],
            )
            .await;
        let hand_off = body(resp).await;
        let top_up = field(&hand_off, "invoice");
        assert_eq!(field(&hand_off, "amount"), "12.00");
        // Back from the gateway, the buyer lands on the top-up's page: it leads at once to the purchase's.
        for query in ["", "?cancelled=1"] {
            let req = actix_web::test::TestRequest::get()
                .uri(&format!("/payments/{top_up}{query}"))
                .to_request();
            let resp = actix_web::test::call_service(&app, req).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&resp), format!("{BASE}/payments/{bought}{query}"));
        }
        let req = actix_web::test::TestRequest::get()
            .uri(&format!("/payments/{bought}"))
            .to_request();
        let page = body(actix_web::test::call_service(&app, req).await).await;
        assert!(
            page.contains("ORDER-42") && page.contains("€42.00"),
            "the purchase itself: {page}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_asks_for_a_payout_on_the_account_page_and_sees_it_paid() {
    use librement_pay::email_tokens::{EmailToken, EmailTokens, Purpose};
    use librement_pay::payout::{Decision, PayoutFilter, PayoutState, Payouts};
    on_every_backend(|db| async move {
        let p = pages::pages(&db.store, HashingSlots::for_this_machine());
        let app = librement_app!(p);
        let long_ago = Utc::now() - chrono::Duration::days(20);
        let mut author = Browser::at("10.1.4.1");
        author.sign_up(&app, "author@example.org", PASSWORD, "en").await;
        let seller = user_id(&db, "author@example.org").await;
        let (_, page) = author.get(&app, "/librement/account").await;
        assert!(!page.contains(r#"id="payouts""#), "nothing to withdraw yet");
        let token = EmailToken::new(Purpose::Verify, seller, long_ago);
        db.store.record_token(&token, long_ago).await.unwrap();
        db.store.verify_email(&token, long_ago).await.unwrap();
        let buyer = {
            let mut b = Browser::at("10.1.4.2");
            b.sign_up(&app, "buyer@example.org", PASSWORD, "en").await;
            user_id(&db, "buyer@example.org").await
        };
        db.store
            .post(NewTransaction::top_up("seed", buyer, "cmcic", eur("50.00")).unwrap())
            .await
            .unwrap();
        let sold = purchase(&db, "30.00", "ORDER-30", None).await;
        db.store.pay_from_balance(&sold, buyer, long_ago).await.unwrap();

        let (_, page) = author.get(&app, "/librement/account").await;
        assert!(
            page.contains(r#"id="payouts""#) && page.contains(r#"data-currency="EUR">€30.00<"#),
            "{page}"
        );
        let token = csrf(&page);
        let too_much = author
            .post(
                &app,
                "/librement/account/payout",
                &[("csrf", &token), ("amount", "30.01"), ("currency", "EUR")],
            )
            .await;
        assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body(too_much).await.contains("You can withdraw at most €30.00 now."));
        let asked = author
            .post(
                &app,
                "/librement/account/payout",
                &[("csrf", &token), ("amount", "20.00"), ("currency", "EUR")],
            )
            .await;
        assert_eq!(location(&asked), "/librement/account?notice=payout");
        let (_, page) = author.get(&app, "/librement/account?notice=payout").await;
        assert!(page.contains("Your payout request is recorded"), "{page}");
        assert!(
            page.contains(r#"data-kind="payout""#) && page.contains("(waiting)"),
            "{page}"
        );
        assert_eq!(
            db.store
                .balance(&Account::PayoutsPending, eur("1.00").currency())
                .await
                .unwrap(),
            eur("20.00")
        );

        let waiting = db
            .store
            .payouts(PayoutFilter {
                state: Some(PayoutState::Requested),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(waiting.len(), 1);
        db.store
            .mark_payout_paid(
                waiting[0].id,
                Decision {
                    operator: "ops".into(),
                    note: None,
                },
                Utc::now(),
            )
            .await
            .unwrap();
        let (_, page) = author.get(&app, "/librement/account").await;
        assert!(page.contains("(paid)") && page.contains("€10.00"), "{page}");
    })
    .await;
}
