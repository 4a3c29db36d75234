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
    let mut rows = Rows::<S>::default();
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
    let rows = rows.redo(changes.into_iter().collect());
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

/// A logged change of a key: its new version and row, or `None` for a delete.
type Change<S> = (
    <S as TableSchema>::Pk,
    Option<(Unpublished, <S as TableSchema>::Row)>,
);

/// Recovered rows in ascending key order, as columns: keys, written versions, rows.
struct Rows<S: TableSchema> {
    keys: Vec<S::Pk>,
    versions: Vec<Unpublished>,
    rows: Vec<S::Row>,
}

impl<S: TableSchema> Default for Rows<S> {
    fn default() -> Self {
        Rows {
            keys: Vec::new(),
            versions: Vec::new(),
            rows: Vec::new(),
        }
    }
}

impl<S: TableSchema> Rows<S> {
    fn push(&mut self, pk: S::Pk, version: Unpublished, row: S::Row) {
        self.keys.push(pk);
        self.versions.push(version);
        self.rows.push(row);
    }

    /// The rows after `changes`, the last change of each key, are redone on them: a put
    /// sets the key's row, a removal drops it.
    fn redo(self, mut last: Vec<Change<S>>) -> Self {
        if last.is_empty() {
            return self;
        }
        last.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let mut merged = Rows::<S> {
            keys: Vec::with_capacity(self.keys.len() + last.len()),
            versions: Vec::with_capacity(self.keys.len() + last.len()),
            rows: Vec::with_capacity(self.keys.len() + last.len()),
        };
        let mut kept = self
            .keys
            .into_iter()
            .zip(self.versions)
            .zip(self.rows)
            .peekable();
        let mut changed = last.into_iter().peekable();
        loop {
            let from_checkpoint = match (kept.peek(), changed.peek()) {
                (Some(((kept, _), _)), Some((changed, _))) => kept < changed,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return merged,
            };
            if from_checkpoint {
                if let Some(((pk, version), row)) = kept.next() {
                    merged.push(pk, version, row);
                }
                continue;
            }
            let Some((pk, change)) = changed.next() else {
                continue;
            };
            // The change replaces the checkpoint's row of its key, if there is one.
            if kept.peek().is_some_and(|((kept, _), _)| *kept == pk) {
                drop(kept.next());
            }
            if let Some((version, row)) = change {
                merged.push(pk, version, row);
            }
        }
    }
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
