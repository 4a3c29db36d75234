//! Handing dead row versions back to the writer that owns their page.
//!
//! A version that readers may still hold is *retired*: it goes to its writer's queue
//! stamped with the time of its retirement on the queue's [`EpochClock`], which counts
//! advances of the global epoch of the epoch-based reclamation every reader's [`Guard`]
//! takes part in. The writer reuses the slot once the clock has counted [`RECLAIM_EPOCHS`]
//! advances since: a guard pinned while the version could still be found keeps the
//! global epoch from moving more than three epochs past the one seen at the retirement
//! (sdd's `Epoch::next_generation`), so by then every such guard has been dropped. A
//! version that was never published is an [`Unpublished`] token, whose space goes back
//! at once when it is dropped.
//!
//! The stamp, not a closure deferred on the retiring thread's own collector, is what
//! frees a slot: a deferred closure runs only when that thread pins guards again, so a
//! thread that committed deletes and then went idle would hold their space back for good.
//! Writers read the epoch themselves whenever they look for space.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use scc::Guard;
use sdd::Epoch;

use crate::Link;

/// Epoch advances after which a retired slot can be reused: sdd's generation is three
/// advances, and the epoch a thread reads may lag the global one by one.
pub const RECLAIM_EPOCHS: u64 = 4;

/// Counts advances of the global epoch, which cycles through 64 values, as a number that
/// only grows: each reading of the epoch adds how far it moved since the last one. It
/// never counts more advances than happened, given readings made in the order they are
/// taken in, each by a thread holding a guard: such a reading is the global epoch or the
/// one before it (a pinned thread keeps the epoch from moving more than one past the one
/// it saw when it pinned, and its relaxed read may miss that one), so a reading is never
/// more than one behind an earlier one. A reading one behind the last is ignored, and 63
/// or more advances between two readings are counted short.
#[derive(Debug, Default)]
pub(crate) struct EpochClock {
    last: Option<u8>,
    advances: u64,
}

impl EpochClock {
    /// Takes in a reading of the epoch; returns the advances counted so far.
    pub(crate) fn observe(&mut self, epoch: Epoch) -> u64 {
        let now = u8::from(epoch);
        match self.last {
            None => self.last = Some(now),
            Some(last) => {
                let moved = now.wrapping_sub(last) % EPOCHS;
                if moved != EPOCHS - 1 {
                    self.advances += u64::from(moved);
                    self.last = Some(now);
                }
            }
        }
        self.advances
    }
}

/// How many values the global epoch cycles through.
const EPOCHS: u8 = 64;

/// Retired slots and the clock that dates them.
#[derive(Default)]
struct Retired {
    clock: EpochClock,
    /// Oldest first.
    slots: VecDeque<(Link, u64)>,
}

/// Slots waiting to be reused by one shard's writer.
#[derive(Default)]
pub(crate) struct ShardQueue {
    /// Slots free now.
    pub(crate) slots: Mutex<Vec<Link>>,
    /// Slots of retired versions, each with the clock's count when it was retired.
    retired: Mutex<Retired>,
    /// Set when `slots` or `retired` may be non-empty, so the writer can skip the locks
    /// otherwise; set again by `drain` while retired slots wait.
    pending: AtomicBool,
    /// Set while a [`PageWriter`](crate::PageWriter) for this shard exists: a shard has
    /// one writer at a time.
    taken: AtomicBool,
    /// Bytes of the shard's slots that hold a version, as its writer last counted them.
    live_bytes: AtomicU64,
}

impl ShardQueue {
    /// Gives `link` back to this queue's writer now.
    fn push(&self, link: Link) {
        self.slots.lock().push(link);
        self.pending.store(true, Ordering::Release);
    }

    /// Gives `link` back to this queue's writer [`RECLAIM_EPOCHS`] epoch advances after now
    /// (the version has left every index); `guard` is pinned.
    fn retire(&self, link: Link, guard: &Guard) {
        let mut retired = self.retired.lock();
        // Read under the lock, so that the clock takes readings in the order they were
        // made (see `EpochClock`).
        let now = retired.clock.observe(guard.epoch());
        retired.slots.push_back((link, now));
        drop(retired);
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

    /// Publishes the writer's count of live bytes, for [`ReclaimQueues::live_bytes`].
    pub(crate) fn set_live_bytes(&self, bytes: u64) {
        self.live_bytes.store(bytes, Ordering::Relaxed);
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

    /// Gives `link` back to shard `owner` once every guard pinned now is dropped: the
    /// epoch that `guard` sees now is its stamp.
    pub(crate) fn retire(&self, owner: u16, link: Link, guard: &Guard) {
        if let Some(queue) = self.of(owner) {
            queue.retire(link, guard);
        }
    }

    /// Gives back most of the room of `owner`'s queues when they use little of it.
    pub(crate) fn shrink(&self, owner: u16) {
        if let Some(queue) = self.of(owner) {
            crate::writer::shrink(&mut queue.slots.lock());
            crate::writer::shrink_deque(&mut queue.retired.lock().slots);
        }
    }

    /// Whether slots may be queued for `owner`.
    pub(crate) fn has_pending(&self, owner: u16) -> bool {
        self.of(owner)
            .is_some_and(|queue| queue.pending.load(Ordering::Acquire))
    }

    /// The live bytes of every shard, as their writers last counted them.
    pub(crate) fn live_bytes(&self) -> usize {
        let total: u64 = self
            .shards
            .iter()
            .map(|queue| queue.live_bytes.load(Ordering::Relaxed))
            .sum();
        usize::try_from(total).unwrap_or(usize::MAX)
    }

    /// Hands the slots queued for `owner` that can be reused now to its writer: those
    /// free now go into `free`, and the retired ones that the clock has counted
    /// [`RECLAIM_EPOCHS`] advances past go into `due`, oldest first. Both must be empty:
    /// when a whole queue goes, it is swapped with them, so that the writer takes no
    /// copy of a long queue and the queue keeps room (see `PageWriter::collect`). The
    /// younger retired slots stay queued. Reads the epoch into the clock (`guard` is
    /// pinned) and returns how many retired slots wait.
    pub(crate) fn drain(
        &self,
        owner: u16,
        guard: &Guard,
        free: &mut Vec<Link>,
        due: &mut VecDeque<(Link, u64)>,
    ) -> usize {
        debug_assert!(free.is_empty() && due.is_empty());
        let Some(queue) = self.of(owner) else {
            return 0;
        };
        if !queue.pending.swap(false, Ordering::Acquire) {
            return 0;
        }
        std::mem::swap(&mut *queue.slots.lock(), free);
        let mut queued = queue.retired.lock();
        let now = queued.clock.observe(guard.epoch());
        // Stamps are counts of one clock, taken in order, so the oldest come first.
        let ready = queued
            .slots
            .iter()
            .take_while(|(_, retired)| now >= retired + RECLAIM_EPOCHS)
            .count();
        if ready == queued.slots.len() {
            std::mem::swap(&mut queued.slots, due);
        } else {
            due.extend(queued.slots.drain(..ready));
        }
        let waiting = queued.slots.len();
        drop(queued);
        if waiting > 0 {
            // Still to do: the writer comes back when it next looks for space.
            queue.pending.store(true, Ordering::Release);
        }
        waiting
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
    /// any more: no reader can find it after this call. `guard` is pinned. It is retired
    /// once.
    pub(crate) unsafe fn retire(&self, link: Link, guard: &Guard) {
        if let Some(owner) = (self.owners)(link.page_id) {
            self.queues.retire(owner, link, guard);
        }
    }
}
