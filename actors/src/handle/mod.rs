//! The table handle: synchronous, lock-free reads and asynchronous writes through the
//! table's actors.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Instrument;
use worktable_pages::index::{IndexKey, NonUniqueIndex, PrimaryIndex, UniqueIndex};
use worktable_pages::{Guard, PageWriter, StorageStats};

mod durable;
mod multi_row;
mod vacuum;

use crate::combine::{Combiner, Health};
use crate::commit::CommitPoint;
use crate::edit::{RowCondition, RowEdit};
use crate::feed::Subscription;
use crate::ops::{DeleteOp, ModifyOp, WriteKind, WriteOp};
use crate::reply::{Abandoned, Outcome};
use crate::schema::PrimaryKeyGenerator;
use crate::select::SelectQuery;
use crate::shard::Shard;
use crate::store::Store;
use crate::{TableConfig, TableSchema, WorkTableError};

/// A table: a cheap, cloneable handle (an `Arc` inside) usable from any number of tasks.
///
/// Reads never wait: they look the row up in an index and decode its current version.
/// Writes go to the page shard that owns the row's key and then to the table's commit
/// point; a write's future resolves once the write is visible to every reader. Shards and
/// the commit point are actors that run on their callers' threads (see `combine.rs`), so
/// a table needs no runtime of its own: it works from any tokio runtime, or none, and a
/// runtime that goes away takes nothing of the table with it. The table stops when
/// [`Table::shutdown`] is awaited or the last handle is dropped.
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
    shards: Arc<[Combiner<Shard<S>>]>,
    commit: Arc<Combiner<CommitPoint<S>>>,
    health: Arc<Health>,
    /// Set by `shutdown`: later writes fail at once.
    closed: Arc<AtomicBool>,
    /// Held while a shutdown stops the actors, so concurrent shutdowns wait for it.
    stopping: parking_lot::Mutex<()>,
    /// The log and the persistence actor of a durable table.
    durable: Option<durable::Durable>,
    /// The thread that runs vacuum passes, set once the table is made.
    vacuum: std::sync::OnceLock<vacuum::VacuumThread>,
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
    /// A table with `config`, kept in memory only.
    pub fn with_config(config: TableConfig) -> Result<Self, WorkTableError> {
        let (store, committer) = Store::new(&config)?;
        let writers = store.page_writers()?;
        let store = Arc::new(store);
        let commit = CommitPoint::new(Arc::clone(&store), committer, 0, None);
        let (table, _) = Table::assemble(config, store, commit, writers)?;
        table.start_vacuum()
    }

    /// A table over `store` with its commit point and the page writers of its shards.
    fn assemble(
        config: TableConfig,
        store: Arc<Store<S>>,
        commit: CommitPoint<S>,
        writers: Vec<PageWriter<S::Row>>,
    ) -> Result<(Self, CommitActor<S>), WorkTableError> {
        let health = Arc::new(Health::default());
        let commit = Arc::new(Combiner::new(commit, Arc::clone(&health)));
        let shards = writers
            .into_iter()
            .enumerate()
            .map(|(id, writer)| {
                let id = u16::try_from(id)
                    .map_err(|_| WorkTableError::Config(format!("too many shards: {id}")))?;
                let shard = Shard::new(id, Arc::clone(&store), Arc::clone(&commit), writer);
                Ok(Combiner::new(shard, Arc::clone(&health)))
            })
            .collect::<Result<_, WorkTableError>>()?;
        let table = Table {
            inner: Arc::new(Inner {
                store,
                config,
                shards,
                commit: Arc::clone(&commit),
                health,
                closed: Arc::new(AtomicBool::new(false)),
                stopping: parking_lot::Mutex::new(()),
                durable: None,
                vacuum: std::sync::OnceLock::new(),
            }),
        };
        Ok((table, commit))
    }

    /// This table, with the persistence side `durable` (made before any handle was
    /// cloned).
    fn with_durable(mut self, durable: durable::Durable) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.durable = Some(durable),
            None => unreachable!("a table being opened has one handle"),
        }
        self
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
        self.inner.store.rows.len()
    }

    /// The secondary indexes, for the query builder. Not public: indexes are reached only
    /// through the table's own methods, which pick them from this table.
    pub(crate) fn indexes(&self) -> &S::Indexes {
        self.inner.store.rows.indexes()
    }

    /// The primary index, for the query builder.
    pub(crate) fn primary_index(&self) -> &PrimaryIndex<S::Pk> {
        self.inner.store.rows.primary()
    }

    /// A fresh primary key from the table's generator, or `KeysExhausted` when an
    /// `autoincrement` key type has no value left (the generated `get_next_pk()`).
    pub fn next_pk(&self) -> Result<S::Pk, WorkTableError>
    where
        S::Generator: PrimaryKeyGenerator<S::Pk>,
    {
        self.inner.store.generator.try_next()
    }

    /// Page count and size.
    pub fn storage_stats(&self) -> StorageStats {
        self.inner.store.rows.stats()
    }

    /// The row with primary key `pk`.
    pub fn select(&self, pk: &S::Pk) -> Option<S::Row> {
        let guard = Guard::new();
        self.inner.store.read(pk, &guard)
    }

    /// The row whose column holds `value` in the unique index that `index` picks from
    /// this table's indexes; `get` reads that column from a row. The row is checked to
    /// still hold `value`, so a concurrent update that moves the value away yields `None`,
    /// never a row with another value. An index that is not this table's (one `index`
    /// made itself) finds nothing.
    pub fn select_unique<V: IndexKey>(
        &self,
        index: fn(&S::Indexes) -> &UniqueIndex<V, S::Pk>,
        value: &V,
        get: fn(&S::Row) -> &V,
    ) -> Option<S::Row> {
        let guard = Guard::new();
        self.inner.store.rows.find_unique(index, value, get, &guard)
    }

    /// The primary keys of the rows holding `value` in the non-unique index that `index`
    /// picks from this table's indexes, in key order, as of now.
    pub fn select_keys<V: IndexKey>(
        &self,
        index: fn(&S::Indexes) -> &NonUniqueIndex<V, S::Pk>,
        value: &V,
    ) -> Vec<S::Pk> {
        index(self.indexes()).keys_eq(value)
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
            let owner = self.select_unique(index, &value, get);
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
        self.admit().await;
        let shard = self.shard_index(&pk);
        let (reply, outcome) = crate::reply::channel();
        self.submit(
            shard,
            WriteOp::Delete(DeleteOp {
                pk,
                condition,
                reply,
            }),
        )?;
        let result = self.answer(outcome).await.map(drop);
        self.made_durable(result).await
    }

    async fn modify_if(
        &self,
        pk: S::Pk,
        condition: Option<RowCondition<S::Row>>,
        edit: RowEdit<S::Row>,
    ) -> Result<(), WorkTableError> {
        self.admit().await;
        let shard = self.shard_index(&pk);
        let (reply, outcome) = crate::reply::channel();
        self.submit(
            shard,
            WriteOp::Modify(ModifyOp {
                pk,
                condition,
                edit,
                reply,
            }),
        )?;
        let result = self.answer(outcome).await.map(drop);
        self.made_durable(result).await
    }

    async fn write(&self, kind: WriteKind, row: S::Row) -> Result<S::Pk, WorkTableError> {
        self.admit().await;
        let pk = S::primary_key(&row);
        let shard = self.shard_index(&pk);
        let (reply, outcome) = crate::reply::channel();
        self.submit(
            shard,
            WriteOp::Put {
                kind,
                pk,
                row,
                reply,
            },
        )?;
        let result = self.answer(outcome).await;
        self.made_durable(result).await
    }

    /// Hands `op` to shard `shard`, which runs it now if it is idle.
    fn submit(&self, shard: usize, op: WriteOp<S>) -> Result<(), WorkTableError> {
        self.check_open()?;
        let shard = self.inner.shards.get(shard).ok_or_else(|| {
            WorkTableError::Storage(format!(
                "no shard {shard}: keys are routed below the shard count"
            ))
        })?;
        shard.submit(op).map_err(|_| self.stopped())
    }

    /// Fails when the table has shut down or failed.
    fn check_open(&self) -> Result<(), WorkTableError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(self.stopped());
        }
        match self.inner.health.failure() {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    /// Why the table takes no more writes: its failure, or its shutdown.
    fn stopped(&self) -> WorkTableError {
        self.inner
            .health
            .failure()
            .cloned()
            .unwrap_or(WorkTableError::ShutDown)
    }

    /// Waits for the answer to a write and logs a failure of the table.
    async fn answer<T>(
        &self,
        outcome: Outcome<Result<T, WorkTableError>>,
    ) -> Result<T, WorkTableError> {
        let result = self.receive(outcome).await.and_then(|answer| answer);
        if let Err(
            error @ (WorkTableError::ShutDown
            | WorkTableError::Storage(_)
            | WorkTableError::ActorFailed { .. }),
        ) = &result
        {
            tracing::warn!(table = S::NAME, %error, "write failed");
        }
        result
    }

    /// Waits for an answer; an abandoned one means the table stopped or failed. While
    /// it waits, a runner that hands over wakes it to run the actors; if it is cancelled,
    /// it runs them before it goes, so a runner that handed over to it strands nothing.
    async fn receive<T>(&self, outcome: Outcome<T>) -> Result<T, WorkTableError> {
        let answer = match self.spin_for(&outcome) {
            Some(answer) => answer,
            None => {
                let mut waiter = Waiter {
                    table: self,
                    outcome: Some(outcome),
                };
                waiter.wait().await
            }
        };
        answer.map_err(|Abandoned| self.stopped())
    }

    /// Waits a little, on this thread, for an answer that another thread's runner is
    /// about to give: a write queued behind a runner is usually answered within a few
    /// microseconds, sooner than a task could be parked and woken. Runs the actors now
    /// and then, in case the runner has left. For a durable table it also offers its core
    /// to other threads once it has waited a while (see [`YIELD_AFTER_ROUNDS`]). `None`
    /// when no answer came in time.
    fn spin_for<T>(&self, outcome: &Outcome<T>) -> Option<Result<T, Abandoned>> {
        if let Some(answer) = outcome.try_take() {
            return Some(answer);
        }
        let start = std::time::Instant::now();
        let mut round = 0u32;
        let yields = self.inner.durable.is_some();
        loop {
            if let Some(answer) = outcome.try_take() {
                return Some(answer);
            }
            if start.elapsed() >= SPIN_BUDGET {
                return None;
            }
            round += 1;
            if round % 8 == 0 {
                self.drive_all();
            }
            if yields && round >= YIELD_AFTER_ROUNDS {
                std::thread::yield_now();
            }
            for _ in 0..1u32 << round.min(4) {
                std::hint::spin_loop();
            }
        }
    }

    /// Runs every actor that has messages and no runner.
    fn drive_all(&self) {
        for shard in &*self.inner.shards {
            shard.drive();
        }
        self.inner.commit.drive();
    }

    /// The shard that owns `pk`: below the shard count, which is at least 1.
    fn shard_index(&self, pk: &S::Pk) -> usize {
        shard_of(pk, self.inner.shards.len())
    }

    /// Stops taking writes, lets every accepted write finish, and stops the actors.
    ///
    /// Writes started after this call fail with `ShutDown`; a write racing it either fails
    /// with `ShutDown` or is committed before this returns. When it returns, no actor
    /// runs and every subscription, also one made later, ends with `Closed` after the
    /// operations it holds. Reads keep working. Returns the table's failure, if it failed.
    /// Calling it again is harmless.
    pub async fn shutdown(&self) -> Result<(), WorkTableError> {
        let span = tracing::info_span!("shutdown", table = S::NAME);
        let _entered = span.enter();
        self.inner.stop();
        self.stop_durable().await;
        match self.inner.health.failure() {
            Some(error) => {
                tracing::error!(table = S::NAME, %error, "table shut down with a failure");
                Err(error.clone())
            }
            None => {
                tracing::info!(table = S::NAME, "table shut down");
                Ok(())
            }
        }
    }
}

/// A table's commit point, shared by its handle and its shards.
type CommitActor<S> = Arc<Combiner<CommitPoint<S>>>;

/// The shard of `shards` that owns `pk`.
fn shard_of<Pk: std::hash::Hash>(pk: &Pk, shards: usize) -> usize {
    let hash = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(pk);
    (hash % shards.max(1) as u64) as usize
}

/// How long [`Table::spin_for`] waits before the task parks. Measured with 64 tasks
/// inserting on a 2-worker runtime (200,000 rows, 2 cores, 2 runs each): parking at once
/// gave 0.31-0.38 M inserts/s, spinning 0.5 us 0.32-0.36, 1.5 us 0.39-0.40, 3 us
/// 0.49-0.51 and 10 us 0.46.
const SPIN_BUDGET: std::time::Duration = std::time::Duration::from_micros(3);

/// After this many rounds of [`Table::spin_for`] without an answer, a writer of a
/// durable table yields its thread each round until its answer comes or the budget ends.
/// The table's persistence thread (its writes and syncs) needs the cores that spinning
/// writers hold; yielding lets it run at once instead of at the scheduler's next
/// preemption. Measured with 64 tasks inserting 20,000 rows on a 2-worker runtime
/// (2 cores), a Buffered table against a memory-only one, alternated in one process,
/// the medians of 20 pairs per run: 0.74-0.81 (median 0.78) of the memory-only throughput
/// without yielding, 0.80-0.84 (0.825) yielding each round from the 8th, 0.79-0.84 (0.82)
/// yielding every 8th round (5 runs each). `Sync` from 64 tasks did not move (a median of
/// 8.2 us per insert either way, 10 runs each). A memory-only table has no such thread
/// and does not yield: yielding there gained nothing (medians of 1.92 and 2.29 us per
/// insert against 1.99 and 2.05, in two sets of alternated runs).
const YIELD_AFTER_ROUNDS: u32 = 8;

impl<S: TableSchema> Inner<S> {
    /// Closes every actor to new messages and handles what each holds: the shards first,
    /// whose batches go to the commit point, then the commit point; ends the feed.
    fn stop(&self) {
        let _one_at_a_time = self.stopping.lock();
        self.closed.store(true, Ordering::Release);
        for shard in &*self.shards {
            shard.close();
        }
        for shard in &*self.shards {
            shard.run_blocking();
            // Writes held for a multi-row update that can no longer release them.
            shard.with_state(Shard::abandon_reserved);
        }
        self.commit.close();
        self.commit.run_blocking();
        self.commit.with_state(CommitPoint::close_feed);
    }
}

/// A caller waiting for its answer; see [`Table::answer`].
struct Waiter<'t, S: TableSchema, T> {
    table: &'t Table<S>,
    outcome: Option<Outcome<T>>,
}

impl<S: TableSchema, T> Waiter<'_, S, T> {
    async fn wait(&mut self) -> Result<T, Abandoned> {
        let table = self.table;
        match &self.outcome {
            Some(outcome) => outcome.wait(|| table.drive_all()).await,
            None => Err(Abandoned),
        }
    }
}

impl<S: TableSchema, T> Drop for Waiter<'_, S, T> {
    fn drop(&mut self) {
        if let Some(outcome) = self.outcome.take() {
            let waiting = outcome.is_waiting();
            // Marked cancelled first, so no runner hands over to it after this.
            drop(outcome);
            if waiting {
                self.table.drive_all();
            }
        }
    }
}
