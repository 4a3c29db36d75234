//! A non-unique secondary index: any number of rows may share a value.

use std::sync::Arc;

use scc::{Guard, TreeIndex};

use super::postings::Postings;
use super::set::StoreMark;
use super::{IndexKey, KeyRange, tree};

/// Each value once, in order, with the primary keys of its rows in key order.
///
/// Storing a value once for all its rows, rather than once per row in an ordered set of
/// `(value, key)` pairs, is what keeps a low-cardinality column cheap: measured on
/// 200,000 rows with 1,000 distinct nine-byte names (2 cores, medians of 3), the pair set
/// took 84 bytes and ~300 ns per insert (half of it shifting and comparing strings inside
/// a 512-entry node), this index ~20 bytes and ~150 ns. Values go in an `scc::TreeIndex`,
/// which keeps a value's entry in place across node splits only as a bitwise move, so the
/// keys of a value live behind an `Arc` that every copy of the entry shares.
pub struct NonUniqueIndex<V: IndexKey, P: IndexKey> {
    values: TreeIndex<V, Arc<Postings<P>>>,
    /// The `RowStore` that maintains this index, its one writer.
    pub(crate) mark: StoreMark,
}

impl<V: IndexKey, P: IndexKey> Default for NonUniqueIndex<V, P> {
    fn default() -> Self {
        NonUniqueIndex {
            values: TreeIndex::new(),
            mark: StoreMark::default(),
        }
    }
}

impl<V: IndexKey, P: IndexKey> NonUniqueIndex<V, P> {
    /// Records that row `pk` holds `value`. Writer only.
    pub(crate) fn insert(&self, value: V, pk: P) {
        let known = self
            .values
            .peek_with(&value, |_, postings| Arc::clone(postings));
        match known {
            Some(postings) => postings.insert(pk),
            None => {
                // One writer: nothing else can have added `value` since the lookup.
                let _ = self.values.insert_sync(value, Arc::new(Postings::new(pk)));
            }
        }
    }

    /// Records many rows at once: `entries` are values with the keys of the rows holding
    /// them, values distinct and ascending, keys of each ascending. On an empty index the
    /// values are appended in order, each with its keys in one piece; otherwise they are
    /// inserted one by one. Writer only.
    pub(crate) fn fill(&self, entries: Vec<(V, Vec<P>)>) {
        if !self.values.is_empty() {
            for (value, keys) in entries {
                for pk in keys {
                    self.insert(value.clone(), pk);
                }
            }
            return;
        }
        for (value, keys) in entries {
            if !keys.is_empty() {
                let _ = self
                    .values
                    .insert_sync(value, Arc::new(Postings::from_sorted(keys)));
            }
        }
    }

    /// Forgets that row `pk` holds `value`. Writer only.
    pub(crate) fn remove(&self, value: &V, pk: &P) {
        let Some(postings) = self
            .values
            .peek_with(value, |_, postings| Arc::clone(postings))
        else {
            return;
        };
        if postings.remove(pk) == 0 {
            self.values.remove_sync(value);
        }
    }

    /// Primary keys of the rows whose value is in `range`, in value order, at most `limit`.
    pub fn keys_in(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        self.collect(range, limit, false)
    }

    /// Primary keys of the rows holding `value`, in key order.
    pub fn keys_eq(&self, value: &V) -> Vec<P> {
        let mut keys = Vec::new();
        let guard = Guard::new();
        if let Some(postings) = self.values.peek(value, &guard) {
            postings.collect(false, usize::MAX, &mut keys);
        }
        keys
    }

    /// Like [`NonUniqueIndex::keys_in`], from the highest value down.
    pub fn keys_in_rev(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        self.collect(range, limit, true)
    }

    fn collect(&self, range: KeyRange<V>, limit: usize, reverse: bool) -> Vec<P> {
        let mut keys = Vec::new();
        let guard = Guard::new();
        for (_, postings) in tree::entries(&self.values, range, reverse, &guard) {
            if keys.len() >= limit {
                break;
            }
            postings.collect(reverse, limit, &mut keys);
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::ops::Bound::{self, *};

    use super::*;
    use crate::index::{PrimaryIndex, RowKeys, UniqueIndex};
    use crate::{Guard, Link};

    /// A link that names the row's key (page id) and value (length - 1), so the tests
    /// need no pages.
    fn link(pk: u64, value: u64, step: u32) -> Link {
        Link {
            page_id: pk as u32,
            offset: step * 16,
            length: value as u32 + 1,
        }
    }

    fn value_at(link: Link) -> Option<u64> {
        Some(u64::from(link.length) - 1)
    }

    struct KeyInPageId;
    impl RowKeys<u64> for KeyInPageId {
        fn key_at(&self, link: Link, _: &Guard) -> Option<u64> {
            Some(u64::from(link.page_id))
        }
    }

    /// A small deterministic generator, so the model test needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound
        }
    }

    fn bound(rng: &mut Lcg, value: u64) -> Bound<u64> {
        match rng.next(3) {
            0 => Included(value),
            1 => Excluded(value),
            _ => Unbounded,
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "crossbeam-skiplist, inside indexset, trips Miri's aliasing checks in its own \
                  node deallocation (crossbeam-rs/crossbeam#878); these wrappers hold no \
                  unsafe code. Runs under plain `cargo test`."
    )]
    fn indexes_agree_with_a_btreemap_model() {
        let steps = 20_000;
        let mut rng = Lcg(42);
        let primary = PrimaryIndex::<u64>::default();
        let unique = UniqueIndex::<u64, u64>::default();
        let non_unique = NonUniqueIndex::<u64, u64>::default();
        // model: pk -> value (value is unique across rows in `unique`, shared in `non_unique`)
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        for step in 0..steps {
            let pk = rng.next(64);
            let value = rng.next(64);
            let current = primary.get(&pk, &Guard::new(), &KeyInPageId);
            let taken = model.iter().any(|(p, v)| *v == value && *p != pk);
            assert_eq!(unique.held_by_other(&value, current, value_at), taken);
            let new = link(pk, value, step);
            match rng.next(5) {
                0 | 1 => {
                    if !model.contains_key(&pk) && !taken {
                        assert!(primary.insert(pk, new, &KeyInPageId));
                        unique.insert(value, pk, new);
                        non_unique.insert(value, pk);
                        model.insert(pk, value);
                    } else if model.contains_key(&pk) {
                        assert!(
                            !primary.insert(pk, new, &KeyInPageId),
                            "duplicate pk refused"
                        );
                    }
                }
                2 => {
                    if let Some(old) = model.remove(&pk) {
                        let current = current.expect("a key in the model is in the index");
                        assert!(primary.remove(&pk, current));
                        unique.remove(&old, current);
                        non_unique.remove(&old, &pk);
                    } else {
                        assert!(current.is_none());
                    }
                }
                3 => {
                    // A new version of the row, with a new value when it is free.
                    if let (Some(old), Some(current), false) =
                        (model.get(&pk).copied(), current, taken)
                    {
                        assert!(primary.replace(&pk, current, new));
                        if old == value {
                            unique.relink(&value, current, new);
                        } else {
                            unique.remove(&old, current);
                            unique.insert(value, pk, new);
                            non_unique.remove(&old, &pk);
                            non_unique.insert(value, pk);
                        }
                        model.insert(pk, value);
                    }
                }
                _ => {
                    let range = (bound(&mut rng, value), bound(&mut rng, rng_value(step)));
                    let want: Vec<u64> = model
                        .iter()
                        .filter(|(_, v)| std::ops::RangeBounds::contains(&range, *v))
                        .map(|(p, v)| (*v, *p))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .map(|(_, p)| p)
                        .collect();
                    assert_eq!(non_unique.keys_in(range, usize::MAX), want);
                    assert_eq!(unique.keys_in(range, usize::MAX), want);
                    let mut rev = want.clone();
                    rev.reverse();
                    assert_eq!(non_unique.keys_in_rev(range, usize::MAX), rev, "{range:?}");
                    let pks: Vec<u64> = model
                        .keys()
                        .copied()
                        .filter(|p| std::ops::RangeBounds::contains(&range, p))
                        .collect();
                    assert_eq!(primary.keys_in(range, usize::MAX), pks);
                    let pks_rev: Vec<u64> = pks.iter().rev().take(5).copied().collect();
                    assert_eq!(primary.keys_in_rev(range, 5), pks_rev, "{range:?}");
                }
            }
            assert_eq!(primary.len(), model.len());
            let guard = Guard::new();
            let found = primary.get(&pk, &guard, &KeyInPageId);
            assert_eq!(found.is_some(), model.contains_key(&pk));
            assert_eq!(
                unique.owner(&value, value_at).map(|l| u64::from(l.page_id)),
                model.iter().find(|(_, v)| **v == value).map(|(p, _)| *p)
            );
        }
    }

    #[test]
    fn shared_values_agree_with_a_btreeset_model() {
        let index = NonUniqueIndex::<u64, u64>::default();
        // (value, pk) pairs; few values, so each holds many keys and changes list kind.
        let mut model: BTreeSet<(u64, u64)> = BTreeSet::new();
        let mut rng = Lcg(7);
        let steps = if cfg!(miri) { 300 } else { 40_000 };
        for _ in 0..steps {
            let value = rng.next(6);
            let pk = rng.next(120);
            match rng.next(5) {
                0 | 1 => {
                    index.insert(value, pk);
                    model.insert((value, pk));
                }
                2 => {
                    index.remove(&value, &pk);
                    model.remove(&(value, pk));
                }
                _ => {
                    let end = rng.next(6);
                    let range = (bound(&mut rng, value), bound(&mut rng, end));
                    let limit = [1, 7, 40, usize::MAX][rng.next(4) as usize];
                    let want: Vec<u64> = model
                        .iter()
                        .filter(|(v, _)| std::ops::RangeBounds::contains(&range, v))
                        .map(|(_, p)| *p)
                        .collect();
                    let first: Vec<u64> = want.iter().take(limit).copied().collect();
                    let last: Vec<u64> = want.iter().rev().take(limit).copied().collect();
                    assert_eq!(index.keys_in(range, limit), first, "{range:?} {limit}");
                    assert_eq!(index.keys_in_rev(range, limit), last, "{range:?} {limit}");
                    let held: Vec<u64> = model
                        .range((value, 0)..=(value, u64::MAX))
                        .map(|(_, p)| *p)
                        .collect();
                    assert_eq!(index.keys_eq(&value), held);
                }
            }
        }
    }

    fn rng_value(step: u32) -> u64 {
        u64::from(step.wrapping_mul(2654435761) % 64)
    }
}
