//! The primary index: primary key to the link of the row's current version.

use std::hash::Hash;

use scc::{Equivalent, Guard, TreeIndex};

use super::row_map::RowMap;
use super::{IndexKey, KeyRange, tree};
use crate::Link;

/// Reads the primary key of the row version at a link.
///
/// The primary index stores no keys: keys whose hashes collide are told apart by reading
/// the key from their rows.
pub trait RowKeys<K> {
    /// The key of the row version at `link`, or `None` when it cannot be read.
    fn key_at(&self, link: Link, guard: &Guard) -> Option<K>;
}

/// Maps each primary key to its row's current version, and keeps the keys in order.
///
/// A lookup hashes the key, reads the one slot that holds the link of the row's current
/// version, then the row, whose own key confirms the match (see `row_map.rs`): two
/// dependent cache misses. Before it, an `scc::HashIndex` led to a stable cell holding the
/// link (bucket, entry, cell, row: four misses). On the comparison table (200,000 rows,
/// random keys, 2 cores) a select took ~300 ns that way and 170-240 ns this way, and the
/// table's memory fell from 186 to 169 bytes per row.
///
/// The key order is an `scc::TreeIndex` rather than the `indexset` set the unique indexes
/// use: primary keys are mostly appended (autoincrement), and appending moves the maximum
/// of indexset's last node, which re-keys that node in its skip list on every insert.
/// Measured single-threaded on 200,000 sequential `u64` keys (2 cores, medians of 3):
/// indexset 298-310 ns per insert, `TreeIndex` 64-65 ns, both about 16 bytes per key; a
/// 200-key range read took 6.0 and 1.0 µs.
pub struct PrimaryIndex<K: IndexKey> {
    links: RowMap,
    order: TreeIndex<K, ()>,
}

impl<K: IndexKey> Default for PrimaryIndex<K> {
    fn default() -> Self {
        PrimaryIndex {
            links: RowMap::default(),
            order: TreeIndex::new(),
        }
    }
}

impl<K: IndexKey> PrimaryIndex<K> {
    /// Offers the link of every version that may be `key`'s current one to `accept`
    /// (nearly always just one), which reads the row, checks its key and answers. Takes
    /// no lock; the guard must stay pinned while the link is used to read the row.
    pub fn find<Q, T>(
        &self,
        key: &Q,
        guard: &Guard,
        accept: impl FnMut(Link) -> Option<T>,
    ) -> Option<T>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.links.find(key, guard, accept)
    }

    /// The link of `key`'s current version, its key read through `rows`.
    pub fn get<Q>(&self, key: &Q, guard: &Guard, rows: &impl RowKeys<K>) -> Option<Link>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.find(key, guard, |link| {
            let found = rows.key_at(link, guard)?;
            key.equivalent(&found).then_some(link)
        })
    }

    /// Whether a row with `key` exists.
    pub fn contains<Q>(&self, key: &Q, rows: &impl RowKeys<K>) -> bool
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.get(key, &Guard::new(), rows).is_some()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `key` at `link`. Returns `false` (and changes nothing) when it is already
    /// present. Writer only.
    #[cfg(test)]
    pub(crate) fn insert(&self, key: K, link: Link, rows: &impl RowKeys<K>) -> bool {
        let guard = Guard::new();
        let is_key = |found: Link| rows.key_at(found, &guard).is_some_and(|k| k == key);
        if !self.links.insert(&key, link, is_key) {
            return false;
        }
        // The map held every key the order holds, and it did not hold `key`.
        let _ = self.order.insert_sync(key, ());
        true
    }

    /// Adds `key` at `link`; the caller has checked that `key` is absent. Writer only.
    pub(crate) fn insert_new(&self, key: K, link: Link) {
        self.links.insert(&key, link, |_| false);
        // The map held every key the order holds, and it did not hold `key`.
        let _ = self.order.insert_sync(key, ());
    }

    /// Adds many keys at once, in two halves that may run on two threads at once: this
    /// one points each key, `keys[i]`, at `links[i]`; [`fill_order`](Self::fill_order)
    /// adds the same keys to the key order. The caller has checked that they are absent,
    /// distinct and ascending, and calls both before anything else changes the index.
    /// Writer only.
    pub(crate) fn fill_links(&self, keys: &[K], links: &[Link]) {
        self.links.fill(keys.iter().zip(links.iter().copied()));
    }

    /// The second half of a fill (see [`fill_links`](Self::fill_links)): many keys, absent
    /// and ascending, are added to the key order. Writer only.
    pub(crate) fn fill_order(&self, keys: &[K]) {
        for key in keys {
            // Absent, as the caller checked; ascending keys append to the order.
            let _ = self.order.insert_sync(key.clone(), ());
        }
    }

    /// Points `key`, whose current version is at `old`, at `new`. Returns `false` (and
    /// changes nothing) when `old` is not `key`'s current version. Writer only.
    pub(crate) fn replace(&self, key: &K, old: Link, new: Link) -> bool {
        let replaced = self.links.replace(key, new, |found| found == old);
        replaced.is_some()
    }

    /// Removes `key`, whose current version is at `old`. Readers that found the key before
    /// keep a valid link until their guards drop. Returns `false` (and changes nothing)
    /// when `old` is not `key`'s current version. Writer only.
    pub(crate) fn remove(&self, key: &K, old: Link) -> bool {
        if self.links.remove(key, |found| found == old).is_none() {
            return false;
        }
        self.order.remove_sync(key);
        true
    }

    /// Offers the link of every key's current version to `visit`, in no order, as of
    /// `guard` (keys that come or go meanwhile may be seen or not).
    pub(crate) fn for_each_link(&self, guard: &Guard, visit: impl FnMut(Link)) {
        self.links.for_each_link(guard, visit);
    }

    /// Keys in `range`, in ascending order, at most `limit` of them.
    pub fn keys_in(&self, range: KeyRange<K>, limit: usize) -> Vec<K> {
        self.keys(range, limit, false)
    }

    /// Keys in `range` from the highest down, at most `limit` of them.
    pub fn keys_in_rev(&self, range: KeyRange<K>, limit: usize) -> Vec<K> {
        self.keys(range, limit, true)
    }

    fn keys(&self, range: KeyRange<K>, limit: usize, reverse: bool) -> Vec<K> {
        let guard = Guard::new();
        let keys = tree::entries(&self.order, range, reverse, &guard);
        keys.take(limit).map(|(key, ())| key.clone()).collect()
    }
}
