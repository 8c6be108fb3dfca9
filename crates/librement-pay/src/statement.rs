//! The account statement: every ledger transaction that touched a user's account, newest first, with
//! what it was for (a purchase, money added, a refund, earnings, a payout), the order and the seller it
//! concerns, the amount and the balance after it. Paginated by keyset (`before` a transaction id), and
//! downloadable as CSV.
//!
//! The store gives the raw lines ([`Statements::statement_lines`]); [`statement`] names each line from its
//! ledger key: `purchase:{payment}`, `topup:{top-up}`, `reversal:{top-up}:…`, `payout:{id}`… (the keys of
//! docs/librement.md).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use payment_buttons::i18n::price;
use payment_buttons::money::Money;
use payment_buttons::payment::PaymentId;
use payment_buttons::store::{Store, StoredPayment};

use crate::ledger::{LedgerError, TransactionKind, UserId};
use crate::payout::{PayoutId, PayoutState, Payouts};
use crate::purchase::seller;

/// A transaction on the account, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// The transaction's id (the keyset cursor).
    pub transaction_id: i64,
    /// Its idempotency key.
    pub key: String,
    /// Its kind.
    pub kind: TransactionKind,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// What it did to the account (negative: taken from it).
    pub amount: Money,
    /// The account's balance in that currency right after it.
    pub balance_after: Money,
}

/// What a line of the statement is, for the person reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Paid for something.
    Purchase,
    /// Money added through a gateway.
    TopUp,
    /// Money that went back through a gateway (a refund or a chargeback), taken back from the account.
    Refund,
    /// A refund or chargeback undone by the gateway: the money is back.
    RefundCancelled,
    /// A sale: the buyer's money, or earnings that waited for the address to be verified.
    Earnings,
    /// A payout request, held at once.
    Payout,
    /// A payout an operator rejected: the money is back.
    PayoutReturned,
}

impl LineKind {
    /// What a transaction of `kind` that moved `amount` on the account is.
    pub fn of(kind: TransactionKind, amount: i64) -> Self {
        match kind {
            TransactionKind::TopUp => LineKind::TopUp,
            TransactionKind::Purchase | TransactionKind::GuestPurchase if amount > 0 => LineKind::Earnings,
            TransactionKind::Purchase | TransactionKind::GuestPurchase => LineKind::Purchase,
            TransactionKind::Reversal | TransactionKind::Refund => LineKind::Refund,
            TransactionKind::ReversalCancelled => LineKind::RefundCancelled,
            TransactionKind::Earnings => LineKind::Earnings,
            TransactionKind::Payout | TransactionKind::PayoutPaid => LineKind::Payout,
            TransactionKind::PayoutRejected => LineKind::PayoutReturned,
        }
    }

    /// Its name in `language`.
    pub fn words(&self, language: &str) -> &'static str {
        let fr = language == "fr";
        match (self, fr) {
            (LineKind::Purchase, false) => "Purchase",
            (LineKind::Purchase, true) => "Achat",
            (LineKind::TopUp, false) => "Top-up",
            (LineKind::TopUp, true) => "Ajout d'argent",
            (LineKind::Refund, false) => "Refund",
            (LineKind::Refund, true) => "Remboursement",
            (LineKind::RefundCancelled, false) => "Refund cancelled",
            (LineKind::RefundCancelled, true) => "Remboursement annulé",
            (LineKind::Earnings, false) => "Earnings",
            (LineKind::Earnings, true) => "Gains",
            (LineKind::Payout, false) => "Payout",
            (LineKind::Payout, true) => "Retrait",
            (LineKind::PayoutReturned, false) => "Payout rejected",
            (LineKind::PayoutReturned, true) => "Retrait refusé",
        }
    }
}

/// What a ledger key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A purchase (`purchase:{id}`), or a refund of it to the balance (`refund:{id}:{refund}`).
    Purchase(PaymentId),
    /// A top-up or a guest's payment, or money it sent back (`topup:`, `reversal:`, `cancelled:reversal:`).
    TopUp(PaymentId),
    /// A payout (`payout:`, `payout-paid:`, `payout-rejected:`).
    Payout(PayoutId),
    /// Nothing we can name (earnings moved at verification, or a key of another form).
    Nothing,
}

impl KeyRef {
    /// Reads a ledger key.
    ///
    /// ```
    /// use librement_pay::statement::KeyRef;
    /// assert!(matches!(KeyRef::of("reversal:Xk3f9QpL2mZa:42"), KeyRef::TopUp(_)));
    /// assert_eq!(KeyRef::of("payout-rejected:7"), KeyRef::Payout(7));
    /// assert_eq!(KeyRef::of("earnings:3:x:EUR"), KeyRef::Nothing);
    /// ```
    pub fn of(key: &str) -> Self {
        let key = key.strip_prefix("cancelled:").unwrap_or(key);
        let (prefix, rest) = key.split_once(':').unwrap_or((key, ""));
        let first = rest.split(':').next().unwrap_or("");
        let payment = || PaymentId::parse(first).ok();
        match prefix {
            "purchase" | "refund" => payment().map_or(KeyRef::Nothing, KeyRef::Purchase),
            "topup" | "reversal" => payment().map_or(KeyRef::Nothing, KeyRef::TopUp),
            "payout" | "payout-paid" | "payout-rejected" => first.parse().map_or(KeyRef::Nothing, KeyRef::Payout),
            _ => KeyRef::Nothing,
        }
    }
}

/// One line of the statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// The transaction's id.
    pub transaction_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// What it is.
    pub kind: LineKind,
    /// The order reference of the purchase it concerns.
    pub order_reference: Option<String>,
    /// The seller of that purchase.
    pub seller: Option<String>,
    /// What was bought.
    pub description: Option<String>,
    /// The payout's state, for a payout.
    pub payout: Option<PayoutState>,
    /// Signed amount on the account.
    #[serde(skip)]
    pub amount: Money,
    /// The balance after it.
    #[serde(skip)]
    pub balance_after: Money,
}

/// A page of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Newest first.
    pub lines: Vec<Line>,
    /// The cursor of the next (older) page, when there is one.
    pub older: Option<i64>,
}

/// Storage of statements.
#[async_trait::async_trait]
pub trait Statements: Send + Sync + 'static {
    /// The user's balance in every currency the account ever held.
    async fn balances(&self, user: UserId) -> Result<Vec<Money>, LedgerError>;

    /// Up to `limit` transactions that touched `user:{user}`, newest first, older than `before` (a
    /// transaction id) when given, each with the account's balance after it.
    async fn statement_lines(
        &self,
        user: UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RawLine>, LedgerError>;

    /// The purchase a top-up (or a guest's payment) paid, or `None` for money added to an account alone.
    async fn purchase_of_top_up(&self, top_up: &PaymentId) -> Result<Option<PaymentId>, LedgerError>;
}

/// At most this many lines per page.
pub const PAGE_SIZE: usize = 25;
/// At most this many lines in a CSV download.
pub const CSV_MAX_LINES: usize = 100_000;

/// A page of `user`'s statement: `limit` lines older than `before`, named.
pub async fn statement<S: Store + Statements + Payouts>(
    store: &S,
    user: UserId,
    before: Option<i64>,
    limit: usize,
) -> Result<Page, LedgerError> {
    let mut raw = store.statement_lines(user, before, limit + 1).await?;
    let older = (raw.len() > limit).then(|| {
        raw.truncate(limit);
        raw.last().map(|l| l.transaction_id)
    });
    let mut payments: HashMap<PaymentId, Option<StoredPayment>> = HashMap::new();
    let mut lines = Vec::with_capacity(raw.len());
    for r in raw {
        let mut line = Line {
            transaction_id: r.transaction_id,
            at: r.at,
            kind: LineKind::of(r.kind, r.amount.minor_units()),
            order_reference: None,
            seller: None,
            description: None,
            payout: None,
            amount: r.amount,
            balance_after: r.balance_after,
        };
        let purchase = match KeyRef::of(&r.key) {
            KeyRef::Purchase(id) => Some(id),
            KeyRef::TopUp(id) => store.purchase_of_top_up(&id).await?,
            KeyRef::Payout(id) => {
                line.payout = store.payout(id).await.ok().flatten().map(|p| p.state);
                None
            }
            KeyRef::Nothing => None,
        };
        if let Some(id) = purchase {
            if !payments.contains_key(&id) {
                let found = store
                    .payment(&id)
                    .await
                    .map_err(|e| LedgerError::Store(e.to_string()))?;
                payments.insert(id.clone(), found);
            }
            if let Some(Some(p)) = payments.get(&id) {
                line.order_reference = Some(p.button.order_reference().to_owned());
                line.seller = seller(&p.button).ok().map(|s| s.as_str().to_owned());
                line.description = p
                    .button
                    .options()
                    .get(p.option_index)
                    .map(|o| o.description().to_owned());
            }
        }
        lines.push(line);
    }
    Ok(Page {
        lines,
        older: older.flatten(),
    })
}

/// A text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return
/// first) gets a `'` in front: a shop's order reference or description cannot run in the reader's
/// spreadsheet (OWASP, CSV injection).
///
/// ```
/// use librement_pay::statement::neutralized;
/// assert_eq!(neutralized("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
/// assert_eq!(neutralized("ORDER-1"), "ORDER-1");
/// ```
pub fn neutralized(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// The statement as CSV (RFC 4180, UTF-8, CRLF), newest first. Amounts are plain decimals with a point
/// (`-12.50`) in both languages, so that spreadsheets read them as numbers; text cells are
/// [`neutralized`].
pub fn csv(lines: &[Line], language: &str) -> String {
    let fr = language == "fr";
    let header = if fr {
        [
            "date",
            "opération",
            "commande",
            "vendeur",
            "description",
            "montant",
            "devise",
            "solde après",
        ]
    } else {
        [
            "date",
            "kind",
            "order",
            "seller",
            "description",
            "amount",
            "currency",
            "balance after",
        ]
    };
    let mut out = header.join(",") + "\r\n";
    for l in lines {
        let text = |s: Option<&str>| field(&neutralized(s.unwrap_or("")));
        let row = [
            l.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            field(l.kind.words(language)),
            text(l.order_reference.as_deref()),
            text(l.seller.as_deref()),
            text(l.description.as_deref()),
            l.amount.to_string(),
            l.amount.currency().code().to_owned(),
            l.balance_after.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// An amount as the pages show it, with its sign.
pub fn signed_price(amount: &Money, language: &str) -> String {
    let text = price(&amount.abs(), None, language);
    if amount.minor_units() < 0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn each_kind_of_transaction_has_its_name() {
        assert_eq!(LineKind::of(TransactionKind::Purchase, -100), LineKind::Purchase);
        assert_eq!(LineKind::of(TransactionKind::Purchase, 100), LineKind::Earnings);
        assert_eq!(LineKind::of(TransactionKind::GuestPurchase, 100), LineKind::Earnings);
        assert_eq!(LineKind::of(TransactionKind::TopUp, 100), LineKind::TopUp);
        assert_eq!(LineKind::of(TransactionKind::Reversal, -100), LineKind::Refund);
        assert_eq!(LineKind::of(TransactionKind::Earnings, 100), LineKind::Earnings);
        assert_eq!(LineKind::of(TransactionKind::Payout, -100), LineKind::Payout);
        assert_eq!(
            LineKind::of(TransactionKind::PayoutRejected, 100),
            LineKind::PayoutReturned
        );
        assert_eq!(LineKind::Refund.words("fr"), "Remboursement");
    }

    #[test]
    fn ledger_keys_name_what_they_are_about() {
        let id = PaymentId::parse("Xk3f9QpL2mZa").unwrap();
        assert_eq!(KeyRef::of("purchase:Xk3f9QpL2mZa"), KeyRef::Purchase(id.clone()));
        assert_eq!(KeyRef::of("topup:Xk3f9QpL2mZa"), KeyRef::TopUp(id.clone()));
        assert_eq!(KeyRef::of("cancelled:reversal:Xk3f9QpL2mZa:9"), KeyRef::TopUp(id));
        let purchase = PaymentId::parse("Xk3f9QpL2mZa").unwrap();
        assert_eq!(KeyRef::of("refund:Xk3f9QpL2mZa:rfd_1"), KeyRef::Purchase(purchase));
        assert_eq!(LineKind::of(TransactionKind::Refund, 100), LineKind::Refund);
        assert_eq!(KeyRef::of("payout:12"), KeyRef::Payout(12));
        assert_eq!(KeyRef::of("seed"), KeyRef::Nothing);
        assert_eq!(KeyRef::of("purchase:not an id"), KeyRef::Nothing);
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_neutralized_and_quoted() {
        let line = Line {
            transaction_id: 1,
            at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            kind: LineKind::Purchase,
            order_reference: Some("=cmd|' /C calc'!A0".into()),
            seller: Some("@evil".into()),
            description: Some("Book, \"signed\"".into()),
            payout: None,
            amount: eur("-12.50"),
            balance_after: eur("17.50"),
        };
        let text = csv(&[line], "en");
        let row = text.lines().nth(1).unwrap();
        assert!(
            row.contains(",'=cmd|' /C calc'!A0,'@evil,\"Book, \"\"signed\"\"\",-12.50,EUR,17.50"),
            "{row}"
        );
        for bad in ["+1+1", "-1+1", "\t=1", "\r=1"] {
            assert!(neutralized(bad).starts_with('\''), "{bad:?}");
        }
    }

    #[test]
    fn signed_prices_show_the_direction() {
        assert_eq!(signed_price(&eur("-12.50"), "en"), "−€12.50");
        assert_eq!(signed_price(&eur("5.00"), "fr"), "+5,00 €");
    }
}
