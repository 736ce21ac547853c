//! `kafkit registry serve`: the Schema Registry of kafkit-registry on a storage's topic.

use std::sync::Arc;

use anyhow::Context;
use kafkit::registry::RegistryService;
use kafkit::store::{AnyStorage, Storage};

/// Serves the registry kept in `topic` of `storage` on `listen` until Ctrl-C.
pub(crate) async fn serve(storage: AnyStorage, listen: &str, topic: &str) -> anyhow::Result<()> {
    let place = storage.describe();
    let service = RegistryService::open(storage, topic)
        .await
        .with_context(|| format!("opening the registry in {place} topic {topic}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    eprintln!("schema registry on http://{address}, kept in {place} topic {topic} (Ctrl-C stops)");
    tokio::select! {
        served = kafkit::registry::serve(listener, Arc::new(service)) => {
            served.with_context(|| format!("serving on {address}"))?;
        }
        _ = tokio::signal::ctrl_c() => eprintln!("schema registry stopped"),
    }
    Ok(())
}
