//! HTTP for switchboard's connector plugins: what a connector to a web service needs and
//! should not write again, kept out of the plugin contract (`switchboard-plugin-api`) so that
//! crate stays small.
//!
//! - [`Client`] sends a [`Request`] with [`ureq`] (blocking: a plugin's calls run on threads
//!   the host keeps for it), trying again on `429` and `503` after the `Retry-After` they give
//!   and on failed connections with a backoff ([`retry`]), waking for the call's
//!   cancellation during a wait, and asking its [`Auth`] for a new token once when the server
//!   answers `401`.
//! - [`oauth`] signs in (device code, client credentials), renews tokens before they expire
//!   and when refused, and keeps them in a [`oauth::TokenStore`]; [`browser`] signs a person
//!   in in the browser (authorization code with PKCE on a loopback redirect).
//! - [`paging`] follows a listing's pages by link or by offset, with a page limit.
//! - [`HttpError`] says what failed in a sentence and becomes the host's `PluginError`.
//!
//! Tests: `tests/client.rs` and `tests/oauth.rs` drive the client against a small HTTP server
//! on loopback that answers what each test scripts (throttling, failures, a refused token,
//! linked pages, a token endpoint in the Microsoft identity platform's wire format).

pub mod browser;
pub mod client;
pub mod error;
pub mod oauth;
pub mod paging;
pub mod retry;

pub use client::{Auth, Client, Request, Response, Wait};
pub use error::HttpError;
pub use paging::{LinkedPages, Offsets};
pub use retry::Retry;
