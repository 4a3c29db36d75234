//! A non-unique secondary index: any number of rows may share a value.

use std::ops::Bound;

use indexset::concurrent::set::BTreeSet;

use super::unique::ordered_keys;
use super::{IndexEntry, IndexKey, KeyRange};

/// Entries `(value, primary key)` in order; rows sharing a value sort by primary key.
pub struct NonUniqueIndex<V: IndexKey, P: IndexKey> {
    order: BTreeSet<IndexEntry<V, P>>,
}

impl<V: IndexKey, P: IndexKey> Default for NonUniqueIndex<V, P> {
    fn default() -> Self {
        NonUniqueIndex {
            order: BTreeSet::with_maximum_node_size(super::ORDERED_NODE_SIZE),
        }
    }
}

impl<V: IndexKey, P: IndexKey> NonUniqueIndex<V, P> {
    /// Records that row `pk` holds `value`. Writer only.
    pub fn insert(&self, value: V, pk: P) {
        self.order.insert(IndexEntry::new(value, pk));
    }

    /// Forgets that row `pk` holds `value`. Writer only.
    pub fn remove(&self, value: &V, pk: &P) {
        self.order
            .remove(&IndexEntry::new(value.clone(), pk.clone()));
    }

    /// Primary keys of the rows whose value is in `range`, in value order, at most `limit`.
    pub fn keys_in(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        ordered_keys(&self.order, range, limit, false)
    }

    /// Primary keys of the rows holding `value`, in key order.
    pub fn keys_eq(&self, value: &V) -> Vec<P> {
        let range = (
            Bound::Included(value.clone()),
            Bound::Included(value.clone()),
        );
        ordered_keys(&self.order, range, usize::MAX, false)
    }

    /// Like [`NonUniqueIndex::keys_in`], from the highest value down.
    pub fn keys_in_rev(&self, range: KeyRange<V>, limit: usize) -> Vec<P> {
        ordered_keys(&self.order, range, limit, true)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound::{self, *};

    use super::*;
    use crate::index::{PrimaryIndex, UniqueIndex};
    use crate::{Guard, Link};

    fn link(n: u32) -> Link {
        Link {
            page_id: n,
            offset: 0,
            length: 1,
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
            match rng.next(4) {
                0 | 1 => {
                    let taken = model.iter().any(|(p, v)| *v == value && *p != pk);
                    assert_eq!(unique.held_by_other(&value, &pk), taken);
                    if !model.contains_key(&pk) && !taken {
                        assert!(primary.insert(pk, link(step)));
                        unique.insert(value, pk);
                        non_unique.insert(value, pk);
                        model.insert(pk, value);
                    } else if model.contains_key(&pk) {
                        assert!(!primary.insert(pk, link(step)), "duplicate pk refused");
                    }
                }
                2 => {
                    if let Some(old) = model.remove(&pk) {
                        assert!(primary.remove(&pk, &Guard::new()).is_some());
                        unique.remove(&old, &pk);
                        non_unique.remove(&old, &pk);
                    } else {
                        assert!(primary.remove(&pk, &Guard::new()).is_none());
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
                    assert_eq!(non_unique.keys_in_rev(range, usize::MAX), rev);
                    let pks: Vec<u64> = model
                        .keys()
                        .copied()
                        .filter(|p| std::ops::RangeBounds::contains(&range, p))
                        .collect();
                    assert_eq!(primary.keys_in(range, usize::MAX), pks);
                }
            }
            assert_eq!(primary.len(), model.len());
            let guard = Guard::new();
            assert_eq!(primary.get(&pk, &guard).is_some(), model.contains_key(&pk));
            assert_eq!(
                unique.get(&value),
                model.iter().find(|(_, v)| **v == value).map(|(p, _)| *p)
            );
        }
    }

    fn rng_value(step: u32) -> u64 {
        u64::from(step.wrapping_mul(2654435761) % 64)
    }
}
