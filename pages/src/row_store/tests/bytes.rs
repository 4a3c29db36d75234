//! The bytes of row versions: `RowStore::version_bytes` of a written version,
//! `RowStore::row_bytes` of a key's current one, and rows recovered from bytes with
//! `PageWriter::write_checked`.

use std::ops::Bound::Unbounded;

use super::*;
use crate::CheckedRowFormat;

fn encoding(row: &Row) -> Vec<u8> {
    row.encode().expect("rows always encode").to_vec()
}

/// A small deterministic generator (64-bit LCG), so a failing sequence can be replayed.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn version_bytes_are_the_rows_encoding_and_only_for_own_versions() {
    let (store, mut committer) = new_store::<Names>();
    let (other, _other_committer) = new_store::<Names>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let mut other_writer = other.page_writer(0).expect("shard 0");
    let rows = [
        row(1, 10, "a"),
        row(2, 20, &"long ".repeat(8)),
        row(3, 30, ""),
    ];
    for r in &rows {
        let version = writer.write_row(r).expect("fits");
        let bytes = store
            .version_bytes(&version)
            .expect("a version of these pages");
        assert_eq!(bytes, &encoding(r)[..], "exactly what `encode` makes");
        assert_eq!(bytes.len(), version.link().length as usize);
        assert_eq!(
            other.version_bytes(&version),
            None,
            "another store's version"
        );
        committer
            .link_new(&store, &r.0, r, version)
            .expect("this store's");
    }
    let foreign = other_writer.write_row(&rows[0]).expect("fits");
    assert_eq!(
        store.version_bytes(&foreign),
        None,
        "a version of other pages"
    );
    assert_eq!(other.version_bytes(&foreign), Some(&encoding(&rows[0])[..]));
    let guard = Guard::new();
    for r in &rows {
        assert_eq!(store.row_bytes(&r.0, &guard), Some(&encoding(r)[..]));
    }
}

/// A version written from bytes shows exactly those bytes, before and after it is linked.
#[test]
fn version_bytes_of_a_checked_write_are_the_bytes_given() {
    let (store, mut committer) = new_store::<Names>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let r = row(5, 50, "recovered");
    let bytes = encoding(&r);
    let (version, back) = writer.write_checked(&bytes).expect("a valid encoding");
    assert_eq!(back, r);
    assert_eq!(store.version_bytes(&version), Some(&bytes[..]));
    committer
        .link_new(&store, &5, &back, version)
        .expect("this store's");
    assert_eq!(store.row_bytes(&5, &Guard::new()), Some(&bytes[..]));
}

/// Inserts, updates and deletes against a model: after every step, `row_bytes` of every
/// key is the encoding of the model's row (or `None`), and the checkpoint scan (keys in
/// order, the bytes of each, validated back) gives the model.
#[test]
fn row_bytes_follow_inserts_updates_and_deletes() {
    let (store, mut committer) = new_store::<Names>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let mut model = std::collections::BTreeMap::<u64, Row>::new();
    let mut rng = Lcg(7);
    let (steps, keys) = if cfg!(miri) { (40, 6) } else { (2_000, 24) };
    for step in 0..steps {
        let k = rng.below(keys);
        let guard = Guard::new();
        match (store.current(&k, &guard), rng.below(4)) {
            (None, _) => {
                let r = row(k, step, &"n".repeat(rng.below(30) as usize));
                let version = writer.write_row(&r).expect("fits");
                committer
                    .insert(&store, &k, &r, version, &guard)
                    .expect("free");
                model.insert(k, r);
            }
            (Some((link, old)), 0) => {
                committer
                    .remove(&store, &k, (link, &old), &guard)
                    .expect("current");
                model.remove(&k);
            }
            (Some((link, old)), _) => {
                let r = row(k, step, &"u".repeat(rng.below(30) as usize));
                let version = writer.write_row(&r).expect("fits");
                committer
                    .replace(&store, &k, (link, &old), &r, version, &guard)
                    .expect("current");
                model.insert(k, r);
            }
        }
        for k in 0..keys {
            let expected = model.get(&k).map(encoding);
            assert_eq!(
                store.row_bytes(&k, &guard).map(<[u8]>::to_vec),
                expected,
                "key {k} after step {step}"
            );
        }
        let scanned: Vec<Row> = store
            .primary()
            .keys_in((Unbounded, Unbounded), usize::MAX)
            .iter()
            .map(|k| {
                let bytes = store.row_bytes(k, &guard).expect("a listed key has a row");
                Row::decode_checked(bytes).expect("a page holds valid encodings")
            })
            .collect();
        assert_eq!(scanned, model.values().cloned().collect::<Vec<_>>());
    }
}

/// Bytes read under a guard stay as they were while the guard lives, though the row is
/// replaced and the writer keeps reusing freed slots; once the guard is gone, the old
/// version's slot is reused (so the test would see a reuse that ignored the guard).
#[test]
fn row_bytes_stay_unchanged_while_the_guard_is_pinned() {
    let (store, mut committer) = new_store::<Names>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let first = row(1, 0, "first");
    let version = writer.write_row(&first).expect("fits");
    committer
        .link_new(&store, &1, &first, version)
        .expect("this store's");

    let pinned = Guard::new();
    let bytes = store.row_bytes(&1, &pinned).expect("row 1");
    let (old, _) = store.current(&1, &pinned).expect("row 1");
    let rounds = if cfg!(miri) { 30 } else { 2_000 };
    for v in 1..rounds {
        let guard = Guard::new();
        let (link, current) = store.current(&1, &guard).expect("row 1");
        let new = row(1, v, "probe");
        let version = writer.write_row(&new).expect("fits");
        committer
            .replace(&store, &1, (link, &current), &new, version, &guard)
            .expect("current");
        guard.accelerate();
        drop(guard);
        let reused = probe(&mut writer, 4, |l| l == old);
        assert!(
            !reused.contains(&old),
            "the pinned version's slot is not reused"
        );
    }
    assert_eq!(bytes, &encoding(&first)[..], "the bytes did not change");
    drop(pinned);
    let written = probe(&mut writer, 100_000, |l| l == old);
    assert_eq!(
        written.last(),
        Some(&old),
        "its slot is reused once the guard is gone"
    );
}

/// Rows recovered from their bytes are linked and found like rows written any other way.
fn recovered_rows_round_trip<Ix: IndexSet<Row, u64>>() {
    let (source, mut source_committer) = new_store::<Ix>();
    let mut source_writer = source.page_writer(0).expect("shard 0");
    let rows: Vec<Row> = (0..if cfg!(miri) { 8 } else { 200 })
        .map(|k| row(k, k * 10, &format!("name {}", k % 3)))
        .collect();
    for r in &rows {
        let version = source_writer.write_row(r).expect("fits");
        source_committer
            .link_new(&source, &r.0, r, version)
            .expect("this store's");
    }
    // A checkpoint: the bytes of every row, in key order.
    let guard = Guard::new();
    let checkpoint: Vec<Vec<u8>> = source
        .primary()
        .keys_in((Unbounded, Unbounded), usize::MAX)
        .iter()
        .map(|k| source.row_bytes(k, &guard).expect("listed").to_vec())
        .collect();

    let (store, mut committer) = new_store::<Ix>();
    let mut writer = store.page_writer(0).expect("shard 0");
    for bytes in &checkpoint {
        let (version, r) = writer.write_checked(bytes).expect("valid bytes");
        committer
            .link_new(&store, &r.0, &r, version)
            .expect("this store's");
    }
    let guard = Guard::new();
    assert_eq!(store.len(), rows.len());
    for (r, bytes) in rows.iter().zip(&checkpoint) {
        assert_eq!(store.get(&r.0, &guard).as_ref(), Some(r));
        assert_eq!(store.row_bytes(&r.0, &guard), Some(&bytes[..]));
    }
}

#[test]
fn recovered_rows_round_trip_with_a_non_unique_index() {
    recovered_rows_round_trip::<Names>();
}

#[test]
#[cfg_attr(miri, ignore = "indexset trips Miri; see index/non_unique.rs")]
fn recovered_rows_round_trip_with_unique_and_non_unique_indexes() {
    recovered_rows_round_trip::<Both>();
    let (store, mut committer) = new_store::<Both>();
    let mut writer = store.page_writer(0).expect("shard 0");
    let r = row(1, 77, "x");
    let (version, back) = writer.write_checked(&encoding(&r)).expect("valid");
    committer
        .link_new(&store, &1, &back, version)
        .expect("this store's");
    let guard = Guard::new();
    assert_eq!(store.find_unique(by_value, &77, value, &guard), Some(r));
    assert_eq!(store.indexes().by_name.keys_eq(&"x".to_string()), vec![1]);
}

/// A row `{u64, u64, String, i64}` for the recovery timing.
type Wide = (u64, u64, String, i64);

fn wide_key(row: &Wide) -> u64 {
    row.0
}
fn wide_unique(row: &Wide) -> &u64 {
    &row.1
}
fn wide_name(row: &Wide) -> &String {
    &row.2
}

/// What the timing is asked about: one unique and one non-unique index.
#[derive(Default)]
struct WideIndexes {
    by_unique: UniqueIndex<u64, u64>,
    by_name: NonUniqueIndex<String, u64>,
}
impl IndexSet<Wide, u64> for WideIndexes {
    fn visit<V: IndexVisitor<Wide, u64>>(&self, visitor: &mut V) {
        visitor.unique(&self.by_unique, "by_unique", wide_unique);
        visitor.non_unique(&self.by_name, "by_name", wide_name);
    }
}

/// The unique index alone.
#[derive(Default)]
struct WideUnique(UniqueIndex<u64, u64>);
impl IndexSet<Wide, u64> for WideUnique {
    fn visit<V: IndexVisitor<Wide, u64>>(&self, visitor: &mut V) {
        visitor.unique(&self.0, "by_unique", wide_unique);
    }
}

/// The non-unique index alone.
#[derive(Default)]
struct WideName(NonUniqueIndex<String, u64>);
impl IndexSet<Wide, u64> for WideName {
    fn visit<V: IndexVisitor<Wide, u64>>(&self, visitor: &mut V) {
        visitor.non_unique(&self.0, "by_name", wide_name);
    }
}

/// No secondary index: the primary index only.
#[derive(Default)]
struct NoIndexes;
impl IndexSet<Wide, u64> for NoIndexes {
    fn visit<V: IndexVisitor<Wide, u64>>(&self, _: &mut V) {}
}

/// Recovers `checkpoint` into a fresh store with indexes `Ix`, interleaved as recovery
/// does it, then again with the two halves apart; prints nanoseconds per row.
fn time_recovery<Ix: IndexSet<Wide, u64>>(label: &str, checkpoint: &[rkyv::util::AlignedVec]) {
    use std::time::Instant;
    let rows = checkpoint.len();
    let per_row = |start: Instant| start.elapsed().as_nanos() as f64 / rows as f64;
    let store =
        || RowStore::<Wide, u64, Ix>::new(crate::DEFAULT_PAGE_SIZE, 1, wide_key).expect("valid");

    let (table, mut committer) = store();
    let mut writer = table.page_writer(0).expect("shard 0");
    let start = Instant::now();
    for bytes in checkpoint {
        let (version, row) = writer.write_checked(bytes).expect("valid");
        committer
            .link_new(&table, &row.0, &row, version)
            .expect("own");
    }
    let total = per_row(start);
    assert_eq!(table.len(), rows);
    drop((writer, committer, table));

    let (table, mut committer) = store();
    let mut writer = table.page_writer(0).expect("shard 0");
    let start = Instant::now();
    let written: Vec<_> = checkpoint
        .iter()
        .map(|bytes| writer.write_checked(bytes).expect("valid"))
        .collect();
    let write = per_row(start);
    let start = Instant::now();
    for (version, row) in written {
        committer
            .link_new(&table, &row.0, &row, version)
            .expect("own");
    }
    let link = per_row(start);
    drop((writer, committer, table));

    let (table, mut committer) = store();
    let mut writer = table.page_writer(0).expect("shard 0");
    let written: Vec<_> = checkpoint
        .iter()
        .map(|bytes| writer.write_checked(bytes).expect("valid"))
        .collect();
    let start = Instant::now();
    let (versions, values): (Vec<_>, Vec<_>) = written.into_iter().unzip();
    let keys = values.iter().map(wide_key).collect();
    committer
        .link_all(&table, keys, versions, values)
        .expect("ascending keys, distinct values");
    let link_all = per_row(start);
    println!(
        "{label}: {rows} rows, write_checked + link_new {total:.0} ns/row ({:.2} s); \
         apart: write_checked {write:.0} ns/row, link_new {link:.0} ns/row, \
         link_all {link_all:.0} ns/row",
        total * rows as f64 / 1e9
    );
}

/// The cost per row of recovery from a checkpoint: `write_checked` then `link_new`, for a
/// row `{u64, u64, String, i64}` with one unique and one non-unique index, and with each
/// index alone and none, to show where the time goes. A measurement, not a check; run
/// it in release:
/// `cargo test -p worktable-pages --release -- --ignored --nocapture recovery_cost`
/// (`RECOVERY_ROWS` sets the row count, 1,000,000 by default).
#[test]
#[ignore = "a timing, run by hand in release"]
fn recovery_cost_per_row() {
    let rows: u64 = std::env::var("RECOVERY_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    // A checkpoint in key order, every row's bytes in its own aligned buffer; the unique
    // values are scattered, the names take 1,000 values.
    let checkpoint: Vec<_> = (0..rows)
        .map(|k| {
            let row: Wide = (
                k,
                k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                format!("user name {}", k % 1000),
                -(k as i64),
            );
            row.encode().expect("rows always encode")
        })
        .collect();
    time_recovery::<WideIndexes>("unique + non-unique", &checkpoint);
    time_recovery::<WideUnique>("unique only", &checkpoint);
    time_recovery::<WideName>("non-unique only", &checkpoint);
    time_recovery::<NoIndexes>("primary only", &checkpoint);
}
