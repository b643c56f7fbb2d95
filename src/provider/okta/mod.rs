//! The Okta HTTP client (DESIGN.md `provider::okta`): OAuth 2.0 client credentials
//! (`client_secret_basic`, `private_key_jwt`, DPoP) or SSWS, rate-limit budgets read from
//! `X-Rate-Limit-*`, retries, pagination in Okta's styles, and Okta's error bodies as typed
//! errors.
//!
//! Must not: know about git or files (the backup composes this client with `snapshot`).

pub mod auth;
pub mod budget;
pub mod client;
pub mod credentials;
pub mod error;
pub mod links;
pub mod org_url;
pub mod signing;
pub mod system_log;
pub mod walk;

pub use client::{Answer, Client, ClientOptions, RetryPolicy, Stats};
pub use credentials::{Credentials, Secret};
pub use error::{ApiError, Cause, ClientError};
pub use org_url::OrgUrl;
