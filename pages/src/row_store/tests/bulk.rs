//! `Committer::link_all`: rows linked all at once answer exactly like rows linked one by
//! one, before and after later writes, and a refused call changes nothing.

use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::ops::RangeBounds;

use super::bytes::Lcg;
use super::*;

/// `count` rows with ascending keys (with gaps), distinct scattered values, and names
/// from a few, so a name may hold one key (a list) or many (a tree).
fn rows(rng: &mut Lcg, count: u64) -> Vec<Row> {
    let mut values: Vec<u64> = (0..count).map(|i| i * 4 + 1).collect();
    for i in (1..values.len()).rev() {
        values.swap(i, rng.below(i as u64 + 1) as usize);
    }
    (0..count)
        .map(|i| {
            let name = format!("n{}", rng.below(7).min(rng.below(40)));
            row(i * 3 + rng.below(3), values[i as usize], &name)
        })
        .collect()
}

/// A store, its committer and the writer of its one shard.
type Writable<Ix> = (
    RowStore<Row, u64, Ix>,
    Committer<Row, u64, Ix>,
    PageWriter<Row>,
);

/// The unique index of a set, if it has one.
pub(super) type UniqueOf<Ix> = Option<fn(&Ix) -> &UniqueIndex<u64, u64>>;

/// Links `rows` into a fresh store all at once.
fn linked_all<Ix: IndexSet<Row, u64>>(rows: &[Row]) -> Writable<Ix> {
    let (store, mut committer) = new_store::<Ix>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let versions = rows
        .iter()
        .map(|r| writer.write_row(r).expect("fits"))
        .collect();
    let keys = rows.iter().map(key).collect();
    committer
        .link_all(&store, keys, versions, rows.to_vec())
        .expect("ascending keys, distinct values, an empty store");
    (store, committer, writer)
}

fn bound(rng: &mut Lcg, max: u64) -> Bound<u64> {
    match rng.below(3) {
        0 => Unbounded,
        1 => Included(rng.below(max)),
        _ => Excluded(rng.below(max)),
    }
}

/// Every answer of `store` agrees with `model` (key → row).
pub(super) fn agrees<Ix: IndexSet<Row, u64>>(
    store: &RowStore<Row, u64, Ix>,
    model: &BTreeMap<u64, Row>,
    rng: &mut Lcg,
    unique: UniqueOf<Ix>,
    names: fn(&Ix) -> &NonUniqueIndex<String, u64>,
) {
    let guard = Guard::new();
    assert_eq!(store.len(), model.len());
    let max_key = model.keys().last().map_or(1, |k| k + 2);
    for k in 0..max_key {
        assert_eq!(store.get(&k, &guard).as_ref(), model.get(&k), "key {k}");
    }
    for _ in 0..20 {
        let range = (bound(rng, max_key), bound(rng, max_key));
        let want: Vec<u64> = model
            .keys()
            .filter(|k| range.contains(k))
            .copied()
            .collect();
        assert_eq!(store.primary().keys_in(range, usize::MAX), want);
    }
    let mut by_name: BTreeMap<&String, Vec<u64>> = BTreeMap::new();
    for r in model.values() {
        by_name.entry(&r.2).or_default().push(r.0);
    }
    for (n, keys) in &by_name {
        assert_eq!(&names(store.indexes()).keys_eq(n), keys, "name {n}");
    }
    let all_by_name: Vec<u64> = by_name.values().flatten().copied().collect();
    assert_eq!(
        names(store.indexes()).keys_in((Unbounded, Unbounded), usize::MAX),
        all_by_name
    );
    let Some(unique) = unique else { return };
    let by_value: BTreeMap<u64, u64> = model.values().map(|r| (r.1, r.0)).collect();
    let max_value = by_value.keys().last().map_or(1, |v| v + 2);
    for r in model.values() {
        assert_eq!(
            store.find_unique(unique, &r.1, value, &guard).as_ref(),
            Some(r)
        );
    }
    for _ in 0..20 {
        let range = (bound(rng, max_value), bound(rng, max_value));
        let want: Vec<u64> = by_value
            .iter()
            .filter(|(v, _)| range.contains(v))
            .map(|(_, k)| *k)
            .collect();
        assert_eq!(unique(store.indexes()).keys_in(range, usize::MAX), want);
    }
}

/// Links rows all at once, checks every answer, then goes on writing (inserts between
/// and beyond the filled nodes, updates that move values, removals) and checks again.
fn answers_like_a_model<Ix: IndexSet<Row, u64>>(
    count: u64,
    steps: usize,
    unique: UniqueOf<Ix>,
    names: fn(&Ix) -> &NonUniqueIndex<String, u64>,
) {
    let mut rng = Lcg(count);
    let initial = rows(&mut rng, count);
    let (store, mut committer, mut writer) = linked_all::<Ix>(&initial);
    let mut model: BTreeMap<u64, Row> = initial.into_iter().map(|r| (r.0, r)).collect();
    agrees(&store, &model, &mut rng, unique, names);
    let max_key = count * 3 + 10;
    let max_value = count * 4 + 10;
    for _ in 0..steps {
        let guard = Guard::new();
        let k = rng.below(max_key);
        // Values the initial rows do not hold (those are 1 mod 4), and some they do.
        let v = if rng.below(4) == 0 {
            rng.below(max_value / 4) * 4 + 1
        } else {
            rng.below(max_value)
        };
        let new = row(k, v, &format!("n{}", rng.below(9)));
        let taken = model.values().any(|r| r.1 == v && r.0 != k) && unique.is_some();
        match (store.current(&k, &guard), rng.below(3)) {
            (None, _) => {
                let version = writer.write_row(&new).expect("fits");
                let done = committer.insert(&store, &k, &new, version, &guard);
                assert_eq!(done.is_ok(), !taken);
                if done.is_ok() {
                    model.insert(k, new);
                }
            }
            (Some((link, old)), 0) => {
                committer
                    .remove(&store, &k, (link, &old), &guard)
                    .expect("current");
                model.remove(&k);
            }
            (Some((link, old)), _) => {
                let version = writer.write_row(&new).expect("fits");
                let done = committer.replace(&store, &k, (link, &old), &new, version, &guard);
                assert_eq!(done.is_ok(), !taken);
                if done.is_ok() {
                    model.insert(k, new);
                }
            }
        }
    }
    agrees(&store, &model, &mut rng, unique, names);
}

pub(super) fn both_names(ix: &Both) -> &NonUniqueIndex<String, u64> {
    &ix.by_name
}
pub(super) fn names_only(ix: &Names) -> &NonUniqueIndex<String, u64> {
    &ix.by_name
}

#[test]
#[cfg_attr(miri, ignore = "indexset trips Miri; see index/non_unique.rs")]
fn rows_linked_all_at_once_answer_like_a_model_with_unique_and_non_unique_indexes() {
    // Enough rows for many nodes of the unique index's set and many-key names.
    for count in [0, 1, 2, 700, 5_000] {
        answers_like_a_model::<Both>(count, 3_000, Some(by_value), both_names);
    }
}

#[test]
fn rows_linked_all_at_once_answer_like_a_model_with_a_non_unique_index() {
    let (counts, steps): (&[u64], usize) = if cfg!(miri) {
        (&[0, 1, 40], 40)
    } else {
        (&[0, 1, 2, 700, 5_000], 3_000)
    };
    for &count in counts {
        answers_like_a_model::<Names>(count, steps, None, names_only);
    }
}

#[test]
#[cfg_attr(miri, ignore = "indexset trips Miri; see index/non_unique.rs")]
fn a_refused_link_all_changes_nothing() {
    let (store, mut committer) = new_store::<Both>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let mut attempt = |rows: &[Row], keys: Vec<u64>| {
        let versions = rows
            .iter()
            .map(|r| writer.write_row(r).expect("fits"))
            .collect();
        committer.link_all(&store, keys, versions, rows.to_vec())
    };
    let taken = [row(1, 5, "a"), row(2, 6, "b"), row(3, 5, "c")];
    assert_eq!(
        attempt(&taken, vec![1, 2, 3]),
        Err(CommitError::Taken("by_value"))
    );
    let unordered = [row(2, 1, "a"), row(1, 2, "b")];
    assert_eq!(attempt(&unordered, vec![2, 1]), Err(CommitError::Unordered));
    let repeated = [row(1, 1, "a"), row(1, 2, "b")];
    assert_eq!(attempt(&repeated, vec![1, 1]), Err(CommitError::Unordered));
    let uneven = [row(1, 1, "a")];
    assert_eq!(attempt(&uneven, vec![1, 2]), Err(CommitError::Unordered));
    let guard = Guard::new();
    assert_eq!(store.len(), 0, "no row was linked");
    assert_eq!(store.find_unique(by_value, &5, value, &guard), None);
    assert!(store.indexes().by_name.keys_eq(&"a".to_string()).is_empty());
    drop(guard);

    let good = [row(1, 1, "a"), row(2, 2, "a")];
    assert_eq!(attempt(&good, vec![1, 2]), Ok(()));
    let more = [row(3, 3, "a")];
    assert_eq!(
        attempt(&more, vec![3]),
        Err(CommitError::NotEmpty),
        "only an empty store takes rows all at once"
    );
    assert_eq!(store.len(), 2);

    let (other, _) = new_store::<Both>();
    let mut other_writer = other.page_writer(0).expect("shard 0");
    let (fresh, mut fresh_committer) = new_store::<Both>();
    let r = row(1, 1, "a");
    let foreign = vec![other_writer.write_row(&r).expect("fits")];
    assert_eq!(
        fresh_committer.link_all(&fresh, vec![1], foreign, vec![r]),
        Err(CommitError::Foreign)
    );
    assert_eq!(fresh.len(), 0);
}
