//! `release_thread_garbage` frees what this thread retired, without waiting for the
//! thread's next use of an index. It runs alone in this binary: a guard pinned by a
//! test on another thread would hold the objects of its time back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scc::TreeIndex;

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted(Arc::clone(&self.0))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn the_nodes_of_a_tree_emptied_by_this_thread_are_freed() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let keys = if cfg!(miri) { 200 } else { 10_000 };
    let tree = TreeIndex::new();
    for key in 0..keys {
        assert!(tree.insert_sync(key, Counted(Arc::clone(&dropped))).is_ok());
    }
    for key in 0..keys {
        assert!(tree.remove_sync(&key));
    }
    // The removed values sit in the retired nodes, which wait for this thread.
    let waiting = keys - dropped.load(Ordering::Relaxed);
    assert!(
        waiting > 0,
        "the tree frees its nodes later, through the epoch"
    );
    worktable_pages::release_thread_garbage();
    assert_eq!(
        dropped.load(Ordering::Relaxed),
        keys,
        "every value is freed"
    );
}
