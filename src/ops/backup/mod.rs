//! The backup: an org read through `provider::okta` into the canonical files of a snapshot.

pub mod collect;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::catalogue::Catalogue;
use crate::provider::okta::Client;
use crate::provider::okta::walk::{self, Plan};
use crate::snapshot::canonical::Context;

use collect::{CollectError, Collected, Collector, Store};

/// Reads `plan` from the org and collects it into files through `store`: the walk and the
/// collector run side by side, so objects reach the store as pages arrive.
pub async fn read_org<S: Store>(
    catalogue: &'static Catalogue,
    client: Arc<Client>,
    plan: &Plan,
    context: Context<'_>,
    store: S,
) -> Result<Collected<S::Handle>, CollectError> {
    let (sender, mut receiver) = mpsc::channel(64);
    let walking = walk::walk(catalogue, client, plan, sender);
    let mut collector = Collector::new(catalogue, context, store);
    let collecting = async {
        while let Some(event) = receiver.recv().await {
            collector.take(event)?;
        }
        Ok::<_, CollectError>(())
    };
    let ((), collected) = tokio::join!(walking, collecting);
    collected?;
    collector.finish()
}
