//! The words of the Librement pages, in English and French.

use serde::Serialize;

/// Every text of the Librement pages in one language.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Words {
    /// The simulator banner (shared with the server's pages).
    pub simulator_banner: &'static str,
    /// "Sign in".
    pub sign_in: &'static str,
    /// "Create an account".
    pub sign_up: &'static str,
    /// "Sign out".
    pub sign_out: &'static str,
    /// "E-mail address".
    pub email: &'static str,
    /// "Password".
    pub password: &'static str,
    /// Password rules.
    pub password_hint: &'static str,
    /// "Your name".
    pub display_name: &'static str,
    /// Title of the choice screen.
    pub pay_title: &'static str,
    /// "Order".
    pub order: &'static str,
    /// "Signed in as".
    pub signed_in_as: &'static str,
    /// "Your balance".
    pub balance: &'static str,
    /// Label of paying everything from the account.
    pub pay_from_balance: &'static str,
    /// Why the password is asked again.
    pub confirm_hint: &'static str,
    /// Title of the page for buyers without a known account.
    pub start_title: &'static str,
    /// "Continue without an account".
    pub continue_without: &'static str,
    /// "Back to the shop".
    pub back_to_shop: &'static str,
    /// Wrong e-mail or password (the same answer for both).
    pub wrong_credentials: &'static str,
    /// Throttled.
    pub too_many_attempts: &'static str,
    /// The balance does not cover the price.
    pub insufficient: &'static str,
    /// The form is stale (CSRF).
    pub stale_form: &'static str,
    /// "Your account".
    pub account_title: &'static str,
    /// "No account yet?".
    pub no_account: &'static str,
    /// "Already have an account?".
    pub have_account: &'static str,
    /// "Methods".
    pub methods: &'static str,
    /// The choice form's submit before the password is confirmed.
    pub continue_label: &'static str,
    /// The final confirmation's submit, once the password is confirmed.
    pub confirm_payment: &'static str,
    /// Heading of the e-mail and password fields.
    pub confirm_title: &'static str,
    /// Said once the password was confirmed and the exact amounts are shown.
    pub now_confirmed: &'static str,
    /// The form was sent without a method.
    pub choose_method: &'static str,
    /// Link back to the choice screen from the confirmation form.
    pub other_method: &'static str,
    /// What paying by card or PayPal means for a buyer who is not signed in.
    pub guest_hint: &'static str,
}

/// English.
pub const EN: Words = Words {
    simulator_banner: "Simulator mode: no real payment is made. The gateways are stand-ins that speak the real protocols.",
    sign_in: "Sign in",
    sign_up: "Create an account",
    sign_out: "Sign out",
    email: "E-mail address",
    password: "Password",
    password_hint: "At least 10 characters.",
    display_name: "Your name",
    pay_title: "Pay with Librement",
    order: "Order",
    signed_in_as: "Signed in as",
    balance: "Your balance",
    pay_from_balance: "Pay everything from my Librement account",
    confirm_hint: "Confirm your e-mail address and password: nothing is taken from your account before.",
    start_title: "Pay with a Librement account?",
    continue_without: "Continue without an account",
    back_to_shop: "Back to the shop",
    wrong_credentials: "Wrong e-mail address or password.",
    too_many_attempts: "Too many failed attempts. For your security, wait 15 minutes before trying again.",
    insufficient: "Your balance does not cover this price.",
    stale_form: "This form has expired. Please go back, reload the page and try again.",
    account_title: "Your Librement account",
    no_account: "No account yet?",
    have_account: "Already have an account?",
    methods: "How would you like to pay?",
    continue_label: "Continue",
    confirm_payment: "Confirm the payment",
    confirm_title: "Confirm that it is you",
    now_confirmed: "Password confirmed. Check the amounts below, then confirm the payment.",
    choose_method: "Choose how you would like to pay.",
    other_method: "Choose another way to pay",
    guest_hint: "Paying by card or PayPal without confirming your password does not use your Librement account: you pay as a guest.",
};

/// French.
pub const FR: Words = Words {
    simulator_banner: "Mode simulateur : aucun paiement réel n'est effectué. Les passerelles sont simulées avec leurs vrais protocoles.",
    sign_in: "Se connecter",
    sign_up: "Créer un compte",
    sign_out: "Se déconnecter",
    email: "Adresse e-mail",
    password: "Mot de passe",
    password_hint: "Au moins 10 caractères.",
    display_name: "Votre nom",
    pay_title: "Payer avec Librement",
    order: "Commande",
    signed_in_as: "Connecté en tant que",
    balance: "Votre solde",
    pay_from_balance: "Tout payer depuis mon compte Librement",
    confirm_hint: "Confirmez votre adresse e-mail et votre mot de passe : rien n'est débité de votre compte avant.",
    start_title: "Payer avec un compte Librement ?",
    continue_without: "Continuer sans compte",
    back_to_shop: "Retour à la boutique",
    wrong_credentials: "Adresse e-mail ou mot de passe incorrect.",
    too_many_attempts: "Trop de tentatives échouées. Par sécurité, attendez 15 minutes avant de réessayer.",
    insufficient: "Votre solde ne couvre pas ce prix.",
    stale_form: "Ce formulaire a expiré. Revenez en arrière, rechargez la page et réessayez.",
    account_title: "Votre compte Librement",
    no_account: "Pas encore de compte ?",
    have_account: "Déjà un compte ?",
    methods: "Comment souhaitez-vous payer ?",
    continue_label: "Continuer",
    confirm_payment: "Confirmer le paiement",
    confirm_title: "Confirmez votre identité",
    now_confirmed: "Mot de passe confirmé. Vérifiez les montants ci-dessous, puis confirmez le paiement.",
    choose_method: "Choisissez votre façon de payer.",
    other_method: "Choisir une autre façon de payer",
    guest_hint: "Payer par carte ou PayPal sans confirmer votre mot de passe n'utilise pas votre compte Librement : vous payez en tant qu'invité.",
};

/// The words for `language` (French, else English).
pub fn words(language: &str) -> &'static Words {
    if language == "fr" { &FR } else { &EN }
}
