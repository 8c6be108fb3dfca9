//! What the demo shop sells: one button configuration per kind of button, in English or French, written as
//! the JSON a shop would put in its template context.

use serde::Serialize;
use serde_json::{Value, json};

/// The e-mail of the demo's buyer. It only prefills the gateways' pages: an e-mail proves nothing, so it never
/// names a saved card.
pub const DEMO_BUYER_EMAIL: &str = "demo-buyer@example.org";

/// The demo shop's identifier of its signed-in customer. The card button carries it (signed), so CM-CIC offers
/// Express Payment (`aliascb`) and a second card purchase only asks for the security code.
pub const DEMO_CUSTOMER_ID: &str = "demo-customer-1";

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
    /// A link shown under the button, when the product needs one.
    pub link: Option<ProductLink>,
}

/// A link under a product's button.
#[derive(Debug, Clone, Serialize)]
pub struct ProductLink {
    /// Where it leads (a path on this server).
    pub href: String,
    /// Its words.
    pub label: &'static str,
}

/// The seller of the Librement product: the account credited in the Librement ledger.
pub const DEMO_LIBREMENT_SELLER: &str = "demo-author@example.org";

/// Which gateways this server offers; products needing a missing one are left out.
#[derive(Debug, Clone, Copy)]
pub struct Offered {
    /// PayPal is enabled.
    pub paypal: bool,
    /// PayPal takes subscriptions (both integrations do).
    pub paypal_subscriptions: bool,
    /// PayPal runs Checkout: a subscription is paid to `paypal.business`, the account that owns the
    /// Subscriptions API's plans, so the subscription product names no other receiver.
    pub paypal_checkout: bool,
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
            link: None,
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
            link: None,
        });
    }

    if offered.paypal && offered.paypal_subscriptions {
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
                "payment_options": if offered.paypal_checkout { json!({ "paypal": {} }) } else { paypal.clone() },
                "urls": urls,
            }),
            link: None,
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
                "Carte bancaire avec CM-CIC / Monetico. La boutique signe l'identifiant de son client connecté (customer_id) dans le bouton : la carte peut donc être enregistrée pour la fois suivante."
            } else {
                "Bank card through CM-CIC / Monetico. The shop signs its signed-in customer's id (customer_id) into the button, so the card can be remembered for next time."
            },
            config: json!({
                "order_reference": order("ticket"),
                "email": DEMO_BUYER_EMAIL,
                "customer_id": DEMO_CUSTOMER_ID,
                "language": language,
                "options": [{ "description": if fr { "Billet pour les rencontres" } else { "Conference ticket" },
                              "amount": "45.00", "currency": "EUR" }],
                "payment_options": { "cmcic": {} },
                "text": if fr { "Payer par carte" } else { "Pay by card" },
                "urls": urls,
            }),
            link: None,
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
            link: None,
        });
    }
    if offered.paypal || offered.cmcic {
        list.push(librement(language, &urls, &order("librement"), offered));
    }
    list
}

/// Pay with Librement: from an account balance, by card or PayPal, or both. The button carries the demo
/// buyer's e-mail, so that an account created with it is recognised on the choice screen.
fn librement(language: &str, urls: &Value, order_reference: &str, offered: Offered) -> Product {
    let fr = language == "fr";
    let mut payment_options = serde_json::Map::new();
    payment_options.insert("librement".into(), json!({ "seller": DEMO_LIBREMENT_SELLER }));
    if offered.cmcic {
        payment_options.insert("cmcic".into(), json!({}));
    }
    if offered.paypal {
        payment_options.insert("paypal".into(), json!({ "paypal_email": DEMO_SELLER_EMAIL }));
    }
    let lang_query = if fr { "&lang=fr" } else { "" };
    Product {
        key: "librement",
        title: if fr {
            "Payer avec Librement"
        } else {
            "Pay with Librement"
        },
        blurb: if fr {
            "Depuis le solde d'un compte Librement, par carte ou PayPal, ou les deux. Sans compte, vous payez par carte en invité ; créez un compte avec l'adresse demo-buyer@example.org (déjà saisie) pour voir l'écran de choix. Pour ajouter de l'argent au compte, ouvrez « Ajouter de l'argent » sur la page du compte et payez avec la carte de test 4000 0000 0000 0002 ou le PayPal simulé. Les e-mails envoyés (lien de confirmation, reçus) sont dans la boîte simulée, /simulator/mail."
        } else {
            "From a Librement account balance, by card or PayPal, or both. Without an account you pay by card as a guest; create an account with demo-buyer@example.org (already filled in) to see the choice screen. To add money to the account, open “Add money” on the account page and pay with the test card 4000 0000 0000 0002 or the simulated PayPal. The e-mails sent (confirmation link, receipts) are in the simulated mailbox, /simulator/mail."
        },
        config: json!({
            "order_reference": order_reference,
            "email": DEMO_BUYER_EMAIL,
            "language": language,
            "options": [
                { "description": if fr { "Un café pour l'auteur" } else { "A coffee for the author" },
                  "amount": "5.00", "currency": "EUR", "custom": { "sku": "coffee" } },
                { "description": if fr { "Le livre numérique" } else { "The e-book" },
                  "amount": "12.00", "currency": "EUR", "custom": { "sku": "ebook" } },
                { "description": if fr { "Le livre broché" } else { "The paperback" },
                  "amount": "30.00", "currency": "EUR", "custom": { "sku": "paperback" } },
            ],
            "payment_options": payment_options,
            "text": if fr { "Payer avec Librement" } else { "Pay with Librement" },
            "urls": urls,
        }),
        link: Some(ProductLink {
            href: format!("/librement/sign-up?email=demo-buyer%40example.org&next=%2Flibrement%2Faccount{lang_query}"),
            label: if fr {
                "Créer un compte Librement"
            } else {
                "Create a Librement account"
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_buttons::button::ButtonConfig;

    const BOTH: Offered = Offered {
        paypal: true,
        paypal_subscriptions: true,
        paypal_checkout: false,
        cmcic: true,
    };

    #[test]
    fn every_product_is_a_valid_button_configuration_in_both_languages() {
        for language in ["en", "fr"] {
            let products = products("http://127.0.0.1:8080", language, "1", BOTH);
            assert_eq!(products.len(), 6);
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
    fn with_checkout_the_subscription_is_paid_to_the_account_that_owns_the_plans() {
        let checkout = Offered {
            paypal_checkout: true,
            ..BOTH
        };
        let list = products("http://shop.test", "en", "1", checkout);
        let membership = list.iter().find(|p| p.key == "membership").expect("offered");
        assert_eq!(membership.config["payment_options"], json!({ "paypal": {} }));
        let standard = products("http://shop.test", "en", "1", BOTH);
        let membership = standard.iter().find(|p| p.key == "membership").unwrap();
        assert_eq!(
            membership.config["payment_options"]["paypal"]["paypal_email"],
            DEMO_SELLER_EMAIL
        );
    }

    #[test]
    fn products_needing_a_missing_gateway_are_left_out() {
        let only_card = products(
            "http://shop.test",
            "en",
            "1",
            Offered {
                paypal: false,
                paypal_subscriptions: false,
                paypal_checkout: false,
                cmcic: true,
            },
        );
        let keys: Vec<_> = only_card.iter().map(|p| p.key).collect();
        assert_eq!(keys, ["editions", "ticket", "librement"]);
        assert_eq!(only_card[0].config["payment_options"], json!({ "cmcic": {} }));
    }

    #[test]
    fn the_librement_product_offers_librement_card_and_paypal() {
        let products = products("http://shop.test", "en", "1", BOTH);
        let librement = products
            .iter()
            .find(|p| p.key == "librement")
            .expect("a Librement product");
        let options = &librement.config["payment_options"];
        assert_eq!(options["librement"]["seller"], DEMO_LIBREMENT_SELLER);
        assert!(options.get("cmcic").is_some() && options.get("paypal").is_some());
        assert_eq!(librement.config["email"], DEMO_BUYER_EMAIL);
        assert!(
            librement
                .link
                .as_ref()
                .is_some_and(|l| l.href.starts_with("/librement/sign-up?email=demo-buyer%40example.org"))
        );
    }
}
