//! Entries of the unique indexes' ordered sets: a value and the primary key it belongs to.

use std::ops::Bound;

use super::KeyRange;

/// Orders entries that share a value: below every key, a key, or above every key. Only
/// `Key` is ever stored; `Below`/`Above` bound range queries over values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tiebreak<P> {
    /// Sorts before every stored entry with the same value.
    Below,
    /// A stored entry's primary key.
    Key(P),
    /// Sorts after every stored entry with the same value.
    Above,
}

/// One entry of an ordered secondary index, sorted by value then primary key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntry<V, P> {
    /// The indexed column's value.
    pub value: V,
    /// The row's primary key.
    pub pk: Tiebreak<P>,
}

impl<V, P> IndexEntry<V, P> {
    /// The entry stored for a row.
    pub fn new(value: V, pk: P) -> Self {
        IndexEntry {
            value,
            pk: Tiebreak::Key(pk),
        }
    }

    /// Turns a range over values into the range over entries that covers exactly the
    /// entries whose value is in it.
    pub fn range(values: KeyRange<V>) -> KeyRange<Self> {
        let start = match values.0 {
            Bound::Included(v) => Bound::Included(IndexEntry {
                value: v,
                pk: Tiebreak::Below,
            }),
            Bound::Excluded(v) => Bound::Excluded(IndexEntry {
                value: v,
                pk: Tiebreak::Above,
            }),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match values.1 {
            Bound::Included(v) => Bound::Included(IndexEntry {
                value: v,
                pk: Tiebreak::Above,
            }),
            Bound::Excluded(v) => Bound::Excluded(IndexEntry {
                value: v,
                pk: Tiebreak::Below,
            }),
            Bound::Unbounded => Bound::Unbounded,
        };
        (start, end)
    }
}
