//! Feature `simulator`: the bank's side of the CM-CIC / Monetico protocol, for the server's simulated bank,
//! tests and fuzz targets.
//!
//! What the bank computes — the seal of a payment form, of a return and of a recredit, the `montant` it
//! reads, the recredit answer it writes — so that a stand-in bank runs the very code a merchant's server
//! checks against, and tests can check it against the bank's published vectors. A shop needs none of it:
//! [`CmcicGateway`](super::CmcicGateway) seals, checks and maps everything on its own. The gateway's
//! [`sealed_return_body`](super::CmcicGateway::sealed_return_body) and
//! [`request_seal_matches`](super::CmcicGateway::request_seal_matches) come with the same feature.

pub use super::config::VERSION;
pub use super::hand_off::request_seal;
pub use super::mac::{legacy_request_input, monetico_input, seal_hex, seal_matches};
pub use super::message::parse_montant;
pub use super::refund::{answer_body, interpret, recredit_seal, recredit_seal_matches, request_fields};
pub use super::status::notification;
pub use super::verify::{SealCheck, check_seal, sealed_input};
