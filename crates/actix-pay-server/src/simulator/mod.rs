//! Gateway simulators: stand-ins for the gateways' own pages, mounted only in simulator mode. They speak
//! the real protocols (forms in, signed or verifiable notifications out) so that the real code paths run.

pub mod paypal;
