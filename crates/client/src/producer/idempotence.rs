//! The idempotent producer's identity: producer id and epoch, and epoch bumps.
//!
//! Every batch carries (producer id, epoch, base sequence); the broker accepts a batch only
//! if its sequence is the next one it expects for that partition, and answers a resend of
//! something already written with DUPLICATE_SEQUENCE_NUMBER. When a sequence can no longer
//! be continued (a batch failed for good, the broker forgot the producer, or it reports a
//! gap), the producer takes a fresh id/epoch and restarts every partition at sequence 0 —
//! but only once nothing is in flight, so no batch is ever written under two identities.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::wire::messages::{ApiKey, InitProducerIdRequest, ProducerId};

use crate::client::{Client, Target};
use crate::error::{check_code, Result};

/// Producer id and epoch, and whether a bump is pending.
#[derive(Debug)]
pub(crate) struct Identity {
    current: Mutex<(i64, i16)>,
    bump: AtomicBool,
    /// Sinks hold it shared while they stamp and count batches in flight; the router holds
    /// it alone to see that nothing is in flight before a bump.
    gate: RwLock<()>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            current: Mutex::new((-1, -1)),
            bump: AtomicBool::new(false),
            gate: RwLock::new(()),
        }
    }
}

impl Identity {
    /// Held by a sink while it takes batches to send.
    pub(crate) fn gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Held by the router while it checks that nothing is in flight.
    pub(crate) fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The producer id and epoch to stamp batches with.
    pub(crate) fn current(&self) -> (i64, i16) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a new epoch: sinks stop sending new batches until it is done.
    pub(crate) fn request_bump(&self) {
        if !self.bump.swap(true, Ordering::SeqCst) {
            tracing::info!("idempotent producer: epoch bump requested");
        }
    }

    /// True while a bump is pending.
    pub(crate) fn bump_requested(&self) -> bool {
        self.bump.load(Ordering::SeqCst)
    }

    /// Ends a bump once every partition's sequence restarted: sinks send again.
    pub(crate) fn bump_done(&self) {
        self.bump.store(false, Ordering::SeqCst);
    }

    /// Replaces the producer id and epoch (a transactional producer's, from its coordinator).
    pub(crate) fn set(&self, ids: (i64, i16)) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = ids;
    }

    /// Gets the first producer id.
    pub(crate) async fn init(&self, client: &Client) -> Result<()> {
        let (id, epoch) = init_producer_id(client).await?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = (id, epoch);
        tracing::debug!(producer_id = id, epoch, "idempotent producer ready");
        Ok(())
    }

    /// Replaces the identity. Brokers that do not support bumping an idempotent producer's
    /// epoch in place (KIP-360) get a new producer id, which is just as safe: sequences
    /// restart at 0 under it.
    ///
    /// The bump stays pending (sinks send nothing) until [`bump_done`](Self::bump_done):
    /// the caller first restarts every partition's sequence. A sink that sent in between
    /// would stamp an old sequence with the new identity, which the broker refuses with
    /// OUT_OF_ORDER_SEQUENCE_NUMBER on every retry (seen on Kafka).
    pub(crate) async fn bump(&self, client: &Client) -> Result<()> {
        let (old_id, old_epoch) = self.current();
        let (id, epoch) = init_producer_id(client).await?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = (id, epoch);
        tracing::info!(
            old_id,
            old_epoch,
            id,
            epoch,
            "idempotent producer: new producer id"
        );
        Ok(())
    }
}

async fn init_producer_id(client: &Client) -> Result<(i64, i16)> {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    client
        .with_retries("InitProducerId", || async {
            let conn = client.connection(&Target::LeastLoaded).await?;
            let r = conn.send(&request).await?;
            check_code(r.error_code, ApiKey::InitProducerId, conn.broker())
                .map_err(|b| b.build())?;
            Ok((r.producer_id.0, r.producer_epoch))
        })
        .await
}
