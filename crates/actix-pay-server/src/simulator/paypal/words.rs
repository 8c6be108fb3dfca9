//! Labels of the simulated PayPal payment page, in English and French.

use serde::Serialize;

use super::checkout::{Language, PeriodUnit, Recurrence};

/// Words of the payment page.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckoutWords {
    /// Page title.
    pub title: &'static str,
    /// "Seller".
    pub seller: &'static str,
    /// "Item".
    pub item: &'static str,
    /// "Amount".
    pub amount: &'static str,
    /// "Billing".
    pub billing: &'static str,
    /// "One payment".
    pub once: &'static str,
    /// "Invoice".
    pub invoice: &'static str,
    /// The pending eCheck checkbox.
    pub echeck: &'static str,
    /// "Pay".
    pub pay: &'static str,
    /// "Cancel".
    pub cancel: &'static str,
    /// Heading of a delivery failure.
    pub delivery_failed: &'static str,
    /// What happened after a delivery failure.
    pub delivery_failed_hint: &'static str,
}

const EN: CheckoutWords = CheckoutWords {
    title: "Pay with PayPal (simulated)",
    seller: "Seller",
    item: "Item",
    amount: "Amount",
    billing: "Billing",
    once: "One payment",
    invoice: "Invoice",
    echeck: "Simulate a pending eCheck (complete it later from the simulated payments page)",
    pay: "Pay",
    cancel: "Cancel",
    delivery_failed: "The payment notification could not be delivered",
    delivery_failed_hint: "No payment was recorded by the simulator. You can try again.",
};

const FR: CheckoutWords = CheckoutWords {
    title: "Payer avec PayPal (simulé)",
    seller: "Vendeur",
    item: "Article",
    amount: "Montant",
    billing: "Facturation",
    once: "Paiement unique",
    invoice: "Facture",
    echeck: "Simuler un eCheck en attente (à terminer ensuite depuis la page des paiements simulés)",
    pay: "Payer",
    cancel: "Annuler",
    delivery_failed: "La notification de paiement n'a pas pu être remise",
    delivery_failed_hint: "Le simulateur n'a enregistré aucun paiement. Vous pouvez réessayer.",
};

/// The payment page's words in `language`.
pub fn checkout_words(language: Language) -> &'static CheckoutWords {
    match language {
        Language::English => &EN,
        Language::French => &FR,
    }
}

/// How often a subscription bills, in words: "every month", "tous les 3 mois".
///
/// ```
/// use actix_pay_server::simulator::paypal::{Language, PeriodUnit, Recurrence, every};
/// let quarterly = Recurrence { count: 3, unit: PeriodUnit::Month };
/// assert_eq!(every(Language::English, quarterly), "every 3 months");
/// assert_eq!(every(Language::French, quarterly), "tous les 3 mois");
/// ```
pub fn every(language: Language, recurrence: Recurrence) -> String {
    let n = recurrence.count;
    match (language, recurrence.unit, n) {
        (Language::English, unit, 1) => format!("every {}", english_unit(unit)),
        (Language::English, unit, n) => format!("every {n} {}s", english_unit(unit)),
        (Language::French, PeriodUnit::Day, 1) => "tous les jours".to_owned(),
        (Language::French, PeriodUnit::Week, 1) => "toutes les semaines".to_owned(),
        (Language::French, PeriodUnit::Month, 1) => "tous les mois".to_owned(),
        (Language::French, PeriodUnit::Year, 1) => "tous les ans".to_owned(),
        (Language::French, PeriodUnit::Day, n) => format!("tous les {n} jours"),
        (Language::French, PeriodUnit::Week, n) => format!("toutes les {n} semaines"),
        (Language::French, PeriodUnit::Month, n) => format!("tous les {n} mois"),
        (Language::French, PeriodUnit::Year, n) => format!("tous les {n} ans"),
    }
}

fn english_unit(unit: PeriodUnit) -> &'static str {
    match unit {
        PeriodUnit::Day => "day",
        PeriodUnit::Week => "week",
        PeriodUnit::Month => "month",
        PeriodUnit::Year => "year",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_period_is_said_without_a_number() {
        let monthly = Recurrence {
            count: 1,
            unit: PeriodUnit::Month,
        };
        assert_eq!(every(Language::English, monthly), "every month");
        assert_eq!(every(Language::French, monthly), "tous les mois");
        let fortnightly = Recurrence {
            count: 2,
            unit: PeriodUnit::Week,
        };
        assert_eq!(every(Language::English, fortnightly), "every 2 weeks");
        assert_eq!(every(Language::French, fortnightly), "toutes les 2 semaines");
    }
}
