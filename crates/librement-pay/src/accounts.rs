//! Librement users: e-mail addresses, argon2id password hashes, sign-in throttling, and the storage trait.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};

use crate::ledger::UserId;
use crate::words::{self, weakness_words};

/// Why an account operation failed. Display texts are safe to show to the person signing in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The e-mail address is not one.
    #[error("this is not an e-mail address")]
    BadEmail,
    /// An account already uses this address.
    #[error("an account already uses this e-mail address")]
    EmailTaken,
    /// The password is too short or too long.
    #[error("the password must have {min} to {max} characters", min = MIN_PASSWORD_CHARS, max = MAX_PASSWORD_CHARS)]
    BadPassword,
    /// The strength estimator found the password too easy to guess; says why.
    #[error("{} {} {}", words::EN.weak_password, weakness_words("en", .0), words::EN.weak_password_advice)]
    WeakPassword(Weakness),
    /// The display name is empty or too long.
    #[error("the name must have 1 to 100 characters")]
    BadName,
    /// Hashing failed (never with valid parameters; reported rather than panicking).
    #[error("password hashing failed")]
    Hashing,
    /// Every hashing slot stayed taken for longer than a request waits (see `web::HashingSlots`).
    #[error("the service is busy checking passwords")]
    Busy,
    /// Storage failed (no request data, no secrets).
    #[error("account storage: {0}")]
    Store(String),
}

/// The origin of a Librement account's identity where a gateway keys something on it (a saved card):
/// `librement-user:<id>`, never the e-mail.
pub const IDENTITY_ORIGIN: &str = "librement-user";

/// Shortest accepted password (OWASP: at least 8 with multi-factor, 15 without; 10 is our compromise
/// for a payment account that also needs the e-mail).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password: bounds the hashing work an attacker can ask for.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A normalized e-mail address: trimmed and lower-case, so that `Ann@Example.org` and
/// `ann@example.org` are one account.
///
/// ```
/// use librement_pay::accounts::Email;
/// assert_eq!(Email::parse(" Ann@Example.ORG ").unwrap().as_str(), "ann@example.org");
/// assert!(Email::parse("not an address").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Normalizes and checks the shape (one `@`, something on each side, no spaces, a dot in the domain).
    pub fn parse(s: &str) -> Result<Self, AccountError> {
        let s = s.trim().to_lowercase();
        let ok = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains('@')
                }
                None => false,
            };
        if ok { Ok(Email(s)) } else { Err(AccountError::BadEmail) }
    }
    /// Something that failed [`Email::parse`], kept (lower-case, at most 254 characters) only to count
    /// failed sign-ins under it: a malformed address is throttled like any other.
    pub fn raw_for_throttling(s: &str) -> Self {
        Email(s.trim().to_lowercase().chars().take(254).collect())
    }
    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Its Debug output hides it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Wraps what was typed.
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }
    /// Checks a new password: the length rules, then the strength estimator, told what the user typed
    /// in the other fields (`personal`: e-mail, name), so that a password made of them is refused too.
    ///
    /// ```
    /// use librement_pay::accounts::{AccountError, Password, Weakness};
    /// assert!(Password::new("correct horse battery").check_new(&[]).is_ok());
    /// assert_eq!(
    ///     Password::new("          ").check_new(&[]),
    ///     Err(AccountError::WeakPassword(Weakness::Repeats))
    /// );
    /// ```
    pub fn check_new(&self, personal: &[&str]) -> Result<(), AccountError> {
        let n = self.0.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
            return Err(AccountError::BadPassword);
        }
        // zxcvbn's matching grows with the square of the length: past its authors' advice of 100
        // characters only the start is estimated (a strong start makes a strong password).
        let start: String = self.0.chars().take(ESTIMATED_CHARS).collect();
        let estimate = zxcvbn::zxcvbn(&start, personal);
        if estimate.score() >= MIN_SCORE {
            Ok(())
        } else {
            let warning = estimate.feedback().and_then(|f| f.warning());
            Err(AccountError::WeakPassword(Weakness::from_warning(warning)))
        }
    }
    fn bytes(&self) -> &[u8] {
        // An overlong password is only ever compared against a hash: cap the work it causes.
        let b = self.0.as_bytes();
        &b[..b.len().min(4 * MAX_PASSWORD_CHARS)]
    }
}

/// The lowest zxcvbn score accepted: 3, "safely unguessable" for an online attack and a slowed-down
/// offline one (an estimated 10^10 guesses or more), zxcvbn's own recommendation for a password that
/// guards money.
pub const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Why a password was found too easy to guess: zxcvbn's warning, grouped as the pages explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// A straight row of keys (`qwertyuiop`).
    KeyboardRow,
    /// A short pattern on the keyboard.
    KeyboardPattern,
    /// One character repeated (`aaaaaaaaaa`, ten spaces).
    Repeats,
    /// A group repeated (`abcabcabc`).
    RepeatedGroups,
    /// One of the most common passwords (`1234567890`).
    Common,
    /// A common password, lightly changed.
    SimilarToCommon,
    /// A sequence (`abcdef`, `6543`).
    Sequence,
    /// A recent year.
    RecentYear,
    /// A dictionary word by itself.
    SingleWord,
    /// A date.
    Date,
    /// First names or surnames.
    Names,
    /// Guessable parts with no single cause (the e-mail address, the name, short words).
    Guessable,
}

impl Weakness {
    fn from_warning(warning: Option<zxcvbn::feedback::Warning>) -> Self {
        use zxcvbn::feedback::Warning as W;
        match warning {
            Some(W::StraightRowsOfKeysAreEasyToGuess) => Weakness::KeyboardRow,
            Some(W::ShortKeyboardPatternsAreEasyToGuess) => Weakness::KeyboardPattern,
            Some(W::RepeatsLikeAaaAreEasyToGuess) => Weakness::Repeats,
            Some(W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess) => Weakness::RepeatedGroups,
            Some(W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword) => Weakness::Common,
            Some(W::ThisIsSimilarToACommonlyUsedPassword) => Weakness::SimilarToCommon,
            Some(W::SequencesLikeAbcAreEasyToGuess) => Weakness::Sequence,
            Some(W::RecentYearsAreEasyToGuess) => Weakness::RecentYear,
            Some(W::AWordByItselfIsEasyToGuess) => Weakness::SingleWord,
            Some(W::DatesAreOftenEasyToGuess) => Weakness::Date,
            Some(W::NamesAndSurnamesByThemselvesAreEasyToGuess | W::CommonNamesAndSurnamesAreEasyToGuess) => {
                Weakness::Names
            }
            None => Weakness::Guessable,
        }
    }
}

/// How many characters of a new password the estimator reads.
pub const ESTIMATED_CHARS: usize = 100;

/// Argon2id with explicit parameters. [`PasswordHashing::owasp`] is what the service uses; tests may use
/// cheaper ones to check rehashing.
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    params: Params,
    /// A hash of a random password made with the same parameters: verified against when the e-mail is
    /// unknown, so that the answer takes as long as for a wrong password.
    dummy_hash: String,
}

/// What checking a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Wrong password (or no such account).
    Wrong,
    /// Right; `rehash` holds a new hash when the stored one used other parameters.
    Right {
        /// The replacement hash to store.
        rehash: Option<String>,
    },
}

impl PasswordHashing {
    /// OWASP's argon2id recommendation: m = 19456 KiB, t = 2, p = 1.
    pub fn owasp() -> Result<Self, AccountError> {
        Self::with_params(19_456, 2, 1)
    }

    /// Argon2id with `m_cost` KiB, `t_cost` passes and `p_cost` lanes.
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, AccountError> {
        let params = Params::new(m_cost, t_cost, p_cost, None).map_err(|_| AccountError::Hashing)?;
        let mut this = PasswordHashing {
            params,
            dummy_hash: String::new(),
        };
        let random: [u8; 16] = rand::random();
        this.dummy_hash = this.hash(&Password::new(base64_of(&random)))?;
        Ok(this)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a fresh random salt.
    pub fn hash(&self, password: &Password) -> Result<String, AccountError> {
        let salt: [u8; 16] = rand::random();
        self.argon()
            .hash_password_with_salt(password.bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Hashing)
    }

    /// Checks `password` against `stored` (a PHC string), or against a dummy hash when `stored` is `None`
    /// (unknown e-mail) so that both cases cost the same. A stored hash made with other parameters or
    /// another algorithm is replaced on success.
    pub fn check(&self, password: &Password, stored: Option<&str>) -> PasswordCheck {
        let (hash, known) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return PasswordCheck::Wrong;
        };
        // The hash's own parameters are used to verify, whatever ours are now.
        let right = self.argon().verify_password(password.bytes(), &parsed).is_ok();
        if !(right && known) {
            return PasswordCheck::Wrong;
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        PasswordCheck::Right {
            rehash: if current { None } else { self.hash(password).ok() },
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id (also the ledger account `user:{id}`).
    pub id: UserId,
    /// Normalized e-mail.
    pub email: Email,
    /// What the user is called on pages.
    pub display_name: String,
    /// PHC string. Never shown.
    pub password_hash: String,
    /// Sessions issued with another value have ended (see [`UserStore::end_sessions`]).
    pub session_epoch: i64,
    /// True once the user followed the link of the verification e-mail (or of a password-reset e-mail):
    /// only then is the address proven, and only then does the account receive a seller's earnings.
    pub email_verified: bool,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Normalized e-mail.
    pub email: Email,
    /// Display name, trimmed, 1 to 100 characters.
    pub display_name: String,
    /// PHC string.
    pub password_hash: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Checks a display name and returns it trimmed.
pub fn display_name(s: &str) -> Result<String, AccountError> {
    let s = s.trim();
    let n = s.chars().count();
    if (1..=100).contains(&n) && !s.chars().any(char::is_control) {
        Ok(s.to_owned())
    } else {
        Err(AccountError::BadName)
    }
}

/// Sign-in throttling: at most `max_failures` failed attempts within `window` per bucket. A browser
/// that never signed in to the account shares the account's bucket with every such browser, and its
/// address's bucket with every account; a browser that did (it carries that account's device cookie,
/// see [`crate::session::Device`]) has a bucket of its own, so that an attacker who keeps the account
/// locked does not lock its owner out (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures allowed in the window.
    pub max_failures: i64,
    /// The window.
    pub window: Duration,
}

impl Default for Throttle {
    /// 5 failures per 15 minutes.
    fn default() -> Self {
        Throttle {
            max_failures: 5,
            window: Duration::minutes(15),
        }
    }
}

impl Throttle {
    /// True when another attempt may be made, given the attempts counted since `now - window` in the
    /// attempt's account bucket and address bucket (0 for a known device, which has no address bucket).
    pub fn allows(&self, failures_for_account: i64, failures_from_address: i64) -> bool {
        failures_for_account < self.max_failures && failures_from_address < self.max_failures
    }
}

/// A password check to reserve under the throttle before argon2 runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The account, as typed (normalized, or the raw text of a malformed address).
    pub email: Email,
    /// The client's address.
    pub ip: String,
    /// The device id of the browser's device cookie, when it was issued for this account.
    pub device: Option<String>,
}

/// The id of a reserved attempt.
pub type AttemptId = i64;

/// What reserving an attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Recorded, as a failure until released: the password may be checked.
    Granted(AttemptId),
    /// The attempt's buckets are full: the password must not be checked.
    Throttled,
}

/// Storage of users and of sign-in attempts.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; [`AccountError::EmailTaken`] when the address is in use.
    async fn create_user(&self, user: NewUser) -> Result<UserId, AccountError>;
    /// A user by normalized e-mail.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, AccountError>;
    /// A user by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, AccountError>;
    /// Replaces a user's password hash (rehash after a parameter change).
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), AccountError>;
    /// Ends every session of the user, in every browser: raises `session_epoch`, which the sessions
    /// issued so far no longer match.
    async fn end_sessions(&self, id: UserId) -> Result<(), AccountError>;
    /// Atomically counts the attempts in `attempt`'s buckets since `now - throttle.window` and, when
    /// `throttle` allows one more, records this one (as a failure until [`UserStore::release_attempt`]).
    /// However many arrive at once, and from however many server instances on one database, no more
    /// than `throttle.max_failures` are ever granted per bucket and window.
    async fn reserve_attempt(
        &self,
        attempt: Attempt,
        throttle: Throttle,
        now: DateTime<Utc>,
    ) -> Result<Reservation, AccountError>;
    /// Forgets a reserved attempt: its password was right, or it was never checked.
    async fn release_attempt(&self, id: AttemptId) -> Result<(), AccountError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHashing {
        PasswordHashing::with_params(64, 1, 1).unwrap()
    }

    #[test]
    fn the_owasp_parameters_are_written_in_the_hash() {
        let h = PasswordHashing::owasp().unwrap();
        let hash = h.hash(&Password::new("correct horse battery")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }

    #[test]
    fn the_right_password_passes_and_a_wrong_one_does_not() {
        let h = cheap();
        let hash = h.hash(&Password::new("correct horse battery")).unwrap();
        assert_eq!(
            h.check(&Password::new("correct horse battery"), Some(&hash)),
            PasswordCheck::Right { rehash: None }
        );
        assert_eq!(
            h.check(&Password::new("Correct horse battery"), Some(&hash)),
            PasswordCheck::Wrong
        );
    }

    #[test]
    fn an_unknown_account_is_wrong_even_with_the_dummy_password_shape() {
        assert_eq!(
            cheap().check(&Password::new("anything at all"), None),
            PasswordCheck::Wrong
        );
    }

    #[test]
    fn a_hash_with_old_parameters_is_replaced_on_sign_in() {
        let old = PasswordHashing::with_params(32, 1, 1).unwrap();
        let hash = old.hash(&Password::new("correct horse battery")).unwrap();
        let now = cheap();
        let PasswordCheck::Right { rehash: Some(new) } =
            now.check(&Password::new("correct horse battery"), Some(&hash))
        else {
            panic!("expected a rehash");
        };
        assert!(new.contains("m=64,t=1,p=1"), "{new}");
        assert_eq!(
            now.check(&Password::new("correct horse battery"), Some(&new)),
            PasswordCheck::Right { rehash: None }
        );
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        assert!(!format!("{:?}", Password::new("hunter2hunter2")).contains("hunter2"));
    }

    #[test]
    fn password_length_rules() {
        assert_eq!(Password::new("short").check_new(&[]), Err(AccountError::BadPassword));
        assert!(Password::new("long enough pass").check_new(&[]).is_ok());
        assert!(Password::new("x".repeat(257)).check_new(&[]).is_err());
    }

    #[test]
    fn long_but_guessable_passwords_are_refused_with_their_reason() {
        let weak = |p: &str, personal: &[&str]| match Password::new(p).check_new(personal) {
            Err(AccountError::WeakPassword(w)) => Some(w),
            _ => None,
        };
        assert_eq!(weak("1234567890", &[]), Some(Weakness::Common));
        assert_eq!(weak("          ", &[]), Some(Weakness::Repeats));
        assert!(weak("ann.reader@example.org", &["ann.reader@example.org", "Ann Reader"]).is_some());
        assert_eq!(weak("correct horse battery", &["ann@example.org", "Ann Reader"]), None);
        let message = AccountError::WeakPassword(Weakness::Common).to_string();
        assert!(message.starts_with("This password is too easy to guess:"), "{message}");
    }

    #[test]
    fn the_estimator_stays_fast_on_the_longest_passwords() {
        // Unbounded, these took 0.2 to 0.7 s each in a debug build.
        let start = std::time::Instant::now();
        for p in [
            "a".repeat(256),
            "ab".repeat(128),
            "1234567890".repeat(25),
            "é".repeat(256),
        ] {
            let _ = Password::new(p).check_new(&["ann@example.org"]);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn the_throttle_stops_at_five_failures_per_account_or_address() {
        let t = Throttle::default();
        assert!(t.allows(4, 4));
        assert!(!t.allows(5, 0));
        assert!(!t.allows(0, 5));
    }

    #[test]
    fn e_mail_addresses_are_case_insensitive() {
        assert_eq!(Email::parse("A@B.CO").unwrap(), Email::parse("a@b.co").unwrap());
        for bad in ["", "a@b", "@b.co", "a b@c.co", "a@.co", "a@b.co."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
