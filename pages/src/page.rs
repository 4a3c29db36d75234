//! One fixed-size, 16-byte aligned block of memory.

use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::ptr::NonNull;

/// A fixed-size buffer of row bytes, written by one shard and read by anyone.
///
/// The page hands out no references to itself as a whole: a writer copies bytes into a
/// range through a raw pointer, and a reader borrows only the range of one published
/// version. Which ranges may be touched when is the contract of [`crate::DataPages`].
pub(crate) struct Page {
    bytes: NonNull<u8>,
    size: u32,
    /// The shard whose writer owns this page.
    owner: u16,
}

// SAFETY: a `Page` owns its allocation (like `Box<[u8]>`); moving it to another thread
// moves that ownership.
unsafe impl Send for Page {}
// SAFETY: shared access only reads or writes disjoint ranges under the contract of
// `DataPages`: a range is written only while no reader can reach it, and read only after
// its write happened-before the publication the reader synchronized with.
unsafe impl Sync for Page {}

impl Page {
    fn layout(size: u32) -> Layout {
        Layout::from_size_align(size as usize, crate::ROW_ALIGN as usize)
            .expect("page sizes are validated to fit a Layout by DataPages::new")
    }

    /// Allocates a zeroed page of `size` bytes owned by shard `owner`.
    pub(crate) fn new(size: u32, owner: u16) -> Self {
        let layout = Self::layout(size);
        // SAFETY: the layout has a non-zero size (page sizes are at least MIN_PAGE_SIZE).
        let raw = unsafe { alloc_zeroed(layout) };
        let Some(bytes) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        Page { bytes, size, owner }
    }

    pub(crate) fn owner(&self) -> u16 {
        self.owner
    }

    fn in_bounds(&self, offset: u32, len: usize) -> bool {
        (offset as usize)
            .checked_add(len)
            .is_some_and(|end| end <= self.size as usize)
    }

    /// Copies `src` into the page at `offset`.
    ///
    /// # Safety
    ///
    /// No reader may be reading `offset..offset + src.len()` now or until this write
    /// happens-before its read (the slot is unpublished, or was retired and reclaimed).
    pub(crate) unsafe fn write(&self, offset: u32, src: &[u8]) -> bool {
        if !self.in_bounds(offset, src.len()) {
            return false;
        }
        // SAFETY: the range is inside the allocation (checked above), `src` cannot overlap
        // it (the page is never borrowed mutably), and the caller excludes readers.
        unsafe {
            self.bytes
                .as_ptr()
                .add(offset as usize)
                .copy_from_nonoverlapping(src.as_ptr(), src.len());
        }
        true
    }

    /// Borrows `len` bytes at `offset`, or `None` when the range is out of the page.
    ///
    /// # Safety
    ///
    /// The range must hold bytes whose write happened-before this call, and must not be
    /// written again while the returned slice lives.
    pub(crate) unsafe fn read(&self, offset: u32, len: u32) -> Option<&[u8]> {
        if !self.in_bounds(offset, len as usize) {
            return None;
        }
        // SAFETY: in bounds (checked above); the caller guarantees the bytes are
        // initialized by a write that happened-before, and stay unchanged while borrowed.
        Some(unsafe {
            std::slice::from_raw_parts(self.bytes.as_ptr().add(offset as usize), len as usize)
        })
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: `bytes` was allocated in `new` with exactly this layout and is freed once.
        unsafe { dealloc(self.bytes.as_ptr(), Self::layout(self.size)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_round_trips_and_bounds_are_checked() {
        let page = Page::new(256, 3);
        assert_eq!(page.owner(), 3);
        // SAFETY: single-threaded test, nothing else reads the page.
        unsafe {
            assert!(page.write(16, b"hello"));
            assert_eq!(page.read(16, 5), Some(&b"hello"[..]));
            assert!(!page.write(250, b"too long"));
            assert_eq!(page.read(250, 8), None);
            assert_eq!(page.read(0, 4), Some(&[0u8; 4][..]));
        }
    }
}
