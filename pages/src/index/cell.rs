//! Stable cells holding a row's current link, updated in place.
//!
//! The primary index maps a key to a cell id fixed for the row's lifetime, so an update
//! swaps the link inside the cell and never touches the hash index (whose copy-on-write
//! update lets a concurrent lookup miss the key for a moment). A cell is written by one
//! thread at a time (the table's commit point) and read by anyone through a sequence
//! lock: all fields are atomics, so a torn read is detected and retried, never UB.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering, fence};

use parking_lot::Mutex;
use scc::Guard;

use crate::Link;

/// One row's current link behind a sequence lock.
#[derive(Default)]
struct LinkCell {
    /// Even when stable, odd while the writer changes the fields.
    seq: AtomicU32,
    page_id: AtomicU32,
    offset: AtomicU32,
    length: AtomicU32,
}

impl LinkCell {
    fn load(&self) -> Link {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 0 {
                let link = Link {
                    page_id: self.page_id.load(Ordering::Relaxed),
                    offset: self.offset.load(Ordering::Relaxed),
                    length: self.length.load(Ordering::Relaxed),
                };
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return link;
                }
            }
            std::hint::spin_loop();
        }
    }

    /// Single writer only.
    fn store(&self, link: Link) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.page_id.store(link.page_id, Ordering::Relaxed);
        self.offset.store(link.offset, Ordering::Relaxed);
        self.length.store(link.length, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}

/// Cell ids freed by deletes, reusable once no reader can hold them.
#[derive(Default)]
struct FreeCells {
    ids: Mutex<Vec<u32>>,
    pending: AtomicBool,
}

/// An append-only arena of link cells with epoch-based reuse of freed ids.
#[derive(Default)]
pub(crate) struct LinkCells {
    cells: boxcar::Vec<LinkCell>,
    free: Arc<FreeCells>,
    /// Freed ids taken over by the writer.
    reusable: Mutex<Vec<u32>>,
}

impl LinkCells {
    /// The link in cell `id`, or `None` for an id never handed out.
    pub(crate) fn load(&self, id: u32) -> Option<Link> {
        self.cells.get(id as usize).map(LinkCell::load)
    }

    /// A cell holding `link`. Writer only.
    pub(crate) fn allocate(&self, link: Link) -> u32 {
        let mut reusable = self.reusable.lock();
        if self.free.pending.swap(false, Ordering::Acquire) {
            reusable.append(&mut self.free.ids.lock());
        }
        if let Some(id) = reusable.pop() {
            if let Some(cell) = self.cells.get(id as usize) {
                cell.store(link);
                return id;
            }
        }
        drop(reusable);
        let cell = LinkCell::default();
        cell.store(link);
        let id = self.cells.push(cell);
        u32::try_from(id).expect("fewer than 2^32 rows fit in memory: each takes over 16 bytes")
    }

    /// Points cell `id` at `link` and returns the link it held. Writer only.
    pub(crate) fn replace(&self, id: u32, link: Link) -> Option<Link> {
        let cell = self.cells.get(id as usize)?;
        let old = cell.load();
        cell.store(link);
        Some(old)
    }

    /// Frees cell `id` once every guard pinned now is dropped. Writer only.
    pub(crate) fn retire(&self, id: u32, guard: &Guard) {
        let free = Arc::clone(&self.free);
        guard.defer_execute(move || {
            free.ids.lock().push(id);
            free.pending.store(true, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(n: u32) -> Link {
        Link {
            page_id: n,
            offset: n * 16,
            length: n + 1,
        }
    }

    #[test]
    fn readers_see_whole_links_while_the_writer_replaces_them() {
        let cells = Arc::new(LinkCells::default());
        let id = cells.allocate(link(0));
        let rounds = if cfg!(miri) { 50 } else { 100_000 };
        let reader = {
            let cells = Arc::clone(&cells);
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let seen = cells.load(id).expect("allocated");
                    assert_eq!(seen, link(seen.page_id), "a link is never torn");
                }
            })
        };
        for n in 1..rounds {
            assert_eq!(cells.replace(id, link(n)), Some(link(n - 1)));
        }
        reader.join().expect("reader saw whole links");
    }

    #[test]
    fn retired_cells_are_reused_after_readers_leave() {
        let cells = LinkCells::default();
        let first = cells.allocate(link(1));
        {
            let guard = Guard::new();
            cells.retire(first, &guard);
        }
        let mut reused = false;
        for n in 0..if cfg!(miri) { 10_000 } else { 1_000_000 } {
            let guard = Guard::new();
            guard.accelerate();
            drop(guard);
            let id = cells.allocate(link(n));
            if id == first {
                reused = true;
                break;
            }
            let guard = Guard::new();
            cells.retire(id, &guard);
        }
        assert!(reused, "a retired cell id is handed out again");
    }
}
