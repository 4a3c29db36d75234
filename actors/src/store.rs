//! The state a table shares between its handle, its actors and its readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use worktable_pages::index::{PrimaryIndex, RowKeys};
use worktable_pages::{DataPages, Guard, Link, Retirer};

use crate::feed::FeedRegistry;
use crate::{TableConfig, TableSchema, WorkTableError};

/// Pages, indexes and the key generator of one table. Readers use it directly; only
/// shard actors write pages and only the commit actor writes indexes.
pub(crate) struct Store<S: TableSchema> {
    pub(crate) pages: Arc<DataPages<S::Row>>,
    pub(crate) primary: PrimaryIndex<S::Pk>,
    pub(crate) indexes: S::Indexes,
    pub(crate) generator: S::Generator,
    pub(crate) retirer: Retirer,
    pub(crate) feed: FeedRegistry<S::Pk, S::Row>,
    pub(crate) shards: u16,
    /// Per shard, the number of the last of its batches the commit point has applied.
    applied: Box<[AtomicU64]>,
    /// Held by the multi-row update in progress: they run one at a time.
    pub(crate) multi_row: tokio::sync::Mutex<()>,
}

impl<S: TableSchema> Store<S> {
    pub(crate) fn new(config: &TableConfig) -> Result<Self, WorkTableError> {
        let shards = config.shard_count()?;
        let pages = Arc::new(DataPages::new(config.page_size, shards)?);
        Ok(Store {
            retirer: pages.retirer(),
            pages,
            primary: PrimaryIndex::default(),
            indexes: S::Indexes::default(),
            generator: S::Generator::default(),
            feed: FeedRegistry::new(config.feed_capacity),
            shards,
            applied: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            multi_row: tokio::sync::Mutex::new(()),
        })
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
        self.current(pk, guard).map(|(_, row)| row)
    }

    /// The current version of the row with `pk` and its link.
    pub(crate) fn current(&self, pk: &S::Pk, guard: &Guard) -> Option<(Link, S::Row)> {
        self.primary.find(pk, guard, |link| match self.pages.read(link, guard) {
            Ok(row) => (S::primary_key(&row) == *pk).then_some((link, row)),
            Err(error) => {
                tracing::error!(table = S::NAME, ?pk, %error, "indexed row version is unreadable");
                None
            }
        })
    }

    /// Whether a row with `pk` exists.
    pub(crate) fn contains(&self, pk: &S::Pk) -> bool {
        self.primary.contains(pk, &self.keys())
    }

    /// Reads committed row versions by link under `guard`, for the unique indexes.
    pub(crate) fn rows<'g>(&'g self, guard: &'g Guard) -> impl Fn(Link) -> Option<S::Row> + 'g {
        move |link| self.pages.read(link, guard).ok()
    }

    /// Reads primary keys from rows, for the primary index.
    pub(crate) fn keys(&self) -> PageKeys<'_, S> {
        PageKeys(&self.pages)
    }
}

/// Reads a row's primary key from its version in the pages.
pub(crate) struct PageKeys<'p, S: TableSchema>(&'p DataPages<S::Row>);

impl<S: TableSchema> RowKeys<S::Pk> for PageKeys<'_, S> {
    fn key_at(&self, link: Link, guard: &Guard) -> Option<S::Pk> {
        self.0
            .read(link, guard)
            .ok()
            .map(|row| S::primary_key(&row))
    }
}
