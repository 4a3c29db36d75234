//! The table handle: synchronous, lock-free reads and asynchronous writes through the
//! table's actors.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use kameo::actor::{ActorRef, Spawn};
use kameo::error::ActorStopReason;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tracing::Instrument;
use worktable_pages::index::{IndexKey, PrimaryIndex, UniqueIndex};
use worktable_pages::{Guard, PageWriter, StorageStats};

use crate::commit::CommitActor;
use crate::feed::{FeedPublisher, Subscription};
use crate::ops::{CommitMsg, WriteKind, WriteOp};
use crate::schema::PrimaryKeyGenerator;
use crate::select::SelectQuery;
use crate::shard::ShardActor;
use crate::store::Store;
use crate::{TableConfig, TableSchema, WorkTableError};

/// A table: a cheap, cloneable handle (an `Arc` inside) usable from any number of tasks.
///
/// Reads never wait: they look the row up in an index and decode its current version.
/// Writes go to the page-shard actor that owns the row's key and then to the table's
/// commit point; a write's future resolves once the write is visible to every reader.
/// The actors start on the first write (inside the caller's tokio runtime) and stop when
/// the last handle is dropped or [`Table::shutdown`] is awaited.
pub struct Table<S: TableSchema> {
    inner: Arc<Inner<S>>,
}

impl<S: TableSchema> Clone for Table<S> {
    fn clone(&self) -> Self {
        Table {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S: TableSchema> {
    store: Arc<Store<S>>,
    config: TableConfig,
    actors: OnceLock<Actors<S>>,
    closed: AtomicBool,
}

struct Shard<S: TableSchema> {
    actor: ActorRef<ShardActor<S>>,
    ops: UnboundedSender<WriteOp<S>>,
}

struct Actors<S: TableSchema> {
    shards: Vec<Shard<S>>,
    commit: ActorRef<CommitActor<S>>,
    commit_inbox: UnboundedSender<CommitMsg<S>>,
}

impl<S: TableSchema> Actors<S> {
    fn start(store: &Arc<Store<S>>) -> Self {
        let (commit_inbox, inbox) = unbounded_channel();
        let commit = CommitActor::spawn(CommitActor {
            store: Arc::clone(store),
            inbox,
            batch: Vec::new(),
            seq: 0,
            feed: FeedPublisher::new(),
        });
        let shards = (0..store.shards)
            .map(|id| {
                let (ops, rx) = unbounded_channel();
                let actor = ShardActor::spawn(ShardActor {
                    id,
                    writer: PageWriter::new(Arc::clone(&store.pages), id),
                    ops: rx,
                    batch: Vec::new(),
                    commit: commit_inbox.clone(),
                });
                Shard { actor, ops }
            })
            .collect();
        tracing::debug!(
            table = S::NAME,
            shards = store.shards,
            "table actors started"
        );
        Actors {
            shards,
            commit,
            commit_inbox,
        }
    }
}

impl<S: TableSchema> Default for Table<S> {
    /// A table with the default configuration.
    fn default() -> Self {
        Table::with_config(TableConfig::default()).expect(
            "the default configuration is valid: default page size, shards from the machine",
        )
    }
}

impl<S: TableSchema> Table<S> {
    /// A table with `config`. No actor starts until the first write.
    pub fn with_config(config: TableConfig) -> Result<Self, WorkTableError> {
        let store = Arc::new(Store::new(&config)?);
        Ok(Table {
            inner: Arc::new(Inner {
                store,
                config,
                actors: OnceLock::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The declared table name.
    pub fn name(&self) -> &'static str {
        S::NAME
    }

    /// The table's configuration.
    pub fn config(&self) -> &TableConfig {
        &self.inner.config
    }

    /// The number of rows.
    pub fn count(&self) -> usize {
        self.inner.store.primary.len()
    }

    /// The secondary indexes, for generated `select_by_*` methods.
    pub fn indexes(&self) -> &S::Indexes {
        &self.inner.store.indexes
    }

    /// The primary index.
    pub fn primary_index(&self) -> &PrimaryIndex<S::Pk> {
        &self.inner.store.primary
    }

    /// The table's key generator.
    pub fn generator(&self) -> &S::Generator {
        &self.inner.store.generator
    }

    /// A fresh primary key from the table's generator.
    pub fn next_pk(&self) -> S::Pk
    where
        S::Generator: PrimaryKeyGenerator<S::Pk>,
    {
        self.inner.store.generator.next()
    }

    /// Page count and size.
    pub fn storage_stats(&self) -> StorageStats {
        self.inner.store.pages.stats()
    }

    /// The row with primary key `pk`.
    pub fn select(&self, pk: &S::Pk) -> Option<S::Row> {
        let guard = Guard::new();
        self.inner.store.read(pk, &guard)
    }

    /// The row whose column holds `value` in the unique `index`; `get` reads that column
    /// from a row. The row is checked to still hold `value`, so a concurrent update that
    /// moves the value away yields `None`, never a row with another value.
    pub fn select_unique<V: IndexKey>(
        &self,
        index: &UniqueIndex<V, S::Pk>,
        value: &V,
        get: fn(&S::Row) -> &V,
    ) -> Option<S::Row> {
        let pk = index.get(value)?;
        self.select(&pk).filter(|row| get(row) == value)
    }

    /// A query over every row; see [`SelectQuery`].
    pub fn select_all(&self) -> SelectQuery<'_, S> {
        SelectQuery::new(self)
    }

    /// Reads the rows with keys `pks` under one guard, skipping any that vanished.
    pub(crate) fn read_many(&self, pks: impl IntoIterator<Item = S::Pk>) -> Vec<S::Row> {
        let guard = Guard::new();
        pks.into_iter()
            .filter_map(|pk| self.inner.store.read(&pk, &guard))
            .collect()
    }

    /// A receiver of every operation committed from now on, in sequence order; see
    /// [`Subscription`].
    pub fn subscribe(&self) -> Subscription<S::Pk, S::Row> {
        self.inner.store.feed.subscribe()
    }

    /// Inserts `row`; fails with `AlreadyExists` if its key or a unique value is taken.
    pub async fn insert(&self, row: S::Row) -> Result<S::Pk, WorkTableError> {
        self.write(WriteKind::Insert, row)
            .instrument(tracing::debug_span!("insert", table = S::NAME))
            .await
    }

    /// Inserts `row`, or replaces the row with its key.
    pub async fn upsert(&self, row: S::Row) -> Result<(), WorkTableError> {
        self.write(WriteKind::Upsert, row)
            .instrument(tracing::debug_span!("upsert", table = S::NAME))
            .await
            .map(drop)
    }

    /// Replaces the row with `row`'s key; fails with `NotFound` if there is none.
    pub async fn update(&self, row: S::Row) -> Result<(), WorkTableError> {
        self.write(WriteKind::Update, row)
            .instrument(tracing::debug_span!("update", table = S::NAME))
            .await
            .map(drop)
    }

    /// Deletes the row with key `pk`; fails with `NotFound` if there is none.
    pub async fn delete(&self, pk: S::Pk) -> Result<(), WorkTableError> {
        async {
            let actors = self.actors()?;
            let (reply, outcome) = oneshot::channel();
            actors
                .commit_inbox
                .send(CommitMsg::Delete { pk, reply })
                .map_err(|_| WorkTableError::ShutDown)?;
            Self::outcome(outcome.await).map(drop)
        }
        .instrument(tracing::debug_span!("delete", table = S::NAME))
        .await
    }

    async fn write(&self, kind: WriteKind, row: S::Row) -> Result<S::Pk, WorkTableError> {
        let actors = self.actors()?;
        let pk = S::primary_key(&row);
        let shard = self.shard_of(&pk, actors);
        let (reply, outcome) = oneshot::channel();
        shard
            .ops
            .send(WriteOp {
                kind,
                pk,
                row,
                reply,
            })
            .map_err(|_| WorkTableError::ShutDown)?;
        Self::outcome(outcome.await)
    }

    fn outcome(
        received: Result<Result<S::Pk, WorkTableError>, oneshot::error::RecvError>,
    ) -> Result<S::Pk, WorkTableError> {
        let result = received.unwrap_or(Err(WorkTableError::ShutDown));
        if let Err(error @ (WorkTableError::ShutDown | WorkTableError::Storage(_))) = &result {
            tracing::warn!(table = S::NAME, %error, "write failed");
        }
        result
    }

    fn shard_of<'a>(&self, pk: &S::Pk, actors: &'a Actors<S>) -> &'a Shard<S> {
        let hash = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(pk);
        // The modulo keeps the index below the shard count, which is at least 1.
        let index = (hash % actors.shards.len() as u64) as usize;
        &actors.shards[index]
    }

    /// The running actors, started on first use inside the caller's tokio runtime.
    fn actors(&self) -> Result<&Actors<S>, WorkTableError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(WorkTableError::ShutDown);
        }
        if let Some(actors) = self.inner.actors.get() {
            return Ok(actors);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(WorkTableError::NoRuntime);
        }
        Ok(self
            .inner
            .actors
            .get_or_init(|| Actors::start(&self.inner.store)))
    }

    /// Stops taking writes, lets every accepted write finish, and stops the actors.
    ///
    /// Writes started after this call fail with `ShutDown`; reads keep working. Returns
    /// the first failure an actor reported. Calling it again is harmless.
    pub async fn shutdown(&self) -> Result<(), WorkTableError> {
        async {
            self.inner.closed.store(true, Ordering::Release);
            let Some(actors) = self.inner.actors.get() else {
                return Ok(());
            };
            let mut first_failure = Ok(());
            for shard in &actors.shards {
                let _ = shard.actor.stop_gracefully().await;
            }
            for shard in &actors.shards {
                let reason = shard.actor.wait_for_shutdown_result().await;
                first_failure = first_failure.and(Self::stopped_cleanly("shard", reason));
            }
            let _ = actors.commit.stop_gracefully().await;
            let reason = actors.commit.wait_for_shutdown_result().await;
            first_failure = first_failure.and(Self::stopped_cleanly("commit", reason));
            if let Err(error) = &first_failure {
                tracing::error!(table = S::NAME, %error, "table shut down with a failure");
            } else {
                tracing::info!(table = S::NAME, "table shut down");
            }
            first_failure
        }
        .instrument(tracing::info_span!("shutdown", table = S::NAME))
        .await
    }

    fn stopped_cleanly<E: std::fmt::Debug>(
        actor: &'static str,
        reason: Result<ActorStopReason, E>,
    ) -> Result<(), WorkTableError> {
        match reason {
            Ok(ActorStopReason::Normal) => Ok(()),
            Ok(other) => Err(WorkTableError::ActorFailed {
                actor,
                reason: other.to_string(),
            }),
            Err(error) => Err(WorkTableError::ActorFailed {
                actor,
                reason: format!("{error:?}"),
            }),
        }
    }
}
