//! A unique secondary index: each value belongs to at most one row.

use std::hash::Hash;

use indexset::concurrent::set::BTreeSet;
use scc::{Equivalent, Guard};

use super::row_map::RowMap;
use super::set::StoreMark;
use super::{IndexKey, KeyRange, UniqueEntry, is_empty_range};
use crate::Link;

/// Maps a value to the current version of the one row that holds it; keeps values in
/// order too.
///
/// A value leads straight to its row's link, in the same kind of table as the primary
/// index (`row_map.rs`): a lookup reads one slot and then the row, whose own value
/// confirms the match. So every new version of a row is linked here too, also when the
/// value stays. Before, a value led to the primary key (an `scc::HashIndex`, two misses)
/// and the key to the row (two more): on the comparison table (200,000 rows, 2 cores,
/// 3 runs) a select by unique value took 294-423 ns that way and 180-277 ns this way.
pub struct UniqueIndex<V: IndexKey, P: IndexKey> {
    links: RowMap,
    order: BTreeSet<UniqueEntry<V, P>>,
    /// The `RowStore` that maintains this index and whose pages its links address.
    pub(crate) mark: StoreMark,
}

impl<V: IndexKey, P: IndexKey> Default for UniqueIndex<V, P> {
    fn default() -> Self {
        UniqueIndex {
            links: RowMap::default(),
            order: BTreeSet::with_maximum_node_size(super::ORDERED_NODE_SIZE),
            mark: StoreMark::default(),
        }
    }
}

impl<V: IndexKey, P: IndexKey> UniqueIndex<V, P> {
    /// Offers the link of every row version that may hold `value` (nearly always just
    /// one) to `accept`, which reads the row, checks its value and answers. Takes no
    /// lock; the guard must stay pinned while the link is used to read the row.
    pub fn find<Q, T>(
        &self,
        value: &Q,
        guard: &Guard,
        accept: impl FnMut(Link) -> Option<T>,
    ) -> Option<T>
    where
        Q: Equivalent<V> + Hash + ?Sized,
    {
        self.links.find(value, guard, accept)
    }

    /// The link of the current version of the row holding `value`, its value read
    /// through `value_at`.
    pub fn owner(&self, value: &V, value_at: impl Fn(Link) -> Option<V>) -> Option<Link> {
        let guard = Guard::new();
        self.find(value, &guard, |link| {
            (value_at(link).as_ref() == Some(value)).then_some(link)
        })
    }

    /// Whether a row other than the one whose current version is at `current` (none for
    /// a row not yet inserted) holds `value`, values read through `value_at`.
    pub fn held_by_other(
        &self,
        value: &V,
        current: Option<Link>,
        value_at: impl Fn(Link) -> Option<V>,
    ) -> bool {
        let guard = Guard::new();
        let other = self.find(value, &guard, |link| {
            // A slot linking to the row itself names its value, not another row's.
            let theirs = Some(link) != current && value_at(link).as_ref() == Some(value);
            theirs.then_some(())
        });
        other.is_some()
    }

    /// Records that row `pk`, whose current version is at `link`, holds `value`. The
    /// caller has checked `held_by_other`. Writer only.
    pub(crate) fn insert(&self, value: V, pk: P, link: Link) {
        // Checked by the caller: no row holds `value`, so no slot is its.
        self.links.insert(&value, link, |_| false);
        self.order.insert(UniqueEntry { value, pk });
    }

    /// Records many rows at once: `entries` are values with their rows' keys and the
    /// links of their current versions, values distinct and ascending; the caller has
    /// checked that no other row holds them. On an empty index the ordered set is built
    /// node by node from the sorted entries instead of one insert each. Writer only.
    pub(crate) fn fill(&self, entries: Vec<(V, P, Link)>) {
        if self.order.node_count() > 0 {
            for (value, pk, link) in entries {
                self.insert(value, pk, link);
            }
            return;
        }
        self.links
            .fill(entries.iter().map(|(value, _, link)| (value, *link)));
        // Nodes three quarters full leave room for later inserts before a node splits.
        let per_node = super::ORDERED_NODE_SIZE * 3 / 4;
        let mut node = Vec::with_capacity(super::ORDERED_NODE_SIZE);
        for (value, pk, _) in entries {
            node.push(UniqueEntry { value, pk });
            if node.len() == per_node {
                let full = Vec::with_capacity(super::ORDERED_NODE_SIZE);
                self.order.attach_node(std::mem::replace(&mut node, full));
            }
        }
        if !node.is_empty() {
            self.order.attach_node(node);
        }
    }

    /// Records that the row holding `value` has a new version at `new` (its old one was
    /// at `old`); `false` (and nothing changes) when no entry of `value` is at `old`.
    /// Writer only.
    pub(crate) fn relink(&self, value: &V, old: Link, new: Link) -> bool {
        self.links
            .replace(value, new, |found| found == old)
            .is_some()
    }

    /// Forgets that the row whose current version is at `link` holds `value`; `false`
    /// (and nothing changes) when no entry of `value` is at `link`. Writer only.
    pub(crate) fn remove(&self, value: &V, link: Link) -> bool {
        let removed = self.links.remove(value, |found| found == link).is_some();
        if removed {
            self.order.remove(value);
        }
        removed
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
fn ordered_keys<V: IndexKey, P: IndexKey>(
    order: &BTreeSet<UniqueEntry<V, P>>,
    range: KeyRange<V>,
    limit: usize,
    reverse: bool,
) -> Vec<P> {
    if is_empty_range(&range) {
        return Vec::new();
    }
    let entries = order.range(range);
    let key = |entry: &UniqueEntry<V, P>| entry.pk.clone();
    if reverse {
        entries.rev().take(limit).map(key).collect()
    } else {
        entries.take(limit).map(key).collect()
    }
}
