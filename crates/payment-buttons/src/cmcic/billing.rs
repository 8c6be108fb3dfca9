//! The button's `payment_options.cmcic` block and the `contexte_commande` built from it.
//!
//! 3-D Secure 2 asks the merchant for the buyer's billing address. The bank takes it inside
//! `contexte_commande`: base64 of UTF-8 JSON, so names and addresses may hold any character while every
//! sealed value stays ASCII.

use base64::Engine;
use serde::Serialize;

use crate::button::{ButtonConfig, ButtonError};

/// Longest address line and city the bank takes.
const MAX_LINE: usize = 50;
/// Longest postal code the bank takes.
const MAX_POSTAL_CODE: usize = 10;

/// A billing address, as the bank names its parts inside `contexte_commande`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Billing {
    /// Street and number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl Billing {
    /// The fallback when a button gives no billing address: the configured default country only.
    pub fn country_only(country: &str) -> Self {
        Billing {
            address_line1: None,
            city: None,
            postal_code: None,
            country: country.to_owned(),
        }
    }

    /// `contexte_commande`: base64 (standard alphabet, padded) of `{"billing": {...}}` in UTF-8.
    pub fn contexte_commande(&self) -> String {
        #[derive(Serialize)]
        struct Context<'a> {
            billing: &'a Billing,
        }
        // Serializing plain strings into a Vec cannot fail; an empty context would only make the bank ask.
        let json = serde_json::to_vec(&Context { billing: self }).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

/// Checks a button's `payment_options.cmcic` block: only `billing` is allowed, and it must hold the four
/// parts `address_line1`, `city`, `postal_code` and `country` (two upper-case letters). Returns the billing
/// address when there is one.
pub(crate) fn from_button(button: &ButtonConfig) -> Result<Option<Billing>, ButtonError> {
    let Some(block) = button.payment_option("cmcic") else {
        return Ok(None);
    };
    if let Some(unknown) = block.keys().find(|k| k.as_str() != "billing") {
        return Err(ButtonError::new(
            format!("payment_options.cmcic.{unknown}"),
            "unknown setting (cmcic takes only \"billing\")",
        ));
    }
    let Some(billing) = block.get("billing") else {
        return Ok(None);
    };
    let serde_json::Value::Object(parts) = billing else {
        return Err(ButtonError::new("payment_options.cmcic.billing", "must be an object"));
    };
    const PARTS: [&str; 4] = ["address_line1", "city", "postal_code", "country"];
    if let Some(unknown) = parts.keys().find(|k| !PARTS.contains(&k.as_str())) {
        return Err(ButtonError::new(
            format!("payment_options.cmcic.billing.{unknown}"),
            "unknown field (expected address_line1, city, postal_code, country)",
        ));
    }
    let part = |name: &str, max: usize| -> Result<String, ButtonError> {
        let field = format!("payment_options.cmcic.billing.{name}");
        let value = match parts.get(name) {
            Some(serde_json::Value::String(s)) => s.trim(),
            Some(_) => return Err(ButtonError::new(field, "must be a string")),
            None => return Err(ButtonError::new(field, "is required")),
        };
        if value.is_empty() {
            return Err(ButtonError::new(field, "must not be empty"));
        }
        if value.chars().count() > max {
            return Err(ButtonError::new(field, format!("longer than {max} characters")));
        }
        if value.chars().any(char::is_control) {
            return Err(ButtonError::new(field, "contains control characters"));
        }
        Ok(value.to_owned())
    };
    let country = part("country", 2)?;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ButtonError::new(
            "payment_options.cmcic.billing.country",
            "expected an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    Ok(Some(Billing {
        address_line1: Some(part("address_line1", MAX_LINE)?),
        city: Some(part("city", MAX_LINE)?),
        postal_code: Some(part("postal_code", MAX_POSTAL_CODE)?),
        country,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn contexte_commande_is_base64_of_the_billing_json() {
        use super::Billing;
        use base64::Engine;
        let context = Billing::country_only("FR").contexte_commande();
        let json = base64::engine::general_purpose::STANDARD.decode(context).unwrap();
        assert_eq!(json, br#"{"billing":{"country":"FR"}}"#);
    }
}
