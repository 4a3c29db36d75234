//! The durable side of the table handle: opening (recovery), waiting for the disk,
//! `flush`, `checkpoint`, and stopping the persistence actor.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use worktable_pages::{CheckedRowFormat, Guard};
use worktable_persistence::{CheckpointWriter, Dir, FsStorage, Options, PersistError, Storage};

use super::{Inner, Table};
use crate::combine::Combiner;
use crate::commit::CommitPoint;
use crate::persist::{self, Durability, LogQueue, LogSink, PersistConfig, Persister, Source};
use crate::store::Store;
use crate::{TableSchema, WorkTableError};

/// The persistence side of a durable table.
pub(super) struct Durable {
    pub(super) queue: Arc<LogQueue>,
    pub(super) durability: Durability,
    /// The persistence actor's thread, taken by the first stop.
    pub(super) thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Durable {
    /// Asks the actor to stop once everything queued is durable (after a checkpoint if
    /// `checkpoint`) and waits for its thread. Blocking: the actor syncs before it ends.
    pub(super) fn stop(&self, checkpoint: bool) {
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        self.queue
            .request(|requests| requests.stop = Some(checkpoint));
        if thread.join().is_err() {
            tracing::error!("the persistence thread ended with a panic");
        }
    }
}

impl<S: TableSchema> Table<S>
where
    S::Row: CheckedRowFormat,
    S::Pk: CheckedRowFormat,
{
    /// Opens the durable table in directory `path` (created if missing), recovering what
    /// it holds, with the default settings: [`Durability::Sync`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, WorkTableError> {
        Self::open_with(path, PersistConfig::default()).await
    }

    /// Opens the durable table in directory `path` (created if missing) with `config`:
    /// takes the directory's lock (`Locked` if another table holds it, in this process
    /// or another), checks the stored schema against this table's (`SchemaMismatch`
    /// naming each difference), loads the newest checkpoint and redoes the log after it,
    /// and builds every index in one pass. The generator of `autoincrement` keys and the
    /// change feed's sequence numbers continue after what was recovered.
    pub async fn open_with(
        path: impl AsRef<Path>,
        config: PersistConfig,
    ) -> Result<Self, WorkTableError> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(|source| {
            persist::persist_error(PersistError::Io {
                op: "create directory",
                file: path.display().to_string(),
                source,
            })
        })?;
        let storage = FsStorage::new(path).map_err(|source| {
            persist::persist_error(PersistError::Io {
                op: "open directory",
                file: path.display().to_string(),
                source,
            })
        })?;
        Self::open_storage(storage, config).await
    }

    /// Opens the durable table kept in `storage`, like [`Table::open_with`]: any
    /// implementation of the storage trait, such as `MemoryStorage` (an in-memory disk
    /// that can simulate crashes and failing calls) for tests.
    ///
    /// Recovery is blocking I/O, so it runs on a thread of its own while this awaits.
    pub async fn open_storage(
        storage: impl Storage + 'static,
        config: PersistConfig,
    ) -> Result<Self, WorkTableError> {
        let (answer, opened) = tokio::sync::oneshot::channel();
        let open = move || {
            let _ = answer.send(Self::open_blocking(Arc::new(storage), config));
        };
        std::thread::Builder::new()
            .name(format!("worktable-open-{}", S::NAME))
            .spawn(open)
            .map_err(|error| WorkTableError::Storage(format!("cannot start recovery: {error}")))?;
        opened.await.map_err(|_| {
            WorkTableError::Storage("recovery ended without an answer (it panicked)".into())
        })?
    }

    fn open_blocking(
        storage: Arc<dyn Storage>,
        config: PersistConfig,
    ) -> Result<Self, WorkTableError> {
        let started = Instant::now();
        let span = tracing::info_span!("open", table = S::NAME);
        let _entered = span.enter();
        let schema = S::describe();
        let mut options = Options::default().segment_size(config.segment_bytes);
        if config.durability == Durability::Buffered {
            // Rounds of up to 256 KiB and few syncs: zeros written ahead would only double
            // the bytes written.
            options = options.preallocate(0);
        }
        let table_config = config.table.clone().unwrap_or_default();
        let mut recovery = Dir::open(Arc::clone(&storage), &schema, options.clone())
            .map_err(persist::persist_error)?;
        let (store, mut committer) = Store::<S>::new(&table_config)?;
        let mut writers = store.page_writers()?;
        let shards = usize::from(store.shards);
        let loaded = persist::load(&mut recovery, &store, &mut committer, &mut writers, |pk| {
            super::shard_of(pk, shards)
        })?;
        let (dir, stats) = recovery.finish().map_err(persist::persist_error)?;
        let last_seq = loaded.last_seq.max(stats.last_seq).max(dir.last_seq());
        tracing::info!(
            rows = loaded.rows,
            checkpoint_rows = stats.rows,
            frames = stats.frames,
            records = stats.records,
            last_seq,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "table recovered"
        );
        let paced = (config.durability == Durability::Buffered).then_some(config.buffered_interval);
        let queue = Arc::new(LogQueue::new(last_seq, config.queue_bytes, paced));
        queue.report(|state| state.checkpoint_rows = stats.rows);
        let encode_pk: persist::EncodePk<S::Pk> =
            |pk, buffer| worktable_pages::RowFormat::encode_into(pk, buffer);
        let sink = LogSink::new(Arc::clone(&queue), encode_pk);
        let store = Arc::new(store);
        let (table, commit) = Table::assemble(
            table_config,
            Arc::clone(&store),
            CommitPoint::new(Arc::clone(&store), committer, last_seq, Some(sink)),
            writers,
        )?;
        let source = Arc::new(TableSource::<S> {
            store,
            commit,
            encode_pk,
        });
        let reopen_storage = Arc::clone(&storage);
        let persister = Persister {
            table: S::NAME,
            queue: Arc::clone(&queue),
            source,
            health: Arc::clone(&table.inner.health),
            reopen: Box::new(move || reopen(&reopen_storage, &schema, &options)),
            checkpoint_log_bytes: config.checkpoint_log_bytes,
        };
        let thread = persister.start(dir).map_err(|error| {
            WorkTableError::Storage(format!("cannot start the persistence actor: {error}"))
        })?;
        let durable = Durable {
            queue,
            durability: config.durability,
            thread: parking_lot::Mutex::new(Some(thread)),
        };
        table.with_durable(durable).start_vacuum()
    }
}

/// Reopens a directory after the persistence actor panicked: recovery reads everything
/// (checking it) and cuts a torn tail; the rows are already in memory.
fn reopen(
    storage: &Arc<dyn Storage>,
    schema: &worktable_persistence::SchemaDescription,
    options: &Options,
) -> Result<Dir, PersistError> {
    let recovery = Dir::open(Arc::clone(storage), schema, options.clone())?;
    recovery.finish().map(|(dir, _)| dir)
}

impl<S: TableSchema> Table<S> {
    /// Waits, for a durable table, until everything committed before this call is on
    /// disk (synced); at once for a table that is not durable. Fails with the table's
    /// failure if it has failed (a persistence failure, or a panic in an actor).
    pub async fn flush(&self) -> Result<(), WorkTableError> {
        let Some(durable) = self.inner.durable.as_ref() else {
            return Ok(());
        };
        // A failed table says so, even when everything it committed had been synced.
        if let Some(failure) = self.inner.health.failure() {
            return Err(failure.clone());
        }
        let target = durable.queue.queued_seq();
        durable.queue.request(|requests| requests.flush = true);
        self.wait_durable(target).await
    }

    /// Takes a checkpoint of a durable table now and waits for it: every row is written
    /// to a new checkpoint file and log segments it covers are removed. Writers go on
    /// meanwhile. Fails with `NotDurable` on a table that is not durable.
    pub async fn checkpoint(&self) -> Result<(), WorkTableError> {
        let Some(durable) = self.inner.durable.as_ref() else {
            return Err(WorkTableError::NotDurable);
        };
        self.check_open()?;
        let ticket = durable.queue.ask_checkpoint();
        durable
            .queue
            .wait_until(|state| state.checkpoints_answered >= ticket)
            .await
    }

    /// Whether the table keeps its rows on disk.
    pub fn is_durable(&self) -> bool {
        self.inner.durable.is_some()
    }

    /// The sequence number of the last operation known to be on disk (0 for a table that
    /// is not durable).
    pub fn durable_seq(&self) -> u64 {
        self.inner
            .durable
            .as_ref()
            .map_or(0, |durable| durable.queue.durable_seq())
    }

    /// Waits while the log queue is over its limit (the disk is behind).
    pub(super) async fn admit(&self) {
        if let Some(durable) = self.inner.durable.as_ref() {
            durable.queue.wait_for_space().await;
        }
    }

    /// For a committed write of a [`Durability::Sync`] table, waits until it is durable.
    pub(super) async fn made_durable<T>(
        &self,
        result: Result<T, WorkTableError>,
    ) -> Result<T, WorkTableError> {
        let value = result?;
        match self.inner.durable.as_ref() {
            Some(durable) if durable.durability == Durability::Sync => {
                self.wait_durable(durable.queue.queued_seq()).await?;
                Ok(value)
            }
            _ => Ok(value),
        }
    }

    /// Waits until every operation up to `target` is durable.
    async fn wait_durable(&self, target: u64) -> Result<(), WorkTableError> {
        match self.inner.durable.as_ref() {
            Some(durable) => durable.queue.wait_until(|state| state.seq >= target).await,
            None => Ok(()),
        }
    }
}

/// What a checkpoint reads: the table's rows, and its commit point for quiescent moments.
struct TableSource<S: TableSchema> {
    store: Arc<Store<S>>,
    commit: Arc<Combiner<CommitPoint<S>>>,
    encode_pk: persist::EncodePk<S::Pk>,
}

/// Keys read per guard during a checkpoint scan: a guard is held for one block of keys,
/// so reclamation is never held up for long.
const SCAN_CHUNK: usize = 1024;

impl<S: TableSchema> Source for TableSource<S> {
    fn quiescent_seq(&self) -> u64 {
        self.commit.with_state(|commit| commit.seq())
    }

    fn scan(&self, writer: &mut CheckpointWriter) -> Result<(), PersistError> {
        let primary = self.store.rows.primary();
        let mut pk_buffer = rkyv::util::AlignedVec::new();
        let mut from = std::ops::Bound::Unbounded;
        loop {
            let keys = primary.keys_in((from, std::ops::Bound::Unbounded), SCAN_CHUNK);
            let guard = Guard::new();
            for pk in &keys {
                // A row deleted since its key was listed is not in the checkpoint; the log
                // after S has its delete.
                let Some(row) = self.store.rows.row_bytes(pk, &guard) else {
                    continue;
                };
                pk_buffer = (self.encode_pk)(pk, std::mem::take(&mut pk_buffer)).map_err(|_| {
                    PersistError::InvalidRecord {
                        seq: 0,
                        reason: "a primary key failed to encode",
                    }
                })?;
                writer.push(&pk_buffer, row)?;
            }
            drop(guard);
            if keys.len() < SCAN_CHUNK {
                return Ok(());
            }
            match keys.into_iter().last() {
                Some(last) => from = std::ops::Bound::Excluded(last),
                None => return Ok(()),
            }
        }
    }
}

impl<S: TableSchema> Table<S> {
    /// Has the persistence actor of a durable table write a checkpoint and stop (after
    /// every writer stopped), and waits for it; the directory's lock is released.
    pub(super) async fn stop_durable(&self) {
        let Some(durable) = self.inner.durable.as_ref() else {
            return;
        };
        durable.queue.request(|requests| requests.stop = Some(true));
        let mut watch = durable.queue.watch();
        // The sender lives in the queue, which outlives this wait.
        let _ = watch.wait_for(|state| state.stopped).await;
        let thread = durable.thread.lock().take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!(table = S::NAME, "the persistence thread ended with a panic");
            }
        }
    }
}

impl<S: TableSchema> Drop for Inner<S> {
    /// The last handle is gone: a durable table stops its writers, makes everything they
    /// committed durable and releases its directory (blocking for that sync; no
    /// checkpoint, `shutdown` takes one).
    fn drop(&mut self) {
        if let Some(durable) = self.durable.as_ref() {
            self.stop();
            durable.stop(false);
        }
    }
}
