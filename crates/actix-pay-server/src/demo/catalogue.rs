//! What the demo shop sells: one button configuration per kind of button, in English or French, written as
//! the JSON a shop would put in its template context.

use serde::Serialize;
use serde_json::{Value, json};

/// The e-mail of the demo's buyer. A card button that carries it asks CM-CIC for Express Payment (`aliascb`),
/// so a second card purchase only asks for the security code.
pub const DEMO_BUYER_EMAIL: &str = "demo-buyer@example.org";

/// The PayPal account the demo shop is paid on (each shop names its own in `payment_options.paypal`).
pub const DEMO_SELLER_EMAIL: &str = "demo-seller@example.com";

/// One product of the shop and its button configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// Stable identifier, used as the HTML id of the product's card (`product-{key}`).
    pub key: &'static str,
    /// Heading shown above the button.
    pub title: &'static str,
    /// One sentence about what the button shows.
    pub blurb: &'static str,
    /// The `config` argument of `payment_button`.
    pub config: Value,
}

/// Which gateways this server offers; products needing a missing one are left out.
#[derive(Debug, Clone, Copy)]
pub struct Offered {
    /// PayPal is enabled.
    pub paypal: bool,
    /// CM-CIC is enabled.
    pub cmcic: bool,
}

/// The shop's products for `base` (the server's public URL, without trailing slash) in `language`
/// (`en` or `fr`). `stamp` makes the order references of this page unique (the page's render time).
pub fn products(base: &str, language: &str, stamp: &str, offered: Offered) -> Vec<Product> {
    let fr = language == "fr";
    let lang_query = if fr { "?lang=fr" } else { "" };
    let urls = json!({
        "back": format!("{base}/{lang_query}"),
        "accepted": format!("{base}/demo/thanks{lang_query}"),
        "declined": format!("{base}/demo/sorry{lang_query}"),
    });
    let order = |kind: &str| format!("DEMO-{}-{stamp}", kind.to_uppercase());
    let paypal = json!({ "paypal": { "paypal_email": DEMO_SELLER_EMAIL } });
    let mut list = Vec::new();

    if offered.paypal {
        list.push(Product {
            key: "book",
            title: if fr { "Achat unique" } else { "One-off purchase" },
            blurb: if fr {
                "Un produit, un prix, payé avec PayPal."
            } else {
                "One product, one price, paid with PayPal."
            },
            config: json!({
                "order_reference": order("book"),
                "language": language,
                "options": [{ "description": if fr { "Le guide Librement (PDF)" } else { "The Librement handbook (PDF)" },
                              "amount": "12.50", "currency": "EUR" }],
                "payment_options": paypal,
                "urls": urls,
            }),
        });
    }

    let mut both = serde_json::Map::new();
    if offered.paypal {
        both.insert("paypal".into(), json!({ "paypal_email": DEMO_SELLER_EMAIL }));
    }
    if offered.cmcic {
        both.insert("cmcic".into(), json!({}));
    }
    if !both.is_empty() {
        list.push(Product {
            key: "editions",
            title: if fr {
                "Plusieurs formules"
            } else {
                "Several buying options"
            },
            blurb: if fr {
                "L'acheteur choisit une formule dans la liste, puis sa façon de payer."
            } else {
                "The buyer picks an option from the list, then how to pay."
            },
            config: json!({
                "order_reference": order("editions"),
                "language": language,
                "options": [
                    { "description": if fr { "Livre numérique" } else { "E-book" },
                      "amount": "9.00", "currency": "EUR", "custom": { "sku": "ebook" } },
                    { "description": if fr { "Livre broché" } else { "Paperback" },
                      "amount": "24.00", "currency": "EUR", "custom": { "sku": "paperback" } },
                    { "description": if fr { "Les deux" } else { "Both" },
                      "amount": "29.00", "currency": "EUR", "custom": { "sku": "bundle" } },
                ],
                "payment_options": both,
                "urls": urls,
            }),
        });
    }

    if offered.paypal {
        list.push(Product {
            key: "membership",
            title: if fr { "Abonnement mensuel" } else { "Monthly subscription" },
            blurb: if fr {
                "Un soutien de 5 € par mois, renouvelé par PayPal."
            } else {
                "A €5 monthly support, renewed by PayPal."
            },
            config: json!({
                "order_reference": order("membership"),
                "language": language,
                "options": [{ "description": if fr { "Membre bienfaiteur, mensuel" } else { "Supporting member, monthly" },
                              "amount": "5.00", "currency": "EUR", "recurrence_months": 1 }],
                "payment_options": paypal,
                "urls": urls,
            }),
        });
    }

    if offered.cmcic {
        list.push(Product {
            key: "ticket",
            title: if fr {
                "Paiement par carte (Monetico)"
            } else {
                "Card payment (Monetico)"
            },
            blurb: if fr {
                "Carte bancaire avec CM-CIC / Monetico ; la carte peut être enregistrée pour la fois suivante."
            } else {
                "Bank card through CM-CIC / Monetico; the card can be remembered for next time."
            },
            config: json!({
                "order_reference": order("ticket"),
                "email": DEMO_BUYER_EMAIL,
                "language": language,
                "options": [{ "description": if fr { "Billet pour les rencontres" } else { "Conference ticket" },
                              "amount": "45.00", "currency": "EUR" }],
                "payment_options": { "cmcic": {} },
                "text": if fr { "Payer par carte" } else { "Pay by card" },
                "urls": urls,
            }),
        });
    }

    if offered.paypal {
        list.push(Product {
            key: "donation",
            title: if fr { "Bouton image" } else { "Image button" },
            blurb: if fr {
                "Le bouton est une image ; son texte sert de texte alternatif."
            } else {
                "The button is an image; its text is the alternative text."
            },
            config: json!({
                "order_reference": order("donation"),
                "language": language,
                "options": [{ "description": if fr { "Don" } else { "Donation" }, "amount": "10.00", "currency": "EUR" }],
                "payment_options": paypal,
                "image_url": format!("{base}/demo/button.svg"),
                "text": if fr { "Faire un don de 10 €" } else { "Donate €10" },
                "urls": urls,
            }),
        });
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_buttons::button::ButtonConfig;

    const BOTH: Offered = Offered {
        paypal: true,
        cmcic: true,
    };

    #[test]
    fn every_product_is_a_valid_button_configuration_in_both_languages() {
        for language in ["en", "fr"] {
            let products = products("http://127.0.0.1:8080", language, "1", BOTH);
            assert_eq!(products.len(), 5);
            for p in products {
                let parsed: Result<ButtonConfig, _> = serde_json::from_value(p.config.clone());
                assert!(parsed.is_ok(), "{} ({language}): {:?}", p.key, parsed.err());
                assert_eq!(p.config["language"], language);
            }
        }
    }

    #[test]
    fn return_urls_lead_back_to_the_demo_in_the_buyer_language() {
        let products = products("http://shop.test", "fr", "1", BOTH);
        let urls = &products[0].config["urls"];
        assert_eq!(urls["accepted"], "http://shop.test/demo/thanks?lang=fr");
        assert_eq!(urls["declined"], "http://shop.test/demo/sorry?lang=fr");
        assert_eq!(urls["back"], "http://shop.test/?lang=fr");
    }

    #[test]
    fn products_needing_a_missing_gateway_are_left_out() {
        let only_card = products(
            "http://shop.test",
            "en",
            "1",
            Offered {
                paypal: false,
                cmcic: true,
            },
        );
        let keys: Vec<_> = only_card.iter().map(|p| p.key).collect();
        assert_eq!(keys, ["editions", "ticket"]);
        assert_eq!(only_card[0].config["payment_options"], json!({ "cmcic": {} }));
    }
}
