//! Handing freed memory back: from this thread's epoch collectors to the allocator, and
//! from the allocator to the operating system.

use scc::Guard;

/// How many times [`release_thread_garbage`] pins and unpins a guard. An object retired
/// by this thread is freed when this thread pins a guard after the epoch has moved on
/// twice; each unpin of a guard that holds garbage tries to move it. Measured after
/// 1,000,000 rows were inserted and deleted by one thread: 4 rounds brought the heap in
/// use from 1.4 MiB back to 0.5 MiB, as did 64.
const GARBAGE_ROUNDS: usize = 8;

/// Frees what the calling thread has retired into epoch-based collectors and no reader
/// can reach any more: the nodes of the ordered indexes (`scc` trees, `indexset`'s
/// nodes) and the arrays of the hash indexes that were replaced.
///
/// Such an object is freed by the thread that retired it, the next time it pins a guard
/// after the readers of its time are gone. A thread that deleted many rows and then
/// went idle keeps their index nodes until it touches a table again; on a `block_on`
/// main thread that is the whole heap left after deleting every row. This does that
/// touch now. It does not wait: a reader that stays pinned elsewhere holds the objects
/// of its time back, and they are freed later as usual.
pub fn release_thread_garbage() {
    for _ in 0..GARBAGE_ROUNDS {
        let guard = Guard::new();
        if !guard.has_garbage() {
            break;
        }
        guard.accelerate();
    }
    // `indexset` keeps its nodes in a `crossbeam-skiplist`, whose removed entries wait in
    // a bag of this thread's until it holds 64 of them. Flushing hands the bag to the
    // global queue, which any thread's next pin frees, and tries to free it now. Not
    // under Miri: that queue lives in a static that is never freed, which Miri reports
    // as a leak, and no test runs `indexset` there (see `index/non_unique.rs`).
    #[cfg(not(miri))]
    crossbeam_epoch::pin().flush();
}

/// Asks the C allocator to hand memory it holds freed back to the operating system.
///
/// Freeing memory (a page given back, an index that shrank) returns it to the allocator,
/// and glibc's `malloc` keeps what it gets back mapped for later: resident memory does
/// not fall. Measured on 1,000,000 rows inserted and all deleted with their indexes
/// freed: 177 MiB resident before this call, 90 MiB after. A vacuum pass calls it when it
/// freed pages. Elsewhere (another C library, Miri) it does nothing; with another global
/// allocator in Rust it only trims what C code allocated.
///
/// glibc trims only the top of its main heap and the free pages inside every heap: the
/// top of a thread's heap stays mapped up to its trim threshold, which glibc raises to
/// twice the largest block it mapped and freed (up to 64 MiB) unless `M_TRIM_THRESHOLD`
/// is set (by `mallopt` or the `MALLOC_TRIM_THRESHOLD_` variable).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    // SAFETY: `malloc_trim` has no preconditions: it walks glibc's own heaps under their
    // own locks and returns unused pages to the system; it never touches live blocks.
    unsafe {
        libc::malloc_trim(0);
    }
}
