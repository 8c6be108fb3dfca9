//! What can go wrong in the simulator, with the HTTP status and the title its page shows.

use actix_web::http::StatusCode;

/// An error of the PayPal simulator. Every one is shown to the person at the browser on a page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulatorError {
    /// The posted checkout form is not one PayPal would accept.
    #[error("the form's {field} is wrong: {reason}")]
    BadForm {
        /// The form field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `notify_url` is outside what this simulator may post to.
    #[error("the form's notify_url is not under {allowed}: the simulator only notifies this server")]
    NotifyUrlNotAllowed {
        /// The allowed prefix.
        allowed: String,
    },
    /// No checkout has this id (never existed, already paid or cancelled, or forgotten).
    #[error("this checkout is unknown or already finished: start again from the shop")]
    UnknownCheckout,
    /// No simulated payment has this transaction id.
    #[error("no simulated payment has the transaction id {0}")]
    UnknownPayment(String),
    /// No simulated subscription has this id.
    #[error("no simulated subscription has the id {0}")]
    UnknownSubscription(String),
    /// The action does not apply to the payment or subscription in its present state.
    #[error("{0}")]
    WrongState(String),
    /// The IPN could not be delivered: no connection, no 200 answer, or a timeout.
    #[error("the IPN to {url} was not delivered: {reason}")]
    Delivery {
        /// The `notify_url`.
        url: String,
        /// What happened.
        reason: String,
    },
}

impl SimulatorError {
    /// The HTTP status of the page that shows the error.
    pub fn status(&self) -> StatusCode {
        match self {
            SimulatorError::BadForm { .. } => StatusCode::BAD_REQUEST,
            SimulatorError::NotifyUrlNotAllowed { .. } => StatusCode::FORBIDDEN,
            SimulatorError::UnknownCheckout
            | SimulatorError::UnknownPayment(_)
            | SimulatorError::UnknownSubscription(_) => StatusCode::NOT_FOUND,
            SimulatorError::WrongState(_) => StatusCode::CONFLICT,
            SimulatorError::Delivery { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The title of the page that shows the error.
    pub fn title(&self) -> &'static str {
        match self {
            SimulatorError::BadForm { .. } | SimulatorError::NotifyUrlNotAllowed { .. } => {
                "PayPal simulator: form refused"
            }
            SimulatorError::UnknownCheckout
            | SimulatorError::UnknownPayment(_)
            | SimulatorError::UnknownSubscription(_) => "PayPal simulator: not found",
            SimulatorError::WrongState(_) => "PayPal simulator: action not possible",
            SimulatorError::Delivery { .. } => "PayPal simulator: notification not delivered",
        }
    }
}
