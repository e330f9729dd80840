//! The tools a data source that signs in to a remote service offers by convention, so that
//! `switchboard sources login | test | remove` drive any such connector without knowing it,
//! and a fourth connector needs nothing new in the host.
//!
//! - [`SIGN_IN`]: run the connector's sign-in flow and keep what it gives (tokens through
//!   [`crate::Host::keep_secret`]). Arguments: an object, optionally `{"flow": "<name>"}`
//!   choosing among the connector's flows (device code, browser, client credentials...). What
//!   the person must do (a code and the address to enter it at) goes out as
//!   [`crate::Call::progress`] messages, which the terminal prints and MCP clients show; the
//!   call returns when signing in has finished, saying who is signed in. A connector whose
//!   credentials are all configured secrets (an API token) answers that nothing is needed.
//! - [`CHECK`]: make one cheap live call (who am I, one row) and say what answered; on failure
//!   a [`crate::ToolResult::error`] saying what failed and what to do. Read-only.
//! - [`SIGN_OUT`]: forget every token the connector kept ([`crate::Host::forget_secret`]).

/// Run the sign-in flow.
pub const SIGN_IN: &str = "sign_in";
/// One live call that says whether the source answers.
pub const CHECK: &str = "check";
/// Forget the kept tokens.
pub const SIGN_OUT: &str = "sign_out";
