//! The operator console: operator accounts (`librement-server operator ...`), and the pages under
//! `/admin` where operators see every payment, message, delivery and ledger entry, and act on them.

pub mod accounts;
