//! Recovery into memory: the checkpoint's rows, then the log after it, redone
//! idempotently (insert and update put the row, delete removes the key), then every index
//! built in one pass, not through the write path.
//!
//! Every key and row read from disk passed its frame's or block's CRC and is decoded only
//! through rkyv's validating access (`write_checked`, `decode_checked`); a row whose key
//! differs from the key it was logged under, or two rows holding one unique value, is
//! corruption, reported with the file and offset.

use worktable_pages::{CheckedRowFormat, Guard, PageWriter, RowChange, Unpublished};
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
    // The checkpoint's rows come in key order: kept in a vector, in that order. The log's
    // changes after it go to a map, the last change of a key winning.
    let mut rows: Vec<Loading<S>> = Vec::new();
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
        if rows.last().is_some_and(|(last, _, _)| *last >= pk) {
            return Err(
                Bad::Corrupt("the checkpoint's keys are not in strictly ascending order")
                    .at(recovery),
            );
        }
        rows.push((pk, version, row));
    }
    loop {
        let (seq, change) = match recovery.next_record().map_err(persist)? {
            None => break,
            Some(record) => (
                record.seq,
                match (record.kind, record.row) {
                    (OperationKind::Delete, _) => S::Pk::decode_checked(record.pk)
                        .map(Change::Remove)
                        .map_err(|_| Bad::Corrupt("a primary key does not decode")),
                    (OperationKind::Insert | OperationKind::Update, Some(row)) => {
                        write(record.pk, row).map(Change::Put)
                    }
                    (OperationKind::Insert | OperationKind::Update, None) => {
                        Err(Bad::Corrupt("an insert or update without a row"))
                    }
                },
            ),
        };
        last_seq = seq;
        match change.map_err(|bad| bad.at(recovery))? {
            Change::Remove(pk) => drop(changes.insert(pk, None)),
            // A replaced version's token is dropped: its slot is free again.
            Change::Put((pk, version, row)) => drop(changes.insert(pk, Some((version, row)))),
        }
    }
    // The final rows, in key order: the checkpoint's rows the log did not change, merged
    // with the rows the log left. (Dropped tokens free their slots.)
    if !changes.is_empty() {
        rows.retain(|(pk, _, _)| !changes.contains_key(pk));
        let mut put: Vec<Loading<S>> = changes
            .into_iter()
            .filter_map(|(pk, change)| change.map(|(version, row)| (pk, version, row)))
            .collect();
        put.sort_unstable_by(|(a, _, _), (b, _, _)| a.cmp(b));
        rows = merge_by_key::<S>(rows, put);
    }
    let guard = Guard::new();
    let changes: Vec<RowChange<'_, S::Row, S::Pk>> = rows
        .iter()
        .map(|(pk, _, row)| RowChange {
            old: None,
            new: row,
            pk,
        })
        .collect();
    if let Some((_, index)) = store.rows.group_conflict(&changes, &guard) {
        tracing::error!(
            table = S::NAME,
            index,
            "two recovered rows hold one unique value"
        );
        return Err(
            Bad::Corrupt("two recovered rows hold one value of a unique index").at(recovery),
        );
    }
    drop(changes);
    // Linked in key order: the ordered structures grow at their end.
    let count = rows.len();
    for (pk, version, row) in rows {
        committer
            .link_new(&store.rows, &pk, &row, version)
            .map_err(|error| WorkTableError::Storage(error.to_string()))?;
        S::on_inserted(&store.generator, &pk);
    }
    Ok(Loaded {
        rows: count,
        last_seq: last_seq.max(recovery.stats().last_seq),
    })
}

/// A persistence error as the table reports it.
pub(crate) fn persist(error: PersistError) -> WorkTableError {
    WorkTableError::Persist(PersistFailure::from(error))
}

/// A recovered row on its way into the table: its key, its written version, the row.
type Loading<S> = (<S as TableSchema>::Pk, Unpublished, <S as TableSchema>::Row);

/// Merges two lists sorted by key, with no key in both, into one sorted list.
fn merge_by_key<S: TableSchema>(left: Vec<Loading<S>>, right: Vec<Loading<S>>) -> Vec<Loading<S>> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some((l, _, _)), Some((r, _, _))) => l < r,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        merged.extend(if take_left { left.next() } else { right.next() });
    }
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

/// A logged change, decoded.
enum Change<Pk, Row> {
    Remove(Pk),
    Put((Pk, Unpublished, Row)),
}
