//! Where a page's bytes come from, and where they go back.
//!
//! A page of at least [`MAP_FROM`] bytes, in whole pages of the operating system, gets
//! an anonymous mapping of its own, so that releasing it hands its memory straight back
//! to the system. From the allocator's heap a released page leaves a hole that only
//! comes back when nothing else lives around it, and small allocations made while the
//! table grew do: with 64 KiB pages from the heap, 1,000,000 rows inserted, deleted and
//! vacuumed left a 5.4 MiB resident arena with 1.5 MiB in use; with mappings, 0.2 MiB.
//! Smaller pages come from the global allocator, where one mapping each would cost a
//! system call and a kernel map entry per few rows; so does every page under Miri, on
//! other systems, and when a mapping fails.

use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::ptr::NonNull;

/// The smallest page that gets a mapping of its own: the default page size.
const MAP_FROM: usize = crate::DEFAULT_PAGE_SIZE as usize;

/// A page's zeroed memory and where it came from.
pub(super) struct Block {
    pub(super) bytes: NonNull<u8>,
    /// A mapping of its own, else the global allocator.
    pub(super) mapped: bool,
}

/// The layout of a page of `size` bytes from the global allocator.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, crate::ROW_ALIGN as usize)
        .expect("page sizes are validated to fit a Layout by DataPages::new")
}

/// Zeroed memory for a page of `size` bytes, at least `ROW_ALIGN` aligned. Out of
/// memory, it aborts as the global allocator does.
pub(super) fn allocate(size: usize) -> Block {
    if let Some(bytes) = map(size) {
        return Block {
            bytes,
            mapped: true,
        };
    }
    let layout = layout(size);
    // SAFETY: the layout has a non-zero size (page sizes are at least MIN_PAGE_SIZE).
    let raw = unsafe { alloc_zeroed(layout) };
    Block {
        bytes: NonNull::new(raw).unwrap_or_else(|| handle_alloc_error(layout)),
        mapped: false,
    }
}

/// Gives back the memory of a page of `size` bytes.
///
/// # Safety
///
/// `block` came from [`allocate`] with this `size` and is freed once; nothing reads or
/// writes its bytes now or later.
pub(super) unsafe fn free(block: Block, size: usize) {
    if block.mapped {
        // SAFETY: forwarded from the caller: a mapping of `size` bytes made by `map`,
        // unused from now on.
        unsafe { unmap(block.bytes, size) }
    } else {
        // SAFETY: forwarded from the caller: allocated by `alloc_zeroed` with this layout.
        unsafe { dealloc(block.bytes.as_ptr(), layout(size)) }
    }
}

/// A fresh private anonymous mapping of `size` bytes (zeroed by the system, page
/// aligned), when the page is large enough and the system gives one.
#[cfg(all(unix, not(miri)))]
fn map(size: usize) -> Option<NonNull<u8>> {
    // SAFETY: `sysconf` only reads a system constant.
    let system_page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let whole_pages = usize::try_from(system_page).is_ok_and(|page| page > 0 && size % page == 0);
    if size < MAP_FROM || !whole_pages {
        return None;
    }
    // SAFETY: a new anonymous mapping at an address the system picks: it aliases no
    // memory of this process, and `size` is non-zero.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    NonNull::new(raw.cast())
}

#[cfg(not(all(unix, not(miri))))]
fn map(_size: usize) -> Option<NonNull<u8>> {
    None
}

/// Removes a mapping made by [`map`]. Should the system refuse (it can, when splitting a
/// region would pass its count of map entries), the memory is still given back and only
/// the address range stays reserved.
///
/// # Safety
///
/// `bytes` is a mapping of `size` bytes from `map`, unused from now on.
#[cfg(all(unix, not(miri)))]
unsafe fn unmap(bytes: NonNull<u8>, size: usize) {
    // SAFETY: by the caller's contract the range is a whole mapping that nothing uses.
    if unsafe { libc::munmap(bytes.as_ptr().cast(), size) } != 0 {
        // SAFETY: the same range, still mapped; dropping its contents affects no one.
        unsafe { libc::madvise(bytes.as_ptr().cast(), size, libc::MADV_DONTNEED) };
    }
}

#[cfg(not(all(unix, not(miri))))]
unsafe fn unmap(_bytes: NonNull<u8>, _size: usize) {
    unreachable!("`map` makes no mapping here, so no block is mapped")
}
