//! `Provider`: the settings of one identity provider's catalogue that are not about one kind:
//! its rate-limit buckets and the scopes Butterfly asks a customer to grant by default.
//! Loaded from `schemas/<provider>/_provider.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    provider: String,
    title: String,
    buckets: Vec<RawBucket>,
    requested_scopes: RawRequested,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    name: String,
    per_minute: u32,
    about: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequested {
    manage: Vec<String>,
    extra: Vec<String>,
    about: String,
}

/// A rate-limit bucket: requests that share one counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// Okta's last published default for Workforce orgs; the client reads the real limit from
    /// `X-Rate-Limit-*` headers, the simulator uses this.
    pub per_minute: u32,
    pub about: String,
}

/// The provider-wide part of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub title: String,
    pub buckets: BTreeMap<String, Bucket>,
    /// The manage scopes of the product's published scope list (seed 000), which
    /// cover read and write for their kinds.
    pub requested_manage: Vec<String>,
    /// Scopes requested whatever the kinds (the System Log).
    pub requested_extra: Vec<String>,
    pub requested_about: String,
}

impl Provider {
    pub(crate) fn from_raw(raw: RawProvider) -> Result<Self, (String, String)> {
        let mut buckets = BTreeMap::new();
        for bucket in raw.buckets {
            if bucket.per_minute == 0 {
                return Err((
                    "buckets.per_minute".into(),
                    format!("bucket `{}` has a limit of 0", bucket.name),
                ));
            }
            if buckets.contains_key(&bucket.name) {
                return Err((
                    "buckets.name".into(),
                    format!("bucket `{}` is declared twice", bucket.name),
                ));
            }
            buckets.insert(
                bucket.name.clone(),
                Bucket {
                    name: bucket.name,
                    per_minute: bucket.per_minute,
                    about: bucket.about,
                },
            );
        }
        Ok(Provider {
            name: raw.provider,
            title: raw.title,
            buckets,
            requested_manage: raw.requested_scopes.manage,
            requested_extra: raw.requested_scopes.extra,
            requested_about: raw.requested_scopes.about,
        })
    }
}
