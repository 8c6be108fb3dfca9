//! The Librement pages over HTTP, with the real Diesel store on SQLite: sign-up, sign-in, sign-out,
//! throttling, CSRF, the choice screen and paying from the balance.

#[macro_use]
#[path = "common/librement_pages.rs"]
mod librement;

use std::sync::Arc;

use actix_pay_server::app::AppState;
use actix_pay_server::store::DieselStore;
use actix_web::http::StatusCode;
use actix_web::test as atest;
use chrono::Utc;
use librement_pay::ledger::{Account, Audit, LedgerStore, NewTransaction};
use librement_pay::session::SessionKey;
use librement_pay::web::{HashingSlots, Librement, Mode};
use payment_buttons::button::ButtonConfig;
use payment_buttons::engine::Engine;
use payment_buttons::event::EventKind;
use payment_buttons::forwarded::TrustedProxies;
use payment_buttons::money::Money;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::store::Store;

use librement::{BASE, PASSWORD, pages_with};

struct Fixture {
    store: DieselStore,
    engine: Arc<Engine<DieselStore>>,
    state: Arc<AppState<DieselStore>>,
    librement: Arc<Librement<DieselStore>>,
    _dir: tempfile::TempDir,
}

async fn fixture(mode: Mode) -> Fixture {
    fixture_behind(mode, TrustedProxies::default()).await
}

/// The fixture with `server.trusted_proxies` set.
async fn fixture_behind(mode: Mode, trusted_proxies: TrustedProxies) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = DieselStore::open(&format!("sqlite://{}/pay.sqlite3", dir.path().display()))
        .await
        .unwrap();
    let pages = pages_with(&store, mode, trusted_proxies, HashingSlots::for_this_machine());
    Fixture {
        store,
        engine: pages.engine,
        state: pages.state,
        librement: pages.librement,
        _dir: dir,
    }
}

fn button(amount: &str, email: Option<&str>, language: &str) -> ButtonConfig {
    let email = email.map(|e| format!(r#""email": "{e}","#)).unwrap_or_default();
    ButtonConfig::from_json(&format!(
        r#"{{"order_reference": "ORDER-7", {email} "language": "{language}",
          "options": [{{"description": "Manual, PDF", "amount": "{amount}", "currency": "EUR"}}],
          "payment_options": {{"librement": {{"seller": "author@example.org"}}}},
          "urls": {{"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
                    "declined": "https://shop.example/sorry"}}}}"#
    ))
    .unwrap()
}

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").unwrap()
}

/// The value of the hidden `csrf` field of a page.
fn csrf(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The `librement_session` cookie a response sets, as a `Cookie` header value.
fn session_cookie(resp: &actix_web::dev::ServiceResponse) -> Option<String> {
    resp.response()
        .cookies()
        .find(|c| c.name() == "librement_session")
        .map(|c| format!("librement_session={}", c.value()))
}

async fn body(resp: actix_web::dev::ServiceResponse) -> String {
    String::from_utf8(atest::read_body(resp).await.to_vec()).unwrap()
}

fn location(resp: &actix_web::dev::ServiceResponse) -> String {
    resp.headers().get("location").unwrap().to_str().unwrap().to_owned()
}

/// Presses the button: POST /pay, and returns the payment id from the redirect.
async fn press<S>(app: &S, f: &Fixture, b: &ButtonConfig) -> PaymentId
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let token = f.engine.sign_button(b, Utc::now()).unwrap();
    let req = atest::TestRequest::post()
        .uri("/pay")
        .set_form([("button", token.as_str())])
        .to_request();
    let resp = atest::call_service(app, req).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = location(&resp);
    let id = loc
        .strip_prefix(&format!("{BASE}/librement/pay/"))
        .expect("redirect to the Librement pages");
    PaymentId::parse(id).unwrap()
}

/// Signs up through the pages; returns the session cookie.
async fn sign_up<S>(app: &S, email: &str) -> String
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let resp = atest::call_service(app, atest::TestRequest::get().uri("/librement/sign-up").to_request()).await;
    let cookie = session_cookie(&resp).expect("an anonymous session");
    let token = csrf(&body(resp).await);
    let req = atest::TestRequest::post()
        .uri("/librement/sign-up")
        .insert_header(("cookie", cookie))
        .set_form([
            ("csrf", token.as_str()),
            ("email", email),
            ("display_name", "Ann Reader"),
            ("password", PASSWORD),
            ("next", "/librement/account"),
        ])
        .to_request();
    let resp = atest::call_service(app, req).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/librement/account");
    session_cookie(&resp).expect("a signed-in session")
}

async fn get<S>(app: &S, uri: &str, cookie: Option<&str>) -> (StatusCode, String, Option<String>)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let mut req = atest::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.insert_header(("cookie", c.to_owned()));
    }
    let resp = atest::call_service(app, req.to_request()).await;
    let set = session_cookie(&resp);
    (resp.status(), body(resp).await, set)
}

async fn pay<S>(
    app: &S,
    id: &PaymentId,
    cookie: &str,
    csrf: &str,
    email: &str,
    password: &str,
) -> actix_web::dev::ServiceResponse
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let req = atest::TestRequest::post()
        .uri(&format!("/librement/pay/{id}"))
        .insert_header(("cookie", cookie.to_owned()))
        .peer_addr("192.0.2.10:4000".parse().unwrap())
        .set_form([
            ("csrf", csrf),
            ("method", "balance"),
            ("email", email),
            ("password", password),
        ])
        .to_request();
    atest::call_service(app, req).await
}

/// An account's balance in euros.
async fn balance(f: &Fixture, account: Account) -> Money {
    f.store.balance(&account, "EUR".parse().unwrap()).await.unwrap()
}

/// A user's balance in euros.
async fn balance_of(f: &Fixture, user: i64) -> Money {
    balance(f, Account::User(user)).await
}

/// A payment's state.
async fn state_of(f: &Fixture, id: &PaymentId) -> PaymentState {
    f.store.payment(id).await.unwrap().unwrap().state
}

/// Gives the user `email` a balance of `amount` euros, as a top-up through `gateway`; returns the user's id.
async fn seed_balance(f: &Fixture, email: &str, gateway: &str, amount: &str) -> i64 {
    let user = user_id(f, email).await;
    f.store
        .post(NewTransaction::top_up("topup:seed", user, gateway, eur(amount)).unwrap())
        .await
        .unwrap();
    user
}

async fn user_id(f: &Fixture, email: &str) -> i64 {
    use librement_pay::accounts::{Email, UserStore};
    f.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

#[actix_web::test]
async fn paying_from_the_balance_accepts_the_payment_in_one_go_with_its_events() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "Ann@Example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "50.00").await;

    let id = press(&app, &f, &button("42.00", None, "en")).await;
    let (status, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("€50.00"), "the balance is shown to a signed-in user");
    assert!(
        html.contains("Pay everything from my Librement account (€42.00)"),
        "{html}"
    );

    let resp = pay(&app, &id, &cookie, &csrf(&html), "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("/payments/{id}"));

    let payment = f.store.payment(&id).await.unwrap().unwrap();
    assert_eq!(payment.state, PaymentState::Accepted);
    let events = f.store.events_for_payment(&id).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::PaymentProcessed, EventKind::PaymentAccepted]);
    assert!(
        events
            .iter()
            .all(|e| e.gateway_message_id.is_none() && e.payment.gateway == "librement")
    );
    assert_eq!(
        events[1].button["order_reference"], "ORDER-7",
        "the original button goes with the events"
    );
    assert_eq!(balance_of(&f, user).await, eur("8.00"));
    assert_eq!(
        balance(&f, Account::Seller("author@example.org".into())).await,
        eur("42.00")
    );

    // Double submit, back button, second tab: the purchase is paid once.
    let resp = pay(&app, &id, &cookie, &csrf(&html), "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.store.events_for_payment(&id).await.unwrap().len(), 2);
    assert_eq!(balance_of(&f, user).await, eur("8.00"));
    let (status, _, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a paid purchase sends the buyer to its status page"
    );
    assert!(Audit::of(&f.store.all_entries().await.unwrap()).is_healthy());
}

#[actix_web::test]
async fn a_known_buyer_who_is_not_signed_in_sees_methods_but_no_balance_until_confirming() {
    let f = fixture(Mode::NonEmbedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "paypal", "20.00").await;

    let id = press(&app, &f, &button("12.50", Some("ann@example.org"), "en")).await;
    let (status, html, cookie) = get(&app, &format!("/librement/pay/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Pay everything from my Librement account"));
    assert!(!html.contains("€20.00"), "no balance before the password is confirmed");
    assert!(
        html.contains(r#"value="ann@example.org""#),
        "the button's e-mail is prefilled"
    );

    // The password confirms who it is: signed in, the balance and the exact figures are shown, and
    // nothing is debited before the final confirmation.
    let resp = pay(&app, &id, &cookie.unwrap(), &csrf(&html), "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = session_cookie(&resp).expect("signed in by the confirmation");
    let html = body(resp).await;
    assert!(html.contains("Password confirmed."), "{html}");
    assert!(html.contains(r#"id="balance">€20.00<"#), "{html}");
    assert!(
        !html.contains(r#"name="password""#),
        "the final confirmation asks no password again"
    );
    assert_eq!(state_of(&f, &id).await, PaymentState::Created);
    assert_eq!(balance_of(&f, user).await, eur("20.00"));

    let resp = choose(&app, &id, &cookie, &csrf(&html), "balance").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("/payments/{id}"));
    assert_eq!(state_of(&f, &id).await, PaymentState::Accepted);
    assert_eq!(balance_of(&f, user).await, eur("7.50"));
}

/// Submits the choice screen with a method and no e-mail or password (what a browser without JavaScript
/// sends, and what the final confirmation sends).
async fn choose<S>(app: &S, id: &PaymentId, cookie: &str, csrf: &str, method: &str) -> actix_web::dev::ServiceResponse
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let req = atest::TestRequest::post()
        .uri(&format!("/librement/pay/{id}"))
        .insert_header(("cookie", cookie.to_owned()))
        .set_form([("csrf", csrf), ("method", method)])
        .to_request();
    atest::call_service(app, req).await
}

#[actix_web::test]
async fn without_javascript_choosing_the_account_leads_to_the_e_mail_and_password_form() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "50.00").await;
    // An older session: the password was typed more than five minutes ago, so it is asked again.
    let key = SessionKey::derive(b"test secret");
    let then = Utc::now() - chrono::Duration::minutes(6);
    let old = librement_pay::session::Session::anonymous(then).signed_in(user, 0, then);
    let cookie = format!("librement_session={}", key.encode(&old));

    let id = press(&app, &f, &button("42.00", None, "fr")).await;
    let (_, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    assert!(
        html.contains(r#"<fieldset id="credentials" hidden disabled>"#),
        "the fields are in the page for the script, hidden and never sent without it: {html}"
    );
    assert!(html.contains(r#"type="radio" name="method""#));
    assert!(html.contains("50,00 €"), "a signed-in user sees the balance");

    let resp = choose(&app, &id, &cookie, &old.csrf, "balance").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body(resp).await;
    assert!(page.contains(r#"id="confirm""#), "{page}");
    assert!(page.contains(r#"<label for="password">Mot de passe</label>"#));
    assert!(page.contains("Tout payer depuis mon compte Librement (42,00 €)"));
    assert!(page.contains(r#"name="method" value="balance""#));
    assert_eq!(
        state_of(&f, &id).await,
        PaymentState::Created,
        "nothing is debited before the password"
    );

    let resp = pay(&app, &id, &cookie, &csrf(&page), "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(state_of(&f, &id).await, PaymentState::Accepted);
}

#[actix_web::test]
async fn a_form_sent_without_a_method_asks_for_one() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let id = press(&app, &f, &button("3.00", None, "en")).await;
    let (_, account, _) = get(&app, "/librement/account", Some(&cookie)).await;
    let req = atest::TestRequest::post()
        .uri(&format!("/librement/pay/{id}"))
        .insert_header(("cookie", cookie))
        .set_form([("csrf", csrf(&account).as_str())])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(body(resp).await.contains("Choose how you would like to pay."));
}

/// `Some(user)` when `top_up` is linked to a purchase (`user` null for a guest), read from the database.
fn top_up_user(f: &Fixture, top_up: &PaymentId) -> Option<Option<i64>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Link {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        user_id: Option<i64>,
    }
    let path = f._dir.path().join("pay.sqlite3");
    let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
    let rows: Vec<Link> = diesel::sql_query("SELECT user_id FROM librement_top_ups WHERE payment_id = ?")
        .bind::<diesel::sql_types::Text, _>(top_up.as_str())
        .load(&mut conn)
        .unwrap();
    rows.first().map(|l| l.user_id)
}

#[actix_web::test]
async fn a_known_e_mail_that_is_not_signed_in_pays_by_card_as_a_guest() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "20.00").await;
    let id = press(&app, &f, &button("12.50", Some("ann@example.org"), "en")).await;
    let (_, html, cookie) = get(&app, &format!("/librement/pay/{id}"), None).await;
    assert!(html.contains("you pay as a guest"), "{html}");

    let resp = choose(&app, &id, &cookie.unwrap(), &csrf(&html), "gateway:paypal").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body(resp).await;
    assert_eq!(form_field(&page, "amount").as_deref(), Some("12.50"));
    let top_up = PaymentId::parse(&form_field(&page, "invoice").unwrap()).unwrap();
    assert_eq!(
        top_up_user(&f, &top_up),
        Some(None),
        "linked to the purchase as a guest payment, not a top-up of Ann's account"
    );
    assert_eq!(balance_of(&f, user).await, eur("20.00"));
}

#[actix_web::test]
async fn two_tabs_confirming_the_same_purchase_pay_it_once() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "50.00").await;
    let id = press(&app, &f, &button("20.00", None, "en")).await;
    let (_, first_tab, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    let (_, second_tab, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;

    let (first_csrf, second_csrf) = (csrf(&first_tab), csrf(&second_tab));
    let (a, b) = tokio::join!(
        pay(&app, &id, &cookie, &first_csrf, "ann@example.org", PASSWORD),
        pay(&app, &id, &cookie, &second_csrf, "ann@example.org", PASSWORD),
    );
    for resp in [a, b] {
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), format!("/payments/{id}"));
    }
    assert_eq!(balance_of(&f, user).await, eur("30.00"), "debited once");
    assert_eq!(f.store.events_for_payment(&id).await.unwrap().len(), 2);
    // Concurrent purchases against one balance never take it below zero: tests/librement_ledger.rs,
    // `concurrent_purchases_never_take_a_balance_below_zero`.
    assert!(Audit::of(&f.store.all_entries().await.unwrap()).is_healthy());
}

#[actix_web::test]
async fn a_partial_balance_shows_the_exact_split_and_debits_nothing() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "30.00").await;

    let id = press(&app, &f, &button("42.00", None, "en")).await;
    let (_, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    assert!(
        html.contains("€30.00 from your Librement account and €12.00 by PayPal"),
        "{html}"
    );
    assert!(html.contains("€30.00 from your Librement account and €12.00 by PayPal"));
    assert!(
        !html.contains(r#"value="balance""#),
        "paying everything from the balance is not offered"
    );

    // Forcing the balance method anyway (with this session's token, from the account page) is refused by
    // the ledger, and nothing is debited.
    let (_, account, _) = get(&app, "/librement/account", Some(&cookie)).await;
    let resp = pay(&app, &id, &cookie, &csrf(&account), "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(body(resp).await.contains("Your balance does not cover this price."));
    assert_eq!(balance_of(&f, user).await, eur("30.00"));
    assert_eq!(state_of(&f, &id).await, PaymentState::Created);
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_e_mail_get_the_same_answer_and_nothing_is_paid() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    seed_balance(&f, "ann@example.org", "cmcic", "50.00").await;
    let id = press(&app, &f, &button("10.00", None, "en")).await;
    let (_, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    let token = csrf(&html);

    let wrong = pay(&app, &id, &cookie, &token, "ann@example.org", "not the password").await;
    let unknown = pay(&app, &id, &cookie, &token, "bob@example.org", "not the password").await;
    assert_eq!(wrong.status(), unknown.status());
    let wrong = body(wrong).await;
    let unknown = body(unknown).await.replace("bob@example.org", "ann@example.org");
    assert!(wrong.contains("Wrong e-mail address or password."));
    assert_eq!(wrong, unknown);
    assert_eq!(state_of(&f, &id).await, PaymentState::Created);
}

#[actix_web::test]
async fn sign_in_is_throttled_after_five_failures_even_with_the_right_password() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let (_, html, cookie) = get(&app, "/librement/sign-in", None).await;
    let (cookie, token) = (cookie.unwrap(), csrf(&html));
    let attempt = |password: &'static str, ip: &'static str| {
        atest::TestRequest::post()
            .uri("/librement/sign-in")
            .insert_header(("cookie", cookie.clone()))
            .peer_addr(ip.parse().unwrap())
            .set_form([
                ("csrf", token.as_str()),
                ("email", "ANN@example.org"),
                ("password", password),
            ])
            .to_request()
    };
    for _ in 0..5 {
        let resp = atest::call_service(&app, attempt("wrong password!", "192.0.2.1:1")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(body(resp).await.contains("Wrong e-mail address or password."));
    }
    // Another address: the account itself is locked for the window.
    let resp = atest::call_service(&app, attempt(PASSWORD, "198.51.100.9:1")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(body(resp).await.contains("wait 15 minutes"));
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own() {
    let f = fixture_behind(Mode::Embedded, TrustedProxies::parse(["127.0.0.1"]).unwrap()).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let (_, html, cookie) = get(&app, "/librement/sign-in", None).await;
    let (cookie, token) = (cookie.unwrap(), csrf(&html));
    let attempt = |email: String, password: &'static str, peer: &'static str, forwarded_for: &'static str| {
        atest::TestRequest::post()
            .uri("/librement/sign-in")
            .insert_header(("cookie", cookie.clone()))
            .insert_header(("x-forwarded-for", forwarded_for))
            .peer_addr(peer.parse().unwrap())
            .set_form([
                ("csrf", token.as_str()),
                ("email", email.as_str()),
                ("password", password),
            ])
            .to_request()
    };
    // Wrong guesses at six accounts, one after the other, from `peer` claiming to be `forwarded_for`
    // (a different claim each time): five are answered, the sixth is throttled.
    let six_guesses = |prefix: &'static str, peer: &'static str, forwarded_for: [&'static str; 6]| {
        (0..6).map(move |n| {
            attempt(
                format!("{prefix}{n}@example.org"),
                "wrong password!",
                peer,
                forwarded_for[n],
            )
        })
    };
    let expected = [[StatusCode::OK; 5].as_slice(), &[StatusCode::TOO_MANY_REQUESTS]].concat();
    // One client behind the proxy guesses at six accounts...
    let mut answers = Vec::new();
    for guess in six_guesses("guess", "127.0.0.1:1", ["192.0.2.1"; 6]) {
        answers.push(atest::call_service(&app, guess).await.status());
    }
    assert_eq!(answers, expected);
    // ...and another client of the same proxy still signs in.
    let ann = attempt("ann@example.org".into(), PASSWORD, "127.0.0.1:1", "198.51.100.9");
    assert_eq!(atest::call_service(&app, ann).await.status(), StatusCode::SEE_OTHER);
    // A client that is not the proxy cannot pick its address by writing the header.
    let claims = [
        "192.0.2.71",
        "192.0.2.72",
        "192.0.2.73",
        "192.0.2.74",
        "192.0.2.75",
        "192.0.2.76",
    ];
    let mut answers = Vec::new();
    for forged in six_guesses("other", "203.0.113.5:1", claims) {
        answers.push(atest::call_service(&app, forged).await.status());
    }
    assert_eq!(answers, expected);
}

#[actix_web::test]
async fn sign_in_then_sign_out_with_secure_cookie_attributes() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let (_, html, cookie) = get(&app, "/librement/sign-in?lang=fr", None).await;
    assert!(html.contains("Se connecter") && html.contains(r#"<html lang="fr">"#));
    let req = atest::TestRequest::post()
        .uri("/librement/sign-in")
        .insert_header(("cookie", cookie.unwrap()))
        .set_form([
            ("csrf", csrf(&html).as_str()),
            ("email", "ann@example.org"),
            ("password", PASSWORD),
            ("lang", "fr"),
        ])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/librement"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no Secure flag on http://127.0.0.1");
    let cookie = session_cookie(&resp).unwrap();

    let (status, html, _) = get(&app, "/librement/account", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ann Reader"));
    let req = atest::TestRequest::post()
        .uri("/librement/sign-out")
        .insert_header(("cookie", cookie.clone()))
        .set_form([("csrf", csrf(&html).as_str())])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let removal = resp
        .response()
        .cookies()
        .find(|c| c.name() == "librement_session")
        .unwrap();
    assert_eq!(removal.value(), "");
}

#[actix_web::test]
async fn signing_out_ends_the_session_everywhere_including_copies_of_the_cookie() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let first_browser = sign_up(&app, "ann@example.org").await;
    let copied = first_browser.clone();
    let (status, html, _) = get(&app, "/librement/account", Some(&first_browser)).await;
    assert_eq!(status, StatusCode::OK);

    let sign_out = atest::TestRequest::post()
        .uri("/librement/sign-out")
        .insert_header(("cookie", first_browser.clone()))
        .set_form([("csrf", csrf(&html).as_str())])
        .to_request();
    assert_eq!(
        atest::call_service(&app, sign_out).await.status(),
        StatusCode::SEE_OTHER
    );

    let resp = atest::call_service(
        &app,
        atest::TestRequest::get()
            .uri("/librement/account")
            .insert_header(("cookie", copied))
            .to_request(),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the copied cookie no longer signs in"
    );
    assert_eq!(location(&resp), "/librement/sign-in?next=%2Flibrement%2Faccount");

    // Signing in again starts a session that works.
    let (_, html, cookie) = get(&app, "/librement/sign-in", None).await;
    let sign_in = atest::TestRequest::post()
        .uri("/librement/sign-in")
        .insert_header(("cookie", cookie.unwrap()))
        .set_form([
            ("csrf", csrf(&html).as_str()),
            ("email", "ann@example.org"),
            ("password", PASSWORD),
        ])
        .to_request();
    let resp = atest::call_service(&app, sign_in).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let fresh = session_cookie(&resp).unwrap();
    assert_eq!(get(&app, "/librement/account", Some(&fresh)).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn forms_without_the_session_csrf_token_are_refused() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let id = press(&app, &f, &button("1.00", None, "en")).await;
    let resp = pay(&app, &id, &cookie, "forged", "ann@example.org", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(session_cookie(&resp), None, "the session is left alone");
    assert_eq!(get(&app, "/librement/account", Some(&cookie)).await.0, StatusCode::OK);
    let req = atest::TestRequest::post()
        .uri("/librement/sign-up")
        .set_form([
            ("csrf", "x"),
            ("email", "eve@example.org"),
            ("display_name", "Eve"),
            ("password", PASSWORD),
        ])
        .to_request();
    assert_eq!(atest::call_service(&app, req).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(state_of(&f, &id).await, PaymentState::Created);
}

#[actix_web::test]
async fn an_e_mail_is_taken_whatever_its_case() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    sign_up(&app, "ann@example.org").await;
    let (_, html, cookie) = get(&app, "/librement/sign-up", None).await;
    let req = atest::TestRequest::post()
        .uri("/librement/sign-up")
        .insert_header(("cookie", cookie.unwrap()))
        .set_form([
            ("csrf", csrf(&html).as_str()),
            ("email", "ANN@EXAMPLE.ORG"),
            ("display_name", "A"),
            ("password", PASSWORD),
        ])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(resp).await.contains("an account already uses this e-mail address"));
}

#[actix_web::test]
async fn an_unknown_buyer_in_non_embedded_mode_is_offered_sign_in_or_an_account_in_french() {
    let f = fixture(Mode::NonEmbedded).await;
    let app = librement_app!(f);
    let id = press(&app, &f, &button("5.00", Some("new@example.org"), "fr")).await;
    let (status, html, _) = get(&app, &format!("/librement/pay/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Payer avec un compte Librement ?"));
    assert!(
        html.contains(&format!(
            "/librement/sign-up?lang=fr&amp;next=%2Flibrement%2Fpay%2F{id}"
        )),
        "{html}"
    );
}

#[actix_web::test]
async fn recurring_librement_buttons_are_refused_when_signed() {
    let f = fixture(Mode::Embedded).await;
    let b = ButtonConfig::from_json(
        r#"{"order_reference": "S-1",
          "options": [{"description": "Monthly", "amount": "5.00", "currency": "EUR", "recurrence_months": 1}],
          "payment_options": {"librement": {"seller": "author@example.org"}},
          "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}}"#,
    )
    .unwrap();
    let err = f.engine.sign_button(&b, Utc::now()).unwrap_err();
    assert!(err.reason.contains("not supported yet"), "{err:?}");
}

/// The `(name, value)` fields of the auto-submitting hand-off form to the gateway.
fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_owned())
}

#[actix_web::test]
async fn the_split_method_tops_up_exactly_the_missing_amount_through_the_gateway() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let user = seed_balance(&f, "ann@example.org", "cmcic", "30.00").await;
    let id = press(&app, &f, &button("42.00", None, "en")).await;
    let (_, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;

    let req = atest::TestRequest::post()
        .uri(&format!("/librement/pay/{id}"))
        .insert_header(("cookie", cookie.clone()))
        .set_form([
            ("csrf", csrf(&html).as_str()),
            ("method", "split:paypal"),
            ("email", "ann@example.org"),
            ("password", PASSWORD),
        ])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body(resp).await;
    assert!(page.contains(&format!("{BASE}/simulator/paypal/webscr")), "{page}");
    assert_eq!(
        form_field(&page, "amount").as_deref(),
        Some("12.00"),
        "exactly the missing amount"
    );
    let top_up = PaymentId::parse(&form_field(&page, "invoice").unwrap()).unwrap();
    let stored = f.store.payment(&top_up).await.unwrap().unwrap();
    assert_eq!((stored.gateway.as_str(), stored.amount), ("paypal", eur("12.00")));
    // Nothing is debited before the top-up is accepted.
    assert_eq!(balance_of(&f, user).await, eur("30.00"));
    assert_eq!(state_of(&f, &id).await, PaymentState::Created);
}

#[actix_web::test]
async fn an_unknown_buyer_in_embedded_mode_goes_straight_to_the_first_gateway_as_a_guest() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let id = press(&app, &f, &button("9.90", None, "en")).await;
    let (status, html, cookie) = get(&app, &format!("/librement/pay/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"value="gateway:paypal""#)
            && html.contains("data-auto-submit")
            && html.contains(r#"<script src="/pay/hand-off.js"></script>"#),
        "{html}"
    );
    assert!(html.contains("€9.90 by PayPal"), "a visible button without JavaScript");

    let req = atest::TestRequest::post()
        .uri(&format!("/librement/pay/{id}"))
        .insert_header(("cookie", cookie.unwrap()))
        .set_form([("csrf", csrf(&html).as_str()), ("method", "gateway:paypal")])
        .to_request();
    let resp = atest::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = body(resp).await;
    assert_eq!(form_field(&page, "amount").as_deref(), Some("9.90"));
    assert!(form_field(&page, "invoice").is_some());
}

#[actix_web::test]
async fn a_signed_in_user_with_an_empty_balance_skips_the_choice_screen() {
    let f = fixture(Mode::Embedded).await;
    let app = librement_app!(f);
    let cookie = sign_up(&app, "ann@example.org").await;
    let id = press(&app, &f, &button("5.00", None, "fr")).await;
    let (status, html, _) = get(&app, &format!("/librement/pay/{id}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"value="gateway:paypal""#) && html.contains("5,00 € par PayPal"),
        "{html}"
    );
    assert!(!html.contains(r#"value="balance""#));
}
