//! Recovery into memory: the checkpoint's rows, then the log after it, redone
//! idempotently (insert and update put the row, delete removes the key), then every index
//! built in one pass, not through the write path.
//!
//! Every key and row read from disk passed its frame's or block's CRC and is decoded only
//! through rkyv's validating access (`write_checked`, `decode_checked`); a row whose key
//! differs from the key it was logged under, or two rows holding one unique value, is
//! corruption, reported with the file and offset.

use worktable_pages::{CheckedRowFormat, CommitError, PageWriter, Unpublished};
use worktable_persistence::{OperationKind, PersistError, Recovery};

use super::PersistFailure;
use crate::store::{RowCommitter, Store};
use crate::{TableSchema, WorkTableError};

/// What [`load`] found.
pub(crate) struct Loaded {
    /// Rows now in the table.
    pub(crate) rows: usize,
    /// The sequence number of the last operation recovered.
    pub(crate) last_seq: u64,
}

/// Loads what `recovery` reads into `store`, writing each row with the page writer of the
/// shard that owns its key (`shard_of`).
pub(crate) fn load<S>(
    recovery: &mut Recovery,
    store: &Store<S>,
    committer: &mut RowCommitter<S>,
    writers: &mut [PageWriter<S::Row>],
    shard_of: impl Fn(&S::Pk) -> usize,
) -> Result<Loaded, WorkTableError>
where
    S: TableSchema,
    S::Row: CheckedRowFormat,
    S::Pk: CheckedRowFormat,
{
    // The checkpoint's rows come in key order: kept in that order, as three columns.
    // The log's changes after it go to a map, the last change of a key winning: a
    // replaced version's token is dropped at once, so its slot takes the next row.
    let mut rows = Rows::<S::Pk, Unpublished, S::Row>::default();
    // Sized once: grown by doubling, the columns of 1,000,000 rows were copied and
    // touched twice; sized, `open` took 0.75-0.77 s instead of 0.81 (alternated runs).
    rows.reserve(usize::try_from(recovery.checkpoint_rows_hint()).unwrap_or(0));
    let mut changes: foldhash::HashMap<S::Pk, Option<(Unpublished, S::Row)>> = Default::default();
    let mut last_seq = recovery.checkpoint_seq();
    // Decodes a key and writes its row; errors are mapped once the borrow of the
    // recovery that lends the bytes has ended.
    let mut write = |pk: &[u8], row: &[u8]| -> Result<(S::Pk, Unpublished, S::Row), Bad> {
        let pk =
            S::Pk::decode_checked(pk).map_err(|_| Bad::Corrupt("a primary key does not decode"))?;
        let writer = writers
            .get_mut(shard_of(&pk))
            .ok_or(Bad::Corrupt("no shard owns a key"))?;
        let (version, row) = match writer.write_checked(row) {
            Ok(written) => written,
            Err(worktable_pages::PageError::InvalidBytes(_)) => {
                return Err(Bad::Corrupt(
                    "a row does not decode as the table's row type",
                ));
            }
            Err(error) => return Err(Bad::Table(WorkTableError::from(error))),
        };
        if S::primary_key(&row) != pk {
            return Err(Bad::Corrupt(
                "a row's key differs from the key it is stored under",
            ));
        }
        Ok((pk, version, row))
    };
    while let Some(stored) = recovery.next_row().map_err(persist)? {
        let written = write(stored.pk, stored.row);
        let (pk, version, row) = written.map_err(|bad| bad.at(recovery))?;
        if rows.keys.last().is_some_and(|last| *last >= pk) {
            return Err(
                Bad::Corrupt("the checkpoint's keys are not in strictly ascending order")
                    .at(recovery),
            );
        }
        rows.push(pk, version, row);
    }
    loop {
        let (seq, change) = match recovery.next_record().map_err(persist)? {
            None => break,
            Some(record) => (
                record.seq,
                match (record.kind, record.row) {
                    (OperationKind::Delete, _) => S::Pk::decode_checked(record.pk)
                        .map(|pk| (pk, None))
                        .map_err(|_| Bad::Corrupt("a primary key does not decode")),
                    (OperationKind::Insert | OperationKind::Update, Some(row)) => {
                        write(record.pk, row).map(|(pk, version, row)| (pk, Some((version, row))))
                    }
                    (OperationKind::Insert | OperationKind::Update, None) => {
                        Err(Bad::Corrupt("an insert or update without a row"))
                    }
                },
            ),
        };
        last_seq = seq;
        let (pk, change) = change.map_err(|bad| bad.at(recovery))?;
        drop(changes.insert(pk, change));
    }
    rows.redo(changes.into_iter().collect());
    // Linked all at once: indexes sized once and filled in their own order.
    let count = rows.keys.len();
    for pk in &rows.keys {
        S::on_inserted(&store.generator, pk);
    }
    committer
        .link_all(&store.rows, rows.keys, rows.versions, rows.rows)
        .map_err(|error| match error {
            CommitError::Taken(index) => {
                tracing::error!(
                    table = S::NAME,
                    index,
                    "two recovered rows hold one unique value"
                );
                Bad::Corrupt("two recovered rows hold one value of a unique index").at(recovery)
            }
            error => WorkTableError::Storage(error.to_string()),
        })?;
    Ok(Loaded {
        rows: count,
        last_seq: last_seq.max(recovery.stats().last_seq),
    })
}

/// Recovered rows in ascending key order, as columns: keys, written versions, rows.
struct Rows<K, V, R> {
    keys: Vec<K>,
    versions: Vec<V>,
    rows: Vec<R>,
}

/// A logged change of a key: its new version and row, or `None` for a delete.
type Change<K, V, R> = (K, Option<(V, R)>);

impl<K, V, R> Default for Rows<K, V, R> {
    fn default() -> Self {
        Rows {
            keys: Vec::new(),
            versions: Vec::new(),
            rows: Vec::new(),
        }
    }
}

impl<K: Ord, V, R> Rows<K, V, R> {
    /// Makes room for `rows` more rows where the allocator gives it; the hint comes from
    /// disk, so too much is no error: the columns then grow as rows come.
    fn reserve(&mut self, rows: usize) {
        let _ = self.keys.try_reserve_exact(rows);
        let _ = self.versions.try_reserve_exact(rows);
        let _ = self.rows.try_reserve_exact(rows);
    }

    fn push(&mut self, pk: K, version: V, row: R) {
        self.keys.push(pk);
        self.versions.push(version);
        self.rows.push(row);
    }

    /// Redoes `last`, the last change of each key (in any order, each key once): a put
    /// sets the key's row, a removal drops it. In place: a change of a key the rows hold
    /// is written where that key is, removals close up the columns, and new keys are
    /// merged in from the first place one goes, which is the end when new keys are
    /// above every old one (autoincrement keys). A million rows are not copied for a
    /// hundred thousand changes.
    fn redo(&mut self, mut last: Vec<Change<K, V, R>>) {
        last.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        // Both ascending: indexes of rows to drop, and new rows with the index of the
        // old row each goes before.
        let mut removed = Vec::new();
        let mut added = Vec::new();
        for (pk, change) in last {
            match (self.keys.binary_search(&pk), change) {
                (Ok(at), Some((version, row))) => {
                    self.versions[at] = version;
                    self.rows[at] = row;
                }
                (Ok(at), None) => removed.push(at),
                (Err(at), Some((version, row))) => added.push((at, pk, version, row)),
                (Err(_), None) => {}
            }
        }
        if !removed.is_empty() {
            retain_except(&mut self.keys, &removed);
            retain_except(&mut self.versions, &removed);
            retain_except(&mut self.rows, &removed);
        }
        let Some(&(first, ..)) = added.first() else {
            return;
        };
        // Where the first new row goes once the removed rows are gone.
        let first = first - removed.partition_point(|&at| at < first);
        let mut tail = self
            .keys
            .split_off(first)
            .into_iter()
            .zip(self.versions.split_off(first))
            .zip(self.rows.split_off(first))
            .peekable();
        for (_, pk, version, row) in added {
            while let Some(((old, version), row)) = tail.next_if(|((old, _), _)| *old < pk) {
                self.push(old, version, row);
            }
            self.push(pk, version, row);
        }
        for ((pk, version), row) in tail {
            self.push(pk, version, row);
        }
    }
}

/// Drops the items of `column` at `removed` (ascending indexes), keeping the order.
fn retain_except<T>(column: &mut Vec<T>, removed: &[usize]) {
    let mut index = 0;
    let mut removed = removed.iter().peekable();
    // `retain` visits every item once, in order.
    column.retain(|_| {
        let gone = removed.next_if_eq(&&index).is_some();
        index += 1;
        !gone
    });
}

/// A persistence error as the table reports it.
pub(crate) fn persist(error: PersistError) -> WorkTableError {
    WorkTableError::Persist(PersistFailure::from(error))
}

/// What went wrong with one key or row from disk.
enum Bad {
    /// It failed a check: corruption at the block or frame that holds it.
    Corrupt(&'static str),
    /// The table could not take it (a row larger than a page, say).
    Table(WorkTableError),
}

impl Bad {
    fn at(self, recovery: &Recovery) -> WorkTableError {
        match self {
            Bad::Corrupt(reason) => persist(recovery.corrupt_here(reason)),
            Bad::Table(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::Rows;

    /// Columns holding `model`, each key's version being the key times ten.
    fn rows_of(model: &BTreeMap<u16, String>) -> Rows<u16, u32, String> {
        let mut rows = Rows::default();
        for (pk, row) in model {
            rows.push(*pk, u32::from(*pk) * 10, row.clone());
        }
        rows
    }

    proptest! {
        /// Redone changes leave the columns holding what a map that applied them holds,
        /// in key order, each row beside its own key and version: old keys and new ones
        /// below, between and above them, puts and removals of present and absent keys.
        #[test]
        fn redo_matches_a_map_that_applied_the_changes(
            start in proptest::collection::btree_map(0u16..400, "[a-z]{0,3}", 0..120),
            changes in proptest::collection::btree_map(
                0u16..400,
                proptest::option::of("[a-z]{0,3}"),
                0..120,
            ),
        ) {
            let mut model = start.clone();
            let mut rows = rows_of(&start);
            let mut last = Vec::new();
            for (pk, change) in changes {
                match &change {
                    Some(row) => drop(model.insert(pk, row.clone())),
                    None => drop(model.remove(&pk)),
                }
                last.push((pk, change.map(|row| (u32::from(pk) * 10, row))));
            }
            // Any order: redo sorts.
            last.reverse();
            rows.redo(last);
            let expected = rows_of(&model);
            prop_assert_eq!(rows.keys, expected.keys);
            prop_assert_eq!(rows.versions, expected.versions);
            prop_assert_eq!(rows.rows, expected.rows);
        }
    }
}
