//! Feature `simulator`: PayPal's side of Payments Standard, for the server's simulated PayPal, tests and
//! fuzz targets.
//!
//! An IPN encoded as PayPal posts it, decoded as the gateway decodes it, and PayPal's dates: so that a
//! stand-in PayPal sends the very bytes the gateway reads; with `reqwest`, the string a Checkout webhook's
//! signature covers. A shop needs none of it:
//! [`PaypalGateway`](super::PaypalGateway) decodes, verifies and maps every message on its own.

#[cfg(feature = "reqwest")]
pub use super::checkout::verify::webhook_signed_string;
pub use super::date::parse_paypal_date;
pub use super::message::{decode_ipn, encode_ipn, overlong_fields};
