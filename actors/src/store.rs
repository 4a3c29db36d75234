//! The state a table shares between its handle, its actors and its readers.

use std::sync::atomic::{AtomicU64, Ordering};

use worktable_pages::{Committer, Guard, Link, PageWriter, RowStore};

use crate::feed::FeedRegistry;
use crate::{TableConfig, TableSchema, WorkTableError};

/// The committer of a table's rows: the one writer of its indexes.
pub(crate) type RowCommitter<S> =
    Committer<<S as TableSchema>::Row, <S as TableSchema>::Pk, <S as TableSchema>::Indexes>;

/// Rows, indexes and the key generator of one table. Readers use it directly; only
/// shard actors write pages (each through its own `PageWriter`) and only the commit actor
/// changes indexes (through the store's one `Committer`).
pub(crate) struct Store<S: TableSchema> {
    pub(crate) rows: RowStore<S::Row, S::Pk, S::Indexes>,
    pub(crate) generator: S::Generator,
    pub(crate) feed: FeedRegistry<S::Pk, S::Row>,
    pub(crate) shards: u16,
    /// Per shard, the number of the last of its batches the commit point has applied.
    applied: Box<[AtomicU64]>,
    /// Held by the multi-row update in progress: they run one at a time.
    pub(crate) multi_row: tokio::sync::Mutex<()>,
}

impl<S: TableSchema> Store<S> {
    /// The store, and the committer of its rows for the commit point.
    pub(crate) fn new(config: &TableConfig) -> Result<(Self, RowCommitter<S>), WorkTableError> {
        let shards = config.shard_count()?;
        let (rows, committer) = RowStore::new(config.page_size, shards, S::primary_key)?;
        let store = Store {
            rows,
            generator: S::Generator::default(),
            feed: FeedRegistry::new(config.feed_capacity),
            shards,
            applied: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            multi_row: tokio::sync::Mutex::new(()),
        };
        Ok((store, committer))
    }

    /// The page writer of every shard, in shard order: each exists once, so this is
    /// called once, by whoever builds the shards.
    pub(crate) fn page_writers(&self) -> Result<Vec<PageWriter<S::Row>>, WorkTableError> {
        (0..self.shards)
            .map(|id| {
                self.rows.page_writer(id).ok_or_else(|| {
                    WorkTableError::Config(format!(
                        "the pages have no shard {id}, or it has a writer"
                    ))
                })
            })
            .collect()
    }

    /// The number of the last batch of shard `shard` the commit point has applied.
    pub(crate) fn applied(&self, shard: u16) -> u64 {
        self.applied
            .get(usize::from(shard))
            .map_or(0, |applied| applied.load(Ordering::Acquire))
    }

    /// Records that the commit point has applied batch `batch` of shard `shard`.
    pub(crate) fn advance(&self, shard: u16, batch: u64) {
        if let Some(applied) = self.applied.get(usize::from(shard)) {
            applied.store(batch, Ordering::Release);
        }
    }

    /// The current version of the row with `pk`.
    pub(crate) fn read(&self, pk: &S::Pk, guard: &Guard) -> Option<S::Row> {
        self.rows.get(pk, guard)
    }

    /// The current version of the row with `pk` and its link.
    pub(crate) fn current(&self, pk: &S::Pk, guard: &Guard) -> Option<(Link, S::Row)> {
        self.rows.current(pk, guard)
    }

    /// Whether a row with `pk` exists.
    pub(crate) fn contains(&self, pk: &S::Pk) -> bool {
        self.rows.contains(pk)
    }
}
