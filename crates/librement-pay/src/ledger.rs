//! The double-entry ledger: every movement of money between Librement accounts.
//!
//! A [`NewTransaction`] is a set of [`Entry`]s whose amounts sum to zero in each currency. Entries are
//! only ever added; a balance is the sum of an account's entries. By convention a positive balance on a
//! user's account is money the service holds for that user, and a gateway's clearing account goes
//! negative by what came in through that gateway.
//!
//! ```
//! use librement_pay::ledger::{Account, NewTransaction};
//! use payment_buttons::money::Money;
//! let ten = Money::parse("10.00", "EUR").unwrap();
//! let tx = NewTransaction::top_up("topup:Xk3f9QpL2mZa", 7, "cmcic", ten).unwrap();
//! assert_eq!(tx.entries().len(), 2);
//! assert_eq!(tx.entries()[0].account, Account::GatewayClearing("cmcic".into()));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use payment_buttons::money::{Currency, Money};

/// The id of a Librement user.
pub type UserId = i64;

/// Why the ledger refused or failed a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A transaction needs at least two entries.
    #[error("a ledger transaction needs at least two entries")]
    TooFewEntries,
    /// An entry of zero moves nothing and hides mistakes.
    #[error("a ledger entry cannot be zero")]
    ZeroEntry,
    /// The entries of one currency do not sum to zero.
    #[error("the entries in {0} do not sum to zero")]
    Unbalanced(Currency),
    /// The idempotency key is empty or too long.
    #[error("the idempotency key must have 1 to 200 characters")]
    BadKey,
    /// Posting would take an account that must stay non-negative below zero.
    #[error("insufficient funds on {account}: balance {balance} {currency}, needed {needed} {currency}")]
    InsufficientFunds {
        /// The account.
        account: Account,
        /// Its balance before the transaction.
        balance: Money,
        /// What the transaction takes from it.
        needed: Money,
        /// The currency.
        currency: Currency,
    },
    /// A stored account key is not one of [`Account`]'s forms.
    #[error("unknown account key {0:?}")]
    UnknownAccount(String),
    /// Storage failed (no request data, no secrets).
    #[error("ledger storage: {0}")]
    Store(String),
}

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// A user's balance: never below zero.
    User(UserId),
    /// A seller, by normalized e-mail (the `librement.seller` of buttons).
    Seller(String),
    /// Money that came in (or went out) through one gateway (`cmcic`, `paypal`).
    GatewayClearing(String),
    /// Fees kept by the service.
    Fees,
    /// Purchases by buyers without an account.
    GuestClearing,
    /// Money that left through a gateway (a chargeback, a refund of a top-up) and that could not be taken
    /// back from the seller's or the buyer's balance: negative by what an operator has to recover.
    Disputes,
    /// Payouts a user asked for and an operator has not decided yet: positive by what is held.
    PayoutsPending,
    /// Money paid out to sellers (their bank accounts): positive by what left the service.
    PaidOut,
}

impl Account {
    /// True for accounts whose balance may never go below zero: a user's (what the service holds for
    /// the user) and a seller's (what it owes the seller; a chargeback takes back only what is there, the
    /// rest goes to [`Account::Disputes`]).
    ///
    /// `payouts_pending` too: it holds exactly what was requested, so a payout decided twice (paid and
    /// rejected, or paid twice) would take it below zero and is refused.
    pub fn must_stay_non_negative(&self) -> bool {
        matches!(self, Account::User(_) | Account::Seller(_) | Account::PayoutsPending)
    }

    /// The stored key: `user:7`, `seller:author@example.org`, `clearing:cmcic`, `fees`, `guest`,
    /// `disputes`, `payouts_pending`, `paid_out`.
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::User(id) => write!(f, "user:{id}"),
            Account::Seller(email) => write!(f, "seller:{email}"),
            Account::GatewayClearing(gateway) => write!(f, "clearing:{gateway}"),
            Account::Fees => f.write_str("fees"),
            Account::GuestClearing => f.write_str("guest"),
            Account::Disputes => f.write_str("disputes"),
            Account::PayoutsPending => f.write_str("payouts_pending"),
            Account::PaidOut => f.write_str("paid_out"),
        }
    }
}

impl FromStr for Account {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || LedgerError::UnknownAccount(s.chars().take(80).collect());
        match s {
            "fees" => return Ok(Account::Fees),
            "guest" => return Ok(Account::GuestClearing),
            "disputes" => return Ok(Account::Disputes),
            "payouts_pending" => return Ok(Account::PayoutsPending),
            "paid_out" => return Ok(Account::PaidOut),
            _ => {}
        }
        match s.split_once(':') {
            Some(("user", id)) => id.parse().map(Account::User).map_err(|_| unknown()),
            Some(("seller", email)) if !email.is_empty() => Ok(Account::Seller(email.to_owned())),
            Some(("clearing", gw)) if !gw.is_empty() => Ok(Account::GatewayClearing(gw.to_owned())),
            _ => Err(unknown()),
        }
    }
}

/// One line of a transaction: `amount` added to `account` (negative to take from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The account.
    pub account: Account,
    /// Signed amount.
    pub amount: Money,
}

/// What a transaction is for, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// Money into a user's account through a gateway.
    TopUp,
    /// A purchase paid from a user's balance.
    Purchase,
    /// A purchase by a buyer without an account, paid through a gateway.
    GuestPurchase,
    /// Money of a top-up or guest payment that went back through its gateway (a chargeback or a refund),
    /// taken back from the accounts it had reached.
    Reversal,
    /// A [`TransactionKind::Reversal`] undone, entry by entry, because the gateway gave the money back.
    ReversalCancelled,
    /// A seller's earnings made before the seller's account was verified, moved from `seller:{email}` to
    /// the account when its e-mail address is verified.
    Earnings,
    /// A payout request: the amount held at once, from the user's account to `payouts_pending`.
    Payout,
    /// A payout an operator paid: from `payouts_pending` to `paid_out`.
    PayoutPaid,
    /// A payout an operator rejected: from `payouts_pending` back to the user's account.
    PayoutRejected,
    /// A purchase paid from a balance refunded by the service: the seller's credit (the rest carried by
    /// `disputes`) back to the buyer's balance (`crate::refund`).
    Refund,
}

impl TransactionKind {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            TransactionKind::TopUp => "top_up",
            TransactionKind::Purchase => "purchase",
            TransactionKind::GuestPurchase => "guest_purchase",
            TransactionKind::Reversal => "reversal",
            TransactionKind::ReversalCancelled => "reversal_cancelled",
            TransactionKind::Earnings => "earnings",
            TransactionKind::Payout => "payout",
            TransactionKind::PayoutPaid => "payout_paid",
            TransactionKind::PayoutRejected => "payout_rejected",
            TransactionKind::Refund => "refund",
        }
    }

    /// Every kind.
    pub const ALL: [TransactionKind; 10] = [
        TransactionKind::TopUp,
        TransactionKind::Purchase,
        TransactionKind::GuestPurchase,
        TransactionKind::Reversal,
        TransactionKind::ReversalCancelled,
        TransactionKind::Earnings,
        TransactionKind::Payout,
        TransactionKind::PayoutPaid,
        TransactionKind::PayoutRejected,
        TransactionKind::Refund,
    ];
}

impl FromStr for TransactionKind {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransactionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                LedgerError::Store(format!(
                    "unknown transaction kind {:?}",
                    s.chars().take(40).collect::<String>()
                ))
            })
    }
}

/// A balanced transaction, ready to post. Only the constructors build one, so an unbalanced transaction
/// cannot reach a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    key: String,
    kind: TransactionKind,
    entries: Vec<Entry>,
}

impl NewTransaction {
    /// Checks that `entries` are non-zero and sum to zero per currency. `key` makes posting idempotent:
    /// a second transaction with the same key is not posted.
    pub fn new(key: impl Into<String>, kind: TransactionKind, entries: Vec<Entry>) -> Result<Self, LedgerError> {
        let key = key.into();
        if key.is_empty() || key.chars().count() > 200 {
            return Err(LedgerError::BadKey);
        }
        if entries.len() < 2 {
            return Err(LedgerError::TooFewEntries);
        }
        let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
        for entry in &entries {
            if entry.amount.minor_units() == 0 {
                return Err(LedgerError::ZeroEntry);
            }
            *sums.entry(entry.amount.currency()).or_default() += i128::from(entry.amount.minor_units());
        }
        if let Some((currency, _)) = sums.iter().find(|(_, sum)| **sum != 0) {
            return Err(LedgerError::Unbalanced(*currency));
        }
        Ok(NewTransaction { key, kind, entries })
    }

    /// `amount` into `user`'s account, received through `gateway`.
    pub fn top_up(key: impl Into<String>, user: UserId, gateway: &str, amount: Money) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::TopUp,
            vec![
                Entry {
                    account: Account::GatewayClearing(gateway.to_owned()),
                    amount: negate(amount),
                },
                Entry {
                    account: Account::User(user),
                    amount,
                },
            ],
        )
    }

    /// `amount` from `user`'s account to `seller`'s.
    pub fn purchase(key: impl Into<String>, user: UserId, seller: &str, amount: Money) -> Result<Self, LedgerError> {
        Self::purchase_to(key, user, Account::Seller(seller.to_owned()), amount)
    }

    /// `amount` from `user`'s account to `payee`: the seller's own user account when the seller has a
    /// verified one, else `seller:{email}` (see [`payee`]).
    pub fn purchase_to(
        key: impl Into<String>,
        user: UserId,
        payee: Account,
        amount: Money,
    ) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::Purchase,
            vec![
                Entry {
                    account: Account::User(user),
                    amount: negate(amount),
                },
                Entry { account: payee, amount },
            ],
        )
    }

    /// The earnings `amount` waiting on `seller:{email}` moved to `user`, whose verified address it is.
    pub fn earnings(key: impl Into<String>, email: &str, user: UserId, amount: Money) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::Earnings,
            vec![
                Entry {
                    account: Account::Seller(email.to_owned()),
                    amount: negate(amount),
                },
                Entry {
                    account: Account::User(user),
                    amount,
                },
            ],
        )
    }

    /// A payout request of `amount`, held at once: from `user` to `payouts_pending`.
    pub fn payout(key: impl Into<String>, user: UserId, amount: Money) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::Payout,
            vec![
                Entry {
                    account: Account::User(user),
                    amount: negate(amount),
                },
                Entry {
                    account: Account::PayoutsPending,
                    amount,
                },
            ],
        )
    }

    /// A held payout paid by an operator: from `payouts_pending` to `paid_out`.
    pub fn payout_paid(key: impl Into<String>, amount: Money) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::PayoutPaid,
            vec![
                Entry {
                    account: Account::PayoutsPending,
                    amount: negate(amount),
                },
                Entry {
                    account: Account::PaidOut,
                    amount,
                },
            ],
        )
    }

    /// A held payout rejected by an operator: from `payouts_pending` back to `user`.
    pub fn payout_rejected(key: impl Into<String>, user: UserId, amount: Money) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::PayoutRejected,
            vec![
                Entry {
                    account: Account::PayoutsPending,
                    amount: negate(amount),
                },
                Entry {
                    account: Account::User(user),
                    amount,
                },
            ],
        )
    }

    /// A buyer without an account paid `amount` through `gateway`: it passes through the guest clearing
    /// account to `seller`, so that guest purchases can be told apart from account purchases.
    pub fn guest_purchase(
        key: impl Into<String>,
        gateway: &str,
        seller: &str,
        amount: Money,
    ) -> Result<Self, LedgerError> {
        Self::guest_purchase_to(key, gateway, Account::Seller(seller.to_owned()), amount)
    }

    /// [`NewTransaction::guest_purchase`] paying `payee` (see [`payee`]).
    pub fn guest_purchase_to(
        key: impl Into<String>,
        gateway: &str,
        payee: Account,
        amount: Money,
    ) -> Result<Self, LedgerError> {
        Self::new(
            key,
            TransactionKind::GuestPurchase,
            vec![
                Entry {
                    account: Account::GatewayClearing(gateway.to_owned()),
                    amount: negate(amount),
                },
                Entry {
                    account: Account::GuestClearing,
                    amount,
                },
                Entry {
                    account: Account::GuestClearing,
                    amount: negate(amount),
                },
                Entry { account: payee, amount },
            ],
        )
    }

    /// The idempotency key.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// What it is for.
    pub fn kind(&self) -> TransactionKind {
        self.kind
    }
    /// The entries, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What the transaction takes from each account that must stay non-negative, per currency (positive
    /// amounts). Stores check these against the locked balances.
    pub fn debits_to_check(&self) -> Vec<(Account, Money)> {
        let mut totals: BTreeMap<(Account, Currency), i64> = BTreeMap::new();
        for e in self.entries.iter().filter(|e| e.account.must_stay_non_negative()) {
            *totals.entry((e.account.clone(), e.amount.currency())).or_default() += e.amount.minor_units();
        }
        totals
            .into_iter()
            .filter(|(_, net)| *net < 0)
            .map(|((account, currency), net)| (account, Money::from_minor(-net, currency)))
            .collect()
    }
}

/// The account a sale by `seller` credits: the user whose **verified** e-mail address is the seller's
/// (`verified_user`, as the store found it with the seller's account locked), else `seller:{email}`, where
/// it waits until such an account is verified (then [`NewTransaction::earnings`] moves it). An account whose
/// address is not verified never receives a seller's money: anyone can type an address.
///
/// ```
/// use librement_pay::ledger::{payee, Account};
/// assert_eq!(payee("a@b.co", Some(7)), Account::User(7));
/// assert_eq!(payee("a@b.co", None), Account::Seller("a@b.co".into()));
/// ```
pub fn payee(seller: &str, verified_user: Option<UserId>) -> Account {
    match verified_user {
        Some(id) => Account::User(id),
        None => Account::Seller(seller.to_owned()),
    }
}

pub(crate) fn negate(m: Money) -> Money {
    Money::from_minor(-m.minor_units(), m.currency())
}

/// What posting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Written, with this id.
    Recorded(i64),
    /// A transaction with the same key was posted before (its id): nothing was written.
    AlreadyPosted(i64),
}

/// An entry as stored, for audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The transaction it belongs to.
    pub transaction_id: i64,
    /// The account.
    pub account: Account,
    /// Signed amount.
    pub amount: Money,
}

/// What an audit of the whole ledger found. A healthy ledger has every list empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Transactions whose entries do not sum to zero in some currency.
    pub unbalanced_transactions: Vec<i64>,
    /// Accounts that must stay non-negative but are below zero.
    pub negative_accounts: Vec<(Account, Money)>,
    /// Currencies whose sum over all accounts is not zero, with that sum.
    pub nonzero_totals: Vec<Money>,
    /// How many entries were read.
    pub entries: usize,
}

impl Audit {
    /// Checks every invariant over `entries` (the whole ledger).
    pub fn of(entries: &[StoredEntry]) -> Audit {
        let mut per_tx: BTreeMap<(i64, Currency), i128> = BTreeMap::new();
        let mut per_account: BTreeMap<(Account, Currency), i64> = BTreeMap::new();
        let mut total: BTreeMap<Currency, i128> = BTreeMap::new();
        for e in entries {
            let c = e.amount.currency();
            let m = e.amount.minor_units();
            *per_tx.entry((e.transaction_id, c)).or_default() += i128::from(m);
            *per_account.entry((e.account.clone(), c)).or_default() += m;
            *total.entry(c).or_default() += i128::from(m);
        }
        let mut unbalanced: Vec<i64> = per_tx
            .iter()
            .filter(|(_, s)| **s != 0)
            .map(|((id, _), _)| *id)
            .collect();
        unbalanced.dedup();
        Audit {
            unbalanced_transactions: unbalanced,
            negative_accounts: per_account
                .into_iter()
                .filter(|((a, _), b)| a.must_stay_non_negative() && *b < 0)
                .map(|((a, c), b)| (a, Money::from_minor(b, c)))
                .collect(),
            nonzero_totals: total
                .into_iter()
                .filter(|(_, s)| *s != 0)
                .map(|(c, s)| Money::from_minor(i64::try_from(s).unwrap_or(i64::MAX), c))
                .collect(),
            entries: entries.len(),
        }
    }

    /// True when no invariant is broken.
    pub fn is_healthy(&self) -> bool {
        self.unbalanced_transactions.is_empty() && self.negative_accounts.is_empty() && self.nonzero_totals.is_empty()
    }
}

/// Storage of the ledger. Implementations post a transaction atomically: the idempotency key, then, for
/// every account in [`NewTransaction::debits_to_check`], the account locked and its balance checked, then
/// the entries; all or nothing. Concurrent postings against one account are serialized by that lock, so a
/// balance never goes below zero.
#[async_trait::async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    /// Posts `transaction`, or refuses it with [`LedgerError::InsufficientFunds`].
    async fn post(&self, transaction: NewTransaction) -> Result<Posted, LedgerError>;

    /// The balance of `account` in `currency` (zero when it has no entries).
    async fn balance(&self, account: &Account, currency: Currency) -> Result<Money, LedgerError>;

    /// Every entry of the ledger, for audits.
    async fn all_entries(&self) -> Result<Vec<StoredEntry>, LedgerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn an_unbalanced_transaction_cannot_be_built() {
        let entries = vec![
            Entry {
                account: Account::User(1),
                amount: eur("-10.00"),
            },
            Entry {
                account: Account::Seller("s@example.org".into()),
                amount: eur("9.99"),
            },
        ];
        let err = NewTransaction::new("k", TransactionKind::Purchase, entries).unwrap_err();
        assert_eq!(err, LedgerError::Unbalanced("EUR".parse().unwrap()));
    }

    #[test]
    fn balance_is_checked_per_currency() {
        let entries = vec![
            Entry {
                account: Account::User(1),
                amount: eur("-10.00"),
            },
            Entry {
                account: Account::Fees,
                amount: Money::parse("10.00", "USD").unwrap(),
            },
        ];
        assert!(matches!(
            NewTransaction::new("k", TransactionKind::Purchase, entries),
            Err(LedgerError::Unbalanced(_))
        ));
    }

    #[test]
    fn zero_entries_and_single_entries_are_refused() {
        let zero = vec![
            Entry {
                account: Account::User(1),
                amount: eur("0.00"),
            },
            Entry {
                account: Account::Fees,
                amount: eur("0.00"),
            },
        ];
        assert_eq!(
            NewTransaction::new("k", TransactionKind::TopUp, zero),
            Err(LedgerError::ZeroEntry)
        );
        let single = vec![Entry {
            account: Account::Fees,
            amount: eur("1.00"),
        }];
        assert_eq!(
            NewTransaction::new("k", TransactionKind::TopUp, single),
            Err(LedgerError::TooFewEntries)
        );
        assert_eq!(
            NewTransaction::purchase("", 1, "s", eur("1.00")),
            Err(LedgerError::BadKey)
        );
    }

    #[test]
    fn a_purchase_takes_from_the_user_and_gives_to_the_seller() {
        let tx = NewTransaction::purchase("purchase:p", 7, "s@example.org", eur("12.50")).unwrap();
        assert_eq!(tx.debits_to_check(), vec![(Account::User(7), eur("12.50"))]);
        assert_eq!(tx.entries()[1].account, Account::Seller("s@example.org".into()));
        assert_eq!(tx.entries()[1].amount, eur("12.50"));
    }

    #[test]
    fn a_top_up_debits_no_account_that_must_stay_non_negative() {
        let tx = NewTransaction::top_up("topup:p", 7, "paypal", eur("5.00")).unwrap();
        assert!(tx.debits_to_check().is_empty());
    }

    #[test]
    fn account_keys_read_back() {
        for a in [
            Account::User(42),
            Account::Seller("a@b.c".into()),
            Account::GatewayClearing("cmcic".into()),
            Account::Fees,
            Account::GuestClearing,
            Account::Disputes,
            Account::PayoutsPending,
            Account::PaidOut,
        ] {
            assert_eq!(a.key().parse::<Account>().unwrap(), a);
        }
        assert!("user:x".parse::<Account>().is_err());
        assert!("bank".parse::<Account>().is_err());
    }

    #[test]
    fn the_audit_finds_every_broken_invariant() {
        let e = |tx, account, amount: &str| StoredEntry {
            transaction_id: tx,
            account,
            amount: eur(amount),
        };
        let healthy = [
            e(1, Account::GatewayClearing("cmcic".into()), "-10.00"),
            e(1, Account::User(1), "10.00"),
            e(2, Account::User(1), "-4.00"),
            e(2, Account::Seller("s".into()), "4.00"),
        ];
        assert!(Audit::of(&healthy).is_healthy());
        let broken = [e(3, Account::User(2), "-1.00"), e(3, Account::Fees, "0.50")];
        let audit = Audit::of(&broken);
        assert_eq!(audit.unbalanced_transactions, vec![3]);
        assert_eq!(audit.negative_accounts, vec![(Account::User(2), eur("-1.00"))]);
        assert_eq!(audit.nonzero_totals, vec![eur("-0.50")]);
    }
}
