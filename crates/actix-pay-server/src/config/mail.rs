//! `[mail]`: the SMTP server that Librement's e-mails (verification and reset links, receipts, payout
//! notices) go through. Absent in simulator mode, they go to the mailbox page `/simulator/mail`; absent in
//! a real mode with Librement enabled, the server does not start.

use super::error::ConfigError;
use super::raw::RawMail;
use super::schema::Origins;
use super::secret::Secret;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// `starttls` (default): plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// `tls`: TLS from the first byte (port 465).
    Tls,
    /// `none`: no encryption (a relay on localhost, a test sink).
    None,
}

impl MailTls {
    /// The configuration's word for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            MailTls::StartTls => "starttls",
            MailTls::Tls => "tls",
            MailTls::None => "none",
        }
    }
}

/// `[mail]`, resolved.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `host`: the SMTP server's name.
    pub host: String,
    /// `port`: default 587 (`starttls`), 465 (`tls`), 25 (`none`).
    pub port: u16,
    /// `tls`.
    pub tls: MailTls,
    /// `username`, with `password`: SMTP authentication (both or neither).
    pub username: Option<String>,
    /// `password`; never printed.
    pub password: Option<Secret>,
    /// `from`: the sender's address, e.g. `Librement <no-reply@pay.example>`.
    pub from: String,
}

/// Checks `[mail]`.
pub(crate) fn resolve(raw: RawMail, origins: &Origins) -> Result<MailConfig, ConfigError> {
    let at = |key: &str| origins.label(&format!("mail.{key}"));
    let text = |key: &str, value: Option<String>| -> Result<Option<String>, ConfigError> {
        match value {
            Some(v) if v.trim().is_empty() => Err(ConfigError::invalid(at(key), "must not be empty")),
            Some(v) => Ok(Some(v.trim().to_owned())),
            None => Ok(None),
        }
    };
    let host = text("host", raw.host)?
        .ok_or_else(|| ConfigError::missing(at("host"), "[mail] needs the SMTP server's host"))?;
    if host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(ConfigError::invalid(at("host"), "is not a host name"));
    }
    let tls = match text("tls", raw.tls)?.as_deref() {
        None | Some("starttls") => MailTls::StartTls,
        Some("tls") => MailTls::Tls,
        Some("none") => MailTls::None,
        Some(other) => {
            return Err(ConfigError::invalid(
                at("tls"),
                format!("{other:?} is not a mode (expected starttls, tls or none)"),
            ));
        }
    };
    let port = match raw.port {
        None => match tls {
            MailTls::StartTls => 587,
            MailTls::Tls => 465,
            MailTls::None => 25,
        },
        Some(n) => u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ConfigError::invalid(at("port"), format!("must be a port from 1 to 65535, not {n}")))?,
    };
    let username = text("username", raw.username)?;
    let password = raw.password.map(Secret::new);
    if username.is_some() != password.is_some() {
        let missing = if username.is_some() { "password" } else { "username" };
        return Err(ConfigError::missing(
            at(missing),
            "SMTP authentication needs both mail.username and mail.password",
        ));
    }
    let from =
        text("from", raw.from)?.ok_or_else(|| ConfigError::missing(at("from"), "[mail] needs the sender's address"))?;
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError::invalid(
            at("from"),
            "is not an address (e.g. \"Librement <no-reply@pay.example>\")",
        ));
    }
    Ok(MailConfig {
        host,
        port,
        tls,
        username,
        password,
        from,
    })
}
