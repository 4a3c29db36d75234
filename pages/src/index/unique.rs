//! A unique secondary index: each value belongs to at most one row.

use std::hash::Hash;

use indexset::concurrent::set::BTreeSet;
use scc::{Equivalent, HashIndex};

use super::{IndexEntry, IndexKey, KeyRange, is_empty_range};

type Hasher = foldhash::fast::RandomState;

/// Maps a value to the one primary key that holds it; keeps values in order too.
pub struct UniqueIndex<V: IndexKey, P: IndexKey> {
    owners: HashIndex<V, P, Hasher>,
    order: BTreeSet<IndexEntry<V, P>>,
}

impl<V: IndexKey, P: IndexKey> Default for UniqueIndex<V, P> {
    fn default() -> Self {
        UniqueIndex {
            owners: HashIndex::with_hasher(Hasher::default()),
            order: BTreeSet::with_maximum_node_size(super::ORDERED_NODE_SIZE),
        }
    }
}

impl<V: IndexKey, P: IndexKey> UniqueIndex<V, P> {
    /// The primary key of the row holding `value`. Takes no lock.
    pub fn get<Q>(&self, value: &Q) -> Option<P>
    where
        Q: Equivalent<V> + Hash + ?Sized,
    {
        self.owners.peek_with(value, |_, pk| pk.clone())
    }

    /// Whether `value` is held by a row other than `pk`.
    pub fn held_by_other(&self, value: &V, pk: &P) -> bool {
        self.owners
            .peek_with(value, |_, owner| owner != pk)
            .unwrap_or(false)
    }

    /// Records that row `pk` holds `value`. The caller has checked `held_by_other`.
    /// Writer only.
    pub fn insert(&self, value: V, pk: P) {
        if self.owners.insert_sync(value.clone(), pk.clone()).is_ok() {
            self.order.insert(IndexEntry::new(value, pk));
        }
    }

    /// Forgets that row `pk` holds `value`. Writer only.
    pub fn remove(&self, value: &V, pk: &P) {
        if self.owners.remove_if_sync(value, |owner| owner == pk) {
            self.order
                .remove(&IndexEntry::new(value.clone(), pk.clone()));
        }
    }

    /// Primary keys of the rows whose value is in `range`, in value order, at most `limit`.
    pub fn keys_in(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        ordered_keys(&self.order, range, limit, false)
    }

    /// Like [`UniqueIndex::keys_in`], from the highest value down.
    pub fn keys_in_rev(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        ordered_keys(&self.order, range, limit, true)
    }
}

/// Collects the primary keys of the entries whose value is in `range`.
pub(super) fn ordered_keys<V: IndexKey, P: IndexKey>(
    order: &BTreeSet<IndexEntry<V, P>>,
    range: KeyRange<V>,
    limit: usize,
    reverse: bool,
) -> Vec<P> {
    if is_empty_range(&range) {
        return Vec::new();
    }
    let entries = order.range(IndexEntry::range(range));
    let key = |entry: &IndexEntry<V, P>| match &entry.pk {
        super::Tiebreak::Key(pk) => Some(pk.clone()),
        super::Tiebreak::Below | super::Tiebreak::Above => None,
    };
    if reverse {
        entries.rev().filter_map(key).take(limit).collect()
    } else {
        entries.filter_map(key).take(limit).collect()
    }
}
