//! Entries of the unique indexes' ordered sets: a value and the primary key it belongs to.

use std::borrow::Borrow;
use std::cmp::Ordering;

/// One entry of a unique index's ordered set, compared by its value alone.
///
/// A unique index holds each value once, so the value orders its entries by itself and
/// a range over values is a range over entries (`Borrow<V>`): no key is needed to bound
/// it, and an entry is 8 bytes smaller than one carrying a tie-breaking bound.
#[derive(Clone, Debug)]
pub struct UniqueEntry<V, P> {
    /// The indexed column's value.
    pub value: V,
    /// The row's primary key.
    pub pk: P,
}

impl<V: PartialEq, P> PartialEq for UniqueEntry<V, P> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<V: Eq, P> Eq for UniqueEntry<V, P> {}

impl<V: Ord, P> PartialOrd for UniqueEntry<V, P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<V: Ord, P> Ord for UniqueEntry<V, P> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<V, P> Borrow<V> for UniqueEntry<V, P> {
    fn borrow(&self) -> &V {
        &self.value
    }
}
