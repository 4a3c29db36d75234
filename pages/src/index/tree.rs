//! Range walks over an `scc::TreeIndex`, the ordered structure of the primary key order
//! and of non-unique values.

use std::ops::Bound;

use scc::{Guard, TreeIndex};

use super::{KeyRange, is_empty_range};

/// The entries of `tree` whose keys are in `range`, in ascending order, or descending when
/// `reverse`.
///
/// A descending walk does not use `Range::rev`: in scc 3.8.8 it can return nothing for a
/// range that holds keys once some keys have been removed (the model test in
/// `non_unique.rs` found it). It walks back from the end instead when the range is open
/// above, and otherwise reverses the ascending walk, which costs the size of the range.
pub(super) fn entries<'g, K: Ord + Clone, V>(
    tree: &'g TreeIndex<K, V>,
    range: KeyRange<K>,
    reverse: bool,
    guard: &'g Guard,
) -> Box<dyn Iterator<Item = (&'g K, &'g V)> + 'g> {
    if is_empty_range(&range) {
        return Box::new(std::iter::empty());
    }
    if !reverse {
        return Box::new(tree.range(range, guard));
    }
    match range {
        (start, Bound::Unbounded) => Box::new(tree.iter(guard).rev().take_while(
            move |(key, _)| match &start {
                Bound::Included(start) => *key >= start,
                Bound::Excluded(start) => *key > start,
                Bound::Unbounded => true,
            },
        )),
        bounded => {
            let ascending: Vec<_> = tree.range(bounded, guard).collect();
            Box::new(ascending.into_iter().rev())
        }
    }
}
