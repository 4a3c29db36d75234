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

mod multi_row;

use crate::commit::CommitActor;
use crate::edit::{RowCondition, RowEdit};
use crate::feed::{FeedPublisher, Subscription};
use crate::ops::{CommitMsg, DeleteOp, ModifyOp, WriteKind, WriteOp};
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
                    store: Arc::clone(store),
                    writer: PageWriter::new(Arc::clone(&store.pages), id),
                    ops: rx,
                    batch: Vec::new(),
                    commit: commit_inbox.clone(),
                    sent: 0,
                    in_flight: Default::default(),
                    reserved: Default::default(),
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
        let guard = Guard::new();
        index.find(value, &guard, |link| {
            let row = self.inner.store.pages.read(link, &guard).ok()?;
            (get(&row) == value).then_some(row)
        })
    }

    /// A query over every row; see [`SelectQuery`].
    pub fn select_all(&self) -> SelectQuery<'_, S> {
        SelectQuery::new(self)
    }

    /// Reads the rows with keys `pks` under one guard, skipping any that vanished.
    pub(crate) fn read_many(&self, pks: impl IntoIterator<Item = S::Pk>) -> Vec<S::Row> {
        let mut rows = Vec::new();
        self.read_each(pks, |row| {
            rows.push(row);
            true
        });
        rows
    }

    /// Hands the rows with keys `pks` to `take`, in order, under one guard, skipping any
    /// that vanished, until `take` returns `false`.
    pub(crate) fn read_each(
        &self,
        pks: impl IntoIterator<Item = S::Pk>,
        mut take: impl FnMut(S::Row) -> bool,
    ) {
        let guard = Guard::new();
        for pk in pks {
            if let Some(row) = self.inner.store.read(&pk, &guard) {
                if !take(row) {
                    return;
                }
            }
        }
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
        self.delete_if(pk, None)
            .instrument(tracing::debug_span!("delete", table = S::NAME))
            .await
    }

    /// Changes the row with key `pk` in place: `edit` runs on its current version inside
    /// the row's shard, serialized with every other write to the row, and the result is
    /// committed like an update. Fails with `NotFound` when there is no such row, with
    /// `EditPanicked` when `edit` panics and with `PrimaryUpdateTry` when it changes the
    /// key; the row is then unchanged.
    ///
    /// `edit` runs once; the caller holds no lock while it waits.
    pub async fn modify(&self, pk: S::Pk, edit: RowEdit<S::Row>) -> Result<(), WorkTableError> {
        self.modify_if(pk, None, edit)
            .instrument(tracing::debug_span!("modify", table = S::NAME))
            .await
    }

    /// Changes the row whose column (read by `get`) holds `value` in the unique index that
    /// `index` picks, like [`Table::modify`]. Fails with `NotFound` when no row holds it.
    pub async fn modify_unique<V: IndexKey>(
        &self,
        index: fn(&S::Indexes) -> &UniqueIndex<V, S::Pk>,
        value: V,
        get: fn(&S::Row) -> &V,
        edit: RowEdit<S::Row>,
    ) -> Result<(), WorkTableError> {
        // Handed to each attempt; only an attempt whose row passes the condition runs it.
        let edit = Arc::new(parking_lot::Mutex::new(Some(edit)));
        self.on_unique(index, value, get, |pk, condition| {
            let edit = Arc::clone(&edit);
            let once: RowEdit<S::Row> = Box::new(move |row| {
                if let Some(edit) = edit.lock().take() {
                    edit(row);
                }
            });
            self.modify_if(pk, Some(condition), once)
        })
        .instrument(tracing::debug_span!("modify_unique", table = S::NAME))
        .await
    }

    /// Deletes the row whose column (read by `get`) holds `value` in the unique index
    /// that `index` picks. Fails with `NotFound` when no row holds it.
    pub async fn delete_unique<V: IndexKey>(
        &self,
        index: fn(&S::Indexes) -> &UniqueIndex<V, S::Pk>,
        value: V,
        get: fn(&S::Row) -> &V,
    ) -> Result<(), WorkTableError> {
        self.on_unique(index, value, get, |pk, condition| {
            self.delete_if(pk, Some(condition))
        })
        .instrument(tracing::debug_span!("delete_unique", table = S::NAME))
        .await
    }

    /// Runs `write` on the row holding `value` in a unique index, conditioned on the row
    /// still holding it. When the value moved to another row meanwhile, looks again.
    async fn on_unique<V: IndexKey, F, Fut>(
        &self,
        index: fn(&S::Indexes) -> &UniqueIndex<V, S::Pk>,
        value: V,
        get: fn(&S::Row) -> &V,
        write: F,
    ) -> Result<(), WorkTableError>
    where
        F: Fn(S::Pk, RowCondition<S::Row>) -> Fut,
        Fut: Future<Output = Result<(), WorkTableError>>,
    {
        let mut tried: Option<S::Pk> = None;
        loop {
            let owner = self.select_unique(index(self.indexes()), &value, get);
            let Some(pk) = owner.as_ref().map(S::primary_key) else {
                return Err(WorkTableError::NotFound);
            };
            if tried.as_ref() == Some(&pk) {
                return Err(WorkTableError::NotFound);
            }
            let wanted = value.clone();
            let condition: RowCondition<S::Row> = Arc::new(move |row| *get(row) == wanted);
            match write(pk.clone(), condition).await {
                Err(WorkTableError::NotFound) => tried = Some(pk),
                outcome => return outcome,
            }
        }
    }

    async fn delete_if(
        &self,
        pk: S::Pk,
        condition: Option<RowCondition<S::Row>>,
    ) -> Result<(), WorkTableError> {
        let (reply, outcome) = oneshot::channel();
        self.send(WriteOp::Delete(DeleteOp {
            pk,
            condition,
            reply,
        }))?;
        Self::outcome(outcome.await).map(drop)
    }

    async fn modify_if(
        &self,
        pk: S::Pk,
        condition: Option<RowCondition<S::Row>>,
        edit: RowEdit<S::Row>,
    ) -> Result<(), WorkTableError> {
        let (reply, outcome) = oneshot::channel();
        self.send(WriteOp::Modify(ModifyOp {
            pk,
            condition,
            edit,
            reply,
        }))?;
        Self::outcome(outcome.await).map(drop)
    }

    async fn write(&self, kind: WriteKind, row: S::Row) -> Result<S::Pk, WorkTableError> {
        let pk = S::primary_key(&row);
        let (reply, outcome) = oneshot::channel();
        self.send(WriteOp::Put {
            kind,
            pk,
            row,
            reply,
        })?;
        Self::outcome(outcome.await)
    }

    /// Sends `op` to the shard that owns its row.
    fn send(&self, op: WriteOp<S>) -> Result<(), WorkTableError> {
        let actors = self.actors()?;
        let shard = op.pk().map_or(0, |pk| self.shard_index(pk, actors));
        actors.shards[shard]
            .ops
            .send(op)
            .map_err(|_| WorkTableError::ShutDown)
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
        &actors.shards[self.shard_index(pk, actors)]
    }

    /// The shard that owns `pk`: below the shard count, which is at least 1.
    fn shard_index(&self, pk: &S::Pk, actors: &Actors<S>) -> usize {
        let hash = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(pk);
        (hash % actors.shards.len() as u64) as usize
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
