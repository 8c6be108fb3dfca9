//! Sessions in signed cookies: who is signed in (if anyone) and the CSRF token of every form.
//!
//! The cookie holds `base64url(json) . base64url(HMAC-SHA256(key, json))`. Nothing in it is secret; the
//! MAC makes it unforgeable. A session older than [`MAX_AGE`] is ignored, and a signed-in one ends
//! earlier when its user signs out anywhere (its `epoch` no longer matches the user's).
//!
//! ```
//! use librement_pay::session::{Session, SessionKey};
//! let key = SessionKey::derive(b"the server secret");
//! let now = chrono::Utc::now();
//! let session = Session::anonymous(now).signed_in(7, 0, now);
//! let cookie = key.encode(&session);
//! assert_eq!(key.decode(&cookie, now).unwrap().user, Some(7));
//! assert!(key.decode(&cookie.replace('.', "x."), now).is_none());
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ledger::UserId;

/// The cookie's name.
pub const COOKIE: &str = "librement_session";
/// How long a session lasts after sign-in (or after the anonymous session was created).
pub const MAX_AGE: Duration = Duration::days(7);
/// How long after typing the password (signing in, signing up, or confirming it on a payment page) a
/// payment from the account is confirmed without typing it again: long enough for the final
/// confirmation that follows the password, short enough that an unattended browser cannot spend.
pub const CONFIRMATION_WINDOW: Duration = Duration::minutes(5);

/// The session's contents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// The signed-in user.
    #[serde(rename = "u")]
    pub user: Option<UserId>,
    /// The CSRF token every form of this session carries.
    #[serde(rename = "c")]
    pub csrf: String,
    /// When it was issued (Unix seconds).
    #[serde(rename = "t")]
    pub issued: i64,
    /// The user's `session_epoch` when it was issued; the session is over once they differ.
    #[serde(rename = "e", default)]
    pub epoch: i64,
}

impl Session {
    /// A fresh session without a user.
    pub fn anonymous(now: DateTime<Utc>) -> Self {
        Session {
            user: None,
            csrf: random_token(),
            issued: now.timestamp(),
            epoch: 0,
        }
    }

    /// The same browser, now signed in as `user` (whose `session_epoch` is `epoch`): a new CSRF token
    /// and a new lifetime.
    pub fn signed_in(&self, user: UserId, epoch: i64, now: DateTime<Utc>) -> Self {
        Session {
            user: Some(user),
            csrf: random_token(),
            issued: now.timestamp(),
            epoch,
        }
    }

    /// The same browser, no longer signed in (its user signed out elsewhere): the CSRF token is kept
    /// so that a form already on screen can still be sent.
    pub fn without_user(self) -> Self {
        Session { user: None, ..self }
    }

    /// True when a user is signed in and typed the password less than [`CONFIRMATION_WINDOW`] ago.
    ///
    /// ```
    /// use librement_pay::session::{Session, CONFIRMATION_WINDOW};
    /// let now = chrono::Utc::now();
    /// let session = Session::anonymous(now).signed_in(7, 0, now);
    /// assert!(session.recently_confirmed(now));
    /// assert!(!session.recently_confirmed(now + CONFIRMATION_WINDOW + chrono::Duration::seconds(1)));
    /// assert!(!Session::anonymous(now).recently_confirmed(now));
    /// ```
    pub fn recently_confirmed(&self, now: DateTime<Utc>) -> bool {
        // Checked: no issue time, however absurd, may overflow the subtraction (found by fuzzing).
        let age = now.timestamp().checked_sub(self.issued);
        self.user.is_some() && age.is_some_and(|age| (0..=CONFIRMATION_WINDOW.num_seconds()).contains(&age))
    }

    /// True when `token` (from a form) is this session's CSRF token. Constant time.
    pub fn csrf_matches(&self, token: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The device cookie's name.
pub const DEVICE_COOKIE: &str = "librement_device";
/// How long a browser stays known to an account after a sign-in there.
pub const DEVICE_MAX_AGE: Duration = Duration::days(365);

/// A browser where a user typed the right password: a "device cookie" (OWASP, *Slow down online
/// guessing attacks with device cookies*). It lets nobody in by itself; it only gives that browser a
/// sign-in throttle bucket of its own for that account, so that failures from elsewhere never lock the
/// owner out of a browser they used before.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// The user who signed in.
    #[serde(rename = "u")]
    pub user: UserId,
    /// Random: the name of the browser's throttle bucket.
    #[serde(rename = "d")]
    pub id: String,
    /// When it was issued (Unix seconds).
    #[serde(rename = "t")]
    pub issued: i64,
}

impl Device {
    /// A new device cookie for `user`.
    pub fn new(user: UserId, now: DateTime<Utc>) -> Self {
        Device {
            user,
            id: random_token(),
            issued: now.timestamp(),
        }
    }
}

/// What the MAC of a device cookie starts with. A session's MAC covers its JSON alone, which starts
/// with `{`: neither cookie can be passed off as the other.
const DEVICE_DOMAIN: &[u8] = b"device\0";

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    B64.encode(bytes)
}

/// The key that signs session cookies, derived from the server's secret so that it differs from the
/// key that signs buttons.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl SessionKey {
    /// HMAC-SHA256(secret, "librement session cookie").
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| {
            // HMAC takes keys of any length; this branch cannot be reached.
            <HmacSha256 as KeyInit>::new_from_slice(b"\0").expect("a one-byte HMAC key")
        });
        mac.update(b"librement session cookie");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("a 32-byte HMAC key")
    }

    /// `base64url(json) . base64url(HMAC(key, domain || json))`.
    fn seal(&self, domain: &[u8], value: &impl serde::Serialize) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(domain);
        mac.update(&json);
        format!("{}.{}", B64.encode(&json), B64.encode(mac.finalize().into_bytes()))
    }

    /// The value sealed by [`SessionKey::seal`] with the same `domain`, when its MAC is right.
    fn open<T: serde::de::DeserializeOwned>(&self, domain: &[u8], sealed: &str) -> Option<T> {
        let (payload, tag) = sealed.split_once('.')?;
        let json = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(domain);
        mac.update(&json);
        mac.verify_slice(&tag).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// The cookie value.
    pub fn encode(&self, session: &Session) -> String {
        self.seal(b"", session)
    }

    /// The session in a cookie value, when its MAC is right and it has not expired.
    pub fn decode(&self, value: &str, now: DateTime<Utc>) -> Option<Session> {
        let session: Session = self.open(b"", value)?;
        // Checked: an issue time near `i64::MIN` overflowed here (a panic in debug builds; found by fuzzing).
        let age = now.timestamp().checked_sub(session.issued)?;
        (0..=MAX_AGE.num_seconds()).contains(&age).then_some(session)
    }

    /// `value` sealed under `domain` (a purpose of its own, so that no sealed value of one purpose can
    /// stand for another's): for the links of the e-mails ([`crate::email_tokens`]).
    pub(crate) fn seal_for(&self, domain: &[u8], value: &impl serde::Serialize) -> String {
        self.seal(domain, value)
    }

    /// The value sealed by [`SessionKey::seal_for`] with `domain`, when its MAC is right.
    pub(crate) fn open_for<T: serde::de::DeserializeOwned>(&self, domain: &[u8], sealed: &str) -> Option<T> {
        self.open(domain, sealed)
    }

    /// The device cookie's value.
    pub fn encode_device(&self, device: &Device) -> String {
        self.seal(DEVICE_DOMAIN, device)
    }

    /// The device in a device cookie's value, when its MAC is right and it is younger than
    /// [`DEVICE_MAX_AGE`].
    pub fn decode_device(&self, value: &str, now: DateTime<Utc>) -> Option<Device> {
        let device: Device = self.open(DEVICE_DOMAIN, value)?;
        let age = now.timestamp().checked_sub(device.issued)?;
        (0..=DEVICE_MAX_AGE.num_seconds()).contains(&age).then_some(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_cookie_is_refused() {
        let key = SessionKey::derive(b"secret");
        let now = Utc::now();
        let cookie = key.encode(&Session::anonymous(now).signed_in(1, 0, now));
        let (payload, tag) = cookie.split_once('.').unwrap();
        let forged_json = br#"{"u":2,"c":"x","t":0}"#;
        assert!(key.decode(&format!("{}.{tag}", B64.encode(forged_json)), now).is_none());
        assert!(key.decode(&format!("{payload}."), now).is_none());
        assert!(SessionKey::derive(b"other").decode(&cookie, now).is_none());
    }

    #[test]
    fn an_old_session_is_ignored() {
        let key = SessionKey::derive(b"secret");
        let then = Utc::now() - MAX_AGE - Duration::seconds(1);
        let cookie = key.encode(&Session::anonymous(then));
        assert!(key.decode(&cookie, Utc::now()).is_none());
    }

    #[test]
    fn a_device_cookie_and_a_session_cookie_cannot_stand_for_each_other() {
        let key = SessionKey::derive(b"secret");
        let now = Utc::now();
        let device = Device::new(4, now);
        let cookie = key.encode_device(&device);
        assert_eq!(key.decode_device(&cookie, now), Some(device));
        assert!(key.decode(&cookie, now).is_none());
        let session = key.encode(&Session::anonymous(now).signed_in(4, 0, now));
        assert!(key.decode_device(&session, now).is_none());
        assert!(
            key.decode_device(&cookie, now + DEVICE_MAX_AGE + Duration::seconds(1))
                .is_none()
        );
    }

    #[test]
    fn an_absurd_issue_time_is_refused_without_overflow() {
        let key = SessionKey::derive(b"secret");
        let now = Utc::now();
        for issued in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let session = Session {
                user: Some(1),
                csrf: "x".into(),
                issued,
                epoch: 0,
            };
            assert!(key.decode(&key.encode(&session), now).is_none(), "issued {issued}");
            assert!(!session.recently_confirmed(now), "issued {issued}");
        }
    }

    #[test]
    fn signing_in_changes_the_csrf_token() {
        let now = Utc::now();
        let a = Session::anonymous(now);
        let b = a.signed_in(3, 0, now);
        assert_ne!(a.csrf, b.csrf);
        assert!(b.csrf_matches(&b.csrf));
        assert!(!b.csrf_matches(&a.csrf));
    }
}
