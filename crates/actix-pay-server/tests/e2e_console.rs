//! The operator console in a real browser (headless Chromium) against the real binary: an operator added
//! with `librement-server operator add` signs in, finds the demo payment just made by its order reference,
//! reads its gateway message and events in French, refunds part of it through the PayPal simulator, and
//! signs out; and an operator resends a webhook delivery that failed while the shop's receiver was down,
//! which the receiver then gets; and an operator refunds part of a PayPal Checkout capture.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`, like tests/e2e_browser.rs.

mod e2e_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::ensure;
use e2e_support::{E2e, Landing, scenario, scenario_configured};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "a long operator passphrase 42";

/// Buys the demo shop's book through the PayPal simulator; the buyer lands on the shop, accepted.
async fn buy_the_demo_book(e2e: &mut E2e) -> anyhow::Result<Landing> {
    e2e.goto("/").await?;
    e2e.click("#product-book button[type=submit]").await?;
    e2e.wait_for_path("/simulator/paypal").await?;
    e2e.click("#pay").await?;
    let landing = e2e.follow_status_page("/demo/thanks").await?;
    ensure!(landing.final_state() == "accepted", "{:?}", landing.states);
    Ok(landing)
}

/// Adds the operator `ops@example.org` with `librement-server operator add` and signs in from `sign_in_page`.
async fn sign_in_as_operator(e2e: &mut E2e, sign_in_page: &str) -> anyhow::Result<()> {
    e2e.server.add_operator("ops@example.org", "operator", PASSWORD);
    e2e.goto(sign_in_page).await?;
    e2e.fill("#email", "ops@example.org").await?;
    e2e.fill("#password", PASSWORD).await?;
    e2e.click("form[action='/admin/sign-in'] button[type=submit]").await?;
    e2e.wait_for_path("/admin/payments").await?;
    Ok(())
}

/// Refunds 5.00 EUR of `payment` from its console page (reached with `query`): the page lists the refund,
/// succeeded, with its reason; the payment stays accepted with 5.00 refunded; the audit has the refund.
async fn refund_five_euros_from_the_console(e2e: &mut E2e, payment: &str, query: &str) -> anyhow::Result<()> {
    let refund_form = format!("form[action='/admin/payments/{payment}/refund']");
    e2e.fill(&format!("{refund_form} input[name=amount]"), "5.00").await?;
    e2e.fill(&format!("{refund_form} input[name=reason]"), "damaged in transit")
        .await?;
    e2e.click(&format!("{refund_form} button[type=submit]")).await?;
    e2e.wait_for_path(&format!("/admin/payments/{payment}")).await?;
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
        e2e.goto(&format!("/admin/payments/{payment}{query}")).await?;
    }
    let events = e2e
        .wait_for_events(
            payment,
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
    Ok(())
}

#[tokio::test]
async fn an_operator_finds_a_payment_by_its_order_reference_and_reads_its_messages_and_events() {
    scenario("console_payment_by_order_reference", async |e2e| {
        let landing = buy_the_demo_book(e2e).await?;
        let events = e2e
            .wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        let reference = events[1]["order_reference"].as_str().unwrap_or_default().to_owned();
        ensure!(reference.starts_with("DEMO-BOOK-"), "{reference}");

        sign_in_as_operator(e2e, "/admin?lang=fr").await?;

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

        // A partial refund from the payment's page: PayPal's (the simulator's) REST refund, then its IPN.
        refund_five_euros_from_the_console(e2e, &landing.payment_id, "?lang=fr").await?;

        // Signing out ends the session: the console asks to sign in again.
        e2e.click("form[action='/admin/sign-out'] button[type=submit]").await?;
        e2e.wait_for_path("/admin").await?;
        e2e.goto("/admin/payments").await?;
        e2e.find("#password").await?;
        Ok(())
    })
    .await;
}

/// A shop's webhook receiver on a loopback port: answers 500 while `up` is false, 204 once it is true, and
/// counts the deliveries it accepted. One request per connection (`Connection: close`).
struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/shop/events", listener.local_addr().expect("its address"));
        let up = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (is_up, count) = (up.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (is_up, count) = (is_up.clone(), count.clone());
                tokio::spawn(async move {
                    if read_request(&mut socket).await.is_none() {
                        return;
                    }
                    let status = if is_up.load(Ordering::SeqCst) {
                        count.fetch_add(1, Ordering::SeqCst);
                        "204 No Content"
                    } else {
                        "500 Internal Server Error"
                    };
                    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver { url, up, accepted }
    }
}

/// Reads one HTTP request (headers, then `Content-Length` bytes of body); `None` if the peer went away.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = socket.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(());
        }
    }
}

#[tokio::test]
async fn an_operator_resends_a_delivery_that_failed_while_the_shop_was_down_and_the_shop_receives_it() {
    let receiver = Receiver::start().await;
    // retry_for shorter than the first backoff: one failed attempt and the delivery is given up.
    let config = format!(
        "[[webhooks]]\nurl = \"{}\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\nevents = [\"payment_accepted\"]\nretry_for = \"1s\"\n",
        receiver.url
    );
    scenario_configured("console_resend_failed_delivery", Some(&config), &[], async |e2e| {
        let landing = buy_the_demo_book(e2e).await?;
        sign_in_as_operator(e2e, "/admin").await?;

        // The delivery of payment_accepted failed (HTTP 500) and was given up: the webhooks page lists it.
        let resend = "form[action='/admin/webhooks/resend'] button[type=submit]";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            e2e.goto("/admin/webhooks").await?;
            if e2e.has(resend).await {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "no failed delivery to resend: {}",
                e2e.text("main").await?
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let page = e2e.text("main").await?;
        ensure!(
            page.contains(&landing.payment_id),
            "the failing delivery names its payment: {page}"
        );
        ensure!(page.contains("500"), "and the receiver's answer: {page}");
        ensure!(
            receiver.accepted.load(Ordering::SeqCst) == 0,
            "nothing was received yet"
        );

        // The shop is back; the operator resends; the receiver gets the event once.
        receiver.up.store(true, Ordering::SeqCst);
        e2e.click(resend).await?;
        e2e.wait_for_path("/admin/webhooks").await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while receiver.accepted.load(Ordering::SeqCst) == 0 {
            ensure!(
                std::time::Instant::now() < deadline,
                "the resent delivery never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        e2e.goto(&format!("/admin/payments/{}", landing.payment_id)).await?;
        let page = e2e.text("main").await?;
        ensure!(
            page.contains("delivered"),
            "the payment's page shows the delivery delivered: {page}"
        );
        e2e.goto("/admin/audit").await?;
        ensure!(e2e.text("main").await?.contains("resend"), "the resend is in the audit");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        ensure!(receiver.accepted.load(Ordering::SeqCst) == 1, "received exactly once");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_operator_refunds_part_of_a_paypal_checkout_capture_once() {
    let checkout = [("PAY_PAYPAL_INTEGRATION", "checkout")];
    scenario_configured("console_checkout_refund", None, &checkout, async |e2e| {
        // Bought through Checkout: the order approved on the simulator's page, captured on the return.
        let landing = buy_the_demo_book(e2e).await?;
        e2e.wait_for_events(&landing.payment_id, &["payment_processed", "payment_accepted"])
            .await?;
        sign_in_as_operator(e2e, "/admin").await?;
        e2e.goto(&format!("/admin/payments/{}", landing.payment_id)).await?;
        // The captures refund API answers, then PAYMENT.CAPTURE.REFUNDED arrives: one refund, counted once.
        // (The helper waits for exactly one payment_refunded after the acceptance.)
        refund_five_euros_from_the_console(e2e, &landing.payment_id, "").await?;
        Ok(())
    })
    .await;
}
