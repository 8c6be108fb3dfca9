//! Sellers' earnings, payouts, the statement and receipts through the Diesel store, on SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL: a sale credits only a **verified** account, earnings made before move
//! to it at verification, payouts are held at once and paid or rejected once, with the ledger audit after
//! each step.

#[path = "common/store.rs"]
mod common;
#[path = "common/librement.rs"]
mod librement;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::*;
use librement::*;
use librement_pay::accounts::{Email, NewUser, UserStore};
use librement_pay::email_tokens::{EmailToken, EmailTokens, Purpose, Verified};
use librement_pay::ledger::{Account, Audit, Entry, LedgerStore, NewTransaction, TransactionKind, UserId};
use librement_pay::mail::MailQueue;
use librement_pay::payout::{Decision, PayoutError, PayoutFilter, PayoutState, Payouts};
use librement_pay::purchase::BalancePayments;
use librement_pay::statement::{LineKind, statement};
use librement_pay::topup::TopUps;
use payment_buttons::money::Money;
use payment_buttons::notification::{Outcome, Target};

const HOLD: Duration = Duration::days(14);

/// A user with `email`, its address unverified, with `balance` added by card.
async fn account(db: &TestDb, email: &str, balance: Option<&str>) -> UserId {
    let id = db
        .store
        .create_user(NewUser {
            email: Email::parse(email).unwrap(),
            display_name: "Someone".into(),
            password_hash: "$argon2id$unused".into(),
            created_at: t0(),
        })
        .await
        .unwrap();
    if let Some(b) = balance {
        db.store
            .post(NewTransaction::top_up(format!("seed:{id}"), id, "cmcic", eur(b)).unwrap())
            .await
            .unwrap();
    }
    id
}

/// Follows the verification link of `user`, as the page does once signed in.
async fn verify(db: &TestDb, user: UserId, now: DateTime<Utc>) -> Verified {
    let token = EmailToken::new(Purpose::Verify, user, now);
    db.store.record_token(&token, now).await.unwrap();
    db.store.verify_email(&token, now).await.unwrap()
}

/// A purchase from [`SELLER`] of `amount`, paid from `buyer`'s balance at `now`.
async fn sale(db: &TestDb, buyer: UserId, amount: &str, now: DateTime<Utc>) -> payment_buttons::payment::PaymentId {
    let p = purchase(db, amount).await;
    db.store.pay_from_balance(&p, buyer, now).await.unwrap();
    p
}

async fn assert_healthy(db: &TestDb, step: &str) {
    let audit = Audit::of(&db.store.all_entries().await.unwrap());
    assert!(audit.is_healthy(), "{} after {step}: {audit:?}", db.backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earnings_made_before_the_seller_verified_move_to_the_account_at_verification() {
    on_every_backend(|db| async move {
        let now = Utc::now();
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        // A sale before the seller has an account: the money waits on seller:{email}.
        sale(&db, buyer, "30.00", now).await;
        let seller = account(&db, SELLER, None).await;
        // A sale while the seller's address is not verified: it waits too.
        sale(&db, buyer, "12.00", now).await;
        assert_eq!(balance(&db, Account::Seller(SELLER.into())).await, eur("42.00"));
        assert_eq!(balance(&db, Account::User(seller)).await, eur("0.00"));

        assert_eq!(
            verify(&db, seller, now).await,
            Verified::Now {
                claimed: vec![eur("42.00")]
            }
        );
        assert_eq!(balance(&db, Account::Seller(SELLER.into())).await, eur("0.00"));
        assert_eq!(
            balance(&db, Account::User(seller)).await,
            eur("42.00"),
            "{}",
            db.backend
        );
        assert!(db.store.user_by_id(seller).await.unwrap().unwrap().email_verified);
        // Once verified, a sale credits the account directly.
        sale(&db, buyer, "5.00", now).await;
        assert_eq!(balance(&db, Account::User(seller)).await, eur("47.00"));
        assert_eq!(balance(&db, Account::Seller(SELLER.into())).await, eur("0.00"));
        assert_healthy(&db, "verification").await;

        let page = statement(&db.store, seller, None, 10).await.unwrap();
        let kinds: Vec<LineKind> = page.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, vec![LineKind::Earnings, LineKind::Earnings], "{}", db.backend);
        assert_eq!(page.lines[0].order_reference.as_deref(), Some("ORDER-9"));
        assert_eq!(page.lines[0].balance_after, eur("47.00"));
        assert_eq!(page.lines[1].amount, eur("42.00"));
        // The balance can be spent like any other: on another seller's book.
        let other = purchase(&db, "47.00").await;
        db.store
            .post(
                NewTransaction::purchase(format!("purchase:{other}"), seller, "other@example.org", eur("47.00"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(balance(&db, Account::User(seller)).await, eur("0.00"));
        // A used link does nothing a second time.
        let token = EmailToken::new(Purpose::Verify, seller, now);
        db.store.record_token(&token, now).await.unwrap();
        assert!(matches!(
            db.store.verify_email(&token, now).await.unwrap(),
            Verified::Now { .. }
        ));
        assert_eq!(db.store.verify_email(&token, now).await.unwrap(), Verified::Refused);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_account_with_the_sellers_address_never_gets_the_earnings() {
    on_every_backend(|db| async move {
        let now = Utc::now();
        let later = now + HOLD + Duration::days(1);
        // The attacker signs up with the seller's address, which they cannot read.
        let attacker = account(&db, SELLER, None).await;
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        sale(&db, buyer, "30.00", now).await;
        sale(&db, buyer, "20.00", now).await;

        assert_eq!(
            balance(&db, Account::User(attacker)).await,
            eur("0.00"),
            "{}",
            db.backend
        );
        assert_eq!(
            db.store
                .withdrawable(attacker, eur("1.00").currency(), HOLD, later)
                .await
                .unwrap(),
            eur("0.00")
        );
        assert!(matches!(
            db.store.request_payout(attacker, eur("50.00"), HOLD, "en", later).await,
            Err(PayoutError::AboveWithdrawable { .. })
        ));
        // Neither a link issued for another purpose nor one of another account verifies it.
        let reset = EmailToken::new(Purpose::Reset, attacker, now);
        db.store.record_token(&reset, now).await.unwrap();
        assert_eq!(db.store.verify_email(&reset, now).await.unwrap(), Verified::Refused);
        let unrecorded = EmailToken::new(Purpose::Verify, attacker, now);
        assert_eq!(
            db.store.verify_email(&unrecorded, now).await.unwrap(),
            Verified::Refused
        );
        assert!(statement(&db.store, attacker, None, 10).await.unwrap().lines.is_empty());
        assert_eq!(balance(&db, Account::Seller(SELLER.into())).await, eur("50.00"));
        // The owner of the mailbox resets the password: the account is theirs, verified, and paid.
        let link = EmailToken::new(Purpose::Reset, attacker, now);
        db.store.record_token(&link, now).await.unwrap();
        let epoch = db.store.user_by_id(attacker).await.unwrap().unwrap().session_epoch;
        assert!(db.store.reset_password(&link, "$argon2id$new", now).await.unwrap());
        let owner = db.store.user_by_id(attacker).await.unwrap().unwrap();
        assert!(owner.email_verified);
        assert_eq!(owner.session_epoch, epoch + 1, "every session ended");
        assert_eq!(balance(&db, Account::User(attacker)).await, eur("50.00"));
        assert!(
            !db.store.reset_password(&link, "$argon2id$again", now).await.unwrap(),
            "single use"
        );
        assert_healthy(&db, "the reset").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_earnings_past_the_hold_can_be_paid_out_never_money_added_by_card() {
    on_every_backend(|db| async move {
        let now = Utc::now();
        let seller = account(&db, SELLER, Some("50.00")).await;
        verify(&db, seller, now).await;
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        sale(&db, buyer, "30.00", now).await;
        let currency = eur("1.00").currency();
        assert_eq!(balance(&db, Account::User(seller)).await, eur("80.00"));
        assert_eq!(
            db.store.withdrawable(seller, currency, HOLD, now).await.unwrap(),
            eur("0.00"),
            "on hold"
        );
        let later = now + HOLD + Duration::seconds(1);
        assert_eq!(
            db.store.withdrawable(seller, currency, HOLD, later).await.unwrap(),
            eur("30.00")
        );
        assert_eq!(
            db.store.request_payout(seller, eur("30.01"), HOLD, "en", later).await,
            Err(PayoutError::AboveWithdrawable {
                withdrawable: eur("30.00")
            })
        );
        assert_eq!(
            db.store.request_payout(seller, eur("0.00"), HOLD, "en", later).await,
            Err(PayoutError::NotPositive)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_are_held_then_paid_or_rejected_with_the_ledger_audit_and_an_e_mail_after_each() {
    on_every_backend(|db| async move {
        let sold = Utc::now() - HOLD - Duration::days(1);
        let now = Utc::now();
        let seller = account(&db, SELLER, None).await;
        verify(&db, seller, sold).await;
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        sale(&db, buyer, "40.00", sold).await;

        let first = db
            .store
            .request_payout(seller, eur("25.00"), HOLD, "fr", now)
            .await
            .unwrap();
        assert_eq!(first.state, PayoutState::Requested);
        assert_eq!(first.email, SELLER);
        assert_eq!(balance(&db, Account::User(seller)).await, eur("15.00"));
        assert_eq!(balance(&db, Account::PayoutsPending).await, eur("25.00"));
        assert_healthy(&db, "the request").await;

        let operator = |note: &str| Decision {
            operator: "ops@pay.example".into(),
            note: Some(note.into()),
        };
        let paid = db
            .store
            .mark_payout_paid(first.id, operator("virement 2026-12-03"), now)
            .await
            .unwrap();
        assert_eq!(paid.state, PayoutState::Paid);
        assert_eq!(paid.decided_by.as_deref(), Some("ops@pay.example"));
        assert_eq!(balance(&db, Account::PayoutsPending).await, eur("0.00"));
        assert_eq!(balance(&db, Account::PaidOut).await, eur("25.00"));
        assert_healthy(&db, "paid").await;
        assert_eq!(
            db.store.reject_payout(first.id, operator("too late"), now).await,
            Err(PayoutError::AlreadyDecided(PayoutState::Paid))
        );

        let second = db
            .store
            .request_payout(seller, eur("15.00"), HOLD, "en", now)
            .await
            .unwrap();
        assert_eq!(balance(&db, Account::User(seller)).await, eur("0.00"));
        let rejected = db
            .store
            .reject_payout(second.id, operator("unknown IBAN"), now)
            .await
            .unwrap();
        assert_eq!(rejected.state, PayoutState::Rejected);
        assert_eq!(
            balance(&db, Account::User(seller)).await,
            eur("15.00"),
            "back on the balance"
        );
        assert_eq!(balance(&db, Account::PayoutsPending).await, eur("0.00"));
        assert_healthy(&db, "rejected").await;
        assert_eq!(
            db.store.mark_payout_paid(second.id, operator("oops"), now).await,
            Err(PayoutError::AlreadyDecided(PayoutState::Rejected))
        );
        // What was rejected can be asked for again.
        assert_eq!(
            db.store
                .withdrawable(seller, eur("1.00").currency(), HOLD, now)
                .await
                .unwrap(),
            eur("15.00")
        );

        // The operator's list, and the e-mails.
        let waiting = db
            .store
            .payouts(PayoutFilter {
                state: Some(PayoutState::Requested),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(waiting.is_empty());
        let all = db
            .store
            .payouts(PayoutFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), vec![second.id, first.id]);
        let mails = db.store.mailbox(10).await.unwrap();
        let paid_mail = mails
            .iter()
            .find(|m| m.subject.contains("payé"))
            .expect("the paid notice, in French");
        assert!(paid_mail.text.contains("virement 2026-12-03"), "{}", paid_mail.text);
        assert_eq!(paid_mail.to, SELLER);
        let rejected_mail = mails
            .iter()
            .find(|m| m.subject.contains("was not made"))
            .expect("the rejection");
        assert!(rejected_mail.text.contains("unknown IBAN"));

        // The statement: the payouts and the one given back, newest first.
        let page = statement(&db.store, seller, None, 10).await.unwrap();
        let kinds: Vec<LineKind> = page.lines.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![
                LineKind::PayoutReturned,
                LineKind::Payout,
                LineKind::Payout,
                LineKind::Earnings
            ]
        );
        assert_eq!(page.lines[1].payout, Some(PayoutState::Rejected));
        assert_eq!(page.lines[2].payout, Some(PayoutState::Paid));
        let balances: Vec<Money> = page.lines.iter().map(|l| l.balance_after).collect();
        assert_eq!(balances, vec![eur("15.00"), eur("0.00"), eur("15.00"), eur("40.00")]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payout_requests_never_take_more_than_is_withdrawable() {
    on_every_backend(|db| async move {
        let sold = Utc::now() - HOLD - Duration::days(1);
        let seller = account(&db, SELLER, None).await;
        verify(&db, seller, sold).await;
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        sale(&db, buyer, "30.00", sold).await;
        let store = Arc::new(db.store.clone());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.request_payout(seller, eur("10.00"), HOLD, "en", Utc::now()).await })
            })
            .collect();
        let mut granted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => granted += 1,
                Err(PayoutError::AboveWithdrawable { .. }) => {}
                Err(e) => panic!("{}: {e}", db.backend),
            }
        }
        assert_eq!(granted, 3, "{}: 30.00 withdrawable, 10.00 each", db.backend);
        assert_eq!(balance(&db, Account::User(seller)).await, eur("0.00"));
        assert_eq!(balance(&db, Account::PayoutsPending).await, eur("30.00"));
        assert_healthy(&db, "concurrent requests").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_deciding_one_payout_at_once_decide_it_once() {
    on_every_backend(|db| async move {
        let sold = Utc::now() - HOLD - Duration::days(1);
        let seller = account(&db, SELLER, None).await;
        verify(&db, seller, sold).await;
        let buyer = account(&db, "buyer@example.org", Some("100.00")).await;
        sale(&db, buyer, "30.00", sold).await;
        let payout = db
            .store
            .request_payout(seller, eur("30.00"), HOLD, "en", Utc::now())
            .await
            .unwrap();
        let store = Arc::new(db.store.clone());
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let d = Decision {
                        operator: format!("op{i}"),
                        note: None,
                    };
                    if i % 2 == 0 {
                        store.mark_payout_paid(payout.id, d, Utc::now()).await
                    } else {
                        store.reject_payout(payout.id, d, Utc::now()).await
                    }
                })
            })
            .collect();
        let mut decided = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => decided += 1,
                Err(PayoutError::AlreadyDecided(_)) => {}
                Err(e) => panic!("{}: {e}", db.backend),
            }
        }
        assert_eq!(decided, 1, "{}", db.backend);
        assert_eq!(balance(&db, Account::PayoutsPending).await, eur("0.00"));
        assert_healthy(&db, "concurrent decisions").await;
        let notices = db
            .store
            .mailbox(20)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.subject.contains("payout"))
            .count();
        assert_eq!(notices, 1, "{}: one e-mail", db.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_names_top_ups_purchases_and_refunds_with_the_balance_after_and_receipts_are_queued() {
    on_every_backend(|db| async move {
        let now = Utc::now();
        let ann = account(&db, "ann@example.org", None).await;
        // Money added through a gateway for a purchase (the hook in apply), then the purchase from it.
        let first = purchase(&db, "12.50").await;
        let top_up = create_payment(&db, false).await;
        db.store.link_top_up(&top_up, &first, Some(ann), now).await.unwrap();
        let n = notification(&top_up, Target::Payment, Some(Outcome::Accepted), "k1", "4RT7");
        log_and_apply(&db, &top_up, n).await;
        db.store
            .post(NewTransaction::top_up("seed:ann", ann, "cmcic", eur("20.00")).unwrap())
            .await
            .unwrap();
        // Money of the top-up given back through the gateway, taken back from the balance.
        db.store
            .post(
                NewTransaction::new(
                    format!("reversal:{top_up}:1"),
                    TransactionKind::Reversal,
                    vec![
                        Entry {
                            account: Account::GatewayClearing("paypal".into()),
                            amount: eur("2.00"),
                        },
                        Entry {
                            account: Account::User(ann),
                            amount: eur("-2.00"),
                        },
                    ],
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let second = purchase(&db, "7.00").await;
        db.store.pay_from_balance(&second, ann, now).await.unwrap();

        let page = statement(&db.store, ann, None, 2).await.unwrap();
        let kinds: Vec<LineKind> = page.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, vec![LineKind::Purchase, LineKind::Refund], "{}", db.backend);
        assert_eq!(page.lines[0].amount, eur("-7.00"));
        assert_eq!(page.lines[0].balance_after, eur("11.00"));
        assert_eq!(page.lines[0].seller.as_deref(), Some(SELLER));
        assert_eq!(page.lines[1].amount, eur("-2.00"));
        assert_eq!(page.lines[1].balance_after, eur("18.00"));
        assert_eq!(
            page.lines[1].order_reference.as_deref(),
            Some("ORDER-9"),
            "the purchase the top-up paid"
        );
        let older = page.older.expect("a second page");
        let rest = statement(&db.store, ann, Some(older), 10).await.unwrap();
        let kinds: Vec<LineKind> = rest.lines.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![LineKind::TopUp, LineKind::Purchase, LineKind::TopUp],
            "{}",
            db.backend
        );
        let balances: Vec<Money> = rest.lines.iter().map(|l| l.balance_after).collect();
        assert_eq!(balances, vec![eur("20.00"), eur("0.00"), eur("12.50")]);
        assert_eq!(rest.lines[1].order_reference.as_deref(), Some("ORDER-9"));
        assert_eq!(rest.lines[2].order_reference.as_deref(), Some("ORDER-9"));
        assert!(rest.older.is_none());

        let mails = db.store.mailbox(10).await.unwrap();
        let receipts: Vec<_> = mails
            .iter()
            .filter(|m| m.subject.starts_with("Your Librement receipt"))
            .collect();
        assert_eq!(receipts.len(), 2, "{}: {mails:?}", db.backend);
        assert!(receipts.iter().all(|m| m.to == "ann@example.org"));
        assert!(
            receipts
                .iter()
                .any(|m| m.text.contains("Paid: €7.00 from your Librement account"))
        );
        assert!(
            receipts.iter().any(|m| m.text.contains("Paid: €12.50 by PayPal")),
            "{receipts:?}"
        );
        assert_healthy(&db, "the statement").await;
    })
    .await;
}
