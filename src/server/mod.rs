//! The web server (DESIGN.md "Server", issue #8). So far only its role table: the routes,
//! sessions over HTTP and the dashboard come in the next steps.
//!
//! Must not hold logic the CLI also needs: both call `ops` and `store`.

pub mod role;
