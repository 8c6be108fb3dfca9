//! The hand-off form: the fields of PayPal Payments Standard "Buy Now" (`_xclick`) and "Subscribe"
//! (`_xclick-subscriptions`) buttons.

use crate::button::{ButtonConfig, Email, Language};
use crate::gateway::{GatewayError, PaymentRequest};

use super::config::PaypalConfig;
use super::currency::format_amount;

/// The button's PayPal block key holding the receiver's address.
pub(crate) const PAYPAL_EMAIL: &str = "paypal_email";

/// The PayPal account that receives a button's payments: the button's `payment_options.paypal.paypal_email`,
/// or else the configured `paypal.business`.
pub(crate) fn receiver_for(config: &PaypalConfig, button: &ButtonConfig) -> Result<Email, GatewayError> {
    let from_button = button
        .payment_option("paypal")
        .and_then(|block| block.get(PAYPAL_EMAIL));
    match from_button {
        Some(serde_json::Value::String(email)) => Email::parse(email)
            .map_err(|reason| GatewayError::Configuration(format!("payment_options.paypal.{PAYPAL_EMAIL}: {reason}"))),
        None | Some(serde_json::Value::Null) => config.business().cloned().ok_or_else(|| {
            GatewayError::Configuration(format!(
                "no PayPal receiver: set payment_options.paypal.{PAYPAL_EMAIL} in the button or paypal.business in the configuration"
            ))
        }),
        Some(_) => Err(GatewayError::Configuration(format!("payment_options.paypal.{PAYPAL_EMAIL}: must be a string"))),
    }
}

/// PayPal's `lc` (language of its checkout pages) for a button language; United States English otherwise.
///
/// PayPal takes a country code for the languages it localises by country, and a `ll_CC` locale for the others.
pub(crate) fn paypal_locale(language: &Language) -> &'static str {
    match language.as_str() {
        "fr" => "FR",
        "de" => "DE",
        "es" => "ES",
        "it" => "IT",
        "nl" => "NL",
        "pl" => "PL",
        "pt" => "PT",
        "ru" => "RU",
        "zh" => "CN",
        "da" => "da_DK",
        "he" => "he_IL",
        "id" => "id_ID",
        "ja" => "ja_JP",
        "nb" | "no" => "no_NO",
        "sv" => "sv_SE",
        "th" => "th_TH",
        _ => "US",
    }
}

/// The fields of the form that sends the buyer to PayPal, in the order they are sent.
///
/// `custom` carries our payment id, never the shop's data: PayPal echoes it in every IPN, and the shop's
/// custom fields are kept with the payment instead.
pub(crate) fn form_fields(
    config: &PaypalConfig,
    request: &PaymentRequest<'_>,
) -> Result<Vec<(String, String)>, GatewayError> {
    let option = request.option();
    let business = receiver_for(config, request.button)?;
    let amount = format_amount(option.amount())
        .map_err(|reason| GatewayError::Unsupported(format!("options[{}]: {reason}", request.option_index)))?;
    let payment_id = request.payment_id.as_str();
    let status_url = request.urls.status(request.payment_id);

    let mut fields: Vec<(&str, String)> = Vec::with_capacity(20);
    match option.recurrence_months() {
        None => {
            fields.push(("cmd", "_xclick".into()));
            fields.push(("business", business.as_str().into()));
            fields.push(("item_name", option.description().into()));
            fields.push(("amount", amount));
        }
        Some(months) => {
            fields.push(("cmd", "_xclick-subscriptions".into()));
            fields.push(("business", business.as_str().into()));
            fields.push(("item_name", option.description().into()));
            fields.push(("a3", amount));
            fields.push(("p3", months.to_string()));
            fields.push(("t3", "M".into()));
            // Recurring until cancelled, with PayPal's automatic re-attempts of failed cycles.
            fields.push(("src", "1".into()));
            fields.push(("sra", "1".into()));
            // PayPal requires subscriptions to disable the buyer's note.
            fields.push(("no_note", "1".into()));
        }
    }
    fields.push(("currency_code", option.amount().currency().code().into()));
    fields.push(("invoice", payment_id.into()));
    fields.push(("custom", payment_id.into()));
    fields.push(("notify_url", request.urls.notify("paypal")));
    fields.push(("return", status_url));
    fields.push(("cancel_return", request.urls.status_cancelled(request.payment_id)));
    // The status page is a GET page that learns the outcome from the IPN, not from the return request.
    fields.push(("rm", "1".into()));
    fields.push(("lc", paypal_locale(request.button.language()).into()));
    fields.push(("charset", "utf-8".into()));
    fields.push(("no_shipping", "1".into()));
    if let Some(logo) = config.logo_url() {
        fields.push(("image_url", logo.into()));
    }
    Ok(fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn languages_map_to_a_country_or_a_locale_and_us_otherwise() {
        use super::paypal_locale;
        use crate::button::Language;
        assert_eq!(paypal_locale(&Language::parse("fr").unwrap()), "FR");
        assert_eq!(paypal_locale(&Language::parse("ja").unwrap()), "ja_JP");
        assert_eq!(paypal_locale(&Language::parse("eo").unwrap()), "US");
    }
}
