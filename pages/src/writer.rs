//! The single writer of one shard's pages: encodes rows, allocates their slots, counts
//! what each page holds, and empties sparse pages so their memory can go back.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rkyv::util::AlignedVec;
use scc::Guard;

use crate::link::round_up;
use crate::reclaim::{ShardQueue, Unpublished};
use crate::{CheckedRowFormat, DataPages, Link, PageError, RowFormat};

/// Writes row versions into the pages of one shard: the only writer of those pages (a
/// shard has one `PageWriter` at a time).
///
/// Space comes, in order of preference, from a freed slot of the exact size, from the
/// smallest larger freed slot (its tail stays free), or from the end of the current page.
/// Freed slots arrive through reclamation: a dropped [`Unpublished`] version at once, a
/// published one once the [`Committer`](crate::Committer) has retired it and the readers
/// that could hold it are gone.
///
/// # Giving pages back
///
/// The writer counts, for every page it made, the bytes of the slots it handed out that
/// have not come back: the page's *live* bytes. [`PageWriter::evacuate_sparse`] marks the
/// pages whose live share is low as *evacuating*: their free space is dropped from the
/// free lists and no new version goes there, so their live bytes only fall, as their rows
/// are updated, deleted, or moved ([`RowStore::relocate`](crate::RowStore::relocate)).
/// When a page's live bytes reach zero, every slot handed out of it has come back
/// through reclamation, so no reader can reach it: its memory goes back to the system
/// (unless it is the page being filled), and its id waits here to be used again before
/// a new page is added. Its slots still in the free lists are then stale: each free slot
/// carries the count of times its page went back, and one that no longer matches is
/// never handed out.
pub struct PageWriter<R> {
    pages: Arc<DataPages<R>>,
    shard: u16,
    /// The page being filled and how many of its bytes are taken.
    current: Option<(u32, u32)>,
    /// Free slots by size in bytes (a multiple of `ROW_ALIGN`); never of an evacuating
    /// page. A slot of a page that went back since it was listed is stale: it is
    /// skipped when met, and dropped by `collect`.
    free: BTreeMap<u32, Vec<FreeSlot>>,
    /// Slots free now, as taken from the queue; empty between collections.
    free_now: Vec<Link>,
    /// Retired slots no reader can hold any more, as taken from the queue; empty between
    /// collections.
    due: VecDeque<(Link, u64)>,
    /// Retired slots still waiting in the queue for their readers, at the last collection.
    waiting: usize,
    /// How many slots in `free` are stale.
    stale: usize,
    /// The encoding buffer, reused from row to row.
    buffer: AlignedVec,
    /// Where this writer's released and reclaimed slots arrive.
    home: Arc<ShardQueue>,
    /// What each page this writer made holds, by page id.
    usage: Vec<PageUse>,
    /// Live bytes over all of this writer's pages.
    live: u64,
    /// Ids of this writer's pages whose memory went back, to use again.
    spare: Vec<u32>,
    /// Pages whose memory went back, ever.
    released: u64,
}

/// What one page of a writer holds.
#[derive(Debug, Clone, Copy, Default)]
struct PageUse {
    /// Made by this writer and holding memory: only such pages are counted.
    mine: bool,
    /// How many times the page's memory went back: a free slot listed at another count
    /// is stale. 64 bits, so it never comes round to a stale slot's count again.
    generation: u64,
    /// Its slots in the free lists, which go stale when it goes back.
    listed: u32,
    /// Being emptied: its slots are not reused, and it goes back when `live` is 0.
    evacuating: bool,
    /// Bytes of the slots handed out of the page that have not come back.
    live: u32,
}

/// What a writer's pages hold, from [`PageWriter::usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterUsage {
    /// Pages of this writer that hold memory.
    pub pages: usize,
    /// Bytes of their slots that hold a version.
    pub live_bytes: u64,
    /// Pages being emptied.
    pub evacuating: usize,
    /// Pages whose memory went back to the allocator since the writer was made.
    pub released: u64,
    /// Slots of retired versions waiting for the readers that could hold them to leave
    /// (counted in `live_bytes` until then), as of the last collection (which takes the
    /// others back).
    pub retired: usize,
}

/// A free slot of a page of this writer's shard: its size is the key of its list.
#[derive(Debug, Clone, Copy)]
struct FreeSlot {
    page_id: u32,
    offset: u32,
    /// The page's `PageUse::generation` when the slot was listed.
    generation: u64,
}

/// Entries a list may keep room for without being shrunk.
pub(crate) const SPARE_ROOM: usize = 64;

/// Gives back most of `list`'s room when it uses a quarter of it or less.
pub(crate) fn shrink<T>(list: &mut Vec<T>) {
    if list.capacity() > SPARE_ROOM.max(4 * list.len()) {
        list.shrink_to(2 * list.len());
    }
}

/// [`shrink`] for a queue.
pub(crate) fn shrink_deque<T>(list: &mut VecDeque<T>) {
    if list.capacity() > SPARE_ROOM.max(4 * list.len()) {
        list.shrink_to(2 * list.len());
    }
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
            free_now: Vec::new(),
            due: VecDeque::new(),
            waiting: 0,
            stale: 0,
            buffer: AlignedVec::new(),
            home,
            usage: Vec::new(),
            live: 0,
            spare: Vec::new(),
            released: 0,
        })
    }

    /// The pages this writer writes into.
    pub fn pages(&self) -> &Arc<DataPages<R>> {
        &self.pages
    }

    /// The shard this writer writes for.
    pub fn shard(&self) -> u16 {
        self.shard
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
        Ok(self.token(written?))
    }

    /// The token of the slot at `link`, just written by this writer.
    pub(crate) fn token(&self, link: Link) -> Unpublished {
        Unpublished::new(link, self.pages.id(), Arc::clone(&self.home))
    }

    /// Writes `bytes`, an encoding of `R` (made by `encode`, or validated as one, or
    /// copied from a version in these pages), into a free slot.
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) -> Result<Link, PageError> {
        let length = self.fitting_length(bytes.len())?;
        let link = self.allocate(length)?;
        // SAFETY: this writer owns the page (it allocated the slot from its own pages),
        // and the slot is unreachable by readers: it is fresh, or it came back through
        // reclamation after every reader that could hold it was gone. `bytes` cannot
        // overlap it: they are the caller's, and a slot a caller can borrow (through
        // `RowStore::row_bytes` or `version_bytes`) is not free while borrowed.
        if let Err(error) = unsafe { self.pages.write(link, bytes) } {
            self.release(link);
            return Err(error);
        }
        Ok(link)
    }

    /// `len` as a row length, or `RowTooLarge` when a page cannot hold it.
    fn fitting_length(&self, len: usize) -> Result<u32, PageError> {
        let max = self.pages.page_size() as usize;
        u32::try_from(len)
            .ok()
            .filter(|len| *len as usize <= max)
            .ok_or(PageError::RowTooLarge { size: len, max })
    }

    /// What page `page_id` holds, if this writer made it and it holds memory.
    fn mine(&mut self, page_id: u32) -> Option<&mut PageUse> {
        self.usage
            .get_mut(page_id as usize)
            .filter(|page| page.mine)
    }

    /// Takes back the space of a version that no reader can reach any more.
    fn release(&mut self, link: Link) {
        self.count_back(link);
        self.home.set_live_bytes(self.live);
        self.place(link);
    }

    /// Takes the bytes of `link`, which came back, off its page's live count.
    fn count_back(&mut self, link: Link) {
        let size = slot_size(link.length);
        if let Some(page) = self.mine(link.page_id) {
            debug_assert!(
                page.live >= size,
                "a page gives back only what it handed out"
            );
            page.live = page.live.saturating_sub(size);
            self.live = self.live.saturating_sub(u64::from(size));
        }
    }

    /// Puts `link`, which came back and was counted, where it can be used again: a page
    /// of this writer with nothing live goes back whole (unless it is being filled), an
    /// evacuating page keeps its free space out of use, and any other slot is listed.
    fn place(&mut self, link: Link) {
        let size = slot_size(link.length);
        let filling = self.current.map(|(page_id, _)| page_id) == Some(link.page_id);
        match self.usage.get(link.page_id as usize) {
            Some(page) if page.mine => {
                if page.live == 0 && (page.evacuating || !filling) {
                    self.give_back(link.page_id);
                } else if !page.evacuating {
                    self.free_slot(link.page_id, link.offset, size);
                }
            }
            // Its page went back (with this slot, counted before it went).
            Some(page) if page.generation > 0 => {}
            // A page of an earlier writer of this shard: reused, never counted.
            _ => self.free_slot(link.page_id, link.offset, size),
        }
    }

    /// Counts `size` bytes handed out of page `page_id`.
    fn hand_out(&mut self, page_id: u32, size: u32) {
        if let Some(page) = self.mine(page_id) {
            page.live += size;
            self.live += u64::from(size);
            self.home.set_live_bytes(self.live);
        }
    }

    /// Gives the memory of a page with nothing live back to the system. Its free slots
    /// that are listed become stale.
    fn give_back(&mut self, page_id: u32) {
        if let Some(page) = self.mine(page_id) {
            debug_assert!(page.live == 0);
            let listed = page.listed as usize;
            *page = PageUse {
                generation: page.generation + 1,
                ..PageUse::default()
            };
            self.stale += listed;
            self.pages.set_evacuating(page_id, false);
            // SAFETY: this writer made the page, and every slot it handed out of it has
            // come back (`live` counts them, and is 0): unpublished versions were dropped
            // or published and then retired, and a retired slot comes back only after
            // every guard pinned at its retirement is gone, so no reader can reach the
            // page. The page was evacuating, so no free slot of it is kept (they were
            // dropped when it was marked, and later ones are not kept), or its listed
            // free slots are stale from now on (the generation moved on), so `take_free`
            // never hands one out; this writer writes it again only after reviving it.
            unsafe { self.pages.release_page(page_id) };
            self.spare.push(page_id);
            self.released += 1;
        }
    }

    fn free_slot(&mut self, page_id: u32, offset: u32, size: u32) {
        let generation = self.generation(page_id);
        if let Some(page) = self.usage.get_mut(page_id as usize) {
            page.listed += 1;
        }
        self.free.entry(size).or_default().push(FreeSlot {
            page_id,
            offset,
            generation,
        });
    }

    /// How many times page `page_id` went back (0 for a page of an earlier writer).
    fn generation(&self, page_id: u32) -> u64 {
        self.usage
            .get(page_id as usize)
            .map_or(0, |page| page.generation)
    }

    /// How many slots the free lists hold, stale ones included.
    fn listed(&self) -> usize {
        self.free.values().map(Vec::len).sum()
    }

    /// Whether `slot` is still free: its page has not gone back since it was listed.
    fn is_current(&self, slot: &FreeSlot) -> bool {
        self.generation(slot.page_id) == slot.generation
    }

    /// Drops the stale free slots, and those of the pages that `drop` picks.
    fn drop_free_slots(&mut self, drop: impl Fn(&PageUse) -> bool) {
        let mut free = std::mem::take(&mut self.free);
        free.retain(|_, slots| {
            slots.retain(|slot| {
                let page = self.usage.get(slot.page_id as usize);
                self.is_current(slot) && !page.is_some_and(&drop)
            });
            !slots.is_empty()
        });
        for page in &mut self.usage {
            page.listed = 0;
        }
        for slots in free.values() {
            for slot in slots {
                if let Some(page) = self.usage.get_mut(slot.page_id as usize) {
                    page.listed += 1;
                }
            }
        }
        self.stale = 0;
        self.free = free;
    }

    /// Takes back the slots that reclamation has returned. All of them are counted off
    /// their pages first and placed after, so a page that all of them empty goes back
    /// whole without listing its slots: after every row is deleted, the lists stay
    /// empty instead of growing to a slot per row.
    fn collect_reclaimed(&mut self) {
        if !self.pages.reclaim.has_pending(self.shard) {
            return;
        }
        let guard = Guard::new();
        let mut free_now = std::mem::take(&mut self.free_now);
        let mut due = std::mem::take(&mut self.due);
        self.waiting = self
            .pages
            .reclaim
            .drain(self.shard, &guard, &mut free_now, &mut due);
        // Each `due` slot's version was retired a generation of the epoch ago: every
        // guard pinned while it could be found is gone (see `reclaim.rs`).
        let slots = || {
            free_now
                .iter()
                .copied()
                .chain(due.iter().map(|&(link, _)| link))
        };
        for link in slots() {
            self.count_back(link);
        }
        self.home.set_live_bytes(self.live);
        for link in slots() {
            self.place(link);
        }
        free_now.clear();
        due.clear();
        self.free_now = free_now;
        self.due = due;
        if self.waiting > 0 {
            // Have this thread's guards push the epoch on, as a thread with garbage does.
            guard.set_has_garbage();
        }
    }

    /// A fresh page to fill: one whose memory went back, revived, or a new one.
    fn fresh_page(&mut self) -> Result<u32, PageError> {
        let page_id = match self.spare.pop() {
            Some(page_id) => {
                if let Err(error) = self.pages.revive_page(page_id) {
                    self.spare.push(page_id);
                    return Err(error);
                }
                page_id
            }
            None => self.pages.add_page(self.shard)?,
        };
        let index = page_id as usize;
        if self.usage.len() <= index {
            self.usage.resize(index + 1, PageUse::default());
        }
        self.usage[index] = PageUse {
            mine: true,
            generation: self.usage[index].generation,
            ..PageUse::default()
        };
        Ok(page_id)
    }

    fn allocate(&mut self, length: u32) -> Result<Link, PageError> {
        let need = slot_size(length);
        self.collect_reclaimed();
        if let Some(slot) = self.take_free(need) {
            self.hand_out(slot.page_id, need);
            return Ok(Link { length, ..slot });
        }
        let page_size = self.pages.page_size();
        let (page_id, used) = match self.current {
            Some((page_id, used)) if page_size - used >= need => (page_id, used),
            current => {
                let fresh = self.fresh_page()?;
                if let Some((page_id, used)) = current
                    && page_size - used >= crate::ROW_ALIGN
                {
                    self.free_slot(page_id, used, page_size - used);
                }
                (fresh, 0)
            }
        };
        self.current = Some((page_id, used + need));
        self.hand_out(page_id, need);
        Ok(Link {
            page_id,
            offset: used,
            length,
        })
    }

    /// Takes the smallest free slot of at least `need` bytes, keeping its tail free.
    /// Stale slots met on the way are dropped.
    fn take_free(&mut self, need: u32) -> Option<Link> {
        loop {
            let (&size, slots) = self.free.range_mut(need..).next()?;
            let slot = slots.pop();
            if slots.is_empty() {
                self.free.remove(&size);
            }
            let Some(slot) = slot else {
                continue;
            };
            if !self.is_current(&slot) {
                self.stale -= 1;
                continue;
            }
            if let Some(page) = self.usage.get_mut(slot.page_id as usize) {
                page.listed -= 1;
            }
            if size > need {
                self.free_slot(slot.page_id, slot.offset + need, size - need);
            }
            return Some(Link {
                page_id: slot.page_id,
                offset: slot.offset,
                length: need,
            });
        }
    }

    /// Bytes in free slots waiting for reuse (reclaimed ones are counted once collected).
    pub fn free_bytes(&self) -> u64 {
        self.free
            .iter()
            .map(|(size, slots)| {
                let current = slots.iter().filter(|slot| self.is_current(slot)).count();
                u64::from(*size) * current as u64
            })
            .sum()
    }

    /// Takes back the slots that reclamation has returned, and gives back the memory of
    /// every page that is now empty. A writer does this before each allocation; a
    /// vacuum calls it to finish a pass when no write comes.
    ///
    /// Here stale free slots are also dropped, and lists that grew while many versions
    /// came back (free slots of one size, the queue's reclaimed and retired slots) give
    /// back most of their spare room, so a table that shrank holds no bookkeeping sized
    /// for its peak.
    pub fn collect(&mut self) {
        self.collect_reclaimed();
        // A scan of every list only once a quarter of the slots are stale, so that the
        // scans cost a bounded share of the listing.
        if self.stale > SPARE_ROOM.max(self.listed() / 4) {
            self.drop_free_slots(|_| false);
        }
        for slots in self.free.values_mut() {
            shrink(slots);
        }
        shrink(&mut self.free_now);
        shrink_deque(&mut self.due);
        self.pages.reclaim.shrink(self.shard);
    }

    /// What this writer's pages hold.
    pub fn usage(&self) -> WriterUsage {
        let mine = self.usage.iter().filter(|page| page.mine);
        let (pages, evacuating) = mine.fold((0, 0), |(pages, evacuating), page| {
            (pages + 1, evacuating + usize::from(page.evacuating))
        });
        WriterUsage {
            pages,
            live_bytes: self.live,
            evacuating,
            released: self.released,
            retired: self.waiting,
        }
    }

    /// Marks for evacuation every page of this writer whose live bytes are below `share`
    /// of a page (from 0 to 1), except the page being filled unless it is empty, and
    /// returns how many it marked. Their free space is dropped, so no new version lands there; a page with
    /// nothing live goes back at once. The rows still on them are found by
    /// [`RowStore::keys_to_move`](crate::RowStore::keys_to_move) and moved by
    /// [`RowStore::relocate`](crate::RowStore::relocate).
    ///
    /// A page stays marked until it is empty. Marking a page whose live share is just
    /// below `share` moves that share of a page to win back the rest.
    pub fn evacuate_sparse(&mut self, share: f64) -> usize {
        self.evacuate_sparsest(share, u64::MAX)
    }

    /// [`evacuate_sparse`](Self::evacuate_sparse), sparsest pages first, as long as the
    /// live bytes of the pages it marks add up to at most `budget` (pages with nothing
    /// live cost nothing). Emptying the sparsest pages wins back the most space for the
    /// bytes moved, and a budget bounds the copies that exist beside their originals
    /// until the readers of the originals are gone.
    pub fn evacuate_sparsest(&mut self, share: f64, budget: u64) -> usize {
        let limit = (f64::from(self.pages.page_size()) * share.clamp(0.0, 1.0)) as u32;
        // The page being filled is left alone unless nothing in it is live: then it goes
        // back too, and the next write starts a fresh page.
        if let Some((page_id, _)) = self.current
            && share > 0.0
            && self.mine(page_id).is_some_and(|page| page.live == 0)
        {
            self.current = None;
        }
        let current = self.current.map(|(page_id, _)| page_id);
        let mut sparse: Vec<(u32, u32)> = self
            .usage
            .iter()
            .zip(0u32..)
            .filter(|&(page, page_id)| {
                page.mine && !page.evacuating && page.live < limit && Some(page_id) != current
            })
            .map(|(page, page_id)| (page.live, page_id))
            .collect();
        sparse.sort_unstable();
        let (mut marked, mut moving) = (Vec::new(), 0u64);
        for (live, page_id) in sparse {
            moving = moving.saturating_add(u64::from(live));
            if moving > budget {
                break;
            }
            self.usage[page_id as usize].evacuating = true;
            marked.push(page_id);
        }
        if marked.is_empty() {
            return 0;
        }
        self.drop_free_slots(|page| page.evacuating);
        for &page_id in &marked {
            self.pages.set_evacuating(page_id, true);
            if self.mine(page_id).is_some_and(|page| page.live == 0) {
                self.give_back(page_id);
            }
        }
        marked.len()
    }

    /// Whether `link` lies in an evacuating page of this writer.
    pub(crate) fn is_evacuating(&self, link: Link) -> bool {
        self.usage
            .get(link.page_id as usize)
            .is_some_and(|page| page.mine && page.evacuating)
    }
}

impl<R: CheckedRowFormat> PageWriter<R> {
    /// Writes the row that `bytes` encode, for recovery from a log or checkpoint: the
    /// bytes are validated as an encoding of `R` ([`CheckedRowFormat::decode_checked`])
    /// and then written into a free slot as they are, not encoded again. Returns the
    /// unpublished version, as [`PageWriter::write_row`] does, and the decoded row (which
    /// a [`Committer`](crate::Committer) needs to link it).
    ///
    /// Bytes that are not an encoding of `R` give [`PageError::InvalidBytes`], and more
    /// bytes than a page holds give [`PageError::RowTooLarge`] (checked first); either way
    /// nothing is written and no space is taken.
    ///
    /// Pages still hold only encodings of `R`: the written bytes passed rkyv's validation
    /// for `R` from a [`ROW_ALIGN`](crate::ROW_ALIGN)-aligned start, and rkyv archives are
    /// position-independent (their pointers are relative), so at a slot, which is
    /// aligned alike, they are the same valid archive, which the unchecked read of a page
    /// may decode.
    pub fn write_checked(&mut self, bytes: &[u8]) -> Result<(Unpublished, R), PageError> {
        self.fitting_length(bytes.len())?;
        let row = R::decode_checked(bytes)?;
        // `bytes` are now an archive of `R` that rkyv validated from an aligned start, and
        // `R`'s `RowFormat` is rkyv's (`CheckedRowFormat` is sealed to such types), so the
        // unchecked read of the slot (`DataPages::decode`) may decode them. They cannot
        // change before they are copied: they are borrowed immutably.
        let link = self.write_bytes(bytes)?;
        Ok((self.token(link), row))
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
    use crate::{CheckedRowFormat, Unpublished};

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
    fn evacuation_within_a_budget_marks_the_sparsest_pages_first() {
        let mut w = writer(256);
        let mut held: Vec<Unpublished> = (0..40u64)
            .map(|i| w.write_row(&(i, "x".repeat(24))).expect("fits"))
            .collect();
        let current = w.current.map(|(page_id, _)| page_id);
        let mut pages: Vec<u32> = held.iter().map(|v| v.link().page_id).collect();
        pages.dedup();
        pages.retain(|&page_id| Some(page_id) != current);
        assert!(pages.len() >= 4, "40 rows fill at least 4 pages: {pages:?}");
        // Keep all of the first page's rows, 2 of the second's, 1 of the third's, none
        // of the fourth's.
        let keep = [usize::MAX, 2, 1, 0];
        let mut kept_on = std::collections::HashMap::new();
        held.retain(|version| {
            let page_id = version.link().page_id;
            let Some(rank) = pages.iter().take(4).position(|&p| p == page_id) else {
                return true;
            };
            let kept = kept_on.entry(page_id).or_insert(0usize);
            *kept += 1;
            *kept <= keep[rank]
        });
        w.collect();
        assert_eq!(w.usage().released, 1, "the page left empty went back");
        let live = |w: &PageWriter<Row>, rank: usize| w.usage[pages[rank] as usize].live;
        assert!(live(&w, 0) > live(&w, 1) && live(&w, 1) > live(&w, 2) && live(&w, 2) > 0);
        // Room for the two sparsest pages, not for a third.
        let budget = u64::from(live(&w, 2) + live(&w, 1));
        assert_eq!(w.evacuate_sparsest(1.0, budget), 2);
        let marked = |w: &PageWriter<Row>, rank: usize| w.usage[pages[rank] as usize].evacuating;
        assert!(
            marked(&w, 1) && marked(&w, 2),
            "the two sparsest are marked"
        );
        assert!(!marked(&w, 0), "the fullest is over the budget");
        let on_first = held.iter().find(|v| v.link().page_id == pages[0]);
        assert!(!w.is_evacuating(on_first.expect("kept rows").link()));
        // Without a budget, every page under the share goes.
        assert!(w.evacuate_sparse(1.0) > 0);
        assert!(marked(&w, 0));
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
        // Readers preempted while pinned, and the guards of tests running in parallel in
        // this process, hold reclamation back for a while (this machine may run more
        // threads than cores). So reuse is measured once the readers have gone, in windows
        // of `window` more versions: one window in which the pages nearly stop growing
        // shows it. Without reuse, 16 rows of 16 bytes fill a page, so every window would
        // take `window / 16` more pages.
        let window = versions;
        let without_reuse = window as usize / 16;
        let mut next = versions;
        let mut growth = Vec::new();
        let reused = (0..if cfg!(miri) { 3 } else { 20 }).any(|_| {
            let before = pages.stats().pages;
            for v in next..next + window {
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
            next += window;
            let grown = pages.stats().pages.saturating_sub(before);
            growth.push(grown);
            grown * 10 <= without_reuse
        });
        assert!(
            reused,
            "retired slots are reused: windows grew by {growth:?} pages, {without_reuse} each without reuse"
        );
    }

    /// The bytes in the page at an unpublished version's slot.
    fn slot_bytes(w: &PageWriter<Row>, version: &Unpublished) -> Vec<u8> {
        // SAFETY: `version` is a live token of these pages: its slot is not reused while
        // it lives, and the copy is made before it is dropped.
        unsafe { w.pages().bytes(version.link()) }
            .expect("a token's link addresses its slot")
            .to_vec()
    }

    #[test]
    fn write_checked_writes_the_given_bytes_and_returns_the_row() {
        let mut w = writer(256);
        let guard = Guard::new();
        let rows: Vec<Row> = (0..20u64).map(|i| (i, "r".repeat(i as usize))).collect();
        let mut links = Vec::new();
        for row in &rows {
            let bytes = row.encode().expect("fits");
            let (version, back) = w.write_checked(&bytes).expect("a valid encoding");
            assert_eq!(&back, row, "the decoded row is returned");
            assert_eq!(version.link().length as usize, bytes.len());
            assert_eq!(version.link().offset % crate::ROW_ALIGN, 0);
            assert_eq!(slot_bytes(&w, &version), &bytes[..], "written as given");
            links.push(version.publish());
        }
        for (row, link) in rows.iter().zip(links) {
            // SAFETY: every link was written and published here, and none is retired.
            let back = unsafe { w.pages().read(link, &guard) }.expect("published link");
            assert_eq!(&back, row, "the unchecked read decodes the validated bytes");
        }
    }

    /// Bytes handed over at an odd address are validated (from an aligned copy) and land
    /// in an aligned slot, where the unchecked read decodes them.
    #[test]
    fn write_checked_accepts_misaligned_bytes() {
        let mut w = writer(256);
        let row: Row = (7, "seven and a longer tail".into());
        let bytes = row.encode().expect("fits");
        let mut shifted = AlignedVec::<16>::with_capacity(bytes.len() + 1);
        shifted.push(0);
        shifted.extend_from_slice(&bytes);
        let misaligned = &shifted[1..];
        assert_ne!(misaligned.as_ptr().addr() % 16, 0);
        let (version, back) = w.write_checked(misaligned).expect("a valid encoding");
        assert_eq!(back, row);
        assert_eq!(slot_bytes(&w, &version), &bytes[..]);
        let link = version.publish();
        // SAFETY: `link` was just written and published here.
        let read = unsafe { w.pages().read(link, &Guard::new()) }.expect("published");
        assert_eq!(read, row);
    }

    /// Every prefix of an encoding and every single-byte change of it: `write_checked`
    /// agrees with `decode_checked`, and what it refuses it refuses with `InvalidBytes`
    /// without taking any space (the next row lands where it would have).
    #[test]
    fn write_checked_refuses_bad_bytes_and_writes_nothing() {
        let mut w = writer(256);
        // Leave a partly used page and a free slot behind, so there is state to disturb.
        let kept = w.write_row(&(1, "kept".into())).expect("fits").publish();
        drop(w.write_row(&(2, "x".repeat(40))).expect("fits"));
        let row: Row = (3, "a string longer than the inline limit".into());
        let bytes = row.encode().expect("fits");
        let mut cases: Vec<Vec<u8>> = (0..bytes.len()).map(|len| bytes[..len].to_vec()).collect();
        let step = if cfg!(miri) { 3 } else { 1 };
        for at in (0..bytes.len()).step_by(step) {
            for mask in [0x01, 0x80, 0xff] {
                let mut changed = bytes.to_vec();
                changed[at] ^= mask;
                cases.push(changed);
            }
        }
        // Pages, free space and the fill of the current page: all a write could change.
        let state = |w: &PageWriter<Row>| (w.pages().stats().pages, w.free_bytes(), w.current);
        let mut refused = 0;
        let mut buffer = AlignedVec::<16>::new();
        for case in cases {
            buffer.clear();
            buffer.extend_from_slice(&case);
            // Take back what an accepted case gave back, so only this case shows.
            w.collect_reclaimed();
            let before = state(&w);
            let expected = Row::decode_checked(&buffer);
            match (w.write_checked(&buffer), expected) {
                (Err(PageError::InvalidBytes(_)), Err(PageError::InvalidBytes(_))) => {
                    refused += 1;
                    assert_eq!(state(&w), before, "refused bytes take no space");
                }
                // Some changes (of the key, of a character) are another valid row: it is
                // written as given, and the token's drop gives the slot back.
                (Ok((version, back)), Ok(expected)) => {
                    assert_eq!(back, expected);
                    assert_eq!(slot_bytes(&w, &version), case);
                }
                (got, expected) => {
                    panic!("write_checked gave {got:?}, decode_checked {expected:?}")
                }
            }
        }
        assert!(
            refused > bytes.len(),
            "every strict prefix and many changes are refused, {refused} were"
        );
        let before = state(&w);
        assert!(
            w.write_checked(&[])
                .is_err_and(|e| matches!(e, PageError::InvalidBytes(_))),
            "empty bytes are no row"
        );
        assert_eq!(state(&w), before);
        // SAFETY: `kept` is published and never retired.
        let read = unsafe { w.pages().read(kept, &Guard::new()) }.expect("live");
        assert_eq!(
            read,
            (1, "kept".into()),
            "no refused write touched another slot"
        );
    }

    #[test]
    fn write_checked_refuses_a_row_larger_than_a_page() {
        let mut w = writer(256);
        let bytes = (1u64, "x".repeat(1000)).encode().expect("encodes");
        let err = w.write_checked(&bytes).expect_err("too large");
        assert_eq!(
            err,
            PageError::RowTooLarge {
                size: bytes.len(),
                max: 256
            }
        );
        assert_eq!(
            w.pages().stats().pages,
            0,
            "a rejected row allocates nothing"
        );
        assert_eq!(w.free_bytes(), 0);
    }

    /// Random writes, drops and collections of versions of many sizes, checked after
    /// each step: a slot is never handed out while a version holds it, also after its
    /// page emptied, went back and was revived (its listed slots are then stale).
    #[test]
    fn slots_of_pages_that_went_back_are_never_handed_out_twice() {
        let mut w = writer(256);
        let mut live: Vec<(Unpublished, Vec<u8>)> = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let steps = if cfg!(miri) { 600 } else { 10_000 };
        let mut stale_seen = false;
        for step in 0..steps {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 8 {
                0..=3 => {
                    let row = (step, "y".repeat((state >> 8) as usize % 120));
                    let version = w.write_row(&row).expect("fits");
                    let bytes = slot_bytes(&w, &version);
                    live.push((version, bytes));
                }
                4..=6 if !live.is_empty() => {
                    drop(live.swap_remove((state >> 16) as usize % live.len()));
                }
                7 if (state >> 24) % 4 == 0 => {
                    w.evacuate_sparse(0.3);
                }
                _ => w.collect(),
            }
            if step % 4 != 0 {
                continue;
            }
            for (version, bytes) in &live {
                assert_eq!(&slot_bytes(&w, version), bytes, "step {step}");
            }
            let held: u64 = live
                .iter()
                .map(|(v, _)| u64::from(slot_size(v.link().length)))
                .sum();
            w.collect_reclaimed();
            assert_eq!(w.usage().live_bytes, held, "live bytes are the live slots");
            let slots: Vec<&FreeSlot> = w.free.values().flatten().collect();
            let stale = slots.iter().filter(|slot| !w.is_current(slot)).count();
            assert_eq!((w.listed(), w.stale), (slots.len(), stale), "step {step}");
            stale_seen |= stale > 0;
        }
        assert!(w.usage().released > 0, "pages that emptied went back");
        assert!(stale_seen, "some went back with slots listed");
        drop(live);
        w.collect();
        assert!(w.usage().pages <= 1, "only the page being filled stays");
    }

    /// Many versions given back at once grow the lists they pass through; once the
    /// pages are emptied and collected, the lists give that room back.
    #[test]
    fn collect_gives_back_the_room_of_lists_that_emptied() {
        let versions = if cfg!(miri) { 300 } else { 20_000 };
        let mut w = writer(4096);
        let held: Vec<_> = (0..versions)
            .map(|i| w.write_row(&(i, "x".into())).expect("fits"))
            .collect();
        drop(held);
        w.collect();
        assert!(w.free_bytes() > 0, "the dropped versions' slots are free");
        assert!(
            w.evacuate_sparse(1.0) > 0,
            "every page is empty, so every page goes"
        );
        w.collect();
        assert_eq!((w.usage().pages, w.free_bytes()), (0, 0));
        let queue = w.pages.reclaim.of(0).expect("shard 0");
        let rooms = [
            w.free_now.capacity(),
            w.due.capacity(),
            queue.slots.lock().capacity(),
            w.free.values().map(Vec::capacity).sum(),
        ];
        assert!(
            rooms.iter().all(|room| *room <= SPARE_ROOM),
            "lists kept room for {rooms:?} entries"
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
