//! End-to-end scenarios in a real browser (headless Chromium) against the real `librement-server` binary with
//! no configuration: the demo shop, the simulated gateways, our status page, the shop's pages, the events of
//! the demo's in-process listener and the gateway log in the server's SQLite database.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium chromium-driver`).
//! Without them each test prints one line and passes, unless `CI` is set. `E2E_SCREENSHOTS=1` also saves the
//! screenshots of `docs/getting-started.md` to `docs/screenshots/`.

mod e2e_support;

use anyhow::ensure;
use e2e_support::{E2e, scenario, scenario_with};

const BANNER_EN: &str = "Simulator mode";
const BANNER_FR: &str = "Mode simulateur";

/// The log rows of one payment: every one verified, from `gateway`, with no flag.
fn assert_clean_log(e2e: &E2e, payment_id: &str, gateway: &str, count: usize) -> anyhow::Result<()> {
    let rows: Vec<_> = e2e
        .server
        .log_rows()
        .into_iter()
        .filter(|r| r.payment_id.as_deref() == Some(payment_id))
        .collect();
    ensure!(
        rows.len() == count,
        "{} log rows for {payment_id}, expected {count}: {rows:?}",
        rows.len()
    );
    for row in &rows {
        ensure!(row.gateway == gateway, "log row {} is from {}", row.id, row.gateway);
        ensure!(
            row.verification == "verified",
            "log row {} is {}",
            row.id,
            row.verification
        );
        ensure!(row.flags == "[]", "log row {} has flags {}", row.id, row.flags);
        ensure!(row.outcome.is_some(), "log row {} has no outcome", row.id);
    }
    Ok(())
}

#[tokio::test]
async fn paypal_buy_now_accepted_lands_on_the_thanks_page() {
    scenario("paypal_buy_now_accepted", async |e2e| {
        e2e.goto("/").await?;
        e2e.assert_banner(BANNER_EN).await?;
        e2e.find("#no-events").await?;
        e2e.doc_screenshot("shop.png").await?;
        e2e.click("#product-book button[type=submit]").await?;

        e2e.wait_for_path("/simulator/paypal").await?;
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.text("#amount").await? == "12.50 EUR");
        e2e.doc_screenshot("paypal-checkout.png").await?;
        e2e.click("#pay").await?;

        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.find("#demo-result").await?.attr("data-outcome").await?.as_deref() == Some("thanks"));
        e2e.doc_screenshot("thanks.png").await?;

        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        ensure!(events[1]["amount"] == "12.50" && events[1]["currency"] == "EUR");
        ensure!(events[1]["gateway"] == "paypal" && events[1]["state"] == "accepted");
        ensure!(
            events[1]["order_reference"]
                .as_str()
                .is_some_and(|o| o.starts_with("DEMO-BOOK-"))
        );
        assert_clean_log(e2e, &landing.payment_id, "paypal", 1)?;

        e2e.panel_shows("/", &landing.payment_id, "payment_accepted").await?;
        e2e.doc_screenshot("events.png").await?;
        e2e.goto(&format!("/payments/{}", landing.payment_id)).await?;
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.find("#payment-state").await?.attr("data-state").await?.as_deref() == Some("accepted"));
        e2e.doc_screenshot("status.png").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn paypal_cancel_leaves_the_payment_unpaid_and_leads_back_to_the_shop() {
    scenario("paypal_cancel", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-book button[type=submit]").await?;
        e2e.wait_for_path("/simulator/paypal").await?;
        e2e.click("#cancel").await?;

        let status = e2e.wait_for_path("/payments/").await?;
        // PayPal's cancel_return is our status page, told that the buyer cancelled.
        let payment_id = status
            .trim_start_matches("/payments/")
            .trim_end_matches("?cancelled=1")
            .to_owned();
        ensure!(e2e.find("#payment-state").await?.attr("data-state").await?.as_deref() == Some("created"));
        ensure!(e2e.text("#payment-state").await?.contains("You cancelled the payment"));
        e2e.click("#continue").await?;
        e2e.wait_for_path("/").await?;
        e2e.find("#product-book").await?;

        let payments = e2e.server.payments();
        let payment = payments.iter().find(|p| p.id == payment_id);
        ensure!(payment.is_some_and(|p| p.state == "created"), "payment: {payment:?}");
        ensure!(
            e2e.server.log_rows().is_empty(),
            "a cancelled checkout sends no notification"
        );
        ensure!(
            e2e.demo_events().await?.is_empty(),
            "a cancelled checkout makes no event"
        );
        Ok(())
    })
    .await;
}

const CHECKOUT: &[(&str, &str)] = &[("PAY_PAYPAL_INTEGRATION", "checkout")];

#[tokio::test]
async fn paypal_checkout_buy_now_is_captured_on_the_return_and_lands_on_the_thanks_page() {
    scenario_with("paypal_checkout_buy_now", CHECKOUT, async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-book button[type=submit]").await?;

        // /pay created the order: the browser is on PayPal's approval page.
        e2e.wait_for_path("/simulator/paypal/checkoutnow").await?;
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.text("#amount").await? == "12.50 EUR");
        e2e.click("#pay").await?;

        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        e2e.wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        // Answers (token, order, capture) and the two webhooks, every one verified and unflagged.
        let rows: Vec<_> = e2e
            .server
            .log_rows()
            .into_iter()
            .filter(|r| r.payment_id.as_deref() == Some(landing.payment_id.as_str()))
            .collect();
        ensure!(rows.len() >= 3, "{rows:?}");
        for row in &rows {
            ensure!(row.verification == "verified", "{row:?}");
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn paypal_checkout_cancel_leaves_the_payment_unpaid() {
    scenario_with("paypal_checkout_cancel", CHECKOUT, async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-book button[type=submit]").await?;
        e2e.wait_for_path("/simulator/paypal/checkoutnow").await?;
        e2e.click("#cancel").await?;
        e2e.wait_for_path("/payments/").await?;
        ensure!(e2e.find("#payment-state").await?.attr("data-state").await?.as_deref() == Some("created"));
        ensure!(e2e.text("#payment-state").await?.contains("You cancelled the payment"));
        ensure!(
            e2e.demo_events().await?.is_empty(),
            "a cancelled checkout makes no event"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn paypal_checkout_subscription_is_approved_paid_twice_and_cancelled_at_paypal() {
    // Checkout's subscriptions are paid to paypal.business, the account that owns the plans.
    let env = [
        CHECKOUT,
        &[
            ("PAY_PAYPAL_MODE", "simulator"),
            ("PAY_PAYPAL_BUSINESS", "demo-seller@example.com"),
        ],
    ]
    .concat();
    scenario_with("paypal_checkout_subscription", &env, async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-membership button[type=submit]").await?;

        // /pay found or made the plan and created the subscription: the browser is on its approval page.
        e2e.wait_for_path("/simulator/paypal/webapps/billing/subscriptions")
            .await?;
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.text("#amount").await? == "5.00 EUR");
        let billing = e2e.text("#billing").await?;
        ensure!(billing.contains("month"), "billing: {billing}");
        e2e.click("#pay").await?;

        // Back through /return/paypal/{id}, then the status page waits for the webhooks.
        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        // BILLING.SUBSCRIPTION.ACTIVATED (processed, no outcome), then the first sale accepted.
        e2e.wait_for_events(
            &landing.payment_id,
            &["payment_processed", "payment_processed", "payment_accepted"],
        )
        .await?;
        let rows: Vec<_> = e2e
            .server
            .log_rows()
            .into_iter()
            .filter(|r| r.payment_id.as_deref() == Some(landing.payment_id.as_str()))
            .collect();
        ensure!(
            rows.iter().any(|r| r.fields.contains("BILLING.SUBSCRIPTION.ACTIVATED"))
                && rows.iter().any(|r| r.fields.contains("PAYMENT.SALE.COMPLETED")),
            "both webhooks are logged: {rows:?}"
        );
        for row in &rows {
            ensure!(row.verification == "verified" && row.flags == "[]", "{row:?}");
        }

        // A month later (the simulator's "Next payment"): PAYMENT.SALE.COMPLETED again, a payment of its own.
        e2e.goto("/simulator/paypal/payments").await?;
        e2e.click("button[aria-label^='Next payment of']").await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let second = loop {
            let cycles: Vec<_> = e2e
                .server
                .payments()
                .into_iter()
                .filter(|p| p.subscription_id.as_deref() == Some(landing.payment_id.as_str()))
                .collect();
            if let Some(cycle) = cycles.iter().find(|p| p.state == "accepted") {
                ensure!(cycles.len() == 1 && cycle.amount_minor == 500, "{cycles:?}");
                break cycle.id.clone();
            }
            ensure!(std::time::Instant::now() < deadline, "no second cycle: {cycles:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        e2e.wait_for_events(&second, &["payment_processed", "payment_accepted"])
            .await?;

        // The buyer cancels at PayPal: BILLING.SUBSCRIPTION.CANCELLED ends the subscription.
        e2e.goto("/simulator/paypal/payments").await?;
        e2e.click("button[aria-label^='Cancel subscription']").await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let kinds: Vec<String> = e2e
                .demo_events()
                .await?
                .into_iter()
                .filter(|e| e["payment_id"] == landing.payment_id.as_str())
                .filter_map(|e| e["type"].as_str().map(str::to_owned))
                .collect();
            if kinds.iter().any(|k| k == "subscription_cancelled") {
                ensure!(
                    kinds.iter().filter(|k| *k == "payment_accepted").count() == 1,
                    "the first cycle is still accepted once: {kinds:?}"
                );
                break;
            }
            ensure!(std::time::Instant::now() < deadline, "never cancelled: {kinds:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        ensure!(
            e2e.server
                .payments()
                .iter()
                .any(|p| p.id == landing.payment_id && p.state == "cancelled"),
            "the subscription's payment is cancelled"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn several_options_the_second_one_is_charged() {
    scenario("several_options_second_chosen", async |e2e| {
        e2e.goto("/").await?;
        let select = e2e.find("#product-editions select[name=option]").await?;
        select.select_by_value("1").await?;
        e2e.click(r#"#product-editions button[name=gateway][value=paypal]"#)
            .await?;

        e2e.wait_for_path("/simulator/paypal").await?;
        ensure!(e2e.text("#item").await?.contains("Paperback"));
        ensure!(e2e.text("#amount").await? == "24.00 EUR");
        e2e.click("#pay").await?;

        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        ensure!(
            events[1]["option"] == 1 && events[1]["amount"] == "24.00",
            "event: {}",
            events[1]
        );
        let payments = e2e.server.payments();
        let payment = payments.iter().find(|p| p.id == landing.payment_id);
        ensure!(
            payment.is_some_and(|p| p.option_index == 1 && p.amount_minor == 2400 && p.state == "accepted"),
            "payment: {payment:?}"
        );
        assert_clean_log(e2e, &landing.payment_id, "paypal", 1)?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn subscription_signup_and_first_payment() {
    scenario("paypal_subscription", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-membership button[type=submit]").await?;
        e2e.wait_for_path("/simulator/paypal").await?;
        ensure!(e2e.text("#amount").await? == "5.00 EUR");
        let billing = e2e.text("#billing").await?;
        ensure!(billing.contains("month"), "billing: {billing}");
        e2e.click("#pay").await?;

        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );

        let (rows, answers): (Vec<_>, Vec<_>) = e2e
            .server
            .log_rows()
            .into_iter()
            .partition(|r| r.direction == "incoming");
        ensure!(rows.len() == 2, "sign-up and first payment are logged: {rows:?}");
        ensure!(rows[0].fields.contains("subscr_signup") && rows[1].fields.contains("subscr_payment"));
        ensure!(
            rows.iter().all(|r| r.verification == "verified" && r.flags == "[]"),
            "{rows:?}"
        );
        // PayPal's answer to each postback is logged too, naming the message it verified.
        for row in &rows {
            let outcome = format!("answer to the verification of message {} (attempt 1)", row.id);
            ensure!(
                answers.iter().any(|a| a.outcome.as_deref() == Some(outcome.as_str())
                    && a.fields.contains("/simulator/paypal/postback")
                    && a.fields.contains(r#""status":"200""#)),
                "no postback answer for message {}: {answers:?}",
                row.id
            );
        }

        let payments = e2e.server.payments();
        let started = payments.iter().find(|p| p.id == landing.payment_id);
        ensure!(started.is_some(), "the status page's payment exists: {payments:?}");
        let cycles: Vec<_> = payments
            .iter()
            .filter(|p| {
                p.state == "accepted"
                    && (p.id == landing.payment_id || p.subscription_id.as_deref() == Some(landing.payment_id.as_str()))
            })
            .collect();
        ensure!(
            cycles.len() == 1 && cycles[0].amount_minor == 500,
            "first cycle: {payments:?}"
        );

        // The sign-up moves no money (processed, no outcome); the first payment is accepted.
        let cycle = cycles[0].id.clone();
        let events = if cycle == landing.payment_id {
            e2e.wait_for_events(&cycle, &["payment_processed", "payment_processed", "payment_accepted"])
                .await?
        } else {
            e2e.wait_for_events(&landing.payment_id, &["payment_processed"]).await?;
            e2e.wait_for_events(&cycle, &["payment_processed", "payment_accepted"])
                .await?
        };
        let accepted = events.last().cloned().unwrap_or_default();
        ensure!(
            accepted["amount"] == "5.00" && accepted["state"] == "accepted",
            "event: {accepted}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn monetico_card_accepted() {
    scenario("monetico_accepted", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-ticket button[type=submit]").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        e2e.assert_banner(BANNER_EN).await?;
        ensure!(e2e.text("#amount").await?.contains("45"));
        e2e.fill("#card_number", "4000 0000 0000 0002").await?;
        e2e.fill("#expiry", &e2e_support::next_year_expiry()).await?;
        e2e.fill("#cvv", "123").await?;
        e2e.doc_screenshot("cmcic-card.png").await?;
        e2e.click("form button[type=submit]").await?;

        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        ensure!(events[1]["gateway"] == "cmcic" && events[1]["amount"] == "45.00");
        assert_clean_log(e2e, &landing.payment_id, "cmcic", 1)?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn monetico_card_declined_lands_on_the_sorry_page() {
    scenario("monetico_declined", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-ticket button[type=submit]").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        e2e.pay_by_card("4000000000000010", false).await?;

        let landing = e2e.follow_status_page("/demo/sorry").await?;
        ensure!(
            landing.final_state() == "declined",
            "status page showed {:?}",
            landing.states
        );
        ensure!(e2e.find("#demo-result").await?.attr("data-outcome").await?.as_deref() == Some("sorry"));
        e2e.wait_for_events(&landing.payment_id, &["payment_processed", "payment_declined"])
            .await?;
        assert_clean_log(e2e, &landing.payment_id, "cmcic", 1)?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn monetico_fraud_refusal_reports_both_filters() {
    scenario("monetico_fraud", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-ticket button[type=submit]").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        e2e.pay_by_card("4000000000000036", false).await?;

        let landing = e2e.follow_status_page("/demo/sorry").await?;
        ensure!(
            landing.final_state() == "declined",
            "status page showed {:?}",
            landing.states
        );
        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_declined"])
            .await?;
        let causes = events[1]["details"]["fraud"].as_array().cloned().unwrap_or_default();
        let codes: Vec<_> = causes.iter().map(|c| c["code"].clone()).collect();
        ensure!(
            codes == [4, 6],
            "the decline names both fraud filters: {}",
            events[1]["details"]
        );
        ensure!(
            causes.iter().all(|c| c["information_only"] == false),
            "both filters blocked: {causes:?}"
        );
        assert_clean_log(e2e, &landing.payment_id, "cmcic", 1)?;
        let row = e2e.server.log_rows().pop();
        ensure!(
            row.as_ref().is_some_and(|r| r.fields.contains("4-6")),
            "the logged return names both filters: {row:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn express_payment_second_purchase_asks_only_the_security_code() {
    scenario("monetico_express_payment", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#product-ticket button[type=submit]").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        e2e.pay_by_card("4000000000000002", true).await?;
        let first = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(first.final_state() == "accepted", "first purchase: {:?}", first.states);

        e2e.goto("/").await?;
        e2e.click("#product-ticket button[type=submit]").await?;
        e2e.wait_for_path("/simulator/cmcic").await?;
        let saved = e2e.text("#saved-card").await?;
        ensure!(saved.ends_with("0002"), "saved card shown as {saved:?}");
        ensure!(!e2e.has("#card_number").await, "the card number is not asked again");
        e2e.doc_screenshot("cmcic-express.png").await?;
        e2e.fill("#cvv", "123").await?;
        e2e.click("form button[type=submit]").await?;

        let second = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(
            second.final_state() == "accepted",
            "second purchase: {:?}",
            second.states
        );
        ensure!(second.payment_id != first.payment_id);
        e2e.wait_for_events(&second.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        assert_clean_log(e2e, &second.payment_id, "cmcic", 1)?;
        let row = e2e.server.log_rows().pop();
        ensure!(
            row.as_ref().is_some_and(|r| r.fields.contains("cbenregistree")),
            "the return says the card was saved: {row:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn french_pages_from_the_shop_to_the_thanks_page() {
    scenario("french_pages", async |e2e| {
        e2e.goto("/").await?;
        e2e.click("#switch-language").await?;
        e2e.wait_for_path("/?lang=fr").await?;
        e2e.assert_banner(BANNER_FR).await?;
        ensure!(e2e.find("html").await?.attr("lang").await?.as_deref() == Some("fr"));
        ensure!(e2e.text("h1").await? == "Boutique de démonstration");
        let alt = e2e.find("#product-donation button img").await?.attr("alt").await?;
        ensure!(
            alt.as_deref() == Some("Faire un don de 10 €"),
            "image button alt: {alt:?}"
        );
        e2e.doc_screenshot("shop-fr.png").await?;
        e2e.click("#product-book button[type=submit]").await?;

        e2e.wait_for_path("/simulator/paypal").await?;
        ensure!(e2e.text("#pay").await? == "Payer");
        e2e.click("#pay").await?;

        let landing = e2e.follow_status_page("/demo/thanks?lang=fr").await?;
        ensure!(
            landing.final_state() == "accepted",
            "status page showed {:?}",
            landing.states
        );
        e2e.assert_banner(BANNER_FR).await?;
        ensure!(e2e.text("h1").await? == "Merci pour votre commande");
        e2e.goto(&format!("/payments/{}", landing.payment_id)).await?;
        ensure!(e2e.text("#payment-state").await?.starts_with("Merci"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_image_button_shows_the_demo_svg_with_its_alt_text() {
    scenario("image_button", async |e2e| {
        e2e.goto("/").await?;
        let img = e2e.find("#product-donation button[type=submit] img").await?;
        ensure!(img.attr("alt").await?.as_deref() == Some("Donate €10"));
        let src = img.attr("src").await?.unwrap_or_default();
        ensure!(src == e2e.server.url("/demo/button.svg"), "image src {src}");
        let width = e2e
            .browser
            .client
            .execute(
                "return document.querySelector('#product-donation img').naturalWidth",
                vec![],
            )
            .await?;
        ensure!(
            width.as_u64().is_some_and(|w| w > 0),
            "the SVG loaded (naturalWidth {width})"
        );
        img.click().await?;
        e2e.wait_for_path("/simulator/paypal").await?;
        ensure!(e2e.text("#amount").await? == "10.00 EUR");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_events_panel_updates_without_reloading_the_shop() {
    scenario("events_panel_live", async |e2e| {
        let client = &e2e.browser.client;
        e2e.goto("/").await?;
        e2e.find("#no-events").await?;
        // A marker that a full page reload would wipe out.
        client.execute("window.notReloaded = true", vec![]).await?;
        let shop = client.window().await?;

        let other = client.new_window(true).await?;
        client.switch_to_window(other.handle).await?;
        e2e.goto("/").await?;
        e2e.click("#product-book button[type=submit]").await?;
        e2e.wait_for_path("/simulator/paypal").await?;
        e2e.click("#pay").await?;
        let landing = e2e.follow_status_page("/demo/thanks").await?;

        client.switch_to_window(shop).await?;
        e2e.find(&format!(
            r#"#events tr.event[data-payment="{}"][data-type="payment_accepted"]"#,
            landing.payment_id
        ))
        .await?;
        ensure!(!e2e.has("#no-events").await, "the empty-panel line is gone");
        let kept = client.execute("return window.notReloaded === true", vec![]).await?;
        ensure!(kept == serde_json::Value::Bool(true), "the shop page was reloaded");
        let row = e2e
            .text(&format!(
                r#"#events tr[data-payment="{}"][data-type="payment_accepted"]"#,
                landing.payment_id
            ))
            .await?;
        ensure!(
            row.contains("12.50 EUR") && row.contains("accepted") && row.contains("DEMO-BOOK-"),
            "row: {row}"
        );
        Ok(())
    })
    .await;
}
