//! Stand-ins for the gateways' own pages, mounted only in simulator mode.
//!
//! Each simulator speaks its gateway's real protocol toward the real code paths (seals, signatures,
//! server-to-server notifications, postbacks): the only difference from production is the URL the buyer
//! is sent to.
//!
//! Both have one layout, the same file for the same role:
//!
//! | file | role |
//! |---|---|
//! | `mod.rs` | the simulator, its paths and its routes (`configure`) |
//! | `handlers.rs` | HTTP in and out: reads the request, calls an action, answers with a view |
//! | `actions.rs` | what the gateway does (take a form, decide a payment, refund...), without HTTP |
//! | `views.rs` | the pages: what their templates see, and rendering |
//! | `words.rs` | the pages' words |
//! | `ledger.rs` | what it remembers, in memory and bounded |
//! | `delivery.rs` | posting notifications to the merchant, as the gateway does |
//! | `error.rs` | its errors |
//! | `checkout.rs` | the merchant's hand-off form, read |
//! | `messages.rs` | the notifications it sends, before they are sent |
//!
//! Only CM-CIC has `cards.rs`, its test cards.

pub mod cmcic;
pub mod mail;
pub mod paypal;
