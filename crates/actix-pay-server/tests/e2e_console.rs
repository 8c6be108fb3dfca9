//! The operator console in a real browser (headless Chromium) against the real binary: an operator added
//! with `librement-server operator add` signs in, finds the demo payment just made by its order reference,
//! reads its gateway message and events in French, refunds part of it through the PayPal simulator, and
//! signs out.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`, like tests/e2e_browser.rs.

mod e2e_support;

use anyhow::ensure;
use e2e_support::scenario;

const PASSWORD: &str = "a long operator passphrase 42";

#[tokio::test]
async fn an_operator_finds_a_payment_by_its_order_reference_and_reads_its_messages_and_events() {
    scenario("console_payment_by_order_reference", async |e2e| {
        // A payment through the demo shop and the PayPal simulator.
        e2e.goto("/").await?;
        e2e.click("#product-book button[type=submit]").await?;
        e2e.wait_for_path("/simulator/paypal").await?;
        e2e.click("#pay").await?;
        let landing = e2e.follow_status_page("/demo/thanks").await?;
        ensure!(landing.final_state() == "accepted", "{:?}", landing.states);
        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        let reference = events[1]["order_reference"].as_str().unwrap_or_default().to_owned();
        ensure!(reference.starts_with("DEMO-BOOK-"), "{reference}");

        e2e.server.add_operator("ops@example.org", "operator", PASSWORD);
        e2e.goto("/admin?lang=fr").await?;
        e2e.fill("#email", "ops@example.org").await?;
        e2e.fill("#password", PASSWORD).await?;
        e2e.click("form[action='/admin/sign-in'] button[type=submit]").await?;
        e2e.wait_for_path("/admin/payments").await?;

        e2e.fill("input[name=order_reference]", &reference).await?;
        e2e.click("form.admin-filters button[type=submit]").await?;
        e2e.wait_for_path("/admin/payments?").await?;
        let link = format!("a[href^='/admin/payments/{}']", landing.payment_id);
        e2e.click(&link).await?;
        e2e.wait_for_path(&format!("/admin/payments/{}", landing.payment_id))
            .await?;
        let page = e2e.text("main").await?;
        ensure!(page.contains(&reference), "the order reference is shown");
        ensure!(page.contains("Configuration du bouton"), "in French: {page}");
        ensure!(page.contains("verified"), "its gateway message, verified: {page}");
        ensure!(page.contains("payment_accepted"), "its events: {page}");
        ensure!(page.contains("ops@example.org (operator)"), "who is signed in");

        // A partial refund from the payment's page: PayPal's (the simulator's) REST refund, then its IPN;
        // the page lists the refund, succeeded, and the payment stays accepted with 5.00 refunded.
        let refund_form = format!("form[action='/admin/payments/{}/refund']", landing.payment_id);
        e2e.fill(&format!("{refund_form} input[name=amount]"), "5.00").await?;
        e2e.fill(&format!("{refund_form} input[name=reason]"), "damaged in transit")
            .await?;
        e2e.click(&format!("{refund_form} button[type=submit]")).await?;
        e2e.wait_for_path(&format!("/admin/payments/{}", landing.payment_id))
            .await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let page = e2e.text("main").await?;
            if page.contains("succeeded") && page.contains("5.00 EUR") {
                ensure!(page.contains("damaged in transit"), "the reason is shown: {page}");
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the refund never showed as succeeded: {page}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            e2e.goto(&format!("/admin/payments/{}?lang=fr", landing.payment_id))
                .await?;
        }
        let events = e2e
            .wait_for_events(
                &landing.payment_id,
                &[
                    "payment_processed",
                    "payment_accepted",
                    "payment_processed",
                    "payment_refunded",
                ],
            )
            .await?;
        ensure!(events[3]["state"] == "accepted", "partly refunded: {}", events[3]);
        ensure!(events[3]["details"]["refund_amount"] == "5.00", "{}", events[3]);
        e2e.goto("/admin/audit").await?;
        ensure!(e2e.text("main").await?.contains("refund"), "the refund is in the audit");

        // Signing out ends the session: the console asks to sign in again.
        e2e.click("form[action='/admin/sign-out'] button[type=submit]").await?;
        e2e.wait_for_path("/admin").await?;
        e2e.goto("/admin/payments").await?;
        e2e.find("#password").await?;
        Ok(())
    })
    .await;
}
