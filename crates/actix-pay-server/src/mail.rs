//! Librement's e-mail over SMTP with `lettre` (`[mail]`), or, in simulator mode without `[mail]`, into the
//! mailbox page `/simulator/mail`.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use librement_pay::mail::{MailError, Mailer, QueuedMail};

use crate::config::{MailConfig, MailTls};

/// How long one SMTP exchange may take before it is retried later.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends through the SMTP server of `[mail]`.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`; the error names the key at fault (never the password).
    pub fn new(config: &MailConfig) -> Result<Self, String> {
        let builder = match config.tls {
            MailTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("mail.host: {e}"))?,
            MailTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(|e| format!("mail.host: {e}"))?
            }
            MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
        };
        let mut builder = builder.port(config.port).timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from = config.from.parse::<Mailbox>().map_err(|e| format!("mail.from: {e}"))?;
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &QueuedMail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Refused(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError::Refused(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Refused(e.to_string())),
            Err(e) => Err(MailError::Transport(e.to_string())),
        }
    }
}

/// The mailer `[mail]` asks for: SMTP, or the simulator's mailbox when there is no `[mail]`.
pub fn mailer(config: Option<&MailConfig>) -> Result<Arc<dyn Mailer>, String> {
    Ok(match config {
        Some(c) => Arc::new(SmtpMailer::new(c)?),
        None => Arc::new(librement_pay::mail::Mailbox),
    })
}
