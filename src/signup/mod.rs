//! The signup core: reading a submitted body into fields ([`body`]), validating them into a
//! `NewSignup` with limits that mirror Constant Contact's ([`validate`]), the error with one code per
//! problem ([`error`]), and committing signups durably in groups ([`writer`]).
//!
//! The promise kept with the HTTP layer (invariant 1): a success answer is sent only after
//! [`SignupWriter::insert`] returned, i.e. the signup is committed. Bad input gets a specific
//! error code and changes nothing (invariant 5). The request handler that strings these steps
//! together with the abuse checks is `http::signup`.

pub mod body;
pub mod consent;
pub mod error;
pub mod refusals;
pub mod validate;
pub mod writer;

pub use error::SignupError;
pub use refusals::RefusalCounter;
pub use writer::SignupWriter;
