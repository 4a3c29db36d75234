//! How far the commit point has applied each shard's batches.
//!
//! A shard numbers the batches it sends; the commit point publishes the number of the
//! last one it applied. A shard that must read a row it still has in flight waits for
//! that number; every other write goes on without waiting, so the commit point wakes
//! only the writer's caller, never the shard.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// The progress of one shard's batches through the commit point.
#[derive(Default)]
pub(crate) struct Progress {
    applied: AtomicU64,
    advanced: Notify,
}

impl Progress {
    /// The number of the last batch applied.
    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Records that batch `batch` is applied. Commit point only.
    pub(crate) fn advance(&self, batch: u64) {
        self.applied.store(batch, Ordering::Release);
        self.advanced.notify_waiters();
    }

    /// Waits until batch `batch` is applied.
    pub(crate) async fn wait_for(&self, batch: u64) {
        loop {
            let advanced = self.advanced.notified();
            let mut advanced = std::pin::pin!(advanced);
            // Registered before the check, so an advance in between is not missed.
            advanced.as_mut().enable();
            if self.applied() >= batch {
                return;
            }
            advanced.await;
        }
    }
}
