//! The pages of one table and the lock-free read path.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use scc::Guard;

use crate::page::Page;
use crate::reclaim::{ReclaimQueues, Retirer};
use crate::{Link, PageError, RowFormat};

/// Every page of one table, shared by its writers and its readers.
///
/// A page id is an index into an append-only directory whose lookups take no lock. A
/// page's memory is given back once nothing in it can be reached (its writer evacuated
/// it, see [`PageWriter`](crate::PageWriter)), and its id stays with its writer, which
/// takes it up again before it adds a page. Bytes go in through the shards'
/// [`PageWriter`](crate::PageWriter)s and come out through a
/// [`RowStore`](crate::RowStore), which reads only at links its own indexes hold.
pub struct DataPages<R> {
    pages: Arc<boxcar::Vec<Page>>,
    /// Pages whose memory is given back.
    released: AtomicUsize,
    page_size: u32,
    /// Distinguishes these pages from every other `DataPages` of the process, so a
    /// version written here is never committed into another table's indexes.
    id: u64,
    pub(crate) reclaim: ReclaimQueues,
    _row: PhantomData<fn() -> R>,
}

/// The id of the next `DataPages` (or `RowStore`) made; 0 is never handed out.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-wide unique id, never 0.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// How much memory the pages of a table hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageStats {
    /// Number of pages that hold memory.
    pub pages: usize,
    /// Size of one page in bytes.
    pub page_size: usize,
    /// Bytes of the pages' slots that hold a row version: current versions, versions
    /// being written, and replaced or deleted versions that readers may still hold (their
    /// space comes back once those readers are gone).
    pub live_bytes: usize,
}

impl StorageStats {
    /// Bytes held by pages.
    pub fn page_bytes(&self) -> usize {
        self.pages * self.page_size
    }

    /// The share of the pages' bytes that holds row versions, from 0 to 1 (1 for no
    /// pages).
    pub fn live_share(&self) -> f64 {
        match self.page_bytes() {
            0 => 1.0,
            bytes => self.live_bytes as f64 / bytes as f64,
        }
    }
}

impl<R: RowFormat> DataPages<R> {
    /// Creates empty pages of `page_size` bytes, written by `shards` writers.
    pub fn new(page_size: u32, shards: u16) -> Result<Self, PageError> {
        let valid = (crate::MIN_PAGE_SIZE..=crate::MAX_PAGE_SIZE).contains(&page_size)
            && page_size % crate::ROW_ALIGN == 0;
        if !valid {
            return Err(PageError::InvalidPageSize(u64::from(page_size)));
        }
        Ok(DataPages {
            pages: Arc::new(boxcar::Vec::new()),
            released: AtomicUsize::new(0),
            page_size,
            id: next_id(),
            reclaim: ReclaimQueues::new(shards),
            _row: PhantomData,
        })
    }

    /// The size of every page, which is also the largest row a table can hold.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Pages holding memory, their size, and the bytes of their live slots.
    pub fn stats(&self) -> StorageStats {
        let released = self.released.load(Ordering::Acquire);
        StorageStats {
            pages: self.pages.count().saturating_sub(released),
            page_size: self.page_size as usize,
            live_bytes: self.reclaim.live_bytes(),
        }
    }

    /// Page ids handed out, whether their pages hold memory now or not.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> usize {
        self.pages.count()
    }

    /// The process-wide id of these pages.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// A handle that retires dead versions of these pages.
    pub(crate) fn retirer(&self) -> Retirer {
        let pages = Arc::clone(&self.pages);
        Retirer {
            queues: self.reclaim.clone(),
            owners: Arc::new(move |page_id| pages.get(page_id as usize).map(Page::owner)),
        }
    }

    /// The encoded bytes of the row version at `link`: exactly the bytes its writer wrote
    /// (`link`'s length of them).
    ///
    /// # Safety
    ///
    /// `link` addresses a version written in these pages whose slot is neither reclaimed
    /// nor rewritten while the returned slice lives, and whose write happened-before this
    /// call. That holds when the link was found in an index of the
    /// [`RowStore`](crate::RowStore) of these pages while a guard was pinned, and the slice
    /// does not outlive that guard (a version leaves every index before it is retired, and
    /// a retired slot is reused only after the guards pinned at retirement are gone), or
    /// when the link is that of an [`Unpublished`](crate::Unpublished) token of these pages
    /// and the slice does not outlive the token (the token owns its slot). The caller
    /// bounds the slice's lifetime accordingly. Bounds and alignment are checked here.
    pub(crate) unsafe fn bytes(&self, link: Link) -> Result<&[u8], PageError> {
        let page = self
            .pages
            .get(link.page_id as usize)
            .ok_or(PageError::BadLink(link))?;
        if link.offset % crate::ROW_ALIGN != 0 {
            return Err(PageError::BadLink(link));
        }
        // SAFETY: by the caller's contract the bytes at `link` were written before this
        // call (before the index entry was published, which the reader synchronized with
        // through the index, or by the writer that handed the token over), and the slot is
        // not rewritten while the slice lives: a published version is immutable and its
        // slot is reused only after the caller's guard is gone, and a token's slot is free
        // for reuse only once the token is gone.
        unsafe { page.read(link.offset, link.length) }.ok_or(PageError::BadLink(link))
    }

    /// Decodes the row version at `link` from its bytes, `bytes` of [`DataPages::bytes`].
    ///
    /// # Safety
    ///
    /// `bytes` were returned by [`DataPages::bytes`] for `link` under its contract, and the
    /// slot has not been reclaimed since.
    pub(crate) unsafe fn decode(&self, link: Link, bytes: &[u8]) -> Result<R, PageError> {
        // SAFETY: the bytes are an encoding of `R` written by a `PageWriter` of these pages
        // (pages only hold encodings of `R`: made by `write_row`, or validated as one by
        // `write_checked`, and `DataPages::bytes` read them at a link of these pages), the
        // page is 16-byte aligned and `bytes` checked the offset is a multiple of 16, which
        // is enough for `R`'s archive (`RowFormat` refuses, at compile time, a row whose
        // archive needs more), and they are immutable while read.
        unsafe { R::decode(bytes) }.map_err(|_| PageError::BadLink(link))
    }

    /// Decodes the row version at `link`.
    ///
    /// # Safety
    ///
    /// `link` addresses a version written in these pages that is not reclaimed while this
    /// runs: it was found in an index of the [`RowStore`](crate::RowStore) of these pages
    /// while `guard` was pinned (a version leaves every index before it is retired, and a
    /// retired slot is reused only after the guards pinned at retirement are gone), or it
    /// was just written by the caller and not yet released. Bounds and alignment are
    /// checked here; what the bytes are is not.
    pub(crate) unsafe fn read(&self, link: Link, guard: &Guard) -> Result<R, PageError> {
        let _ = guard;
        // SAFETY: the caller's contract is that of `bytes`, and the slice is dropped
        // before this returns, while `guard` (or the caller's token) still holds the slot.
        let bytes = unsafe { self.bytes(link) }?;
        // SAFETY: `bytes` was just read at `link` under its contract.
        unsafe { self.decode(link, bytes) }
    }

    /// Appends a new page owned by shard `owner` and returns its id.
    pub(crate) fn add_page(&self, owner: u16) -> Result<u32, PageError> {
        let id = self.pages.push(Page::new(self.page_size, owner));
        u32::try_from(id).map_err(|_| PageError::OutOfPages)
    }

    /// Whether page `page_id` is being emptied by its writer.
    pub(crate) fn is_evacuating(&self, page_id: u32) -> bool {
        self.pages
            .get(page_id as usize)
            .is_some_and(Page::is_evacuating)
    }

    /// Marks page `page_id` as being emptied by its writer, or not. Writer only.
    pub(crate) fn set_evacuating(&self, page_id: u32, evacuating: bool) {
        if let Some(page) = self.pages.get(page_id as usize) {
            page.set_evacuating(evacuating);
        }
    }

    /// Gives the memory of page `page_id` back to the allocator.
    ///
    /// # Safety
    ///
    /// The caller is the page's writer, and no version in the page can be reached: every
    /// slot it ever handed out of the page has come back to it (unpublished versions
    /// dropped, published ones retired and reclaimed after their readers left), so no
    /// reader reads the page now or later, and the writer writes it again only after
    /// [`DataPages::revive_page`].
    pub(crate) unsafe fn release_page(&self, page_id: u32) {
        if let Some(page) = self.pages.get(page_id as usize)
            && page.is_live()
        {
            // SAFETY: forwarded from the caller: nothing reads or writes the page.
            unsafe { page.release() };
            self.released.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Gives page `page_id`, released before, fresh zeroed memory. Writer only.
    pub(crate) fn revive_page(&self, page_id: u32) -> Result<(), PageError> {
        let page = self
            .pages
            .get(page_id as usize)
            .ok_or(PageError::OutOfPages)?;
        if !page.is_live() {
            page.revive();
            self.released.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Copies `bytes` into the slot at `link`.
    ///
    /// # Safety
    ///
    /// The caller is the writer of the page, and the slot is not reachable by any reader:
    /// it was never published, or it was retired and has come back through reclamation.
    pub(crate) unsafe fn write(&self, link: Link, bytes: &[u8]) -> Result<(), PageError> {
        let page = self
            .pages
            .get(link.page_id as usize)
            .ok_or(PageError::BadLink(link))?;
        // SAFETY: forwarded from the caller: no reader can reach this slot.
        if unsafe { page.write(link.offset, bytes) } {
            Ok(())
        } else {
            Err(PageError::BadLink(link))
        }
    }
}
