//! The clock lives in the `ccbridge-clock` crate because the sandbox crate decides by it too;
//! this re-export keeps the app's `crate::clock::…` paths.

pub use ccbridge_clock::*;
