//! A row's current link behind a sequence lock, updated in place.
//!
//! A slot of the primary index holds the link of its row's current version; an update
//! swaps the link in place. The slot is written by one thread at a time (the table's
//! commit point) and read by anyone through a sequence lock: all fields are atomics, so a
//! torn read is detected and retried, never UB.
//!
//! A store takes a few nanoseconds, so a reader that finds it under way spins briefly.
//! If the writer was preempted mid-store, the reader would spin for the writer's whole
//! time slice; after [`SPINS_BEFORE_YIELD`] tries it yields its thread instead, so the
//! writer gets the core back.

use std::sync::atomic::{AtomicU32, Ordering, fence};

use crate::Link;

/// Tries a reader spins before it yields its thread to a (likely preempted) writer.
const SPINS_BEFORE_YIELD: u32 = 64;

/// One row's current link behind a sequence lock.
#[derive(Default)]
pub(crate) struct LinkCell {
    /// Even when stable, odd while the writer changes the fields.
    seq: AtomicU32,
    page_id: AtomicU32,
    offset: AtomicU32,
    length: AtomicU32,
}

impl LinkCell {
    pub(crate) fn load(&self) -> Link {
        let mut tries = 0u32;
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
            tries += 1;
            if tries % SPINS_BEFORE_YIELD == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Single writer only.
    pub(crate) fn store(&self, link: Link) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.page_id.store(link.page_id, Ordering::Relaxed);
        self.offset.store(link.offset, Ordering::Relaxed);
        self.length.store(link.length, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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
        let cell = Arc::new(LinkCell::default());
        cell.store(link(0));
        let rounds = if cfg!(miri) { 50 } else { 100_000 };
        let reader = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let seen = cell.load();
                    assert_eq!(seen, link(seen.page_id), "a link is never torn");
                }
            })
        };
        for n in 1..rounds {
            assert_eq!(cell.load(), link(n - 1));
            cell.store(link(n));
        }
        reader.join().expect("reader saw whole links");
    }
}
