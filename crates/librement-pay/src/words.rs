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
    /// Heading of the balances.
    pub balances: &'static str,
    /// An account that never held money.
    pub no_balance: &'static str,
    /// Heading of the statement.
    pub statement: &'static str,
    /// A statement without lines.
    pub statement_empty: &'static str,
    /// Column: date.
    pub col_date: &'static str,
    /// Column: what.
    pub col_kind: &'static str,
    /// Column: order and seller.
    pub col_order: &'static str,
    /// Column: amount.
    pub col_amount: &'static str,
    /// Column: balance after.
    pub col_balance: &'static str,
    /// Before the seller's address.
    pub seller_word: &'static str,
    /// Link to older lines.
    pub older: &'static str,
    /// Link back to the first page.
    pub newest: &'static str,
    /// The CSV download link.
    pub download_csv: &'static str,
    /// The top-up link and page title.
    pub add_money: &'static str,
    /// What the top-up page says.
    pub add_money_hint: &'static str,
    /// Label of an amount field.
    pub amount: &'static str,
    /// Label of a currency field.
    pub currency: &'static str,
    /// Label of the gateway choice.
    pub how_to_pay: &'static str,
    /// The bounds of a top-up (`{min}` and `{max}` are replaced).
    pub top_up_bounds: &'static str,
    /// An amount that is not one.
    pub bad_amount: &'static str,
    /// An amount outside the bounds.
    pub amount_out_of_bounds: &'static str,
    /// The account page, address not verified.
    pub not_verified: &'static str,
    /// Button: send the verification link again.
    pub resend_link: &'static str,
    /// Said after sign-up or a resend.
    pub verification_sent: &'static str,
    /// The address is now verified.
    pub verified: &'static str,
    /// Earnings moved at verification (the amounts follow).
    pub verified_earnings: &'static str,
    /// A used, expired or superseded link.
    pub link_refused: &'static str,
    /// Why the verification link asks to sign in.
    pub sign_in_to_verify: &'static str,
    /// Link to the reset page.
    pub forgot_password: &'static str,
    /// Title of the reset pages.
    pub reset_title: &'static str,
    /// What the reset request page says.
    pub reset_hint: &'static str,
    /// Submit of the reset request.
    pub reset_send: &'static str,
    /// The same answer whether or not the address has an account.
    pub reset_sent: &'static str,
    /// Throttled e-mail requests.
    pub too_many_mails: &'static str,
    /// Label of the new password.
    pub new_password: &'static str,
    /// Submit of the new password.
    pub set_password: &'static str,
    /// After a reset.
    pub password_changed: &'static str,
    /// Heading of payouts.
    pub payouts: &'static str,
    /// What can be withdrawn (the amount follows).
    pub payout_hint: &'static str,
    /// Submit of a payout request.
    pub payout_request: &'static str,
    /// After a payout request.
    pub payout_requested: &'static str,
    /// A payout waiting.
    pub payout_requested_state: &'static str,
    /// A payout paid.
    pub payout_paid_state: &'static str,
    /// A payout rejected.
    pub payout_rejected_state: &'static str,
    /// The description of a top-up payment.
    pub top_up_title: &'static str,
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
    balances: "Balance",
    no_balance: "Your account holds no money yet.",
    statement: "Statement",
    statement_empty: "No transaction yet.",
    col_date: "Date",
    col_kind: "What",
    col_order: "Order",
    col_amount: "Amount",
    col_balance: "Balance after",
    seller_word: "seller",
    older: "Older transactions",
    newest: "Newest transactions",
    download_csv: "Download the statement (CSV)",
    add_money: "Add money",
    add_money_hint: "Add money to your Librement account by card or PayPal, then pay from it.",
    amount: "Amount",
    currency: "Currency",
    how_to_pay: "Pay",
    top_up_bounds: "From {min} to {max}.",
    bad_amount: "Enter an amount such as 20.00.",
    amount_out_of_bounds: "The amount must be between the limits shown.",
    not_verified: "Your e-mail address is not confirmed yet: open the link we sent you. Until then, sales credit nothing to this account.",
    resend_link: "Send the link again",
    verification_sent: "We sent a link to confirm your e-mail address.",
    verified: "Your e-mail address is confirmed.",
    verified_earnings: "Earnings that were waiting for it are now on your account:",
    link_refused: "This link has expired or was already used. Ask for a new one.",
    sign_in_to_verify: "Sign in to confirm your e-mail address.",
    forgot_password: "Forgot your password?",
    reset_title: "Reset your password",
    reset_hint: "Type the e-mail address of your account: we will send it a link to choose a new password.",
    reset_send: "Send the link",
    reset_sent: "If an account uses this address, a link to choose a new password is on its way. It is valid for one hour.",
    too_many_mails: "Too many requests for this address. Wait an hour before asking again.",
    new_password: "New password",
    set_password: "Change the password",
    password_changed: "Your password is changed and every session of your account is ended. Sign in with the new password.",
    payouts: "Withdraw your earnings",
    payout_hint: "Earnings older than the holding period can be paid out to you. Withdrawable now:",
    payout_request: "Ask for a payout",
    payout_requested: "Your payout request is recorded: the amount is held until an operator pays it.",
    payout_requested_state: "waiting",
    payout_paid_state: "paid",
    payout_rejected_state: "rejected",
    top_up_title: "Money added to your Librement account",
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
    balances: "Solde",
    no_balance: "Votre compte ne contient pas encore d'argent.",
    statement: "Relevé",
    statement_empty: "Aucune opération pour l'instant.",
    col_date: "Date",
    col_kind: "Opération",
    col_order: "Commande",
    col_amount: "Montant",
    col_balance: "Solde après",
    seller_word: "vendeur",
    older: "Opérations plus anciennes",
    newest: "Opérations les plus récentes",
    download_csv: "Télécharger le relevé (CSV)",
    add_money: "Ajouter de l'argent",
    add_money_hint: "Ajoutez de l'argent à votre compte Librement par carte ou PayPal, puis payez avec.",
    amount: "Montant",
    currency: "Devise",
    how_to_pay: "Payer",
    top_up_bounds: "De {min} à {max}.",
    bad_amount: "Saisissez un montant comme 20,00.",
    amount_out_of_bounds: "Le montant doit être compris entre les limites indiquées.",
    not_verified: "Votre adresse e-mail n'est pas encore confirmée : ouvrez le lien que nous vous avons envoyé. D'ici là, aucune vente n'est créditée sur ce compte.",
    resend_link: "Renvoyer le lien",
    verification_sent: "Nous vous avons envoyé un lien pour confirmer votre adresse e-mail.",
    verified: "Votre adresse e-mail est confirmée.",
    verified_earnings: "Les gains qui l'attendaient sont maintenant sur votre compte :",
    link_refused: "Ce lien a expiré ou a déjà servi. Demandez-en un nouveau.",
    sign_in_to_verify: "Connectez-vous pour confirmer votre adresse e-mail.",
    forgot_password: "Mot de passe oublié ?",
    reset_title: "Réinitialiser votre mot de passe",
    reset_hint: "Saisissez l'adresse e-mail de votre compte : nous y enverrons un lien pour choisir un nouveau mot de passe.",
    reset_send: "Envoyer le lien",
    reset_sent: "Si un compte utilise cette adresse, un lien pour choisir un nouveau mot de passe est en route. Il est valable une heure.",
    too_many_mails: "Trop de demandes pour cette adresse. Attendez une heure avant de redemander.",
    new_password: "Nouveau mot de passe",
    set_password: "Changer le mot de passe",
    password_changed: "Votre mot de passe est changé et toutes les sessions de votre compte sont fermées. Connectez-vous avec le nouveau mot de passe.",
    payouts: "Retirer vos gains",
    payout_hint: "Les gains plus anciens que la période de garde peuvent vous être versés. Retirable maintenant :",
    payout_request: "Demander un retrait",
    payout_requested: "Votre demande de retrait est enregistrée : le montant est réservé jusqu'à ce qu'un opérateur le verse.",
    payout_requested_state: "en attente",
    payout_paid_state: "payé",
    payout_rejected_state: "refusé",
    top_up_title: "Argent ajouté à votre compte Librement",
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
