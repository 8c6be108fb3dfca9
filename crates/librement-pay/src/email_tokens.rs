//! The links of the verification and password-reset e-mails: signed, expiring, single-use tokens.
//!
//! A token is `base64url(json) . base64url(HMAC-SHA256)` under the session key, with a domain of its own
//! per purpose (a verification link can never stand for a reset link, nor either for a cookie). It names
//! the user, its purpose, its expiry and a random nonce. The store keeps only the SHA-256 digest of the
//! nonce, with the token's user, purpose and expiry, and marks it used when it is redeemed: a token is used
//! once, a stolen copy of the database holds no usable link, and issuing a new token of one purpose ends
//! the user's older ones of that purpose.
//!
//! ```
//! use librement_pay::email_tokens::{EmailToken, Purpose};
//! use librement_pay::session::SessionKey;
//! let key = SessionKey::derive(b"the server secret");
//! let now = chrono::Utc::now();
//! let token = EmailToken::new(Purpose::Reset, 7, now);
//! let link = token.encode(&key);
//! assert_eq!(EmailToken::decode(&key, Purpose::Reset, &link, now).unwrap().user, 7);
//! assert!(EmailToken::decode(&key, Purpose::Verify, &link, now).is_none());
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::accounts::{AccountError, Email};
use crate::ledger::UserId;
use crate::session::SessionKey;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The link of the verification e-mail sent at sign-up.
    Verify,
    /// The link of the password-reset e-mail.
    Reset,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }

    /// How long a link stays valid: two days to confirm an address, one hour to reset a password.
    pub fn lifetime(&self) -> Duration {
        match self {
            Purpose::Verify => Duration::hours(48),
            Purpose::Reset => Duration::hours(1),
        }
    }

    fn domain(&self) -> &'static [u8] {
        match self {
            Purpose::Verify => b"librement e-mail verification\0",
            Purpose::Reset => b"librement password reset\0",
        }
    }
}

/// The signed contents of a link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailToken {
    /// The user it was issued for.
    #[serde(rename = "u")]
    pub user: UserId,
    /// Unix seconds after which it is refused.
    #[serde(rename = "x")]
    pub expires: i64,
    /// Random; the store knows it by its digest.
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(skip)]
    purpose: Option<Purpose>,
}

impl EmailToken {
    /// A fresh token of `purpose` for `user`, expiring after [`Purpose::lifetime`].
    pub fn new(purpose: Purpose, user: UserId, now: DateTime<Utc>) -> Self {
        let nonce: [u8; 32] = rand::random();
        EmailToken {
            user,
            expires: (now + purpose.lifetime()).timestamp(),
            nonce: B64.encode(nonce),
            purpose: Some(purpose),
        }
    }

    /// Its purpose.
    pub fn purpose(&self) -> Purpose {
        self.purpose.unwrap_or(Purpose::Verify)
    }

    /// When it expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The value put in the link.
    pub fn encode(&self, key: &SessionKey) -> String {
        key.seal_for(self.purpose().domain(), self)
    }

    /// The token in a link, when it is a token of `purpose` signed with `key` and not expired at `now`.
    /// Whether it was used already is the store's to say.
    pub fn decode(key: &SessionKey, purpose: Purpose, value: &str, now: DateTime<Utc>) -> Option<Self> {
        // Bounded: a link is about 200 characters; anything much longer is not ours.
        if value.len() > 1024 {
            return None;
        }
        let mut token: EmailToken = key.open_for(purpose.domain(), value)?;
        token.purpose = Some(purpose);
        (now.timestamp() < token.expires).then_some(token)
    }

    /// The digest under which the store knows this token: hex SHA-256 of the nonce.
    pub fn digest(&self) -> String {
        hex_of(&Sha256::digest(self.nonce.as_bytes()))
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many e-mails of one purpose may be asked for: per typed address and per source address, within
/// an hour. Counted in the database before anything is sent, so that parallel requests cannot exceed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailThrottle {
    /// Requests per e-mail address and window (whether or not an account uses it).
    pub per_email: i64,
    /// Requests per source address and window.
    pub per_ip: i64,
    /// The window.
    pub window: Duration,
}

impl Default for MailThrottle {
    /// 3 per address and 10 per source address per hour.
    fn default() -> Self {
        MailThrottle {
            per_email: 3,
            per_ip: 10,
            window: Duration::hours(1),
        }
    }
}

/// What redeeming a verification link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The address is verified now; the earnings that waited for it (per currency) moved to the account.
    Now {
        /// What moved, one amount per currency (empty when nothing waited).
        claimed: Vec<payment_buttons::money::Money>,
    },
    /// The link was used, expired, superseded, or is not this user's: nothing changed.
    Refused,
}

/// Storage of the e-mail links and of the requests for them.
#[async_trait::async_trait]
pub trait EmailTokens: Send + Sync + 'static {
    /// Records `token` (by its digest) and ends the user's older unused tokens of the same purpose.
    async fn record_token(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<(), AccountError>;

    /// True when `token` is recorded, unused and unexpired (the reset page shows its form only then).
    async fn token_usable(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<bool, AccountError>;

    /// In ONE transaction: marks the verification `token` used (refused when it was used, expired or
    /// superseded), marks the user's address verified, and moves the earnings waiting on `seller:{email}`
    /// to the user's account (a [`crate::ledger::TransactionKind::Earnings`] transaction per currency),
    /// with the seller's account locked so that no sale can slip in between.
    async fn verify_email(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<Verified, AccountError>;

    /// In ONE transaction: marks the reset `token` used, replaces the password hash, ends every session of
    /// the user (raises `session_epoch`) and, since the link proved the mailbox, verifies the address as
    /// [`EmailTokens::verify_email`] does. `false` when the token was refused (nothing changed).
    async fn reset_password(
        &self,
        token: &EmailToken,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, AccountError>;

    /// Atomically counts the requests of `purpose` for `email` and from `ip` within the throttle's window
    /// and, when both counts allow one more, records this one. However many arrive at once, no more than
    /// the limits are granted. The same for an address with or without an account.
    async fn reserve_mail_request(
        &self,
        purpose: Purpose,
        email: &Email,
        ip: &str,
        throttle: MailThrottle,
        now: DateTime<Utc>,
    ) -> Result<bool, AccountError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refused_once_expired_tampered_or_for_another_purpose() {
        let key = SessionKey::derive(b"secret");
        let now = Utc::now();
        let token = EmailToken::new(Purpose::Verify, 3, now);
        let value = token.encode(&key);
        assert_eq!(
            EmailToken::decode(&key, Purpose::Verify, &value, now).map(|t| t.digest()),
            Some(token.digest())
        );
        let later = now + Purpose::Verify.lifetime() + Duration::seconds(1);
        assert!(EmailToken::decode(&key, Purpose::Verify, &value, later).is_none());
        assert!(EmailToken::decode(&key, Purpose::Reset, &value, now).is_none());
        assert!(EmailToken::decode(&SessionKey::derive(b"other"), Purpose::Verify, &value, now).is_none());
        let (payload, tag) = value.split_once('.').unwrap();
        let forged = B64.encode(br#"{"u":4,"x":99999999999,"n":"x"}"#);
        assert!(EmailToken::decode(&key, Purpose::Verify, &format!("{forged}.{tag}"), now).is_none());
        assert!(EmailToken::decode(&key, Purpose::Verify, payload, now).is_none());
        assert!(EmailToken::decode(&key, Purpose::Verify, &"a".repeat(5000), now).is_none());
    }

    #[test]
    fn a_session_cookie_is_not_a_token() {
        let key = SessionKey::derive(b"secret");
        let now = Utc::now();
        let cookie = key.encode(&crate::session::Session::anonymous(now).signed_in(3, 0, now));
        assert!(EmailToken::decode(&key, Purpose::Verify, &cookie, now).is_none());
        assert!(EmailToken::decode(&key, Purpose::Reset, &cookie, now).is_none());
    }

    #[test]
    fn digests_differ_per_token_and_never_show_the_nonce() {
        let now = Utc::now();
        let a = EmailToken::new(Purpose::Reset, 1, now);
        let b = EmailToken::new(Purpose::Reset, 1, now);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 64);
        assert!(!a.digest().contains(&a.nonce));
    }
}
