//! Who is calling, and what they may use: authentication for the HTTP front
//! ends, and `[[policy]]` authorization.
//!
//! This module owns turning an `Authorization` header into a [`Principal`]
//! (or an [`AuthError`] and the `WWW-Authenticate` challenge that goes with
//! it), the OAuth 2.0 protected resource metadata (RFC 9728) that tells MCP
//! clients where to get a token, and the policy decisions over exposed names.
//! The HTTP front ends run it as a middleware (`crate::front::auth`).
//!
//! - [`authenticator`]: [`Authenticator`], API keys, then JWTs; challenge and metadata.
//! - [`principal`]: [`Principal`], who a request comes from.
//! - `jwt`: which JWTs are accepted and whom they name.
//! - `jwks`: the identity provider's signing keys, fetched and cached by `kid`.
//! - `policy`: [`Policies`] and [`PolicyView`], what a principal may use.
//! - `error`: [`AuthError`], [`AuthSetupError`].

pub mod authenticator;
mod error;
mod jwks;
mod jwt;
mod policy;
pub mod principal;

pub use authenticator::Authenticator;
pub use error::{AuthError, AuthSetupError};
pub use policy::{Policies, PolicyView};
pub use principal::{Principal, Via};
