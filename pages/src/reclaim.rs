//! Handing dead row versions back to the writer that owns their page.
//!
//! A version that readers may still hold is retired under an epoch [`Guard`]: the slot
//! reaches its writer's queue only after every guard pinned at that moment is dropped.
//! A version that was never published goes back at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use scc::Guard;

use crate::Link;

/// Slots waiting to be reused by one shard's writer.
#[derive(Default)]
struct ShardQueue {
    slots: Mutex<Vec<Link>>,
    /// Set when `slots` may be non-empty, so the writer can skip the lock otherwise.
    pending: AtomicBool,
}

/// The reclaimed-slot queues of every shard of one table.
#[derive(Clone)]
pub(crate) struct ReclaimQueues {
    shards: Arc<[ShardQueue]>,
}

impl ReclaimQueues {
    pub(crate) fn new(shards: u16) -> Self {
        ReclaimQueues {
            shards: (0..shards.max(1)).map(|_| ShardQueue::default()).collect(),
        }
    }

    /// Gives `link` back to shard `owner` now.
    pub(crate) fn push(&self, owner: u16, link: Link) {
        if let Some(queue) = self.shards.get(usize::from(owner)) {
            queue.slots.lock().push(link);
            queue.pending.store(true, Ordering::Release);
        }
    }

    /// Gives `link` back to shard `owner` once every guard pinned now is dropped.
    pub(crate) fn push_after(&self, owner: u16, link: Link, guard: &Guard) {
        let queues = self.clone();
        guard.defer_execute(move || queues.push(owner, link));
    }

    /// Moves every slot queued for `owner` into `into`.
    pub(crate) fn drain(&self, owner: u16, into: &mut Vec<Link>) {
        let Some(queue) = self.shards.get(usize::from(owner)) else {
            return;
        };
        if queue.pending.swap(false, Ordering::Acquire) {
            into.append(&mut queue.slots.lock());
        }
    }
}

/// A cheap handle that retires dead row versions of one table; clone it freely.
#[derive(Clone)]
pub struct Retirer {
    pub(crate) queues: ReclaimQueues,
    pub(crate) owners: Arc<dyn Fn(u32) -> Option<u16> + Send + Sync>,
}

impl Retirer {
    /// Retires a version that readers may still hold: it was published and has just been
    /// unlinked from every index. Its space is reused after every guard pinned now is gone.
    pub fn retire(&self, link: Link, guard: &Guard) {
        if let Some(owner) = (self.owners)(link.page_id) {
            self.queues.push_after(owner, link, guard);
        }
    }

    /// Returns the space of a version that was never published (no reader can hold it)
    /// to its writer at once.
    pub fn release_unpublished(&self, link: Link) {
        if let Some(owner) = (self.owners)(link.page_id) {
            self.queues.push(owner, link);
        }
    }
}
