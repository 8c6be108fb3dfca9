//! The demo's words in English and French.

use serde::Serialize;

/// Words of the demo pages.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DemoWords {
    pub title: &'static str,
    pub intro: &'static str,
    pub other_language: &'static str,
    pub other_language_name: &'static str,
    pub events_title: &'static str,
    pub events_intro: &'static str,
    pub events_none: &'static str,
    pub reload: &'static str,
    pub col_time: &'static str,
    pub col_type: &'static str,
    pub col_payment: &'static str,
    pub col_order: &'static str,
    pub col_amount: &'static str,
    pub col_state: &'static str,
    pub thanks_title: &'static str,
    pub thanks_text: &'static str,
    pub sorry_title: &'static str,
    pub sorry_text: &'static str,
    pub back_to_shop: &'static str,
}

const EN: DemoWords = DemoWords {
    title: "Demo shop",
    intro: "Every button below is rendered by the payment_button Tera function, as in your own shop. Click one and pay with a simulated gateway: the events on the right arrive as the gateway's notifications are processed.",
    other_language: "fr",
    other_language_name: "Version française",
    events_title: "Events",
    events_intro: "Received by an in-process listener (the last 50), newest first.",
    events_none: "No event yet: pay with one of the buttons.",
    reload: "Reload",
    col_time: "Time (UTC)",
    col_type: "Type",
    col_payment: "Payment",
    col_order: "Order",
    col_amount: "Amount",
    col_state: "State",
    thanks_title: "Thank you for your order",
    thanks_text: "The payment was accepted: this is the shop's “accepted” page, where the status page sent you.",
    sorry_title: "The payment did not go through",
    sorry_text: "The payment was declined: this is the shop's “declined” page, where the status page sent you. Nothing was charged.",
    back_to_shop: "Back to the shop",
};

const FR: DemoWords = DemoWords {
    title: "Boutique de démonstration",
    intro: "Chaque bouton ci-dessous est produit par la fonction Tera payment_button, comme dans votre propre boutique. Cliquez et payez avec une passerelle simulée : les événements s'affichent à droite au fur et à mesure que les notifications de la passerelle sont traitées.",
    other_language: "en",
    other_language_name: "English version",
    events_title: "Événements",
    events_intro: "Reçus par un écouteur dans le processus (les 50 derniers), du plus récent au plus ancien.",
    events_none: "Aucun événement pour l'instant : payez avec l'un des boutons.",
    reload: "Recharger",
    col_time: "Heure (UTC)",
    col_type: "Type",
    col_payment: "Paiement",
    col_order: "Commande",
    col_amount: "Montant",
    col_state: "État",
    thanks_title: "Merci pour votre commande",
    thanks_text: "Le paiement a été accepté : voici la page « accepté » de la boutique, vers laquelle la page d'état vous a envoyé.",
    sorry_title: "Le paiement n'a pas abouti",
    sorry_text: "Le paiement a été refusé : voici la page « refusé » de la boutique, vers laquelle la page d'état vous a envoyé. Rien n'a été débité.",
    back_to_shop: "Retour à la boutique",
};

/// `fr` or `en` from a query string's `lang` (anything else is English).
pub fn language(query: &str) -> &'static str {
    let french = url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "lang" && v == "fr");
    if french { "fr" } else { "en" }
}

/// The demo words for `language`.
pub fn words(language: &str) -> &'static DemoWords {
    if language == "fr" { &FR } else { &EN }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lang_parameter_picks_french_and_defaults_to_english() {
        assert_eq!(super::language("lang=fr"), "fr");
        assert_eq!(super::language("x=1&lang=fr"), "fr");
        assert_eq!(super::language("lang=de"), "en");
        assert_eq!(super::language(""), "en");
        assert_eq!(super::language("%ZZ"), "en");
    }
}
