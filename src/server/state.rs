//! What every handler shares: the installation (store, catalogue, data directory, upstream
//! rule), the server's public base URL and origin, and the page templates.

use std::sync::Arc;

use crate::ops::admin::BaseUrl;
use crate::ops::connections::Installation;

#[derive(Clone)]
pub struct AppState {
    pub installation: Installation,
    pub base_url: BaseUrl,
    /// `scheme://host[:port]` of the base URL: what an `Origin` header must be.
    pub origin: String,
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
    pub templates: Arc<minijinja::Environment<'static>>,
}

impl AppState {
    pub fn new(installation: Installation, base_url: BaseUrl) -> AppState {
        let text = base_url.as_str();
        let secure_cookies = text.starts_with("https://");
        let after_scheme = text.find("://").map(|i| i + 3).unwrap_or(0);
        let origin = match text[after_scheme..].find('/') {
            Some(slash) => text[..after_scheme + slash].to_string(),
            None => text.to_string(),
        };
        AppState {
            installation,
            base_url,
            origin,
            secure_cookies,
            templates: Arc::new(super::pages::templates()),
        }
    }
}
