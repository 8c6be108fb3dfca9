//! The payment form: the fields the buyer's browser posts to the bank, sealed.
//!
//! Every sealed value is kept ASCII: the bank seals bytes and does not say which charset it decodes our
//! form with, so a non-ASCII value would make the seal depend on the browser. Names and addresses travel
//! inside `contexte_commande` (base64) instead.

use super::billing::{self, Billing};
use super::config::{CmcicConfig, VERSION};
use super::mac::{self, MAC_FIELD, Protocol};
use crate::gateway::{GatewayError, PaymentRequest};
use crate::urlencoded::FormFields;

/// The languages of the bank's pages (`lgue`); others fall back to French.
const LANGUAGES: [&str; 9] = ["FR", "EN", "DE", "IT", "ES", "NL", "PT", "JA", "SV"];

/// Longest part of the order reference copied into `texte-libre`.
const TEXTE_LIBRE_ORDER_MAX: usize = 64;

/// `lgue` for a button language (`fr` → `FR`); French when the bank's pages do not exist in it.
pub(crate) fn lgue(language: &str) -> &'static str {
    let upper = language.to_ascii_uppercase();
    LANGUAGES.into_iter().find(|l| *l == upper).unwrap_or("FR")
}

/// `texte-libre`: our payment id and the shop's order reference, reduced to a safe ASCII alphabet
/// (other characters become `_`) so that the seal never depends on a charset.
pub(crate) fn texte_libre(payment_id: &str, order_reference: &str) -> String {
    let order = ascii_safe(order_reference, TEXTE_LIBRE_ORDER_MAX);
    format!("payment={payment_id};order={order}")
}

/// The first `max` characters of `text` in a safe ASCII alphabet (others become `_`), for sealed free text.
pub(crate) fn ascii_safe(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '#') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Builds the sealed fields of a payment, in the order they are posted (`MAC` last).
pub(crate) fn build(config: &CmcicConfig, request: &PaymentRequest<'_>) -> Result<Vec<(String, String)>, GatewayError> {
    let option = request.option();
    if let Some(months) = option.recurrence_months() {
        return Err(GatewayError::Unsupported(format!(
            "cmcic has no subscriptions in this protocol (options[{}].recurrence_months = {months})",
            request.option_index
        )));
    }
    let button = request.button;
    let amount = option.amount();
    let status_url = request.urls.status(request.payment_id);
    // Neither e-mail is required by the bank; a non-ASCII one (internationalised address) is left out
    // rather than sealed in an unknown charset.
    let email = request
        .buyer_email
        .or(button.email().map(|e| e.as_str()))
        .filter(|e| e.is_ascii());
    // Express Payment only for a buyer someone vouched for: an e-mail anyone can type never names a card.
    let express = request.identity.map(|who| config.alias_key().alias_for(who));

    let mut fields: Vec<(String, String)> = vec![
        ("TPE".into(), config.tpe().to_owned()),
        (
            "date".into(),
            request.created_at.format("%d/%m/%Y:%H:%M:%S").to_string(),
        ),
        ("montant".into(), format!("{amount}{}", amount.currency().code())),
        ("reference".into(), request.payment_id.as_str().to_owned()),
        (
            "texte-libre".into(),
            texte_libre(request.payment_id.as_str(), button.order_reference()),
        ),
        ("version".into(), VERSION.into()),
        ("lgue".into(), lgue(button.language().as_str()).into()),
        ("societe".into(), config.societe().to_owned()),
        ("mail".into(), email.unwrap_or_default().to_owned()),
    ];
    match config.protocol() {
        Protocol::Monetico => {
            let billing = billing::from_button(button)
                .map_err(|e| GatewayError::Configuration(e.to_string()))?
                .unwrap_or_else(|| Billing::country_only(config.default_country()));
            fields.push(("contexte_commande".into(), billing.contexte_commande()));
            if let Some(alias) = express {
                fields.push(("aliascb".into(), alias));
                fields.push(("forcesaisiecb".into(), "1".into()));
            }
        }
        Protocol::Legacy => {
            // The positional seal covers these even when empty; the bank expects them all.
            for name in mac::LEGACY_REQUEST_POSITIONS.iter().skip(9).take(9) {
                fields.push(((*name).into(), String::new()));
            }
            let options = express
                .map(|alias| format!("aliascb={alias}&forcesaisiecb=1"))
                .unwrap_or_default();
            fields.push(("options".into(), options));
            fields.push(("url_retour".into(), status_url.clone()));
        }
    }
    fields.push(("url_retour_ok".into(), status_url.clone()));
    fields.push(("url_retour_err".into(), status_url));

    if let Some((name, _)) = fields.iter().find(|(_, v)| !v.is_ascii()) {
        return Err(GatewayError::Configuration(format!(
            "cmcic: the sealed field {name} would not be ASCII (check server.public_url and the cmcic settings)"
        )));
    }
    let seal = request_seal(config, &fields);
    fields.push((MAC_FIELD.into(), seal));
    Ok(fields)
}

/// The seal of a request's fields (a `MAC` among them is ignored), lower-case hex.
pub fn request_seal(config: &CmcicConfig, fields: &[(String, String)]) -> String {
    let form = to_form(fields);
    let input = match config.protocol() {
        Protocol::Monetico => mac::monetico_input(&form),
        Protocol::Legacy => mac::legacy_request_input(&form),
    };
    mac::seal_hex(config.key(), &input)
}

/// True when the request's `MAC` field seals its other fields (what the bank checks; the simulator uses
/// it to refuse forms that the bank would refuse).
#[cfg(feature = "simulator")]
pub(crate) fn request_seal_matches(config: &CmcicConfig, fields: &[(String, String)]) -> bool {
    let form = to_form(fields);
    let Some(received) = form.get(MAC_FIELD) else {
        return false;
    };
    let input = match config.protocol() {
        Protocol::Monetico => mac::monetico_input(&form),
        Protocol::Legacy => mac::legacy_request_input(&form),
    };
    mac::seal_matches(config.key(), &input, received)
}

fn to_form(fields: &[(String, String)]) -> FormFields {
    let mut form = FormFields::new();
    for (name, value) in fields {
        form.push(name.as_bytes(), value.as_bytes());
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texte_libre_is_ascii_whatever_the_order_reference() {
        let t = texte_libre("Xk3f9QpL2mZa", "Commande n°42 «café»*=&");
        assert!(t.is_ascii());
        assert_eq!(t, "payment=Xk3f9QpL2mZa;order=Commande_n_42__caf_____");
    }

    #[test]
    fn lgue_covers_the_bank_languages_and_defaults_to_french() {
        for (lang, expected) in [
            ("fr", "FR"),
            ("en", "EN"),
            ("ja", "JA"),
            ("sv", "SV"),
            ("pt", "PT"),
            ("de", "DE"),
            ("zh", "FR"),
            ("pl", "FR"),
        ] {
            assert_eq!(lgue(lang), expected);
        }
    }
}
