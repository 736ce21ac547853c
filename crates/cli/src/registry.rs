//! `kafkit registry serve`: the Schema Registry of kafkit-registry on a storage's topic.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use kafkit::registry::{RegistryService, ServerAuth};
use kafkit::store::{AnyStorage, Storage};

/// Serves the registry kept in `topic` of `storage` on `listen` until Ctrl-C, to the users
/// of the password file `users` only when given.
pub(crate) async fn serve(
    storage: AnyStorage,
    listen: &str,
    topic: &str,
    users: Option<&Path>,
) -> anyhow::Result<()> {
    let auth = match users {
        Some(path) => {
            let origin = path.display().to_string();
            let owned = path.to_path_buf();
            let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(owned))
                .await?
                .with_context(|| format!("reading the password file {origin}"))?;
            Some(ServerAuth::parse(&text, &origin).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
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
        served = kafkit::registry::serve(listener, Arc::new(service), auth) => {
            served.with_context(|| format!("serving on {address}"))?;
        }
        _ = tokio::signal::ctrl_c() => eprintln!("schema registry stopped"),
    }
    Ok(())
}
