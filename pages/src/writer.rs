//! The single writer of one shard's pages: encodes rows and allocates their slots.

use std::collections::BTreeMap;
use std::sync::Arc;

use rkyv::util::AlignedVec;

use crate::link::round_up;
use crate::reclaim::{ShardQueue, Unpublished};
use crate::{DataPages, Link, PageError, RowFormat};

/// Writes row versions into the pages of one shard: the only writer of those pages (a
/// shard has one `PageWriter` at a time).
///
/// Space comes, in order of preference, from a freed slot of the exact size, from the
/// smallest larger freed slot (its tail stays free), or from the end of the current page.
/// Freed slots arrive through reclamation: a dropped [`Unpublished`] version at once, a
/// published one once the [`Committer`](crate::Committer) has retired it and the readers
/// that could hold it are gone.
pub struct PageWriter<R> {
    pages: Arc<DataPages<R>>,
    shard: u16,
    /// The page being filled and how many of its bytes are taken.
    current: Option<(u32, u32)>,
    /// Free slots by size in bytes (a multiple of `ROW_ALIGN`).
    free: BTreeMap<u32, Vec<Link>>,
    scratch: Vec<Link>,
    /// The encoding buffer, reused from row to row.
    buffer: AlignedVec,
    /// Where this writer's released and reclaimed slots arrive.
    home: Arc<ShardQueue>,
}

/// The space a version of `length` bytes takes in a page.
fn slot_size(length: u32) -> u32 {
    round_up(length).max(crate::ROW_ALIGN)
}

impl<R: RowFormat> PageWriter<R> {
    /// Creates the writer of shard `shard` of `pages`, or `None` when `pages` has no such
    /// shard or the shard has a writer already (until that one is dropped).
    pub fn new(pages: Arc<DataPages<R>>, shard: u16) -> Option<Self> {
        let home = Arc::clone(pages.reclaim.of(shard)?);
        if !home.take_writer() {
            return None;
        }
        Some(PageWriter {
            pages,
            shard,
            current: None,
            free: BTreeMap::new(),
            scratch: Vec::new(),
            buffer: AlignedVec::new(),
            home,
        })
    }

    /// The pages this writer writes into.
    pub fn pages(&self) -> &Arc<DataPages<R>> {
        &self.pages
    }

    /// Encodes `row` and writes it into a free slot. The version is not visible to any
    /// reader until the caller publishes its link in an index; until then the token owns
    /// the slot, and dropping it frees the slot.
    pub fn write_row(&mut self, row: &R) -> Result<Unpublished, PageError> {
        let buffer = std::mem::take(&mut self.buffer);
        let bytes = row
            .encode_into(buffer)
            .map_err(|e| PageError::Encode(e.to_string()))?;
        let written = self.write_bytes(&bytes);
        // A row too large for a page leaves no oversized buffer behind.
        if bytes.capacity() <= self.pages.page_size() as usize {
            self.buffer = bytes;
        }
        Ok(Unpublished::new(
            written?,
            self.pages.id(),
            Arc::clone(&self.home),
        ))
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<Link, PageError> {
        let max = self.pages.page_size() as usize;
        let length = u32::try_from(bytes.len())
            .ok()
            .filter(|len| *len as usize <= max)
            .ok_or(PageError::RowTooLarge {
                size: bytes.len(),
                max,
            })?;
        let link = self.allocate(length)?;
        // SAFETY: this writer owns the page (it allocated the slot from its own pages),
        // and the slot is unreachable by readers: it is fresh, or it came back through
        // reclamation after every reader that could hold it was gone.
        unsafe { self.pages.write(link, bytes)? };
        Ok(link)
    }

    /// Takes back the space of a version that no reader can reach any more.
    fn release(&mut self, link: Link) {
        self.free_slot(link.page_id, link.offset, slot_size(link.length));
    }

    fn free_slot(&mut self, page_id: u32, offset: u32, size: u32) {
        self.free.entry(size).or_default().push(Link {
            page_id,
            offset,
            length: size,
        });
    }

    fn collect_reclaimed(&mut self) {
        self.pages.reclaim.drain(self.shard, &mut self.scratch);
        let mut reclaimed = std::mem::take(&mut self.scratch);
        for link in reclaimed.drain(..) {
            self.release(link);
        }
        self.scratch = reclaimed;
    }

    fn allocate(&mut self, length: u32) -> Result<Link, PageError> {
        let need = slot_size(length);
        self.collect_reclaimed();
        if let Some(slot) = self.take_free(need) {
            return Ok(Link { length, ..slot });
        }
        let page_size = self.pages.page_size();
        let (page_id, used) = match self.current {
            Some((page_id, used)) if page_size - used >= need => (page_id, used),
            current => {
                if let Some((page_id, used)) = current
                    && page_size - used >= crate::ROW_ALIGN
                {
                    self.free_slot(page_id, used, page_size - used);
                }
                (self.pages.add_page(self.shard)?, 0)
            }
        };
        self.current = Some((page_id, used + need));
        Ok(Link {
            page_id,
            offset: used,
            length,
        })
    }

    /// Takes the smallest free slot of at least `need` bytes, keeping its tail free.
    fn take_free(&mut self, need: u32) -> Option<Link> {
        let (&size, slots) = self.free.range_mut(need..).next()?;
        let slot = slots.pop()?;
        if slots.is_empty() {
            self.free.remove(&size);
        }
        if size > need {
            self.free_slot(slot.page_id, slot.offset + need, size - need);
        }
        Some(Link {
            length: need,
            ..slot
        })
    }

    /// Bytes in free slots waiting for reuse (reclaimed ones are counted once collected).
    pub fn free_bytes(&self) -> u64 {
        self.free
            .iter()
            .map(|(size, slots)| u64::from(*size) * slots.len() as u64)
            .sum()
    }
}

impl<R> Drop for PageWriter<R> {
    fn drop(&mut self) {
        self.home.release_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Guard;

    type Row = (u64, String);

    fn writer(page_size: u32) -> PageWriter<Row> {
        PageWriter::new(
            Arc::new(DataPages::new(page_size, 1).expect("valid size")),
            0,
        )
        .expect("shard 0 exists")
    }

    #[test]
    fn rows_round_trip_through_pages() {
        let mut w = writer(256);
        let guard = Guard::new();
        let links: Vec<_> = (0..50u64)
            .map(|i| {
                w.write_row(&(i, format!("row {i}")))
                    .expect("fits")
                    .publish()
            })
            .collect();
        for (i, link) in links.iter().enumerate() {
            // SAFETY: every link was just written and published here, and none is retired.
            let row = unsafe { w.pages().read(*link, &guard) }.expect("published link");
            assert_eq!(row, (i as u64, format!("row {i}")));
        }
        assert!(
            w.pages().stats().pages > 1,
            "50 rows need more than one 256-byte page"
        );
    }

    #[test]
    fn a_row_larger_than_a_page_is_rejected() {
        let mut w = writer(256);
        let err = w.write_row(&(1, "x".repeat(1000))).expect_err("too large");
        assert!(
            matches!(err, PageError::RowTooLarge { max: 256, .. }),
            "{err:?}"
        );
        assert_eq!(
            w.pages().stats().pages,
            0,
            "a rejected row allocates nothing"
        );
    }

    #[test]
    fn released_space_is_reused_exactly() {
        let mut w = writer(256);
        let first = w.write_row(&(1, "a".into())).expect("fits").publish();
        for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
            // Dropped at once: never published, so its slot comes straight back.
            drop(w.write_row(&(2, "b".into())).expect("fits"));
        }
        assert_eq!(
            w.pages().stats().pages,
            1,
            "released slots are reused, no page grows"
        );
        let guard = Guard::new();
        // SAFETY: `first` is published and never retired.
        let row = unsafe { w.pages().read(first, &guard) }.expect("live");
        assert_eq!(row, (1, "a".into()));
    }

    #[test]
    fn a_larger_free_slot_is_split() {
        let mut w = writer(4096);
        let big = w.write_row(&(1, "x".repeat(200))).expect("fits").link();
        let small = w.write_row(&(2, "y".into())).expect("fits").link();
        assert_eq!((small.page_id, small.offset), (big.page_id, big.offset));
        assert!(w.free_bytes() > 0, "the tail of the big slot stays free");
    }

    #[test]
    fn retired_space_comes_back_after_readers_leave() {
        let mut w = writer(256);
        let retirer = w.pages().retirer();
        let link = w.write_row(&(1, "a".into())).expect("fits").publish();
        {
            let guard = Guard::new();
            // SAFETY: nothing holds `link` (no index here), and it is retired once.
            unsafe { retirer.retire(link, &guard) };
        }
        // The slot comes back once the epoch has moved past every guard; drive it.
        let mut reused = false;
        for _ in 0..if cfg!(miri) { 10_000 } else { 1_000_000 } {
            let guard = Guard::new();
            guard.accelerate();
            drop(guard);
            w.collect_reclaimed();
            if w.free_bytes() > 0 {
                reused = true;
                break;
            }
        }
        assert!(
            reused,
            "a retired slot is reclaimed once no guard can hold it"
        );
    }

    /// One writer keeps replacing the version of one key while readers read it: with a
    /// 256-byte page, slots are reclaimed and rewritten constantly, so a slot reused
    /// before its readers left would show up as a torn row (and as a data race under Miri).
    #[test]
    fn readers_never_see_a_reused_slot() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let versions = if cfg!(miri) { 60 } else { 20_000 };
        let pages = Arc::new(DataPages::<(u64, u64)>::new(256, 1).expect("valid size"));
        // The cell that holds a key's link in the primary index.
        let cell = Arc::new(crate::index::cell::LinkCell::default());
        let mut w = PageWriter::new(Arc::clone(&pages), 0).expect("shard 0 exists");
        cell.store(w.write_row(&(0, 0)).expect("fits").publish());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (pages, cell, done) =
                    (Arc::clone(&pages), Arc::clone(&cell), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !done.load(Ordering::Acquire) || reads == 0 {
                        let guard = Guard::new();
                        let link = cell.load();
                        // SAFETY: the cell plays the index: the link was loaded from it
                        // under `guard`, and the writer retires a version only after
                        // replacing it in the cell.
                        let (a, b) =
                            unsafe { pages.read(link, &guard) }.expect("published version");
                        assert_eq!(b, a * 2, "a row version is never torn or overwritten");
                        reads += 1;
                    }
                })
            })
            .collect();
        let retirer = pages.retirer();
        for v in 1..versions {
            let link = w.write_row(&(v, v * 2)).expect("fits").publish();
            let guard = Guard::new();
            let old = cell.load();
            cell.store(link);
            // SAFETY: `old` has just left the cell, the only place that held it.
            unsafe { retirer.retire(old, &guard) };
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            reader.join().expect("reader saw consistent rows");
        }
        // Readers preempted while pinned hold reclamation back (and this machine may run
        // more threads than cores), so reuse is measured once they have gone: versions
        // keep coming, and the pages stop growing. Without reuse, 16 rows of 16 bytes
        // fill a page, so the same versions would take `versions / 16` more pages.
        let before = pages.stats().pages;
        for v in versions..versions * 2 {
            let link = w.write_row(&(v, v * 2)).expect("fits").publish();
            let guard = Guard::new();
            if cfg!(miri) {
                // Miri runs too few versions for the epoch's own cadence to come round.
                guard.accelerate();
            }
            let old = cell.load();
            cell.store(link);
            // SAFETY: `old` has just left the cell, the only place that held it.
            unsafe { retirer.retire(old, &guard) };
        }
        let grown = pages.stats().pages - before;
        let without_reuse = versions as usize / 16;
        assert!(
            grown * 10 <= without_reuse,
            "retired slots are reused: {grown} more pages, {without_reuse} without reuse"
        );
    }

    #[test]
    fn page_sizes_are_validated() {
        assert!(DataPages::<Row>::new(100, 1).is_err());
        assert!(
            DataPages::<Row>::new(1000, 1).is_err(),
            "not a multiple of 16"
        );
        assert!(DataPages::<Row>::new(4096, 1).is_ok());
    }
}
