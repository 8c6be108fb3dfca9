//! E-mail: what Librement sends (verification and password-reset links, receipts, payout notices), the
//! durable queue it goes through, and the worker that hands it to a [`Mailer`].
//!
//! Every message is first written to the queue ([`MailQueue::enqueue`]), under a key that makes it
//! unique: a receipt is queued in the same database transaction as the payment it describes, so it is
//! neither lost nor sent twice by a replay. The worker ([`run_worker`]) claims due messages (with a lease,
//! so that several instances never send one twice at once), sends them, and retries with backoff. Messages
//! holding a link that signs someone in (`secret`) have their text erased once an SMTP server took them;
//! the simulator's mailbox keeps them, to show them.
//!
//! ```
//! use librement_pay::accounts::Email;
//! use librement_pay::mail;
//! let m = mail::verification(&Email::parse("ann@example.org").unwrap(), "Ann", "https://pay.example/librement/verify?token=x", "en");
//! assert!(m.secret);
//! assert!(m.text.contains("https://pay.example/librement/verify?token=x"));
//! ```

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use payment_buttons::i18n::price;
use payment_buttons::money::Money;

use crate::accounts::Email;
use crate::choice::gateway_words;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Makes it unique in the queue: `receipt:{payment}`, `payout-paid:{id}`, `verify:{token digest}`.
    pub key: String,
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// True when the text holds a link that must not outlive its delivery (verification, reset).
    pub secret: bool,
}

/// A queued message claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// The queue's id.
    pub id: i64,
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Holds a link to erase after delivery.
    pub secret: bool,
    /// Sending attempts so far.
    pub attempts: i32,
}

/// A message as the simulator's mailbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailboxEntry {
    /// The queue's id.
    pub id: i64,
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The body (empty once erased).
    pub text: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered, if it was.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Why a message could not be queued or sent. Never holds the message's text or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The queue's storage failed.
    #[error("mail queue: {0}")]
    Store(String),
    /// The transport refused or failed; the message is retried.
    #[error("mail transport: {0}")]
    Transport(String),
    /// The message cannot be sent at all (a bad address): it is not retried.
    #[error("mail refused: {0}")]
    Refused(String),
}

/// The durable queue of outgoing messages.
#[async_trait::async_trait]
pub trait MailQueue: Send + Sync + 'static {
    /// Queues `mail`; `false` when a message with its key was queued before (nothing is written).
    async fn enqueue(&self, mail: Mail, now: DateTime<Utc>) -> Result<bool, MailError>;
    /// Claims up to `limit` unsent messages due at `now`, leasing them for [`CLAIM_LEASE`].
    async fn claim_mail(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<QueuedMail>, MailError>;
    /// Records a delivery; erases the text when `erase_text`.
    async fn mark_mail_sent(&self, id: i64, erase_text: bool, now: DateTime<Utc>) -> Result<(), MailError>;
    /// Records a failure and when to try again (`None`: never; the message stays unsent).
    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<(), MailError>;
    /// The newest messages first, for the simulator's mailbox.
    async fn mailbox(&self, limit: usize) -> Result<Vec<MailboxEntry>, MailError>;
}

/// Sends one message.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Hands `mail` to the transport.
    async fn send(&self, mail: &QueuedMail) -> Result<(), MailError>;
    /// True for the simulator's mailbox, which shows the messages it "delivered" and keeps their text.
    fn is_mailbox(&self) -> bool {
        false
    }
}

/// The simulator's transport: a delivered message stays in the queue, where `/simulator/mail` shows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mailbox;

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn send(&self, _mail: &QueuedMail) -> Result<(), MailError> {
        Ok(())
    }
    fn is_mailbox(&self) -> bool {
        true
    }
}

/// How long a claimed message is reserved for the worker that claimed it.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);
/// After this many failed attempts a message is given up (it stays in the queue, unsent).
pub const MAX_ATTEMPTS: i32 = 12;

/// When to try again after `attempts` failures: 30 s, doubling, at most 2 hours.
pub fn retry_delay(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 9) - 1;
    Duration::seconds((30_i64 << exp).min(7200))
}

/// Sends what is due once; how many messages were delivered.
pub async fn send_due(queue: &dyn MailQueue, mailer: &dyn Mailer, now: DateTime<Utc>) -> Result<usize, MailError> {
    let claimed = queue.claim_mail(now, 20).await?;
    let mut sent = 0;
    for mail in claimed {
        match mailer.send(&mail).await {
            Ok(()) => {
                queue
                    .mark_mail_sent(mail.id, mail.secret && !mailer.is_mailbox(), Utc::now())
                    .await?;
                sent += 1;
            }
            Err(e) => {
                let attempts = mail.attempts + 1;
                let retry = match &e {
                    MailError::Refused(_) => None,
                    _ if attempts >= MAX_ATTEMPTS => None,
                    _ => Some(Utc::now() + retry_delay(attempts)),
                };
                tracing::warn!(mail = mail.id, attempts, error = %e, "mail not sent");
                queue.mark_mail_failed(mail.id, &e.to_string(), retry).await?;
            }
        }
    }
    Ok(sent)
}

/// The worker: sends what is due whenever `wake` is notified, and every `poll` otherwise (receipts are
/// queued by database transactions that wake nobody). Runs until the task is aborted.
pub async fn run_worker(
    queue: Arc<dyn MailQueue>,
    mailer: Arc<dyn Mailer>,
    wake: Arc<tokio::sync::Notify>,
    poll: StdDuration,
) {
    loop {
        match send_due(queue.as_ref(), mailer.as_ref(), Utc::now()).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "mail worker"),
        }
        let _ = tokio::time::timeout(poll, wake.notified()).await;
    }
}

fn fr(language: &str) -> bool {
    language == "fr"
}

/// The verification e-mail sent at sign-up: the link confirms the address (once, within two days).
pub fn verification(to: &Email, name: &str, link: &str, language: &str) -> Mail {
    let (subject, text) = if fr(language) {
        (
            "Confirmez votre adresse e-mail Librement".to_owned(),
            format!(
                "Bonjour {name},\n\nPour confirmer que cette adresse est bien la vôtre, ouvrez ce lien (valable 48 heures, une seule fois) :\n\n{link}\n\nVous devrez être connecté à votre compte Librement. Tant que l'adresse n'est pas confirmée, les gains d'une vente ne sont pas versés sur le compte.\n\nSi vous n'avez pas créé de compte Librement, ignorez ce message et n'ouvrez pas le lien.\n"
            ),
        )
    } else {
        (
            "Confirm your Librement e-mail address".to_owned(),
            format!(
                "Hello {name},\n\nTo confirm that this address is yours, open this link (valid for 48 hours, once):\n\n{link}\n\nYou will need to be signed in to your Librement account. Until the address is confirmed, the account receives no earnings from sales.\n\nIf you did not create a Librement account, ignore this message and do not open the link.\n"
            ),
        )
    };
    Mail {
        key: String::new(),
        to: to.clone(),
        subject,
        text,
        secret: true,
    }
}

/// The password-reset e-mail: the link lets its reader choose a new password (once, within an hour).
pub fn password_reset(to: &Email, link: &str, language: &str) -> Mail {
    let (subject, text) = if fr(language) {
        (
            "Réinitialiser votre mot de passe Librement".to_owned(),
            format!(
                "Bonjour,\n\nQuelqu'un (vous, sans doute) a demandé à changer le mot de passe du compte Librement de cette adresse. Pour choisir un nouveau mot de passe, ouvrez ce lien (valable une heure, une seule fois) :\n\n{link}\n\nUne fois le mot de passe changé, toutes les sessions ouvertes sur ce compte sont fermées.\n\nSi vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n"
            ),
        )
    } else {
        (
            "Reset your Librement password".to_owned(),
            format!(
                "Hello,\n\nSomeone (you, we hope) asked to change the password of the Librement account of this address. To choose a new password, open this link (valid for one hour, once):\n\n{link}\n\nOnce the password is changed, every session open on this account is ended.\n\nIf you asked for nothing, ignore this message: your password does not change.\n"
            ),
        )
    };
    Mail {
        key: String::new(),
        to: to.clone(),
        subject,
        text,
        secret: true,
    }
}

/// What a receipt says about a Librement payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// The payment (the purchase, or the top-up of an account).
    pub payment_id: &'a str,
    /// What was bought (the option's description), or `None` for money added to an account.
    pub description: Option<&'a str>,
    /// The shop's order reference.
    pub order_reference: Option<&'a str>,
    /// Who was paid.
    pub seller: Option<&'a str>,
    /// The whole amount.
    pub amount: Money,
    /// Taken from the Librement balance.
    pub from_balance: Option<Money>,
    /// Paid through a gateway: its name and the amount.
    pub by_gateway: Option<(&'a str, Money)>,
    /// The page's language.
    pub language: &'a str,
}

/// The buyer's receipt for a Librement payment: what, how much, from the balance and/or by card or PayPal.
pub fn receipt(to: &Email, r: &Receipt<'_>) -> Mail {
    let lang = r.language;
    let total = price(&r.amount, None, lang);
    let mut how = Vec::new();
    if let Some(b) = r.from_balance {
        how.push(if fr(lang) {
            format!("{} depuis votre compte Librement", price(&b, None, lang))
        } else {
            format!("{} from your Librement account", price(&b, None, lang))
        });
    }
    if let Some((gateway, amount)) = r.by_gateway {
        how.push(format!(
            "{} {}",
            price(&amount, None, lang),
            gateway_words(gateway, lang)
        ));
    }
    let how = how.join(if fr(lang) { " et " } else { " and " });
    let mut lines = Vec::new();
    let subject = match (r.description, fr(lang)) {
        (Some(d), false) => {
            lines.push(format!("Thank you for your payment of {total} for “{d}”."));
            format!("Your Librement receipt: {d}, {total}")
        }
        (Some(d), true) => {
            lines.push(format!("Merci pour votre paiement de {total} pour « {d} »."));
            format!("Votre reçu Librement : {d}, {total}")
        }
        (None, false) => {
            lines.push(format!("You added {total} to your Librement account."));
            format!("Your Librement receipt: {total} added to your account")
        }
        (None, true) => {
            lines.push(format!("Vous avez ajouté {total} à votre compte Librement."));
            format!("Votre reçu Librement : {total} ajoutés à votre compte")
        }
    };
    lines.push(String::new());
    let row = |en: &str, fr_label: &str, value: &str| format!("{}: {value}", if fr(lang) { fr_label } else { en });
    lines.push(row("Paid", "Payé", &how));
    if let Some(seller) = r.seller {
        lines.push(row("Paid to", "Payé à", seller));
    }
    if let Some(reference) = r.order_reference {
        lines.push(row("Order", "Commande", reference));
    }
    lines.push(row("Payment number", "Numéro de paiement", r.payment_id));
    lines.push(String::new());
    lines.push(
        if fr(lang) {
            "Votre relevé de compte Librement montre chaque opération."
        } else {
            "Your Librement account statement shows every transaction."
        }
        .to_owned(),
    );
    Mail {
        key: format!("receipt:{}", r.payment_id),
        to: to.clone(),
        subject,
        text: lines.join("\n") + "\n",
        secret: false,
    }
}

/// The notice that a payout was paid (`paid == true`) or rejected, with the operator's note.
pub fn payout_decided(
    to: &Email,
    payout_id: i64,
    amount: Money,
    paid: bool,
    note: Option<&str>,
    language: &str,
) -> Mail {
    let a = price(&amount, None, language);
    let (subject, mut text) = match (paid, fr(language)) {
        (true, false) => (
            format!("Your Librement payout of {a} was paid"),
            format!("Your payout request no. {payout_id} of {a} was paid to you."),
        ),
        (true, true) => (
            format!("Votre retrait Librement de {a} a été payé"),
            format!("Votre demande de retrait n° {payout_id} de {a} vous a été payée."),
        ),
        (false, false) => (
            format!("Your Librement payout of {a} was not made"),
            format!(
                "Your payout request no. {payout_id} of {a} was rejected: the amount is back on your Librement balance."
            ),
        ),
        (false, true) => (
            format!("Votre retrait Librement de {a} n'a pas été effectué"),
            format!(
                "Votre demande de retrait n° {payout_id} de {a} a été refusée : le montant est de nouveau sur votre solde Librement."
            ),
        ),
    };
    if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
        text.push_str(if fr(language) { "\n\nMessage : " } else { "\n\nNote: " });
        text.push_str(note.trim());
    }
    text.push('\n');
    Mail {
        key: format!("payout-{}:{payout_id}", if paid { "paid" } else { "rejected" }),
        to: to.clone(),
        subject,
        text,
        secret: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Email {
        Email::parse("ann@example.org").unwrap()
    }
    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn a_split_receipt_says_what_came_from_the_balance_and_what_by_card() {
        let m = receipt(
            &ann(),
            &Receipt {
                payment_id: "Xk3f9QpL2mZa",
                description: Some("Manual, PDF"),
                order_reference: Some("ORDER-1042"),
                seller: Some("author@example.org"),
                amount: eur("42.00"),
                from_balance: Some(eur("30.00")),
                by_gateway: Some(("cmcic", eur("12.00"))),
                language: "en",
            },
        );
        assert_eq!(m.key, "receipt:Xk3f9QpL2mZa");
        assert!(m.subject.contains("Manual, PDF"), "{}", m.subject);
        assert!(
            m.text
                .contains("Paid: €30.00 from your Librement account and €12.00 by card"),
            "{}",
            m.text
        );
        assert!(m.text.contains("ORDER-1042") && m.text.contains("author@example.org"));
        assert!(!m.secret);
    }

    #[test]
    fn receipts_and_notices_speak_french() {
        let m = receipt(
            &ann(),
            &Receipt {
                payment_id: "p",
                description: None,
                order_reference: None,
                seller: None,
                amount: eur("20.00"),
                from_balance: None,
                by_gateway: Some(("paypal", eur("20.00"))),
                language: "fr",
            },
        );
        assert!(m.text.contains("Vous avez ajouté 20,00 €"), "{}", m.text);
        assert!(m.text.contains("20,00 € par PayPal"), "{}", m.text);
        let n = payout_decided(&ann(), 4, eur("10.00"), false, Some("IBAN inconnu"), "fr");
        assert!(
            n.text.contains("refusée") && n.text.contains("IBAN inconnu"),
            "{}",
            n.text
        );
        assert_eq!(n.key, "payout-rejected:4");
    }

    #[test]
    fn retries_back_off_up_to_two_hours() {
        assert_eq!(retry_delay(1), Duration::seconds(30));
        assert_eq!(retry_delay(2), Duration::seconds(60));
        assert_eq!(retry_delay(40), Duration::seconds(7200));
    }
}
