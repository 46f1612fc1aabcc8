//! Plain types with no I/O: what ccbridge talks about, each parsed once at the edge so that code
//! past it never re-checks (an `EmailAddress` is valid, a `FormId` is URL-safe).

mod account_check;
pub mod backoff;
mod database_url;
pub mod email;
mod form_id;
pub mod html;
mod signup;

pub use account_check::AccountCheck;
pub use database_url::{Backend, DatabaseUrl};
pub use email::{EmailAddress, EmailError};
pub use form_id::FormId;
pub use signup::{ConsentContext, ConsentMode, CustomFieldValue, Intake, NewSignup, SignupState};
