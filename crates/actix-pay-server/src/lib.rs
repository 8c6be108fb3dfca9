//! The librement-pay server: mounts the payment-buttons core and Librement, stores everything with
//! Diesel (SQLite by default, PostgreSQL for production) and runs the binary `librement-server`.

pub mod admin;
pub mod api;
pub mod app;
pub mod background;
pub mod cli;
pub mod config;
pub mod demo;
pub mod gateways;
pub mod health;
pub mod mail;
pub mod metrics;
pub mod pages;
pub mod rate_limits;
pub mod refunds;
pub mod serve;
pub mod simulator;
pub mod store;
pub mod webhooks;
