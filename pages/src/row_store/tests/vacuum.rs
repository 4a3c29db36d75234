//! Emptying sparse pages: rows moved out of evacuating pages answer exactly as before,
//! and pages whose rows have all gone give their memory back.

use std::collections::BTreeMap;

use super::bulk::{UniqueOf, agrees, both_names, names_only};
use super::bytes::Lcg;
use super::*;

/// A store, its committer and the writer of its one shard.
struct Table<Ix> {
    store: RowStore<Row, u64, Ix>,
    committer: Committer<Row, u64, Ix>,
    writer: PageWriter<Row>,
}

impl<Ix: IndexSet<Row, u64>> Table<Ix> {
    fn new() -> Self {
        let (store, committer) = new_store::<Ix>();
        let writer = store.page_writer(0).expect("shard 0");
        Table {
            store,
            committer,
            writer,
        }
    }

    /// Writes `new` as the row with its key, inserting or replacing; `false` when a unique
    /// value is taken.
    fn put(&mut self, new: Row) -> bool {
        let guard = Guard::new();
        let version = self.writer.write_row(&new).expect("fits");
        match self.store.current(&new.0, &guard) {
            None => self
                .committer
                .insert(&self.store, &new.0, &new, version, &guard),
            Some((link, old)) => {
                let old = (link, &old);
                self.committer
                    .replace(&self.store, &new.0, old, &new, version, &guard)
            }
        }
        .is_ok()
    }

    fn remove(&mut self, k: u64) {
        let guard = Guard::new();
        if let Some((link, old)) = self.store.current(&k, &guard) {
            self.committer
                .remove(&self.store, &k, (link, &old), &guard)
                .expect("current");
        }
    }

    /// Marks pages below `share` live and moves every row off the evacuating pages;
    /// returns how many rows moved.
    fn vacuum(&mut self, share: f64) -> usize {
        // Retired slots count as live until they come back: take them back first.
        self.settle();
        self.writer.evacuate_sparse(share);
        let mut moved = 0;
        for k in self.store.keys_to_move() {
            let guard = Guard::new();
            let Some(relocation) = self
                .store
                .relocate(&mut self.writer, &k, &guard)
                .expect("a copy fits where the original did")
            else {
                continue;
            };
            self.committer
                .relocate(&self.store, &k, relocation, &guard)
                .expect("nothing else wrote the row");
            moved += 1;
        }
        moved
    }

    /// Pushes the epoch on until every evacuating page has gone back and every retired
    /// slot has come back. Readers of tests running in parallel may hold reclamation back
    /// for a while, so it tries many times; then it fails, saying where the pages stand.
    fn settle(&mut self) {
        let mut usage = self.writer.usage();
        for _ in 0..if cfg!(miri) { 2_000 } else { 200_000 } {
            let guard = Guard::new();
            guard.accelerate();
            drop(guard);
            self.writer.collect();
            usage = self.writer.usage();
            if usage.evacuating == 0 && usage.live_bytes == self.rows_bytes() {
                return;
            }
        }
        panic!(
            "the pages never settled: {usage:?}, {} live bytes in the rows",
            self.rows_bytes()
        );
    }

    /// The live bytes the current rows take, rounded to whole slots.
    fn rows_bytes(&self) -> u64 {
        let guard = Guard::new();
        let mut bytes = 0;
        self.store.primary().for_each_link(&guard, |link| {
            bytes += u64::from(link.capacity().max(crate::ROW_ALIGN));
        });
        bytes
    }
}

/// Random inserts, updates that change the row's size, removals and vacuum passes:
/// after each pass the store answers like the model, and once reclamation has caught up,
/// no page is left evacuating and the writer's live bytes are exactly the current rows'.
fn vacuum_keeps_answers<Ix: IndexSet<Row, u64>>(
    steps: usize,
    unique: UniqueOf<Ix>,
    names: fn(&Ix) -> &NonUniqueIndex<String, u64>,
) {
    let mut rng = Lcg(steps as u64);
    let mut table = Table::<Ix>::new();
    let mut model: BTreeMap<u64, Row> = BTreeMap::new();
    let max_key = (steps / 4).max(8) as u64;
    let mut moved = 0;
    for step in 0..steps {
        let k = rng.below(max_key);
        match rng.below(8) {
            0..=2 => {
                table.remove(k);
                model.remove(&k);
            }
            _ => {
                let v = rng.below(max_key * 4);
                let new = row(k, v, &"n".repeat(rng.below(120) as usize));
                let taken = unique.is_some() && model.values().any(|r| r.1 == v && r.0 != k);
                assert_eq!(table.put(new.clone()), !taken);
                if !taken {
                    model.insert(k, new);
                }
            }
        }
        if step % 97 == 96 {
            let share = [0.3, 0.6, 0.9, 1.0][rng.below(4) as usize];
            moved += table.vacuum(share);
            agrees(&table.store, &model, &mut rng, unique, names);
            table.settle();
            let usage = table.writer.usage();
            assert_eq!(usage.evacuating, 0, "every emptied page went back");
            assert_eq!(
                usage.live_bytes,
                table.rows_bytes(),
                "live bytes are the rows'"
            );
            assert_eq!(table.store.stats().live_bytes as u64, usage.live_bytes);
        }
    }
    assert!(moved > 0, "some passes moved rows");
    assert!(table.writer.usage().released > 0, "some pages went back");
    agrees(&table.store, &model, &mut rng, unique, names);
}

#[test]
#[cfg_attr(miri, ignore = "indexset trips Miri; see index/non_unique.rs")]
fn vacuumed_rows_answer_like_a_model_with_unique_and_non_unique_indexes() {
    vacuum_keeps_answers::<Both>(4_000, Some(by_value), both_names);
}

#[test]
fn vacuumed_rows_answer_like_a_model_with_a_non_unique_index() {
    let steps = if cfg!(miri) { 200 } else { 4_000 };
    vacuum_keeps_answers::<Names>(steps, None, names_only);
}

/// Every row deleted, then one pass: every page goes back, and writing again revives
/// the page ids that went back instead of adding new ones.
#[test]
fn a_store_emptied_and_vacuumed_holds_no_page_and_reuses_its_ids() {
    let rows = if cfg!(miri) { 40 } else { 2_000 };
    let mut table = Table::<Names>::new();
    for k in 0..rows {
        assert!(table.put(row(k, k, "some name")));
    }
    let pages = table.store.stats().pages;
    assert!(pages > 2, "{pages} pages");
    for k in 0..rows {
        table.remove(k);
    }
    assert_eq!(
        table.store.stats().pages,
        pages,
        "deletes alone free no page"
    );
    assert_eq!(table.vacuum(0.5), 0, "nothing is left to move");
    table.settle();
    assert_eq!(table.store.stats().pages, 0, "every page went back");
    assert_eq!(table.store.stats().live_bytes, 0);
    for k in 0..rows {
        assert!(table.put(row(k, k, "some name")));
    }
    assert_eq!(
        table.store.stats().pages,
        pages,
        "the same number of pages again"
    );
    assert_eq!(
        table.store.pages.ids(),
        pages,
        "page ids were reused, none added"
    );
    let guard = Guard::new();
    for k in 0..rows {
        assert_eq!(table.store.get(&k, &guard), Some(row(k, k, "some name")));
    }
}

/// Readers look every row up while a writer keeps changing row sizes and vacuuming with
/// a high threshold, so rows are moved and pages given back and revived constantly: a
/// reader never misses a row that stays and never sees a torn one (under Miri, a page
/// freed under a reader would be a use after free).
#[test]
fn readers_never_miss_or_tear_a_row_while_pages_are_emptied() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (keys, rounds) = if cfg!(miri) { (12, 6) } else { (400, 300) };
    let mut table = Table::<Names>::new();
    let body = |k: u64, round: u64| "x".repeat(((k * 7 + round * 13) % 90) as usize);
    for k in 0..keys {
        assert!(table.put(row(k, k * 2, &body(k, 0))));
    }
    let Table {
        store,
        mut committer,
        mut writer,
    } = table;
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (Arc::clone(&store), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    let guard = Guard::new();
                    for k in 0..keys {
                        let found = store.get(&k, &guard).expect("every row stays");
                        assert_eq!((found.0, found.1), (k, k * 2), "a row is never torn");
                        assert!(found.2.bytes().all(|b| b == b'x'));
                    }
                }
            })
        })
        .collect();
    for round in 1..rounds {
        for k in (round % 3..keys).step_by(3) {
            let guard = Guard::new();
            let new = row(k, k * 2, &body(k, round));
            let version = writer.write_row(&new).expect("fits");
            let (link, old) = store.current(&k, &guard).expect("stays");
            committer
                .replace(&store, &k, (link, &old), &new, version, &guard)
                .expect("current");
        }
        writer.evacuate_sparse(0.9);
        for k in store.keys_to_move() {
            let guard = Guard::new();
            if let Some(relocation) = store.relocate(&mut writer, &k, &guard).expect("fits") {
                committer
                    .relocate(&store, &k, relocation, &guard)
                    .expect("current");
            }
        }
        let guard = Guard::new();
        guard.accelerate();
        drop(guard);
        writer.collect();
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        reader.join().expect("readers saw every row whole");
    }
    assert!(writer.usage().released > 0, "pages went back meanwhile");
}
