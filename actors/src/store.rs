//! The state a table shares between its handle, its actors and its readers.

use std::sync::Arc;

use worktable_pages::index::PrimaryIndex;
use worktable_pages::{DataPages, Guard, Retirer};

use crate::feed::FeedRegistry;
use crate::progress::Progress;
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
    /// Per shard, how far the commit point has applied its batches.
    pub(crate) progress: Box<[Progress]>,
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
            progress: (0..shards).map(|_| Progress::default()).collect(),
            multi_row: tokio::sync::Mutex::new(()),
        })
    }

    /// The current version of the row with `pk`.
    pub(crate) fn read(&self, pk: &S::Pk, guard: &Guard) -> Option<S::Row> {
        let link = self.primary.get(pk, guard)?;
        match self.pages.read(link, guard) {
            Ok(row) => Some(row),
            Err(error) => {
                tracing::error!(table = S::NAME, ?pk, %error, "indexed row version is unreadable");
                None
            }
        }
    }
}
