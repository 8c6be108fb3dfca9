//! The button configuration: what a shop says it sells, for how much, through which gateways.
//!
//! Parsing is validation: a [`ButtonConfig`] that exists is a valid one. It (de)serializes with serde in
//! the JSON form that `POST /api/buttons` of the server takes (the repository's `docs/api.md` lists it
//! field by field), so services in other languages can send it.
//!
//! ```
//! use payment_buttons::button::ButtonConfig;
//! let config: ButtonConfig = serde_json::from_str(r#"{
//!   "order_reference": "ORDER-1042",
//!   "options": [{ "description": "Manual, PDF", "amount": "12.50", "currency": "EUR" }],
//!   "payment_options": { "paypal": { "paypal_email": "seller@example.com" } },
//!   "urls": { "back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
//!             "declined": "https://shop.example/sorry" }
//! }"#).unwrap();
//! assert_eq!(config.options()[0].amount().to_string(), "12.50");
//! assert_eq!(config.language().as_str(), "en");
//!
//! let err = serde_json::from_str::<ButtonConfig>(r#"{ "order_reference": "X", "options": [] }"#);
//! assert!(err.is_err());
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// Limits on what a button may carry. Generous for shops, small enough for a signed token in a form.
pub mod limits {
    /// Longest order reference.
    pub const ORDER_REFERENCE: usize = 64;
    /// Longest buying option description (PayPal's `item_name` limit).
    pub const DESCRIPTION: usize = 127;
    /// Most buying options in one button.
    pub const OPTIONS: usize = 20;
    /// Most custom fields per buying option.
    pub const CUSTOM_FIELDS: usize = 20;
    /// Longest custom field name.
    pub const CUSTOM_KEY: usize = 64;
    /// Longest custom field value.
    pub const CUSTOM_VALUE: usize = 256;
    /// Longest button text.
    pub const TEXT: usize = 100;
    /// Longest URL.
    pub const URL: usize = 2000;
    /// Longest e-mail address (RFC 5321 path limit).
    pub const EMAIL: usize = 254;
    /// Longest recurrence, in months.
    pub const RECURRENCE_MONTHS: u8 = 24;
    /// Longest shop customer identifier.
    pub const CUSTOMER_ID: usize = 64;
}

/// Why a button configuration was refused. Each error names the field (a JSON path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ButtonError {
    /// The field, as a path into the JSON (`options[1].amount`).
    pub field: String,
    /// What is wrong, in words.
    pub reason: String,
}

impl ButtonError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ButtonError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A validated e-mail address (plausible shape, not deliverability). Compared case-insensitively by gateways.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` shapes without spaces or control characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() > limits::EMAIL {
            return Err(format!("longer than {} characters", limits::EMAIL));
        }
        let (local, domain) = s.split_once('@').ok_or("not an e-mail address (no @)")?;
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';' | '@');
        if local.is_empty() || local.chars().any(bad_char) {
            return Err("not an e-mail address (local part)".into());
        }
        if domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || domain.chars().any(bad_char)
        {
            return Err("not an e-mail address (domain)".into());
        }
        Ok(Email(s.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form a store indexes to find a buyer's payments: ASCII letters folded to lower case (buyers and
    /// operators type the same address in any case), every other character as given. One definition, so
    /// that what is written and what is searched for always agree.
    pub fn search_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The shop's own stable identifier of a signed-in customer: 1 to 64 characters of `[A-Za-z0-9._:@-]`.
///
/// The shop vouches for it by signing it into the button, so it is the one thing, besides an account this
/// service signed in, that a saved card may be keyed on — never the e-mail, which anyone can type.
///
/// ```
/// use payment_buttons::button::CustomerId;
/// assert!(CustomerId::parse("customer-42").is_ok());
/// assert!(CustomerId::parse("").is_err());
/// assert!(CustomerId::parse("a b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerId(String);

impl CustomerId {
    /// Accepts 1 to 64 characters of `[A-Za-z0-9._:@-]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-');
        if s.is_empty() || s.len() > limits::CUSTOMER_ID {
            return Err(format!("must have 1 to {} characters", limits::CUSTOMER_ID));
        }
        if !s.bytes().all(allowed) {
            return Err("only letters, digits and . _ : @ - are allowed".into());
        }
        Ok(CustomerId(s.to_owned()))
    }

    /// The identifier as the shop gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Accepts absolute http(s) URLs with a host.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > limits::URL {
            return Err(format!("longer than {} characters", limits::URL));
        }
        let url = url::Url::parse(s).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https URLs are allowed".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the URL has no host".into());
        }
        Ok(HttpUrl(s.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language: the lower-case primary subtag of a BCP 47 tag (`en`, `fr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// Accepts 2 or 3 lower-case ASCII letters.
    pub fn parse(s: &str) -> Result<Self, String> {
        if (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Language(s.to_owned()))
        } else {
            Err("expected a lower-case language code such as \"en\" or \"fr\"".into())
        }
    }

    /// English, the default.
    pub fn english() -> Self {
        Language("en".into())
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One thing the buyer can choose to buy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyingOption {
    description: String,
    amount: Money,
    recurrence_months: Option<u8>,
    custom: BTreeMap<String, String>,
}

impl BuyingOption {
    /// Short description shown to the buyer and to the gateway.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Price (per period for a subscription).
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// `Some(n)`: a subscription charged every `n` months.
    pub fn recurrence_months(&self) -> Option<u8> {
        self.recurrence_months
    }
    /// Shop-defined fields identifying the product (string values only), passed back verbatim.
    pub fn custom(&self) -> &BTreeMap<String, String> {
        &self.custom
    }
}

/// Where the buyer goes after the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    back: HttpUrl,
    accepted: HttpUrl,
    declined: HttpUrl,
}

impl Urls {
    /// Back to the shop (cancelled, or nothing happened).
    pub fn back(&self) -> &HttpUrl {
        &self.back
    }
    /// After an accepted payment.
    pub fn accepted(&self) -> &HttpUrl {
        &self.accepted
    }
    /// After a declined payment.
    pub fn declined(&self) -> &HttpUrl {
        &self.declined
    }
}

/// A complete, valid button configuration. See the module documentation.
///
/// `payment_options` maps a payment method name (`paypal`, `cmcic`, `librement`, ...) to that method's own
/// settings. This type checks their shape (a JSON object each); each gateway checks its own settings when
/// a button is signed or used (see [`crate::gateway::Gateways::check_button`]).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "wire::ButtonConfigWire", into = "wire::ButtonConfigWire")]
pub struct ButtonConfig {
    order_date: DateTime<Utc>,
    order_reference: String,
    email: Option<Email>,
    customer_id: Option<CustomerId>,
    language: Language,
    options: Vec<BuyingOption>,
    payment_options: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    image_url: Option<HttpUrl>,
    text: Option<String>,
    urls: Urls,
}

impl ButtonConfig {
    /// Parses and validates the JSON form.
    pub fn from_json(json: &str) -> Result<Self, ButtonError> {
        let wire: wire::ButtonConfigWire = serde_json::from_str(json).map_err(|e| {
            // serde's messages name unknown fields and wrong types; they never contain secrets.
            ButtonError::new(wire::guess_field(&e.to_string()), e.to_string())
        })?;
        ButtonConfig::try_from(wire)
    }

    /// The order date (defaults to the time the configuration was parsed).
    pub fn order_date(&self) -> DateTime<Utc> {
        self.order_date
    }
    /// The shop's order reference.
    pub fn order_reference(&self) -> &str {
        &self.order_reference
    }
    /// The buyer's e-mail, when the shop knows it.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
    /// The shop's identifier of the signed-in customer, when the shop vouches for one.
    pub fn customer_id(&self) -> Option<&CustomerId> {
        self.customer_id.as_ref()
    }
    /// The language of the button and of the gateway pages.
    pub fn language(&self) -> &Language {
        &self.language
    }
    /// The buying options (at least one).
    pub fn options(&self) -> &[BuyingOption] {
        &self.options
    }
    /// The payment methods offered, by name, with their settings.
    pub fn payment_options(&self) -> &BTreeMap<String, serde_json::Map<String, serde_json::Value>> {
        &self.payment_options
    }
    /// Settings of one payment method, when it is offered.
    pub fn payment_option(&self, name: &str) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.payment_options.get(name)
    }
    /// The button image, when the button is an image.
    pub fn image_url(&self) -> Option<&HttpUrl> {
        self.image_url.as_ref()
    }
    /// The button text (the image's alt text for image buttons); `None` = the language's default.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    /// Return URLs.
    pub fn urls(&self) -> &Urls {
        &self.urls
    }
    /// True when any option recurs.
    pub fn has_recurring_option(&self) -> bool {
        self.options.iter().any(|o| o.recurrence_months.is_some())
    }
    /// The canonical JSON, as stored with payments and sent in events.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The serde form, kept apart so that only validated values become [`ButtonConfig`]s.
pub(crate) mod wire {
    use super::*;

    /// A payment button: what the shop sells, for how much, through which payment methods, and where
    /// the buyer goes afterwards. Unknown keys are refused.
    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ButtonConfig))]
    pub struct ButtonConfigWire {
        /// When the order was placed, RFC 3339. Default: when the button is signed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub order_date: Option<DateTime<Utc>>,
        /// The shop's own reference of the order, given back with every event.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64, example = "ORDER-1042"))]
        pub order_reference: String,
        /// The buyer's e-mail address when the shop knows it: it prefills the gateways' pages. Never an
        /// identity: a saved card is never keyed on it.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 254, example = "buyer@example.org"))]
        pub email: Option<String>,
        /// The shop's own stable identifier of a signed-in customer: the only thing, besides an account
        /// signed in on this service, that a card saved at CM-CIC (Express Payment) may be keyed on.
        // Skipped when absent so that buttons without one serialize exactly as before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:@-]{1,64}$"))]
        pub customer_id: Option<String>,
        /// The language of the button and of the gateways' pages: a lower-case primary language tag.
        /// Default: `en`. The button speaks English and French; other languages get English words.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z]{2,3}$", example = "fr"))]
        pub language: Option<String>,
        /// What the buyer can choose to buy: at least one option.
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 20))]
        pub options: Vec<BuyingOptionWire>,
        /// The payment methods offered, by name (`paypal`, `cmcic`, `librement`), each with its own
        /// settings: an object, possibly empty (`null` is read as empty). At least one.
        #[cfg_attr(feature = "openapi", schema(schema_with = openapi::payment_options))]
        pub payment_options: BTreeMap<String, serde_json::Value>,
        /// An image to show instead of a text button (absolute http or https URL).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
        pub image_url: Option<String>,
        /// The button's text (the image's alternative text for an image button). Default: the
        /// language's word for "Pay".
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, example = "Pay"))]
        pub text: Option<String>,
        /// Where the buyer goes after the payment.
        pub urls: UrlsWire,
    }

    /// One thing the buyer can choose to buy.
    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BuyingOption))]
    pub struct BuyingOptionWire {
        /// Shown to the buyer and sent to the gateway.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 127, example = "Manual, PDF")
        )]
        pub description: String,
        /// The price (per period for a subscription) as a decimal string, never a JSON number: at most as
        /// many decimals as the currency has, never rounded.
        #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50"))]
        pub amount: String,
        /// ISO 4217 code of the currency.
        #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$", example = "EUR"))]
        pub currency: String,
        /// A subscription charged every this many months; `null` or absent for a one-off payment. CM-CIC
        /// has no subscriptions: a recurring option cannot be offered with `cmcic`.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 24))]
        pub recurrence_months: Option<u32>,
        /// The shop's own fields identifying the product, passed back verbatim in every event: at most
        /// 20, names of 1 to 64 characters, string values of at most 256.
        #[serde(default)]
        pub custom: BTreeMap<String, String>,
    }

    /// Where the buyer goes after the payment: absolute http or https URLs.
    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ButtonUrls))]
    pub struct UrlsWire {
        /// Back to the shop: the buyer cancelled, or nothing happened.
        #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
        pub back: String,
        /// After an accepted payment.
        #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
        pub accepted: String,
        /// After a declined payment.
        #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
        pub declined: String,
    }

    /// Best effort: the JSON field a serde error is about.
    pub fn guess_field(message: &str) -> String {
        for marker in ["unknown field `", "missing field `"] {
            if let Some(rest) = message.split(marker).nth(1)
                && let Some(name) = rest.split('`').next()
            {
                return name.to_owned();
            }
        }
        String::new()
    }

    fn text_field(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<String, ButtonError> {
        if !allow_empty && value.trim().is_empty() {
            return Err(ButtonError::new(field, "must not be empty"));
        }
        if value.chars().count() > max {
            return Err(ButtonError::new(field, format!("longer than {max} characters")));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(ButtonError::new(field, "contains control characters"));
        }
        Ok(value.to_owned())
    }

    fn parse_option(i: usize, o: BuyingOptionWire) -> Result<BuyingOption, ButtonError> {
        let at = |f: &str| format!("options[{i}].{f}");
        let description = text_field(&at("description"), &o.description, limits::DESCRIPTION, false)?;
        let amount = Money::parse(&o.amount, &o.currency).map_err(|e| match e {
            MoneyError::UnknownCurrency(_) => ButtonError::new(at("currency"), e.to_string()),
            _ => ButtonError::new(at("amount"), e.to_string()),
        })?;
        if !amount.is_positive() {
            return Err(ButtonError::new(at("amount"), "must be greater than zero"));
        }
        let recurrence_months = match o.recurrence_months {
            None => None,
            Some(n) if (1..=u32::from(limits::RECURRENCE_MONTHS)).contains(&n) => Some(n as u8),
            Some(_) => {
                return Err(ButtonError::new(
                    at("recurrence_months"),
                    format!("must be between 1 and {} months", limits::RECURRENCE_MONTHS),
                ));
            }
        };
        if o.custom.len() > limits::CUSTOM_FIELDS {
            return Err(ButtonError::new(
                at("custom"),
                format!("more than {} fields", limits::CUSTOM_FIELDS),
            ));
        }
        for (k, v) in &o.custom {
            text_field(&at("custom"), k, limits::CUSTOM_KEY, false)?;
            text_field(&format!("options[{i}].custom.{k}"), v, limits::CUSTOM_VALUE, true)?;
        }
        Ok(BuyingOption {
            description,
            amount,
            recurrence_months,
            custom: o.custom,
        })
    }

    impl TryFrom<ButtonConfigWire> for ButtonConfig {
        type Error = ButtonError;
        fn try_from(w: ButtonConfigWire) -> Result<Self, Self::Error> {
            let order_reference = text_field("order_reference", &w.order_reference, limits::ORDER_REFERENCE, false)?;
            let email = w
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|r| ButtonError::new("email", r))?;
            let customer_id = w
                .customer_id
                .as_deref()
                .map(CustomerId::parse)
                .transpose()
                .map_err(|r| ButtonError::new("customer_id", r))?;
            let language = match w.language.as_deref() {
                None => Language::english(),
                Some(l) => Language::parse(l).map_err(|r| ButtonError::new("language", r))?,
            };
            if w.options.is_empty() {
                return Err(ButtonError::new("options", "at least one buying option is required"));
            }
            if w.options.len() > limits::OPTIONS {
                return Err(ButtonError::new(
                    "options",
                    format!("at most {} buying options", limits::OPTIONS),
                ));
            }
            let options = w
                .options
                .into_iter()
                .enumerate()
                .map(|(i, o)| parse_option(i, o))
                .collect::<Result<Vec<_>, _>>()?;
            if w.payment_options.is_empty() {
                return Err(ButtonError::new(
                    "payment_options",
                    "at least one payment option is required",
                ));
            }
            let mut payment_options = BTreeMap::new();
            for (name, value) in w.payment_options {
                let valid_name =
                    !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if !valid_name {
                    return Err(ButtonError::new(
                        "payment_options",
                        format!("{name:?} is not a payment method name"),
                    ));
                }
                match value {
                    serde_json::Value::Object(map) => {
                        payment_options.insert(name, map);
                    }
                    serde_json::Value::Null => {
                        payment_options.insert(name, serde_json::Map::new());
                    }
                    _ => {
                        return Err(ButtonError::new(format!("payment_options.{name}"), "must be an object"));
                    }
                }
            }
            let image_url = w
                .image_url
                .as_deref()
                .map(HttpUrl::parse)
                .transpose()
                .map_err(|r| ButtonError::new("image_url", r))?;
            let text = w
                .text
                .as_deref()
                .map(|t| text_field("text", t, limits::TEXT, false))
                .transpose()?;
            let url =
                |field: &str, v: &str| HttpUrl::parse(v).map_err(|r| ButtonError::new(format!("urls.{field}"), r));
            let urls = Urls {
                back: url("back", &w.urls.back)?,
                accepted: url("accepted", &w.urls.accepted)?,
                declined: url("declined", &w.urls.declined)?,
            };
            Ok(ButtonConfig {
                order_date: w.order_date.unwrap_or_else(Utc::now),
                order_reference,
                email,
                customer_id,
                language,
                options,
                payment_options,
                image_url,
                text,
                urls,
            })
        }
    }

    impl From<ButtonConfig> for ButtonConfigWire {
        fn from(c: ButtonConfig) -> Self {
            ButtonConfigWire {
                order_date: Some(c.order_date),
                order_reference: c.order_reference,
                email: c.email.map(|e| e.0),
                customer_id: c.customer_id.map(|c| c.0),
                language: Some(c.language.0),
                options: c
                    .options
                    .into_iter()
                    .map(|o| BuyingOptionWire {
                        description: o.description,
                        amount: o.amount.to_string(),
                        currency: o.amount.currency().code().to_owned(),
                        recurrence_months: o.recurrence_months.map(u32::from),
                        custom: o.custom,
                    })
                    .collect(),
                payment_options: c
                    .payment_options
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::Object(v)))
                    .collect(),
                image_url: c.image_url.map(|u| u.0),
                text: c.text,
                urls: UrlsWire {
                    back: c.urls.back.0,
                    accepted: c.urls.accepted.0,
                    declined: c.urls.declined.0,
                },
            }
        }
    }
}

/// The OpenAPI schema of the button configuration (feature `openapi`): the schema of its serde form,
/// named `ButtonConfig`, with `BuyingOption` and `ButtonUrls`.
#[cfg(feature = "openapi")]
mod openapi {
    use std::borrow::Cow;

    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::{PartialSchema, ToSchema};

    use super::{ButtonConfig, wire::ButtonConfigWire};

    impl PartialSchema for ButtonConfig {
        fn schema() -> RefOr<Schema> {
            ButtonConfigWire::schema()
        }
    }

    impl ToSchema for ButtonConfig {
        fn name() -> Cow<'static, str> {
            ButtonConfigWire::name()
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            ButtonConfigWire::schemas(schemas);
        }
    }

    /// `payment_options`: an object of objects (or `null`, read as empty), keyed by method names.
    pub(super) fn payment_options() -> Schema {
        let settings = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .description(Some("This method's settings (see each gateway's documentation)."));
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z_]{1,32}$"));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .min_properties(Some(1))
            .property_names(Some(name))
            .additional_properties(Some(settings))
            .description(Some(
                "The payment methods offered, by name (`paypal`, `cmcic`, `librement`), each with its own \
                 settings: an object, possibly empty (`null` is read as empty). At least one.",
            ))
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_customer_id(id: serde_json::Value) -> Result<ButtonConfig, ButtonError> {
        ButtonConfig::from_json(
            &serde_json::json!({
                "order_reference": "O-1", "customer_id": id,
                "options": [{ "description": "A", "amount": "1.00", "currency": "EUR" }],
                "payment_options": { "cmcic": {} },
                "urls": { "back": "https://s.example/", "accepted": "https://s.example/", "declined": "https://s.example/" }
            })
            .to_string(),
        )
    }

    #[test]
    fn a_customer_id_is_kept_and_written_back() {
        let button = with_customer_id("shop:42@eu-1.a_b".into()).unwrap();
        assert_eq!(button.customer_id().map(CustomerId::as_str), Some("shop:42@eu-1.a_b"));
        assert_eq!(button.to_json_value()["customer_id"], "shop:42@eu-1.a_b");
    }

    #[test]
    fn a_malformed_customer_id_is_refused_by_name() {
        for bad in ["", "a b", "é", "<script>", &"x".repeat(65)] {
            let err = with_customer_id(bad.into()).unwrap_err();
            assert_eq!(err.field, "customer_id", "{bad:?}");
        }
    }

    #[test]
    fn a_button_without_customer_id_serializes_without_the_key() {
        let button = with_customer_id(serde_json::Value::Null).unwrap();
        assert_eq!(button.customer_id(), None);
        assert!(button.to_json_value().get("customer_id").is_none());
    }

    /// The schema's bounds are written as literals (utoipa's attributes take no constants): they must be
    /// the parser's own [`limits`].
    #[cfg(feature = "openapi")]
    #[test]
    fn the_openapi_schema_states_the_parsers_limits() {
        use utoipa::{PartialSchema, ToSchema};
        let button = serde_json::to_value(ButtonConfig::schema()).unwrap();
        let mut parts = Vec::new();
        ButtonConfig::schemas(&mut parts);
        let part = |name: &str| {
            let (_, schema) = parts.iter().find(|(n, _)| n == name).expect(name);
            serde_json::to_value(schema).unwrap()
        };
        let (option, urls) = (part("BuyingOption"), part("ButtonUrls"));
        let field = |schema: &serde_json::Value, name: &str, bound: &str| schema["properties"][name][bound].as_u64();
        let size = |n: usize| Some(n as u64);
        assert_eq!(
            field(&button, "order_reference", "maxLength"),
            size(limits::ORDER_REFERENCE)
        );
        assert_eq!(field(&button, "email", "maxLength"), size(limits::EMAIL));
        assert_eq!(field(&button, "text", "maxLength"), size(limits::TEXT));
        assert_eq!(field(&button, "image_url", "maxLength"), size(limits::URL));
        assert_eq!(field(&button, "options", "maxItems"), size(limits::OPTIONS));
        assert_eq!(field(&option, "description", "maxLength"), size(limits::DESCRIPTION));
        assert_eq!(
            field(&option, "recurrence_months", "maximum"),
            Some(u64::from(limits::RECURRENCE_MONTHS))
        );
        for url in ["back", "accepted", "declined"] {
            assert_eq!(field(&urls, url, "maxLength"), size(limits::URL), "{url}");
        }
        let customer_id = button["properties"]["customer_id"]["pattern"].as_str().unwrap();
        assert!(
            customer_id.ends_with(&format!("{{1,{}}}$", limits::CUSTOMER_ID)),
            "{customer_id}"
        );
        let custom = option["properties"]["custom"]["description"].as_str().unwrap();
        for limit in [limits::CUSTOM_FIELDS, limits::CUSTOM_KEY, limits::CUSTOM_VALUE] {
            assert!(custom.contains(&limit.to_string()), "{custom}");
        }
        assert_eq!(button["additionalProperties"], false, "unknown keys are refused");
        assert_eq!(option["additionalProperties"], false);
        assert_eq!(ButtonConfig::name(), "ButtonConfig");
    }
}
