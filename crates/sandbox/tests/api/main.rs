//! The built-in Constant Contact sandbox over real sockets: the OAuth2 code flow with PKCE and
//! its failure modes, the device flow, the `/v3` routes and their validation, the limits, every
//! fault, and the control routes, one module per area. Time-dependent behaviour is driven by a `ManualClock`.
//! Nothing here needs ccbridge itself; the app's own tests against the sandbox are in the
//! workspace root's `tests/api`.

mod access;
mod authorize;
mod control;
mod device;
mod faults;
mod helpers;
mod lifecycle;
mod limits;
mod lists;
mod refresh;
mod sign_up_form;
mod token;
