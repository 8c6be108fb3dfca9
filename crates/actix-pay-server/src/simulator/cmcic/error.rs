//! What can go wrong in building the simulator. What the buyer or the merchant's form gets wrong is shown
//! on the pages in the buyer's language ([`words`](super::words)), not raised as an error.

/// Why the simulator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The HTTP client for the returns could not be built.
    #[error("cmcic simulator: cannot build its HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}
