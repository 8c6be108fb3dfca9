//! The payment form a merchant's page posts to the simulated bank, once its seal has been checked.

use payment_buttons::cmcic::CmcicConfig;
use payment_buttons::cmcic::simulator::parse_montant;
use payment_buttons::money::Money;
use payment_buttons::urlencoded::FormFields;

/// Why a sealed payment form cannot be paid. The merchant sealed it, so the message may name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A required field is absent or empty.
    #[error("the payment form has no {0}")]
    Missing(&'static str),
    /// `TPE` is not the configured terminal.
    #[error("the payment form's TPE is not this merchant's terminal")]
    UnknownTpe,
    /// `montant` is not an amount followed by a currency code.
    #[error("montant must be an amount followed by a currency code, such as 12.50EUR")]
    Montant,
    /// A return URL is not an absolute http(s) URL.
    #[error("{0} must be an absolute http or https URL")]
    ReturnUrl(&'static str),
    /// `aliascb` is not 1 to 64 letters or digits.
    #[error("aliascb must be 1 to 64 letters or digits")]
    Alias,
}

/// A sealed payment form, read.
#[derive(Debug, Clone)]
pub struct PaymentForm {
    /// `TPE`.
    pub tpe: String,
    /// `montant` as posted (`12.50EUR`): the return repeats it byte for byte.
    pub montant: String,
    /// `montant`, read.
    pub amount: Money,
    /// `reference`.
    pub reference: String,
    /// `texte-libre`, repeated in the return.
    pub texte_libre: String,
    /// The day of `date` (`dd/mm/yyyy`), which a refund quotes as `date_commande`; empty when absent.
    pub order_day: String,
    /// `societe`: the merchant's site code, shown to the buyer.
    pub societe: String,
    /// The page language: `fr` when `lgue` is `FR`, else `en`.
    pub language: &'static str,
    /// `aliascb`: Express Payment, the name the buyer's card is saved under.
    pub alias: Option<String>,
    /// `url_retour_ok`: where an accepted buyer goes.
    pub url_ok: String,
    /// `url_retour_err`: where a declined buyer goes.
    pub url_err: String,
}

/// The page language for `lgue`: French for `FR`, English otherwise (the simulator has two languages).
pub fn language(lgue: Option<&str>) -> &'static str {
    if lgue.is_some_and(|l| l.eq_ignore_ascii_case("FR")) {
        "fr"
    } else {
        "en"
    }
}

impl PaymentForm {
    /// Reads the fields of a form whose seal is valid.
    pub fn read(fields: &[(String, String)], config: &CmcicConfig) -> Result<Self, FormError> {
        let value = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let required = |name: &'static str| value(name).filter(|v| !v.is_empty()).ok_or(FormError::Missing(name));
        let tpe = required("TPE")?;
        if tpe != config.tpe() {
            return Err(FormError::UnknownTpe);
        }
        let montant = required("montant")?;
        let amount = parse_montant(montant).ok_or(FormError::Montant)?;
        let return_url = |name: &'static str| {
            let url = required(name)?;
            match url::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(url.to_owned()),
                _ => Err(FormError::ReturnUrl(name)),
            }
        };
        // The current protocol posts aliascb as a field; CM-CIC v3.0 posts it inside `options`.
        let alias = match value("aliascb") {
            Some(alias) => Some(alias.to_owned()),
            None => value("options").and_then(|options| {
                FormFields::parse(options.as_bytes())
                    .get_str("aliascb")
                    .map(str::to_owned)
            }),
        }
        .filter(|alias| !alias.is_empty());
        if let Some(alias) = &alias
            && (alias.len() > 64 || !alias.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(FormError::Alias);
        }
        Ok(PaymentForm {
            tpe: tpe.to_owned(),
            montant: montant.to_owned(),
            amount,
            reference: required("reference")?.to_owned(),
            texte_libre: value("texte-libre").unwrap_or_default().to_owned(),
            order_day: value("date").and_then(|d| d.get(..10)).unwrap_or_default().to_owned(),
            societe: value("societe").unwrap_or_default().to_owned(),
            language: language(value("lgue")),
            alias,
            url_ok: return_url("url_retour_ok")?,
            url_err: return_url("url_retour_err")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_buttons::cmcic::CmcicMode;
    use payment_buttons::cmcic::UsableKey;

    fn config() -> CmcicConfig {
        let key = UsableKey::from_merchant_key("0123456789ABCDEF0123456789ABCDEF012345AM").unwrap();
        CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1").unwrap()
    }

    fn fields(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut base = vec![
            ("TPE", "1234567"),
            ("montant", "12.50EUR"),
            ("reference", "Xk3f9QpL2mZa"),
            ("lgue", "FR"),
            ("url_retour_ok", "https://pay.example/payments/Xk3f9QpL2mZa"),
            ("url_retour_err", "https://pay.example/payments/Xk3f9QpL2mZa"),
        ];
        for (name, value) in extra {
            match base.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => base.push((name, value)),
            }
        }
        base.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect()
    }

    #[test]
    fn a_complete_form_reads_with_its_language_and_amount() {
        let form = PaymentForm::read(&fields(&[]), &config()).unwrap();
        assert_eq!(form.language, "fr");
        assert_eq!(form.amount.minor_units(), 1250);
        assert_eq!(form.alias, None);
        let english = PaymentForm::read(&fields(&[("lgue", "DE")]), &config()).unwrap();
        assert_eq!(english.language, "en");
    }

    #[test]
    fn the_alias_comes_from_aliascb_or_from_legacy_options() {
        let current = PaymentForm::read(&fields(&[("aliascb", "abc123")]), &config()).unwrap();
        assert_eq!(current.alias.as_deref(), Some("abc123"));
        let legacy = fields(&[("options", "aliascb=def456&forcesaisiecb=1")]);
        assert_eq!(
            PaymentForm::read(&legacy, &config()).unwrap().alias.as_deref(),
            Some("def456")
        );
        let bad = fields(&[("aliascb", "not an alias")]);
        assert_eq!(PaymentForm::read(&bad, &config()).unwrap_err(), FormError::Alias);
    }

    #[test]
    fn unusable_forms_name_what_is_wrong() {
        let cases = [
            (fields(&[("TPE", "7654321")]), FormError::UnknownTpe),
            (fields(&[("montant", "12,50EUR")]), FormError::Montant),
            (fields(&[("reference", "")]), FormError::Missing("reference")),
            (
                fields(&[("url_retour_ok", "javascript:alert(1)")]),
                FormError::ReturnUrl("url_retour_ok"),
            ),
            (
                fields(&[("url_retour_err", "/relative")]),
                FormError::ReturnUrl("url_retour_err"),
            ),
        ];
        for (form, expected) in cases {
            assert_eq!(PaymentForm::read(&form, &config()).unwrap_err(), expected);
        }
    }
}
