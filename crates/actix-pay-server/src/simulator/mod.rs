//! Stand-ins for the gateways' own pages, mounted only in simulator mode.
//!
//! Each simulator speaks its gateway's real protocol toward the real code paths (seals, signatures,
//! server-to-server notifications, postbacks): the only difference from production is the URL the buyer
//! is sent to.

pub mod cmcic;
pub mod mail;
pub mod paypal;
