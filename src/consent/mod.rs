//! Double opt-in: nobody is subscribed without their own action (invariant 6).
//!
//! A signup on a `consent = "double"` form is stored `awaiting_confirmation` with a mail queued
//! (the store does that in the intake's transaction). Here: [`mailer`], the worker that sends
//! those mails with a fresh link each; [`texts`], the mail's words; [`confirm`], what following a
//! link does. The HTTP pages are `http::confirm`.

pub mod confirm;
pub mod mailer;
pub mod texts;

pub use mailer::{ConfirmationMailer, ListNames, MailOutcome};
