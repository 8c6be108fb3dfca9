//! Librement end to end, in headless Chromium against the real `librement-server` binary (fresh SQLite, every
//! gateway simulated): the demo shop's "Pay with Librement" product, the Librement pages, the CM-CIC simulator
//! for top-ups, our status page, the demo listener's events and the ledger in the server's database.
//!
//! Balances are seeded through the real top-up path only: a purchase started in two tabs is topped up twice
//! by card; the first top-up pays it and the second stays in the account (docs/librement.md).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them each test prints one line and passes,
//! unless `CI` is set.

mod e2e_support;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use e2e_support::{E2e, scenario, scenario_with};

const BUYER: &str = "demo-buyer@example.org";
const SELLER: &str = "seller:demo-author@example.org";
const PASSWORD: &str = "correct horse battery";
const GOOD_CARD: &str = "4000 0000 0000 0002";

/// Creates an account through the sign-up page; the browser is then signed in.
async fn sign_up(e2e: &E2e, lang: &str) -> anyhow::Result<i64> {
    let query = if lang == "fr" { "?lang=fr" } else { "" };
    e2e.goto(&format!("/librement/sign-up{query}")).await?;
    e2e.fill("#display_name", "Demo Buyer").await?;
    e2e.fill("#email", BUYER).await?;
    e2e.fill("#password", PASSWORD).await?;
    e2e.click("form button[type=submit]").await?;
    e2e.wait_for_path("/librement/account").await?;
    e2e.server
        .librement_user(BUYER)
        .ok_or_else(|| anyhow::anyhow!("no account for {BUYER} after sign-up"))
}

async fn sign_out(e2e: &E2e) -> anyhow::Result<()> {
    e2e.goto("/librement/account").await?;
    e2e.click("form[action='/librement/sign-out'] button").await?;
    e2e.wait_for_path("/librement/sign-in").await?;
    Ok(())
}

/// On the shop (in `lang`), picks option `option` of the Librement product and presses "Librement account".
async fn press_librement(e2e: &E2e, option: usize, lang: &str) -> anyhow::Result<()> {
    e2e.goto(if lang == "fr" { "/?lang=fr" } else { "/" }).await?;
    e2e.find("#product-librement select[name=option]")
        .await?
        .select_by_value(&option.to_string())
        .await?;
    e2e.click("#product-librement button[name=gateway][value=librement]")
        .await
}

/// The newest Librement purchase.
fn last_purchase(e2e: &E2e) -> anyhow::Result<String> {
    match e2e
        .server
        .payments()
        .into_iter()
        .rev()
        .find(|p| p.gateway == "librement")
    {
        Some(p) => Ok(p.id),
        None => bail!("no Librement purchase recorded"),
    }
}

fn state_of(e2e: &E2e, id: &str) -> String {
    e2e.server
        .payments()
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.state)
        .unwrap_or_default()
}

/// Waits until the ledger balance of `account` is `cents` (gateway notifications are applied in the
/// background).
async fn wait_balance(e2e: &E2e, account: &str, cents: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = e2e.server.ledger_balance(account);
        if now == cents {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{account} holds {now} cents, expected {cents}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pays the CM-CIC simulator page with the test card that is accepted, and follows the buyer through the
/// status pages (the top-up's, then the purchase's, which may redirect at once) to the shop's thanks page.
/// Returns the ids of the status pages seen on the way.
async fn pay_card_to_thanks(e2e: &E2e, amount: &str) -> anyhow::Result<Vec<String>> {
    e2e.wait_for_path("/simulator/cmcic").await?;
    let shown = e2e.text("#amount").await?;
    ensure!(
        shown.contains(amount),
        "the card page asks {shown:?}, expected {amount}"
    );
    e2e.pay_by_card(GOOD_CARD, false).await?;
    e2e.wait_for_path("/payments/").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let path = e2e.path().await?;
        if let Some(id) = path.strip_prefix("/payments/") {
            let id = id.split('?').next().unwrap_or_default().to_owned();
            if seen.last() != Some(&id) {
                seen.push(id);
            }
        } else if path.starts_with("/demo/thanks") {
            return Ok(seen);
        } else {
            bail!("left the status pages for {path} (seen: {seen:?})");
        }
        if Instant::now() > deadline {
            bail!("the status pages never led to /demo/thanks (seen: {seen:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pays by card and checks that the buyer ends on the thanks page with `purchase` accepted.
async fn pay_purchase_by_card(e2e: &E2e, purchase: &str, amount: &str) -> anyhow::Result<()> {
    let seen = pay_card_to_thanks(e2e, amount).await?;
    let state = state_of(e2e, purchase);
    ensure!(
        state == "accepted",
        "purchase {purchase} is {state} (status pages: {seen:?})"
    );
    Ok(())
}

/// Clicks `css`, which submits a form, and waits until the next page replaced this one (the address may
/// stay the same, so the old page's root element going stale is the signal).
async fn submit(e2e: &E2e, css: &str) -> anyhow::Result<()> {
    let old = e2e.find("html").await?;
    e2e.click(css).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.tag_name().await.is_ok() {
        if Instant::now() > deadline {
            bail!("pressing `{css}` did not load a page");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn is_shown(e2e: &E2e, css: &str) -> anyhow::Result<bool> {
    Ok(e2e.find(css).await?.is_displayed().await?)
}

async fn focused_id(e2e: &E2e) -> anyhow::Result<String> {
    Ok(e2e
        .browser
        .client
        .active_element()
        .await?
        .attr("id")
        .await?
        .unwrap_or_default())
}

/// The text of the label of the radio whose value is `value`.
async fn method_label(e2e: &E2e, value: &str) -> anyhow::Result<String> {
    let id = e2e
        .find(&format!("input[name=method][value='{value}']"))
        .await?
        .attr("id")
        .await?
        .unwrap_or_default();
    e2e.text(&format!("label[for='{id}']")).await
}

#[tokio::test]
async fn a_known_user_tops_up_pays_from_the_balance_then_splits_the_rest_by_card() {
    scenario("librement_balance_and_split", async |e2e| {
        let user = format!("user:{}", sign_up(e2e, "en").await?);

        // Signed in with an empty balance: no choice screen, straight to the card page for the whole price.
        press_librement(e2e, 1, "en").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        ensure!(e2e.text("#amount").await?.contains("12.00"));
        let purchase = last_purchase(e2e)?;
        let first_tab = e2e.browser.client.window().await?;

        // A second tab starts a second top-up of the same purchase and pays it: the purchase is paid.
        let second_tab = e2e.browser.client.new_window(true).await?;
        e2e.browser.client.switch_to_window(second_tab.handle).await?;
        e2e.goto(&format!("/librement/pay/{purchase}")).await?;
        pay_purchase_by_card(e2e, &purchase, "12.00").await?;
        wait_balance(e2e, SELLER, 1200).await?;
        ensure!(e2e.server.ledger_balance(&user) == 0);

        // The first tab's top-up arrives for a purchase already paid: it stays in the account.
        e2e.browser.client.close_window().await?;
        e2e.browser.client.switch_to_window(first_tab).await?;
        pay_purchase_by_card(e2e, &purchase, "12.00").await?;
        wait_balance(e2e, &user, 1200).await?;
        ensure!(e2e.server.ledger_balance(SELLER) == 1200, "the purchase is paid once");
        e2e.wait_for_events(&purchase, &["payment_processed", "payment_accepted"])
            .await?;

        // Not signed in, but the button's e-mail has an account: every method by name, no balance.
        sign_out(e2e).await?;
        press_librement(e2e, 0, "en").await?;
        e2e.wait_for_path("/librement/pay/").await?;
        let coffee = last_purchase(e2e)?;
        ensure!(!e2e.has("#balance").await, "no balance before the password");
        ensure!(is_shown(e2e, "#guest-hint").await?);
        ensure!(
            !is_shown(e2e, "#credentials").await?,
            "no password field before a choice"
        );
        // Choosing the account shows the fields in place and moves the focus to the first one.
        e2e.click("input[name=method][value=balance]").await?;
        ensure!(is_shown(e2e, "#credentials").await?, "the fields appear in place");
        ensure!(e2e.path().await? == format!("/librement/pay/{coffee}"), "no page load");
        ensure!(focused_id(e2e).await? == "email");
        ensure!(e2e.find("#email").await?.prop("value").await?.as_deref() == Some(BUYER));
        // Choosing the card hides them again.
        e2e.click("input[name=method][value='gateway:cmcic']").await?;
        ensure!(!is_shown(e2e, "#credentials").await?);
        e2e.click("input[name=method][value=balance]").await?;
        e2e.fill("#password", PASSWORD).await?;
        submit(e2e, "#continue").await?;

        // Confirmed: the balance and the exact amounts, then a final confirmation.
        ensure!(e2e.text("#notice").await?.contains("Password confirmed"));
        ensure!(e2e.text("#balance").await? == "€12.00");
        ensure!(!e2e.has("#password").await, "the password is not asked twice");
        ensure!(state_of(e2e, &coffee) == "created" && e2e.server.ledger_balance(&user) == 1200);
        ensure!(method_label(e2e, "balance").await? == "Pay everything from my Librement account (€5.00)");
        // The choice made before the password stays chosen.
        ensure!(
            e2e.find("input[name=method][value=balance]")
                .await?
                .prop("checked")
                .await?
                .as_deref()
                == Some("true"),
            "the method chosen before the password is still chosen"
        );
        ensure!(e2e.text("#continue").await? == "Confirm the payment");
        e2e.click("#continue").await?;
        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(landing.payment_id == coffee && landing.final_state() == "accepted");
        ensure!(e2e.server.ledger_balance(&user) == 700);
        ensure!(e2e.server.ledger_balance(SELLER) == 1700);
        let events = e2e
            .wait_for_events(&coffee, &["payment_processed", "payment_accepted"])
            .await?;
        ensure!(events[1]["gateway"] == "librement" && events[1]["amount"] == "5.00");

        // €12 with €7 in the account: the exact split, then the card for the rest only.
        press_librement(e2e, 1, "en").await?;
        e2e.wait_for_path("/librement/pay/").await?;
        let ebook = last_purchase(e2e)?;
        ensure!(e2e.text("#balance").await? == "€7.00");
        ensure!(!e2e.has("input[name=method][value=balance]").await);
        let split = method_label(e2e, "split:cmcic").await?;
        ensure!(
            split == "€7.00 from your Librement account and €5.00 by card",
            "split shown as {split:?}"
        );
        e2e.click("input[name=method][value='split:cmcic']").await?;
        e2e.click("#continue").await?;
        // Back from the card page the buyer sees the purchase's status page only, never the top-up's.
        let seen = pay_card_to_thanks(e2e, "5.00").await?;
        ensure!(
            seen == vec![ebook.clone()],
            "status pages seen: {seen:?}, expected the purchase {ebook}"
        );
        ensure!(state_of(e2e, &ebook) == "accepted");
        wait_balance(e2e, SELLER, 2900).await?;
        ensure!(e2e.server.ledger_balance(&user) == 0);
        e2e.wait_for_events(&ebook, &["payment_processed", "payment_accepted"])
            .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_debits_nothing_and_five_failures_lock_the_account() {
    scenario("librement_wrong_password", async |e2e| {
        let user = format!("user:{}", sign_up(e2e, "en").await?);
        sign_out(e2e).await?;
        press_librement(e2e, 0, "en").await?;
        e2e.wait_for_path("/librement/pay/").await?;
        let purchase = last_purchase(e2e)?;
        e2e.click("input[name=method][value=balance]").await?;
        for attempt in 1..=5 {
            e2e.fill("#password", &format!("wrong password {attempt}")).await?;
            submit(e2e, "#continue").await?;
            let error = e2e.text("#error").await?;
            ensure!(
                error == "Wrong e-mail address or password.",
                "attempt {attempt}: {error:?}"
            );
            ensure!(e2e.has("#confirm").await, "the confirmation form is shown again");
        }
        e2e.fill("#password", PASSWORD).await?;
        submit(e2e, "#continue").await?;
        let error = e2e.text("#error").await?;
        ensure!(
            error.contains("Too many failed attempts") && error.contains("15 minutes"),
            "{error:?}"
        );
        ensure!(state_of(e2e, &purchase) == "created");
        ensure!(e2e.server.ledger_balance(&user) == 0 && e2e.server.ledger_balance(SELLER) == 0);
        ensure!(e2e.demo_events().await?.is_empty(), "no event for a refused payment");

        // The buyer can still pay by card, as a guest: the account is not touched.
        submit(e2e, "#other-method").await?;
        e2e.click("input[name=method][value='gateway:cmcic']").await?;
        e2e.click("#continue").await?;
        pay_purchase_by_card(e2e, &purchase, "5.00").await?;
        wait_balance(e2e, SELLER, 500).await?;
        ensure!(e2e.server.ledger_balance(&user) == 0);
        ensure!(
            e2e.server.ledger_balance("guest") == 0,
            "the guest account passes the money on"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_unknown_buyer_in_embedded_mode_goes_straight_to_the_card_page() {
    scenario("librement_embedded_guest", async |e2e| {
        press_librement(e2e, 2, "en").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        let purchase = last_purchase(e2e)?;
        pay_purchase_by_card(e2e, &purchase, "30.00").await?;
        let events = e2e
            .wait_for_events(&purchase, &["payment_processed", "payment_accepted"])
            .await?;
        ensure!(events[1]["gateway"] == "librement" && events[1]["amount"] == "30.00");
        ensure!(e2e.server.ledger_balance(SELLER) == 3000);
        ensure!(e2e.server.ledger_balance("clearing:cmcic") == -3000);
        ensure!(e2e.server.ledger_balance("guest") == 0);
        ensure!(e2e.server.librement_user(BUYER).is_none(), "no account is created");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_unknown_buyer_in_non_embedded_mode_creates_an_account_on_the_way_in_french() {
    scenario_with(
        "librement_non_embedded_fr",
        &[("PAY_LIBREMENT_MODE", "non_embedded")],
        async |e2e| {
            press_librement(e2e, 0, "fr").await?;
            e2e.wait_for_path("/librement/pay/").await?;
            let purchase = last_purchase(e2e)?;
            ensure!(e2e.text("h1").await? == "Payer avec un compte Librement ?");
            ensure!(e2e.text("#continue-without").await? == "Continuer sans compte");
            e2e.click("#sign-up").await?;
            e2e.wait_for_path("/librement/sign-up?lang=fr").await?;
            ensure!(e2e.text("h1").await? == "Créer un compte");
            e2e.fill("#display_name", "Acheteuse").await?;
            e2e.fill("#email", BUYER).await?;
            e2e.fill("#password", PASSWORD).await?;
            e2e.click("form button[type=submit]").await?;

            // Back on the purchase, signed in with an empty balance: straight on to the card.
            pay_purchase_by_card(e2e, &purchase, "5,00").await?;
            ensure!(e2e.path().await? == "/demo/thanks?lang=fr");
            let user = e2e
                .server
                .librement_user(BUYER)
                .ok_or_else(|| anyhow::anyhow!("no account created"))?;
            wait_balance(e2e, SELLER, 500).await?;
            ensure!(e2e.server.ledger_balance(&format!("user:{user}")) == 0);
            ensure!(e2e.server.ledger_balance("clearing:cmcic") == -500);
            Ok(())
        },
    )
    .await;
}

/// Waits until the mailbox shows a message whose subject contains `subject`; its first link to `path`.
async fn mailbox_link(e2e: &E2e, subject: &str, path: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        e2e.goto("/simulator/mail").await?;
        for mail in e2e
            .browser
            .client
            .find_all(fantoccini::Locator::Css("article.mail"))
            .await?
        {
            let title = mail.find(fantoccini::Locator::Css(".subject")).await?.text().await?;
            if title.contains(subject)
                && let Ok(a) = mail.find(fantoccini::Locator::Css(&format!("a[href*='{path}']"))).await
            {
                return Ok(a.attr("href").await?.unwrap_or_default());
            }
        }
        if Instant::now() > deadline {
            bail!("no e-mail {subject:?} with a link to {path} in the mailbox");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Adds `amount` on the top-up page through `gateway`, pays on its simulator, and comes back to the account.
async fn add_money(e2e: &E2e, amount: &str, gateway: &str) -> anyhow::Result<()> {
    e2e.goto("/librement/account").await?;
    e2e.click("#add-money").await?;
    e2e.wait_for_path("/librement/account/top-up").await?;
    e2e.fill("#amount", amount).await?;
    e2e.click(&format!("#gateway-{gateway}")).await?;
    e2e.click("#add").await?;
    match gateway {
        "cmcic" => {
            e2e.wait_for_path("/simulator/cmcic").await?;
            ensure!(e2e.text("#amount").await?.contains(amount));
            e2e.pay_by_card(GOOD_CARD, false).await?;
        }
        _ => {
            e2e.wait_for_path("/simulator/paypal").await?;
            ensure!(e2e.text("#amount").await?.contains(amount));
            e2e.click("#pay").await?;
        }
    }
    // The top-up's status page sends the buyer back to the account.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e2e.path().await?.starts_with("/librement/account") {
        if Instant::now() > deadline {
            bail!("never back on the account page (at {})", e2e.path().await?);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn money_added_through_each_simulator_shows_in_the_statement_with_a_receipt() {
    scenario("librement_top_up", async |e2e| {
        // The demo's sign-up link pre-fills the demo buyer.
        e2e.goto("/").await?;
        e2e.click("#product-librement a[href^='/librement/sign-up']").await?;
        e2e.wait_for_path("/librement/sign-up").await?;
        ensure!(e2e.find("#email").await?.prop("value").await?.as_deref() == Some(BUYER));
        e2e.fill("#display_name", "Demo Buyer").await?;
        e2e.fill("#password", PASSWORD).await?;
        e2e.click("form button[type=submit]").await?;
        e2e.wait_for_path("/librement/account").await?;
        let user = format!("user:{}", e2e.server.librement_user(BUYER).unwrap_or_default());
        ensure!(e2e.has("#statement-empty").await);

        add_money(e2e, "20.00", "cmcic").await?;
        wait_balance(e2e, &user, 2000).await?;
        add_money(e2e, "15.00", "paypal").await?;
        wait_balance(e2e, &user, 3500).await?;
        e2e.goto("/librement/account").await?;
        ensure!(e2e.text("#balances").await?.contains("€35.00"));
        let lines = e2e
            .browser
            .client
            .find_all(fantoccini::Locator::Css("#statement tr.line[data-kind=top_up]"))
            .await?;
        ensure!(lines.len() == 2, "{} top-up lines", lines.len());
        let newest = lines[0].text().await?;
        ensure!(newest.contains("+€15.00") && newest.contains("€35.00"), "{newest:?}");
        ensure!(e2e.server.ledger_balance("clearing:cmcic") == -2000);
        ensure!(e2e.server.ledger_balance("clearing:paypal") == -1500);
        // Each top-up's receipt is in the mailbox.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            e2e.goto("/simulator/mail").await?;
            let mailbox = e2e.text("body").await?;
            if mailbox.contains("You added €20.00 to your Librement account.")
                && mailbox.contains("You added €15.00 to your Librement account.")
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("no receipts in the mailbox: {mailbox}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_verification_and_reset_links_of_the_simulated_mailbox_work() {
    scenario("librement_mail_links", async |e2e| {
        sign_up(e2e, "en").await?;
        ensure!(e2e.has("#not-verified").await, "not verified yet");
        let verify = mailbox_link(e2e, "Confirm your Librement e-mail address", "/librement/verify").await?;
        e2e.browser.client.goto(&verify).await?;
        ensure!(
            e2e.text("#message")
                .await?
                .contains("Your e-mail address is confirmed.")
        );
        e2e.goto("/librement/account").await?;
        ensure!(!e2e.has("#not-verified").await, "verified");

        sign_out(e2e).await?;
        e2e.click("#forgot-password").await?;
        e2e.wait_for_path("/librement/password-reset").await?;
        e2e.fill("#email", BUYER).await?;
        submit(e2e, "form button[type=submit]").await?;
        ensure!(e2e.text("#message").await?.contains("If an account uses this address"));
        let reset = mailbox_link(e2e, "Reset your Librement password", "/librement/password-reset/").await?;
        e2e.browser.client.goto(&reset).await?;
        e2e.fill("#password", "a brand new passphrase").await?;
        submit(e2e, "form button[type=submit]").await?;
        e2e.wait_for_path("/librement/sign-in").await?;
        ensure!(e2e.text("#notice").await?.contains("Your password is changed"));
        e2e.fill("#email", BUYER).await?;
        e2e.fill("#password", "a brand new passphrase").await?;
        e2e.click("form button[type=submit]").await?;
        e2e.wait_for_path("/librement/account").await?;
        Ok(())
    })
    .await;
}
