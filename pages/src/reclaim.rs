//! Handing dead row versions back to the writer that owns their page.
//!
//! A version that readers may still hold is retired under an epoch [`Guard`]: the slot
//! reaches its writer's queue only after every guard pinned at that moment is dropped.
//! A version that was never published is an [`Unpublished`] token, whose space goes back
//! at once when it is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use scc::Guard;

use crate::Link;

/// Slots waiting to be reused by one shard's writer.
#[derive(Default)]
pub(crate) struct ShardQueue {
    slots: Mutex<Vec<Link>>,
    /// Set when `slots` may be non-empty, so the writer can skip the lock otherwise.
    pending: AtomicBool,
    /// Set while a [`PageWriter`](crate::PageWriter) for this shard exists: a shard has
    /// one writer at a time.
    taken: AtomicBool,
}

impl ShardQueue {
    /// Gives `link` back to this queue's writer now.
    fn push(&self, link: Link) {
        self.slots.lock().push(link);
        self.pending.store(true, Ordering::Release);
    }

    /// Claims the shard for a new writer; `false` when it has one.
    pub(crate) fn take_writer(&self) -> bool {
        !self.taken.swap(true, Ordering::AcqRel)
    }

    /// Ends the claim of the writer that is being dropped.
    pub(crate) fn release_writer(&self) {
        self.taken.store(false, Ordering::Release);
    }
}

/// The reclaimed-slot queues of every shard of one table.
#[derive(Clone)]
pub(crate) struct ReclaimQueues {
    shards: Arc<[Arc<ShardQueue>]>,
}

impl ReclaimQueues {
    pub(crate) fn new(shards: u16) -> Self {
        ReclaimQueues {
            shards: (0..shards.max(1))
                .map(|_| Arc::new(ShardQueue::default()))
                .collect(),
        }
    }

    /// The queue of shard `owner`.
    pub(crate) fn of(&self, owner: u16) -> Option<&Arc<ShardQueue>> {
        self.shards.get(usize::from(owner))
    }

    /// Gives `link` back to shard `owner` once every guard pinned now is dropped.
    pub(crate) fn push_after(&self, owner: u16, link: Link, guard: &Guard) {
        if let Some(queue) = self.of(owner) {
            let queue = Arc::clone(queue);
            guard.defer_execute(move || queue.push(link));
        }
    }

    /// Moves every slot queued for `owner` into `into`.
    pub(crate) fn drain(&self, owner: u16, into: &mut Vec<Link>) {
        let Some(queue) = self.of(owner) else {
            return;
        };
        if queue.pending.swap(false, Ordering::Acquire) {
            into.append(&mut queue.slots.lock());
        }
    }
}

/// A row version written into a page and not yet reachable from any index.
///
/// Only [`PageWriter::write_row`](crate::PageWriter::write_row) and
/// [`PageWriter::write_checked`](crate::PageWriter::write_checked) make one, for the slot
/// they have just written; [`RowStore::version_bytes`](crate::RowStore::version_bytes)
/// reads that slot's bytes while the token lives. Dropping it
/// gives the slot back to its writer at once (no reader can hold it), so a write that is
/// refused or abandoned anywhere on its way leaks no space. Outside this crate it can only
/// be carried and dropped: a [`Committer`](crate::Committer) consumes it when the version
/// becomes reachable from an index (`publish`), and from then on its space comes back only
/// through retirement, after every index has let go of it and the readers are gone.
#[must_use = "dropping an unpublished version frees its slot"]
pub struct Unpublished {
    link: Link,
    /// The [`DataPages`](crate::DataPages) the slot belongs to, so a version is only ever
    /// committed into the indexes of its own pages.
    pages: u64,
    /// The queue of the writer that owns the slot; `None` once published.
    home: Option<Arc<ShardQueue>>,
}

impl Unpublished {
    pub(crate) fn new(link: Link, pages: u64, home: Arc<ShardQueue>) -> Self {
        Unpublished {
            link,
            pages,
            home: Some(home),
        }
    }

    /// Where the version lives.
    pub(crate) fn link(&self) -> Link {
        self.link
    }

    /// The id of the pages that hold the version.
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// Marks the version as reachable (the caller is about to link it from an index) and
    /// returns its link; its slot is no longer freed when this token would have been.
    pub(crate) fn publish(mut self) -> Link {
        self.home = None;
        self.link
    }
}

impl std::fmt::Debug for Unpublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Unpublished").field(&self.link).finish()
    }
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.push(self.link);
        }
    }
}

/// A cheap handle that retires dead row versions of one table's pages.
#[derive(Clone)]
pub(crate) struct Retirer {
    pub(crate) queues: ReclaimQueues,
    pub(crate) owners: Arc<dyn Fn(u32) -> Option<u16> + Send + Sync>,
}

impl Retirer {
    /// Retires a version that readers may still hold. Its space is reused after every
    /// guard pinned now is gone.
    ///
    /// # Safety
    ///
    /// `link` was published in the pages this retirer belongs to, and no index holds it
    /// any more: no reader can find it after `guard` was pinned. It is retired once.
    pub(crate) unsafe fn retire(&self, link: Link, guard: &Guard) {
        if let Some(owner) = (self.owners)(link.page_id) {
            self.queues.push_after(owner, link, guard);
        }
    }
}
