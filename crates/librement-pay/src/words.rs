//! The words of the Librement pages, in English and French.

use serde::Serialize;

use crate::accounts::{AccountError, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Weakness};

/// Every text of the Librement pages in one language.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Words {
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
    /// The start of the answer to a password the strength estimator refused (the reason follows).
    pub weak_password: &'static str,
    /// What to do instead, after the reason.
    pub weak_password_advice: &'static str,
    /// Title of the answer when every password-hashing slot stayed busy.
    pub busy_title: &'static str,
    /// Text of that answer.
    pub busy: &'static str,
}

/// English.
pub const EN: Words = Words {
    sign_in: "Sign in",
    sign_up: "Create an account",
    sign_out: "Sign out",
    email: "E-mail address",
    password: "Password",
    password_hint: "At least 10 characters, and hard to guess: a few uncommon words together work well.",
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
    weak_password: "This password is too easy to guess:",
    weak_password_advice: "Use a few uncommon words together, for example a short sentence.",
    busy_title: "Try again",
    busy: "The service is busy; please try again in a moment.",
};

/// French.
pub const FR: Words = Words {
    sign_in: "Se connecter",
    sign_up: "Créer un compte",
    sign_out: "Se déconnecter",
    email: "Adresse e-mail",
    password: "Mot de passe",
    password_hint: "Au moins 10 caractères, et difficile à deviner : quelques mots peu courants mis ensemble conviennent bien.",
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
    weak_password: "Ce mot de passe est trop facile à deviner :",
    weak_password_advice: "Mettez ensemble quelques mots peu courants, par exemple une courte phrase.",
    busy_title: "Réessayez",
    busy: "Le service est occupé ; réessayez dans un instant.",
};

/// The words for `language` (French, else English).
pub fn words(language: &str) -> &'static Words {
    if language == "fr" { &FR } else { &EN }
}

/// Why the strength estimator refused a password, in `language` (French, else English).
pub fn weakness_words(language: &str, weakness: &Weakness) -> &'static str {
    let fr = language == "fr";
    let (en, fr_text) = match weakness {
        Weakness::KeyboardRow => (
            "straight rows of keys are easy to guess.",
            "les rangées de touches sont faciles à deviner.",
        ),
        Weakness::KeyboardPattern => (
            "short keyboard patterns are easy to guess.",
            "les motifs courts sur le clavier sont faciles à deviner.",
        ),
        Weakness::Repeats => (
            "a character repeated, like “aaa”, is easy to guess.",
            "un caractère répété, comme « aaa », est facile à deviner.",
        ),
        Weakness::RepeatedGroups => (
            "repeats like “abcabcabc” are hardly harder to guess than “abc”.",
            "une répétition comme « abcabcabc » n'est guère plus difficile à deviner que « abc ».",
        ),
        Weakness::Common => (
            "it is one of the most common passwords.",
            "c'est l'un des mots de passe les plus courants.",
        ),
        Weakness::SimilarToCommon => (
            "it is close to a common password.",
            "il ressemble à un mot de passe courant.",
        ),
        Weakness::Sequence => (
            "sequences like abc or 6543 are easy to guess.",
            "les suites comme abc ou 6543 sont faciles à deviner.",
        ),
        Weakness::RecentYear => (
            "recent years are easy to guess.",
            "les années récentes sont faciles à deviner.",
        ),
        Weakness::SingleWord => (
            "a word by itself is easy to guess.",
            "un mot seul est facile à deviner.",
        ),
        Weakness::Date => ("dates are easy to guess.", "les dates sont faciles à deviner."),
        Weakness::Names => (
            "first names and surnames are easy to guess.",
            "les prénoms et les noms de famille sont faciles à deviner.",
        ),
        Weakness::Guessable => (
            "it is made of parts that are easy to guess, such as your e-mail address or your name.",
            "il est fait de parties faciles à deviner, comme votre adresse e-mail ou votre nom.",
        ),
    };
    if fr { fr_text } else { en }
}

/// The answer to a refused sign-up, in `language`: English is the error's own text.
pub fn account_error(language: &str, error: &AccountError) -> String {
    if language != "fr" {
        return error.to_string();
    }
    match error {
        AccountError::BadEmail => "ce n'est pas une adresse e-mail".to_owned(),
        AccountError::EmailTaken => "un compte utilise déjà cette adresse e-mail".to_owned(),
        AccountError::BadPassword => {
            format!("le mot de passe doit avoir de {MIN_PASSWORD_CHARS} à {MAX_PASSWORD_CHARS} caractères")
        }
        AccountError::WeakPassword(w) => format!(
            "{} {} {}",
            FR.weak_password,
            weakness_words("fr", w),
            FR.weak_password_advice
        ),
        AccountError::BadName => "le nom doit avoir de 1 à 100 caractères".to_owned(),
        AccountError::Hashing | AccountError::Busy | AccountError::Store(_) => FR.busy.to_owned(),
    }
}
