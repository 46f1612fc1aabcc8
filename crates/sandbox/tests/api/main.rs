//! The built-in Constant Contact sandbox over real sockets: the OAuth2 code flow with PKCE and
//! its failure modes, the device flow, the `/v3` routes and their validation, the limits, every
//! fault, the control routes, contacts' permission, contact search, resubscribe requests and the
//! mailbox with its SMTP receiver, one module per area. Time-dependent behaviour is driven by a `ManualClock`.
//! Nothing here needs ccbridge itself; the app's own tests against the sandbox are in the
//! workspace root's `tests/api`.

mod access;
mod authorize;
mod contacts_search;
mod control;
mod device;
mod faults;
mod helpers;
mod lifecycle;
mod limits;
mod lists;
mod mailbox;
mod permission;
mod refresh;
mod resubscribe;
mod sign_up_form;
mod token;
