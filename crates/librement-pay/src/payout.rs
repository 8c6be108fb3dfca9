//! Payouts: a user withdraws money from the account to the outside world, an operator pays or rejects it.
//!
//! A request is held at once (ledger: `user:{id}` → `payouts_pending`, key `payout:{id}`), so the money
//! cannot be spent while an operator looks at it. Paying it moves it on (`payouts_pending` → `paid_out`,
//! `payout-paid:{id}`); rejecting it gives it back (`payouts_pending` → `user:{id}`,
//! `payout-rejected:{id}`). Each decision is e-mailed to the user in the same database transaction.
//!
//! Only earnings can be withdrawn, and only once they are older than `librement.payout_hold` (a
//! chargeback can still take a sale back during the hold). Money added by card or PayPal is for
//! purchases: paying it out would turn a stolen card into cash. See [`Withdrawable`].
//!
//! The operator's side (the console) calls [`Payouts::payouts`], [`Payouts::mark_payout_paid`] and
//! [`Payouts::reject_payout`]; the pages under `/librement/account` call [`Payouts::request_payout`].

use chrono::{DateTime, Duration, Utc};
use payment_buttons::money::{Currency, Money};

use crate::ledger::{LedgerError, UserId};

/// The id of a payout request.
pub type PayoutId = i64;

/// Where a payout request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// Held, waiting for an operator.
    Requested,
    /// Paid out by an operator.
    Paid,
    /// Rejected by an operator: the amount went back to the balance.
    Rejected,
}

impl PayoutState {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PayoutState::Requested => "requested",
            PayoutState::Paid => "paid",
            PayoutState::Rejected => "rejected",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [PayoutState::Requested, PayoutState::Paid, PayoutState::Rejected]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A payout request as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Payout {
    /// Its id.
    pub id: PayoutId,
    /// Who asked.
    pub user: UserId,
    /// The user's e-mail address (for the operator's list).
    pub email: String,
    /// How much.
    #[serde(serialize_with = "serialize_money")]
    pub amount: Money,
    /// Where it stands.
    pub state: PayoutState,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When an operator decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided (the operator's e-mail or name, as the console records it).
    pub decided_by: Option<String>,
    /// The operator's note, sent to the user (a transfer reference, or why it was rejected).
    pub note: Option<String>,
}

fn serialize_money<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{} {}", m, m.currency().code()))
}

/// An operator's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Who decides (recorded with the payout).
    pub operator: String,
    /// A note for the user, e-mailed with the decision (at most 500 characters).
    pub note: Option<String>,
}

/// Which payouts to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutFilter {
    /// Only these (e.g. `Some(Requested)`: the operator's to-do list).
    pub state: Option<PayoutState>,
    /// Only this user's.
    pub user: Option<UserId>,
    /// Only those older than this id (keyset pagination).
    pub before: Option<PayoutId>,
    /// At most this many (capped at 500).
    pub limit: usize,
}

/// Why a payout could not be requested or decided. Display texts are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// Zero or negative.
    #[error("the amount must be more than zero")]
    NotPositive,
    /// More than can be withdrawn now.
    #[error("at most {withdrawable} {} can be withdrawn now", .withdrawable.currency().code())]
    AboveWithdrawable {
        /// What can be.
        withdrawable: Money,
    },
    /// No such payout.
    #[error("there is no such payout")]
    NotFound,
    /// It was paid or rejected already.
    #[error("this payout was {} already", .0.as_str())]
    AlreadyDecided(PayoutState),
    /// The note is too long.
    #[error("the note must have at most 500 characters")]
    NoteTooLong,
    /// The ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What the store finds on a user's account, in one currency, to tell what can be withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawable {
    /// The balance.
    pub balance: Money,
    /// Every earning ever credited to the account (sales, and earnings moved in at verification).
    pub earnings: Money,
    /// The part of [`Withdrawable::earnings`] credited less than `payout_hold` ago.
    pub earnings_on_hold: Money,
    /// What payouts took (requested or paid, not rejected).
    pub paid_out: Money,
}

impl Withdrawable {
    /// `min(balance − earnings on hold, earnings past the hold − payouts)`, never below zero: money still
    /// on hold stays (a chargeback may take it back), money that did not come from sales stays (it was
    /// added to pay).
    ///
    /// ```
    /// use librement_pay::payout::Withdrawable;
    /// use payment_buttons::money::Money;
    /// let eur = |s| Money::parse(s, "EUR").unwrap();
    /// // €30 earned long ago, €50 added by card, €10 paid out already.
    /// let w = Withdrawable { balance: eur("70.00"), earnings: eur("30.00"), earnings_on_hold: eur("0.00"), paid_out: eur("10.00") };
    /// assert_eq!(w.amount(), eur("20.00"));
    /// ```
    pub fn amount(&self) -> Money {
        let currency = self.balance.currency();
        let free = self.balance.minor_units() - self.earnings_on_hold.minor_units();
        let earned = self.earnings.minor_units() - self.earnings_on_hold.minor_units() - self.paid_out.minor_units();
        Money::from_minor(free.min(earned).max(0), currency)
    }
}

/// The ledger key of the hold of payout `id`.
pub fn hold_key(id: PayoutId) -> String {
    format!("payout:{id}")
}
/// The ledger key of payout `id` paid.
pub fn paid_key(id: PayoutId) -> String {
    format!("payout-paid:{id}")
}
/// The ledger key of payout `id` rejected.
pub fn rejected_key(id: PayoutId) -> String {
    format!("payout-rejected:{id}")
}

/// Checks an operator's note: trimmed, at most 500 characters, `None` when empty.
pub fn checked_note(note: Option<&str>) -> Result<Option<String>, PayoutError> {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) if n.chars().count() > 500 => Err(PayoutError::NoteTooLong),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// Storage of payouts. Every method that moves money does it in ONE database transaction with the
/// user's account locked, its ledger posting, the payout row and (for decisions) the e-mail to the user.
#[async_trait::async_trait]
pub trait Payouts: Send + Sync + 'static {
    /// What `user` can withdraw now in `currency` (see [`Withdrawable`]).
    async fn withdrawable(
        &self,
        user: UserId,
        currency: Currency,
        hold: Duration,
        now: DateTime<Utc>,
    ) -> Result<Money, PayoutError>;

    /// Asks for a payout of `amount` and holds it at once. Refused above what is withdrawable; two
    /// requests at once never take more than that together. `language` (`en`, `fr`) is the one the
    /// decision will be e-mailed in.
    async fn request_payout(
        &self,
        user: UserId,
        amount: Money,
        hold: Duration,
        language: &str,
        now: DateTime<Utc>,
    ) -> Result<Payout, PayoutError>;

    /// One payout.
    async fn payout(&self, id: PayoutId) -> Result<Option<Payout>, PayoutError>;

    /// Payouts, newest first.
    async fn payouts(&self, filter: PayoutFilter) -> Result<Vec<Payout>, PayoutError>;

    /// Marks a requested payout paid (`payouts_pending` → `paid_out`) and e-mails the user. Refused with
    /// [`PayoutError::AlreadyDecided`] when it was decided before, whoever decided it.
    async fn mark_payout_paid(
        &self,
        id: PayoutId,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<Payout, PayoutError>;

    /// Rejects a requested payout (the amount back to the user's balance) and e-mails the user. Refused
    /// with [`PayoutError::AlreadyDecided`] when it was decided before.
    async fn reject_payout(&self, id: PayoutId, decision: Decision, now: DateTime<Utc>) -> Result<Payout, PayoutError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    fn w(balance: &str, earnings: &str, on_hold: &str, paid_out: &str) -> Money {
        Withdrawable {
            balance: eur(balance),
            earnings: eur(earnings),
            earnings_on_hold: eur(on_hold),
            paid_out: eur(paid_out),
        }
        .amount()
    }

    #[test]
    fn only_earnings_past_the_hold_can_be_withdrawn() {
        assert_eq!(w("30.00", "30.00", "0.00", "0.00"), eur("30.00"));
        assert_eq!(w("30.00", "30.00", "30.00", "0.00"), eur("0.00"), "all on hold");
        assert_eq!(w("50.00", "0.00", "0.00", "0.00"), eur("0.00"), "money added by card");
        assert_eq!(w("80.00", "30.00", "10.00", "0.00"), eur("20.00"), "part on hold");
        assert_eq!(w("20.00", "30.00", "0.00", "10.00"), eur("20.00"), "one payout held");
        assert_eq!(w("0.00", "30.00", "0.00", "0.00"), eur("0.00"), "spent or charged back");
        assert_eq!(w("5.00", "30.00", "30.00", "0.00"), eur("0.00"), "never negative");
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(checked_note(Some("  ")), Ok(None));
        assert_eq!(checked_note(Some(" ref 42 ")), Ok(Some("ref 42".into())));
        assert_eq!(checked_note(Some(&"x".repeat(501))), Err(PayoutError::NoteTooLong));
    }
}
