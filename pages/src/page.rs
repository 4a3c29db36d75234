//! One fixed-size, 16-byte aligned block of memory, which its writer can give back (to
//! the system or the allocator, see `memory`) when nothing in it is reachable and take
//! again later.

mod memory;

use std::ptr::{NonNull, null_mut};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use memory::Block;

/// A fixed-size buffer of row bytes, written by one shard and read by anyone.
///
/// The page hands out no references to itself as a whole: a writer copies bytes into a
/// range through a raw pointer, and a reader borrows only the range of one published
/// version. Which ranges may be touched when is the contract of [`crate::DataPages`].
///
/// A page's memory can be *released* (given back to the allocator) once no version in
/// it can be reached, and *revived* (allocated again, zeroed) when its writer wants the
/// page back. Between the two the page holds no memory: reads and writes fail.
pub(crate) struct Page {
    /// The allocation, or null while the page is released.
    bytes: AtomicPtr<u8>,
    /// Whether the allocation is a mapping of its own (see `memory`). Written and read
    /// by the page's writer only, with the allocation.
    mapped: AtomicBool,
    size: u32,
    /// The shard whose writer owns this page.
    owner: u16,
    /// Set by the writer while it empties the page (see `PageWriter::evacuate_sparse`).
    evacuating: AtomicBool,
}

// SAFETY: a `Page` owns its allocation (like `Box<[u8]>`); moving it to another thread
// moves that ownership.
unsafe impl Send for Page {}
// SAFETY: shared access only reads or writes disjoint ranges under the contract of
// `DataPages`: a range is written only while no reader can reach it, and read only after
// its write happened-before the publication the reader synchronized with. The allocation
// itself changes only through the atomic pointer: a release only when nothing can read
// the page, a revive only from null.
unsafe impl Sync for Page {}

impl Page {
    /// Allocates a zeroed page of `size` bytes owned by shard `owner`.
    pub(crate) fn new(size: u32, owner: u16) -> Self {
        let block = memory::allocate(size as usize);
        Page {
            bytes: AtomicPtr::new(block.bytes.as_ptr()),
            mapped: AtomicBool::new(block.mapped),
            size,
            owner,
            evacuating: AtomicBool::new(false),
        }
    }

    pub(crate) fn owner(&self) -> u16 {
        self.owner
    }

    /// Whether the page's writer is emptying it.
    pub(crate) fn is_evacuating(&self) -> bool {
        self.evacuating.load(Ordering::Relaxed)
    }

    /// Marks the page as being emptied, or not.
    pub(crate) fn set_evacuating(&self, evacuating: bool) {
        self.evacuating.store(evacuating, Ordering::Relaxed);
    }

    /// Whether the page holds memory.
    pub(crate) fn is_live(&self) -> bool {
        !self.bytes.load(Ordering::Acquire).is_null()
    }

    /// The page's memory, if it holds any, when `offset..offset + len` lies inside it.
    fn range(&self, offset: u32, len: usize) -> Option<*mut u8> {
        let in_bounds = (offset as usize)
            .checked_add(len)
            .is_some_and(|end| end <= self.size as usize);
        // Acquire: pairs with the release of `revive`, so the allocation is seen whole.
        let base = self.bytes.load(Ordering::Acquire);
        (in_bounds && !base.is_null()).then_some(base)
    }

    /// Copies `src` into the page at `offset`; `false` when the range is outside the
    /// page or the page is released.
    ///
    /// # Safety
    ///
    /// No reader may be reading `offset..offset + src.len()` now or until this write
    /// happens-before its read (the slot is unpublished, or was retired and reclaimed).
    pub(crate) unsafe fn write(&self, offset: u32, src: &[u8]) -> bool {
        let Some(base) = self.range(offset, src.len()) else {
            return false;
        };
        // SAFETY: the range is inside the live allocation (checked above; the caller, the
        // page's writer, is also the only one that releases it), `src` cannot overlap it
        // (the page is never borrowed mutably), and the caller excludes readers.
        unsafe {
            base.add(offset as usize)
                .copy_from_nonoverlapping(src.as_ptr(), src.len());
        }
        true
    }

    /// Borrows `len` bytes at `offset`, or `None` when the range is out of the page or the
    /// page is released.
    ///
    /// # Safety
    ///
    /// The range must hold bytes whose write happened-before this call, and must not be
    /// written again, nor the page released, while the returned slice lives.
    pub(crate) unsafe fn read(&self, offset: u32, len: u32) -> Option<&[u8]> {
        let base = self.range(offset, len as usize)?;
        // SAFETY: in bounds of the live allocation (checked above); the caller guarantees
        // the bytes are initialized by a write that happened-before, and stay unchanged
        // and allocated while borrowed.
        Some(unsafe { std::slice::from_raw_parts(base.add(offset as usize), len as usize) })
    }

    /// Gives the page's memory back to the allocator; nothing when it holds none.
    ///
    /// # Safety
    ///
    /// The caller is the page's writer. No slice of the page is borrowed now, and none
    /// will be read or written until a [`Page::revive`] happens-before it: no version in
    /// the page can be reached by any reader (every one was retired and reclaimed, or
    /// never published and given back).
    pub(crate) unsafe fn release(&self) {
        let old = self.bytes.swap(null_mut(), Ordering::AcqRel);
        if let Some(bytes) = NonNull::new(old) {
            let block = Block {
                bytes,
                mapped: self.mapped.load(Ordering::Relaxed),
            };
            // SAFETY: `old` came from `memory::allocate` with this page's size, as
            // `mapped` records (both are set together by the writer, the only caller),
            // and the swap took it out of the page, so it is freed once; by the caller's
            // contract nothing borrows it.
            unsafe { memory::free(block, self.size as usize) }
        }
    }

    /// Allocates memory (zeroed) for a released page; nothing when it holds some. Called
    /// by the page's writer only, like [`Page::release`], so `mapped` changes with the
    /// allocation it describes.
    pub(crate) fn revive(&self) {
        if self.is_live() {
            return;
        }
        let fresh = memory::allocate(self.size as usize);
        let mapped = fresh.mapped;
        // Release: whoever sees the pointer sees the zeroed allocation.
        let installed = self.bytes.compare_exchange(
            null_mut(),
            fresh.bytes.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        match installed {
            Ok(_) => self.mapped.store(mapped, Ordering::Relaxed),
            // SAFETY: `fresh` was just allocated with this size and was never shared.
            Err(_) => unsafe { memory::free(fresh, self.size as usize) },
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nothing borrows the page.
        unsafe { self.release() }
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

    #[test]
    fn a_released_page_refuses_access_until_revived_zeroed() {
        // 256 bytes come from the allocator; the default size gets a mapping of its own
        // on Linux (not under Miri); both go back and come again the same way.
        for size in [256, crate::DEFAULT_PAGE_SIZE] {
            released_page_refuses_access_until_revived_zeroed(size);
        }
    }

    fn released_page_refuses_access_until_revived_zeroed(size: u32) {
        let page = Page::new(size, 0);
        let last = size - 3;
        let mapped = cfg!(all(unix, not(miri))) && size >= crate::DEFAULT_PAGE_SIZE;
        assert_eq!(
            page.mapped.load(Ordering::Relaxed),
            mapped,
            "{size}-byte page"
        );
        // SAFETY: single-threaded test; no slice of the page is alive across a release.
        unsafe {
            assert!(page.write(0, b"old bytes"));
            assert!(page.write(last, b"end"));
            page.release();
            assert!(!page.is_live());
            assert_eq!(page.read(0, 4), None, "a released page has nothing to read");
            assert!(!page.write(0, b"x"), "nor room to write");
            page.release();
            page.revive();
            assert!(page.is_live());
            assert_eq!(page.mapped.load(Ordering::Relaxed), mapped);
            assert_eq!(
                page.read(0, 9),
                Some(&[0u8; 9][..]),
                "revived pages are zeroed"
            );
            assert_eq!(page.read(last, 3), Some(&[0u8; 3][..]), "to their end");
            assert!(page.write(0, b"new"));
            page.revive();
            assert_eq!(
                page.read(0, 3),
                Some(&b"new"[..]),
                "reviving a live page keeps it"
            );
        }
    }
}
