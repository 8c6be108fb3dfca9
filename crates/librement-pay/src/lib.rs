//! Librement: accounts that hold a balance, a double-entry ledger, and the flows that let a buyer pay a
//! payment button from that balance, by card or PayPal, or both.
//!
//! Storage is a set of traits ([`ledger::LedgerStore`], [`accounts::UserStore`]); the server implements
//! them with Diesel.
#![warn(missing_docs)]

pub mod accounts;
pub mod choice;
pub mod email_tokens;
pub mod gateway;
pub mod ledger;
pub mod mail;
pub mod payout;
pub mod purchase;
pub mod refund;
pub mod reversal;
pub mod session;
pub mod statement;
pub mod topup;
pub mod web;
pub mod words;
