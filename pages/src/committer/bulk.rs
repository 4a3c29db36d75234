//! Linking every row of an empty store at once: what recovery does with the rows it read.
//!
//! One row at a time, every index grows by single inserts into structures sized for
//! nothing, in no useful order, on one thread. Here the hash tables are sized once and
//! filled shard by shard, each ordered structure is filled in its own order
//! (a unique index's set node by node from sorted entries, a non-unique index value by
//! value with each value's keys in one piece, the primary key order by appends), and the
//! indexes are shared out over the machine's cores, one *lane* each: index `i` (the
//! primary index is index 0) goes to lane `i % lanes`. Every lane visits the whole set
//! and builds only its own indexes, so no index is touched by two threads.

use std::any::Any;
use std::num::NonZero;

use super::{CommitError, Committer};
use crate::index::{IndexKey, IndexSet, IndexVisitor, NonUniqueIndex, UniqueIndex};
use crate::{Link, RowFormat, RowStore, Unpublished};

/// The most threads one `link_all` uses.
const MAX_LANES: usize = 8;

impl<R: RowFormat, Pk: IndexKey, Ix: IndexSet<R, Pk>> Committer<R, Pk, Ix> {
    /// Inserts rows into an empty store, all at once: row `i` has key `keys[i]` and is
    /// `rows[i]`, held by `versions[i]`. Keys must be strictly ascending.
    ///
    /// Until it returns, a reader may find a row through one index and not yet through
    /// another: it is meant for a store nobody reads yet, such as one being recovered.
    ///
    /// Refused, changing nothing, with `NotEmpty` when the store holds rows, `Unordered`
    /// when the keys are not strictly ascending or the three lists differ in length,
    /// `Foreign` when a version is of other pages, and `Taken` (naming the index) when two
    /// rows hold one value of a unique index. Refused versions are dropped, which frees
    /// their slots.
    pub fn link_all(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        keys: Vec<Pk>,
        versions: Vec<Unpublished>,
        rows: Vec<R>,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        if !store.primary.is_empty() {
            return Err(CommitError::NotEmpty);
        }
        if keys.len() != versions.len() || keys.len() != rows.len() {
            return Err(CommitError::Unordered);
        }
        if keys.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(CommitError::Unordered);
        }
        for version in &versions {
            self.check_version(version)?;
        }
        let lanes = std::thread::available_parallelism()
            .map_or(1, NonZero::get)
            .clamp(1, MAX_LANES);
        let store_id = store.id();
        // First every unique index's values are sorted, which finds a value two rows hold
        // before anything changes.
        let sorted = on_lanes(vec![(); lanes], |lane, ()| {
            let mut sort = SortUnique {
                store: store_id,
                lane: Lane::new(lane, lanes),
                rows: &rows,
                sorted: Vec::new(),
                taken: None,
            };
            store.indexes.visit(&mut sort);
            (sort.sorted, sort.taken)
        });
        let mut sorted_by_lane = Vec::with_capacity(lanes);
        for (sorted, taken) in sorted {
            if let Some(index) = taken {
                return Err(CommitError::Taken(index));
            }
            sorted_by_lane.push(sorted);
        }
        // Checked: nothing below refuses, so every version is published.
        let links: Vec<Link> = versions.into_iter().map(Unpublished::publish).collect();
        // The lanes fill their indexes side by side, so until this returns a reader may
        // find a row through one index before another (recovery links a store nobody
        // reads yet).
        let unique = on_lanes(sorted_by_lane, |lane, sorted| {
            if lane == 0 {
                store.primary.fill(&keys, &links);
            }
            let mut build = Build {
                store: store_id,
                lane: Lane::new(lane, lanes),
                rows: &rows,
                keys: &keys,
                links: &links,
                sorted: sorted.into_iter(),
                unique: 0,
            };
            store.indexes.visit(&mut build);
            build.unique
        });
        // Every row got one entry in each unique index a lane filled.
        self.made(unique.into_iter().sum());
        Ok(())
    }
}

/// Runs `work` for each lane with its input (`inputs[lane]`), lane 0 on this thread and
/// each other on a thread of its own, and returns their answers in lane order. A lane
/// that gets no thread runs here after lane 0, with a default input (its own went with
/// the thread that could not be made); a panic in a lane is resumed here.
fn on_lanes<I, T>(inputs: Vec<I>, work: impl Fn(usize, I) -> T + Sync) -> Vec<T>
where
    I: Send + Default,
    T: Send,
{
    let mut inputs = inputs.into_iter().enumerate();
    let Some((_, first)) = inputs.next() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let work = &work;
        let others: Vec<_> = inputs
            .map(|(lane, input)| {
                let thread = std::thread::Builder::new()
                    .name("worktable-link".into())
                    .spawn_scoped(scope, move || work(lane, input));
                (lane, thread)
            })
            .collect();
        let mut answers = vec![work(0, first)];
        for (lane, thread) in others {
            answers.push(match thread {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => work(lane, I::default()),
            });
        }
        answers
    })
}

/// Which indexes one lane builds: index `i` of the set (counted from 1, after the
/// primary index) when `i % lanes == lane`.
struct Lane {
    lane: usize,
    lanes: usize,
    /// The number of the next index the visit shows.
    next: usize,
}

impl Lane {
    fn new(lane: usize, lanes: usize) -> Self {
        Lane {
            lane,
            lanes,
            next: 1,
        }
    }

    /// Whether the index the visit shows now is this lane's.
    fn takes_next(&mut self) -> bool {
        let index = self.next;
        self.next += 1;
        index % self.lanes == self.lane
    }
}

/// The values of `rows` in the column `get` reads, each with its row's number, sorted.
fn sorted_values<R, V: IndexKey>(rows: &[R], get: fn(&R) -> &V) -> Vec<(V, usize)> {
    let mut sorted: Vec<(V, usize)> = rows
        .iter()
        .enumerate()
        .map(|(at, row)| (get(row).clone(), at))
        .collect();
    sorted.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    sorted
}

/// Sorts the values of a lane's unique indexes and finds one held by two rows.
struct SortUnique<'a, R> {
    store: u64,
    lane: Lane,
    rows: &'a [R],
    /// Each unique index's [`sorted_values`], in visiting order: boxed, as every index
    /// has its own value type.
    sorted: Vec<Box<dyn Any + Send>>,
    /// The first unique index in which two rows hold one value.
    taken: Option<&'static str>,
}

impl<R, Pk: IndexKey> IndexVisitor<R, Pk> for SortUnique<'_, R> {
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        name: &'static str,
        get: fn(&R) -> &V,
    ) {
        if !self.lane.takes_next() || !index.mark.is(self.store) {
            return;
        }
        let sorted = sorted_values(self.rows, get);
        if sorted.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            self.taken = self.taken.or(Some(name));
        }
        self.sorted.push(Box::new(sorted));
    }

    fn non_unique<V: IndexKey>(
        &mut self,
        _: &NonUniqueIndex<V, Pk>,
        _: &'static str,
        _: fn(&R) -> &V,
    ) {
        self.lane.takes_next();
    }
}

/// Fills a lane's secondary indexes from the rows.
struct Build<'a, R, Pk> {
    store: u64,
    lane: Lane,
    rows: &'a [R],
    keys: &'a [Pk],
    links: &'a [Link],
    /// What [`SortUnique`] sorted on this lane, taken in the same order.
    sorted: std::vec::IntoIter<Box<dyn Any + Send>>,
    /// Unique indexes filled: the entries each row got from this lane.
    unique: usize,
}

impl<R, Pk: IndexKey> IndexVisitor<R, Pk> for Build<'_, R, Pk> {
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if !self.lane.takes_next() || !index.mark.is(self.store) {
            return;
        }
        // The description shows the same indexes on every call, so this is what
        // `SortUnique` sorted for this index; if it is not, sort again.
        let sorted = match self.sorted.next().map(|sorted| sorted.downcast()) {
            Some(Ok(sorted)) => *sorted,
            _ => sorted_values(self.rows, get),
        };
        let entries = sorted
            .into_iter()
            .map(|(value, at)| (value, self.keys[at].clone(), self.links[at]))
            .collect();
        index.fill(entries);
        self.unique += 1;
    }

    fn non_unique<V: IndexKey>(
        &mut self,
        index: &NonUniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if !self.lane.takes_next() || !index.mark.is(self.store) {
            return;
        }
        index.fill(grouped(self.rows, self.keys, get));
    }
}

/// The distinct values of `rows` in the column `get` reads, ascending, each with the
/// keys of its rows in the order of `rows` (ascending keys).
fn grouped<R, Pk: Clone, V: IndexKey>(
    rows: &[R],
    keys: &[Pk],
    get: fn(&R) -> &V,
) -> Vec<(V, Vec<Pk>)> {
    let mut groups: foldhash::HashMap<&V, Vec<Pk>> = foldhash::HashMap::default();
    for (row, pk) in rows.iter().zip(keys) {
        groups.entry(get(row)).or_default().push(pk.clone());
    }
    let mut groups: Vec<(&V, Vec<Pk>)> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|(value, _)| *value);
    groups
        .into_iter()
        .map(|(value, keys)| (value.clone(), keys))
        .collect()
}
