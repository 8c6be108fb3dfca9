//! The simulator's test cards and what the buyer types: card number, expiry date, security code.
//!
//! A full card number lives only in a [`CardNumber`] while the payment form is handled; what survives it is
//! [`CardFacts`] (masked number, BIN, brand, keyed hash), which is all a return or a saved card holds.

use std::fmt;

use chrono::Datelike;
use payment_buttons::cmcic::UsableKey;
use payment_buttons::cmcic::simulator::seal_hex;
use serde::Serialize;
use subtle::ConstantTimeEq;

/// What the simulated bank does with a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBehaviour {
    /// Authorised: `code-retour=paiement` (`payetest` on a test-mode gateway).
    Accepted,
    /// Refused by the issuer: `Annulation`, `motifrefus=Refus`.
    Declined,
    /// Blocked by two fraud filters (card country, card country vs IP country): `Annulation`,
    /// `motifrefus=filtrage`.
    FraudRefused,
    /// Authorised while a fraud filter (card BIN) fired in information mode: `paiement`,
    /// `filtrage_etat=information`.
    FraudInformation,
}

impl CardBehaviour {
    /// True when the payment is authorised.
    pub fn accepted(self) -> bool {
        matches!(self, CardBehaviour::Accepted | CardBehaviour::FraudInformation)
    }
}

/// The documented test cards, as they are printed; any other number is declined.
pub const TEST_CARDS: [(&str, CardBehaviour); 4] = [
    ("4000 0000 0000 0002", CardBehaviour::Accepted),
    ("4000 0000 0000 0010", CardBehaviour::Declined),
    ("4000 0000 0000 0036", CardBehaviour::FraudRefused),
    ("4000 0000 0000 0044", CardBehaviour::FraudInformation),
];

/// Why what the buyer typed is not a usable card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The card number is not 12 to 19 digits.
    #[error("the card number must have 12 to 19 digits")]
    Number,
    /// The expiry date is not a month and a year.
    #[error("the expiry date must be written MM/YY")]
    Expiry,
    /// The card expired before this month.
    #[error("the card has expired")]
    Expired,
    /// The security code is not exactly 3 digits.
    #[error("the security code must be 3 digits")]
    Cvv,
}

/// A full card number, digits only. Its `Debug` shows only the masked form.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Reads a typed number; spaces and dashes between groups of digits are ignored.
    ///
    /// ```
    /// use actix_pay_server::simulator::cmcic::cards::CardNumber;
    /// let card = CardNumber::parse("4000 0000-0000 0002").unwrap();
    /// assert_eq!(card.masked(), "400000******0002");
    /// assert_eq!(format!("{card:?}"), "CardNumber(400000******0002)");
    /// assert!(CardNumber::parse("4000 abcd").is_err());
    /// ```
    pub fn parse(typed: &str) -> Result<Self, CardError> {
        let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CardNumber(digits))
        } else {
            Err(CardError::Number)
        }
    }

    /// What the bank does with this card: the test card's behaviour, else declined.
    pub fn behaviour(&self) -> CardBehaviour {
        TEST_CARDS
            .iter()
            .find(|(printed, _)| printed.chars().filter(char::is_ascii_digit).eq(self.0.chars()))
            .map_or(CardBehaviour::Declined, |(_, behaviour)| *behaviour)
    }

    /// The first 6 and last 4 digits, the others as `*` (`400000******0002`).
    pub fn masked(&self) -> String {
        let hidden = self.0.len() - 10;
        format!("{}{}{}", &self.0[..6], "*".repeat(hidden), &self.0[self.0.len() - 4..])
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

/// What the simulated bank keeps and reports about a card: never the full number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    /// `cbmasquee`: `400000******0002`.
    pub masked: String,
    /// `bincb`: the first 6 digits.
    pub bin: String,
    /// `brand`: `VI`, `MC`, `AM` or `na`.
    pub brand: &'static str,
    /// `originecb`: the issuing country (ISO 3166-1 alpha-3).
    pub country: &'static str,
    /// `hpancb`: a keyed hash of the number, 40 upper-case hex digits.
    pub hashed: String,
    /// What the bank does with it.
    pub behaviour: CardBehaviour,
}

impl CardFacts {
    /// The facts of `card`; `hash_key` keys `hpancb` so that the hash of a real number typed by mistake
    /// cannot be reversed by trying every card number.
    pub fn of(card: &CardNumber, hash_key: &UsableKey) -> Self {
        let behaviour = card.behaviour();
        let brand = match card.0.as_bytes() {
            [b'4', ..] => "VI",
            [b'5', ..] | [b'2', ..] => "MC",
            [b'3', b'4' | b'7', ..] => "AM",
            _ => "na",
        };
        CardFacts {
            masked: card.masked(),
            bin: card.0[..6].to_owned(),
            brand,
            country: if behaviour == CardBehaviour::FraudRefused {
                "USA"
            } else {
                "FRA"
            },
            hashed: seal_hex(hash_key, card.0.as_bytes()).to_ascii_uppercase(),
            behaviour,
        }
    }

    /// The last 4 digits, for "•••• 0002".
    pub fn last_four(&self) -> &str {
        &self.masked[self.masked.len().saturating_sub(4)..]
    }
}

/// An expiry date: month 1 to 12 and a four-digit year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    month: u32,
    year: i32,
}

impl Expiry {
    /// Reads `MM/YY`, `MM/YYYY` or `MMYY` (spaces ignored) and refuses a card that expired before the month
    /// of `today`.
    ///
    /// ```
    /// use actix_pay_server::simulator::cmcic::cards::{CardError, Expiry};
    /// let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    /// assert_eq!(Expiry::parse("12 / 28", today).unwrap().vld(), "1228");
    /// assert_eq!(Expiry::parse("11/2026", today).unwrap().vld(), "1126");
    /// assert_eq!(Expiry::parse("10/26", today), Err(CardError::Expired));
    /// assert_eq!(Expiry::parse("13/28", today), Err(CardError::Expiry));
    /// ```
    pub fn parse(typed: &str, today: chrono::NaiveDate) -> Result<Self, CardError> {
        let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        let (month, year) = match compact.split_once('/') {
            Some(parts) => parts,
            None if compact.len() == 4 => compact.split_at(2),
            None => return Err(CardError::Expiry),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(month) || !all_digits(year) || month.len() > 2 {
            return Err(CardError::Expiry);
        }
        let month: u32 = month.parse().map_err(|_| CardError::Expiry)?;
        let year: i32 = match year.len() {
            2 => 2000 + year.parse::<i32>().map_err(|_| CardError::Expiry)?,
            4 => year.parse().map_err(|_| CardError::Expiry)?,
            _ => return Err(CardError::Expiry),
        };
        if !(1..=12).contains(&month) {
            return Err(CardError::Expiry);
        }
        if (year, month) < (today.year(), today.month()) {
            return Err(CardError::Expired);
        }
        Ok(Expiry { month, year })
    }

    /// `vld`: `MMYY`.
    pub fn vld(&self) -> String {
        format!("{:02}{:02}", self.month, self.year.rem_euclid(100))
    }
}

/// Checks a security code: exactly 3 digits. It is never kept as typed.
pub fn check_cvv(typed: &str) -> Result<(), CardError> {
    let typed = typed.trim();
    if typed.len() == 3 && typed.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CardError::Cvv)
    }
}

/// What the simulated bank keeps of a saved card's security code: a keyed hash, so that a saved card is
/// paid only with the code given when it was saved (as at the bank), while the code itself is not stored.
#[derive(Clone)]
pub struct CvvDigest(String);

impl CvvDigest {
    /// The digest of a well-formed code typed by the buyer.
    pub fn of(typed: &str, hash_key: &UsableKey) -> Result<Self, CardError> {
        check_cvv(typed)?;
        Ok(CvvDigest(seal_hex(hash_key, typed.trim().as_bytes())))
    }

    /// True when `other` is the digest of the same code (compared in constant time).
    pub fn matches(&self, other: &CvvDigest) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for CvvDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CvvDigest(***)")
    }
}

/// A fresh random key for `hpancb` (the keyed hash of a card number) and the security codes' digests,
/// for the life of the process.
pub(super) fn random_hash_key() -> UsableKey {
    use rand::Rng;
    let hex_key = hex::encode_upper(rand::rng().random::<[u8; 20]>());
    UsableKey::from_merchant_key(&hex_key).expect("40 hexadecimal digits are always a valid key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_key() -> UsableKey {
        UsableKey::from_merchant_key("00112233445566778899AABBCCDDEEFF00112233").unwrap()
    }

    #[test]
    fn each_documented_card_has_its_behaviour_and_others_are_declined() {
        for (printed, behaviour) in TEST_CARDS {
            assert_eq!(CardNumber::parse(printed).unwrap().behaviour(), behaviour, "{printed}");
        }
        assert_eq!(
            CardNumber::parse("4970101234567890").unwrap().behaviour(),
            CardBehaviour::Declined
        );
        assert_eq!(
            CardNumber::parse("40000000000000020").unwrap().behaviour(),
            CardBehaviour::Declined
        );
    }

    #[test]
    fn facts_never_hold_the_full_number() {
        let card = CardNumber::parse("4000000000000044").unwrap();
        let facts = CardFacts::of(&card, &hash_key());
        let printed = format!("{facts:?}");
        assert!(!printed.contains("4000000000000044"));
        assert_eq!(facts.masked, "400000******0044");
        assert_eq!(facts.bin, "400000");
        assert_eq!(facts.brand, "VI");
        assert_eq!(facts.last_four(), "0044");
        assert_eq!(facts.hashed.len(), 40);
        assert_ne!(facts.hashed, hex::encode_upper(b"4000000000000044"));
    }

    #[test]
    fn the_card_hash_depends_on_the_key_and_the_number() {
        let card = CardNumber::parse("4000000000000002").unwrap();
        let other_key = UsableKey::from_merchant_key("FFEEDDCCBBAA99887766554433221100FFEEDDCC").unwrap();
        let facts = CardFacts::of(&card, &hash_key());
        assert_eq!(facts.hashed, CardFacts::of(&card, &hash_key()).hashed);
        assert_ne!(facts.hashed, CardFacts::of(&card, &other_key).hashed);
        let other_card = CardNumber::parse("4000000000000010").unwrap();
        assert_ne!(facts.hashed, CardFacts::of(&other_card, &hash_key()).hashed);
    }

    #[test]
    fn a_saved_security_code_matches_only_itself() {
        let key = hash_key();
        let saved = CvvDigest::of("123", &key).unwrap();
        assert!(saved.matches(&CvvDigest::of(" 123 ", &key).unwrap()));
        assert!(!saved.matches(&CvvDigest::of("124", &key).unwrap()));
        assert_eq!(format!("{saved:?}"), "CvvDigest(***)");
    }

    #[test]
    fn malformed_numbers_dates_and_codes_are_named() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert_eq!(CardNumber::parse("12345678901"), Err(CardError::Number));
        assert_eq!(CardNumber::parse(""), Err(CardError::Number));
        assert_eq!(CardNumber::parse("٤٠٠٠٠٠٠٠٠٠٠٠٠٠٠٢"), Err(CardError::Number));
        assert_eq!(Expiry::parse("", today), Err(CardError::Expiry));
        assert_eq!(Expiry::parse("1/2", today), Err(CardError::Expiry));
        assert_eq!(Expiry::parse("00/28", today), Err(CardError::Expiry));
        assert_eq!(Expiry::parse("1228", today).unwrap().vld(), "1228");
        assert_eq!(Expiry::parse("3/27", today).unwrap().vld(), "0327");
        assert_eq!(check_cvv("12"), Err(CardError::Cvv));
        assert_eq!(check_cvv("1234"), Err(CardError::Cvv));
        assert_eq!(check_cvv("12a"), Err(CardError::Cvv));
        assert_eq!(check_cvv(" 123 "), Ok(()));
    }
}
