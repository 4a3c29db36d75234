//! The vacuum: a pass that moves the rows of sparse pages into denser ones and gives the
//! memory of emptied pages back, run by a thread of the table's own.
//!
//! A pass, on the vacuum thread:
//! 1. every shard takes back its reclaimed slots and marks its sparse pages (live bytes
//!    below `page_fill_percent` of a page) for emptying: no new version goes there. An
//!    automatic pass marks the sparsest first, up to a fifth of the live bytes;
//! 2. the rows whose current versions lie in marked pages are found in one scan of the
//!    primary index, and each shard copies its rows out, in batches, in its own write
//!    order; the commit point points the indexes at the copies and retires the originals
//!    (a move is no operation: no sequence number, no log or change-feed record);
//! 3. once the readers that could hold an original are gone, each shard takes the
//!    slots back, and a marked page with nothing left goes back to the allocator.
//!
//! A move the commit point refuses (the row was written meanwhile) or never sees (the
//! pass was stopped) leaves the row where it was; its copy is freed.
//!
//! The thread runs the passes that [`Table::vacuum`] asks for and, every
//! `check_every`, looks whether the pages are sparse enough for an automatic one
//! ([`VacuumConfig`](crate::config::VacuumConfig)). It holds the table's parts, not its
//! handle, and ends when the last handle is dropped. A panic in a pass is logged and the
//! thread goes on with the next request (the copies of moves not yet committed are
//! freed as the pass unwinds); a panic inside a shard or the commit point fails the
//! table, as it does for writes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use worktable_pages::{Guard, RECLAIM_EPOCHS, WriterUsage};

use super::{Table, shard_of};
use crate::combine::{Combiner, Health, panic_message};
use crate::ops::{VacuumOp, WriteOp};
use crate::persist::LogQueue;
use crate::shard::Shard;
use crate::store::Store;
use crate::vacuum::VacuumReport;
use crate::{TableConfig, TableSchema, WorkTableError};

/// Log bytes below which a vacuum never takes a checkpoint for the log's sake alone.
const MIN_LOG_BYTES: u64 = 1 << 20;

/// Rows a shard moves in one message: few, so that writes queued behind it wait little.
const MOVE_BATCH: usize = 64;

/// The most live bytes an automatic pass marks for moving, in percent of the table's.
/// A marked page takes no new version, so while a pass runs every write goes to fresh
/// pages. In a steady churn (10,000 rows updated to random sizes of 0-4,000 B), marking
/// every sparse page at once let the pages' bytes reach 1.94-1.97 times the live bytes
/// within 10,000,000 updates, and end at 1.21-1.66 (3 runs); marking the sparsest fifth,
/// 1.47-1.49 and 1.20-1.28, at the same cost per update. `vacuum()` marks every sparse
/// page.
const AUTO_MOVE_PERCENT: u64 = 20;

/// How long a pass waits for readers to leave retired versions, before it marks pages
/// and again before it reports pages still pending.
const SETTLE_FOR: Duration = Duration::from_millis(500);

/// Where [`Table::vacuum`] sends its request: the channel its report comes back on.
pub(super) type Request = flume::Sender<Result<VacuumReport, WorkTableError>>;

/// The table's side of its vacuum thread: dropping it ends the thread.
pub(super) struct VacuumThread {
    requests: flume::Sender<Request>,
}

/// What the vacuum thread works on: the table's parts, not the table, so that the last
/// handle's drop (which stops a durable table and releases its directory) always happens
/// where the user drops it.
struct Vacuum<S: TableSchema> {
    store: Arc<Store<S>>,
    shards: Arc<[Combiner<Shard<S>>]>,
    health: Arc<Health>,
    closed: Arc<AtomicBool>,
    /// The log queue of a durable table.
    log: Option<Arc<LogQueue>>,
    config: TableConfig,
}

impl<S: TableSchema> Table<S> {
    /// Starts the vacuum thread of this table, once every part of the handle is set.
    pub(super) fn start_vacuum(self) -> Result<Self, WorkTableError> {
        let (requests, inbox) = flume::unbounded();
        let inner = &self.inner;
        let vacuum = Vacuum {
            store: Arc::clone(&inner.store),
            shards: Arc::clone(&inner.shards),
            health: Arc::clone(&inner.health),
            closed: Arc::clone(&inner.closed),
            log: inner
                .durable
                .as_ref()
                .map(|durable| Arc::clone(&durable.queue)),
            config: inner.config.clone(),
        };
        std::thread::Builder::new()
            .name(format!("worktable-vacuum-{}", S::NAME))
            .spawn(move || vacuum.run(&inbox))
            .map_err(|error| {
                WorkTableError::Storage(format!("cannot start the vacuum thread: {error}"))
            })?;
        if self.inner.vacuum.set(VacuumThread { requests }).is_err() {
            unreachable!("a table starts its vacuum thread once, when it is made");
        }
        Ok(self)
    }

    /// Runs a vacuum pass now and returns what it did: rows of sparse pages are moved
    /// into denser ones, and pages left empty give their memory back (see
    /// [`VacuumConfig`](crate::config::VacuumConfig)). Readers and writers go on
    /// meanwhile; a moved row is the same row, so nobody sees a change, the change feed
    /// gets nothing and a durable table logs nothing. The pass runs on the table's
    /// vacuum thread, working at most `duty_percent` of the time; dropping this future
    /// does not stop it. Fails with `ShutDown` once the table is shut down.
    ///
    /// A durable table then takes a checkpoint if its directory has grown well past its
    /// rows: when the log since the newest checkpoint holds more than half the bytes of
    /// the live rows (and at least 1 MiB), or when the newest checkpoint holds more than
    /// one and a half times the rows the table holds now. The checkpoint replaces the
    /// older one and the log before it, so the directory comes back to about the live
    /// rows' encoded size; it is crash-safe like every checkpoint.
    ///
    /// Index nodes that a thread removed are freed by that thread when it next uses an
    /// index. So that a thread that deleted rows and then awaits this gets its memory
    /// back too, this frees what the awaiting thread retired, and hands the allocator's
    /// free memory to the system again, after the pass.
    pub async fn vacuum(&self) -> Result<VacuumReport, WorkTableError> {
        self.check_open()?;
        let stopped = || WorkTableError::ActorFailed {
            actor: "vacuum",
            reason: "the vacuum thread has stopped".into(),
        };
        let thread = self.inner.vacuum.get().ok_or_else(stopped)?;
        let (reply, report) = flume::bounded(1);
        thread.requests.send(reply).map_err(|_| stopped())?;
        let mut report = report.recv_async().await.map_err(|_| stopped())??;
        if report.pages_freed > 0 {
            // The pass freed the vacuum thread's garbage; the trim comes once, here.
            worktable_pages::release_thread_garbage();
            worktable_pages::release_free_memory();
        }
        let log = self.inner.durable.as_ref().map(|durable| &*durable.queue);
        if directory_is_bloated(&self.inner.store, log) {
            self.checkpoint().await?;
            report.checkpoint = true;
        }
        Ok(report)
    }
}

impl<S: TableSchema> Vacuum<S> {
    /// The vacuum thread: passes on request and, when the pages are sparse, on its own,
    /// until the table's last handle is gone.
    fn run(&self, requests: &flume::Receiver<Request>) {
        let every = self.config.vacuum.check_every;
        loop {
            let request = match requests.recv_timeout(every) {
                Ok(reply) => Some(reply),
                Err(flume::RecvTimeoutError::Timeout) => None,
                Err(flume::RecvTimeoutError::Disconnected) => return,
            };
            if request.is_none() && !self.config.vacuum.auto {
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| match &request {
                Some(_) => self.pass(u64::MAX).map(Some),
                None => self.auto_pass(),
            }));
            let outcome = outcome.unwrap_or_else(|panic| {
                let reason = panic_message(panic.as_ref());
                tracing::error!(table = S::NAME, %reason, "a vacuum pass panicked; the next one starts afresh");
                Err(WorkTableError::ActorFailed {
                    actor: "vacuum",
                    reason,
                })
            });
            match (request, outcome) {
                (Some(reply), outcome) => {
                    let _ = reply.send(outcome.map(Option::unwrap_or_default));
                }
                (None, Ok(Some(report))) => {
                    if report.pages_freed > 0 {
                        worktable_pages::release_free_memory();
                    }
                    // A pass asked for waits for its checkpoint in `Table::vacuum`; an
                    // automatic one only asks.
                    if self.directory_is_bloated() {
                        tracing::info!(table = S::NAME, "vacuum asks for a checkpoint");
                        self.ask_checkpoint();
                    }
                }
                (None, Err(error)) if !self.is_stopped() => {
                    tracing::warn!(table = S::NAME, %error, "an automatic vacuum pass failed");
                }
                (None, _) => {}
            }
        }
    }

    /// Whether the table takes no more writes.
    fn is_stopped(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.health.failure().is_some()
    }

    /// Whether a durable table's directory has grown well past its rows.
    fn directory_is_bloated(&self) -> bool {
        directory_is_bloated(&self.store, self.log.as_deref())
    }

    /// Asks a durable table's persistence actor for a checkpoint, without waiting.
    fn ask_checkpoint(&self) {
        if let Some(log) = self.log.as_ref() {
            let _ = log.ask_checkpoint();
        }
    }

    /// A pass if the pages are big and sparse enough (see `VacuumConfig`), throttled,
    /// that moves at most `AUTO_MOVE_PERCENT` of the live bytes.
    fn auto_pass(&self) -> Result<Option<VacuumReport>, WorkTableError> {
        if self.is_stopped() {
            return Ok(None);
        }
        let vacuum = &self.config.vacuum;
        let usage = self.settle_reclaimed()?;
        let page_bytes = usage.pages as u64 * u64::from(self.config.page_size);
        let sparse = usage.live_bytes * 100 < u64::from(vacuum.trigger_percent) * page_bytes;
        if page_bytes < vacuum.min_page_bytes as u64 || !sparse {
            return Ok(None);
        }
        let budget = usage.live_bytes * AUTO_MOVE_PERCENT / 100 / self.shards.len() as u64;
        self.pass(budget.max(u64::from(self.config.page_size)))
            .map(Some)
    }

    /// One pass, marking in each shard its sparsest pages, as long as their live bytes
    /// add up to at most `budget`. It sleeps between batches of moves so that it works at
    /// most `duty_percent` of the time.
    fn pass(&self, budget: u64) -> Result<VacuumReport, WorkTableError> {
        let duty = self.config.vacuum.duty_percent;
        let started = Instant::now();
        let span = tracing::debug_span!("vacuum", table = S::NAME);
        let _entered = span.enter();
        let share = f64::from(self.config.vacuum.page_fill_percent.min(100)) / 100.0;
        // Pages that emptied go back as soon as their slots are taken back, here too.
        let before = total(&self.ask_all(|reply| VacuumOp::Usage { reply })?);
        self.settle_reclaimed()?;
        let marked = total(&self.ask_all(|reply| VacuumOp::Evacuate {
            share,
            budget,
            reply,
        })?);
        let (mut rows_moved, mut bytes_moved) = (0, 0);
        if marked.evacuating > 0 {
            let keys = self.store.rows.keys_to_move();
            let mut by_shard: Vec<Vec<S::Pk>> = vec![Vec::new(); self.shards.len()];
            for pk in keys {
                by_shard[shard_of(&pk, self.shards.len())].push(pk);
            }
            for (shard, keys) in by_shard.into_iter().enumerate() {
                let mut keys = keys.into_iter().peekable();
                while keys.peek().is_some() {
                    let batch_started = Instant::now();
                    let pks: Vec<S::Pk> = keys.by_ref().take(MOVE_BATCH).collect();
                    let (rows, bytes) = self.ask(shard, |reply| VacuumOp::Move { pks, reply })?;
                    rows_moved += rows;
                    bytes_moved += bytes;
                    throttle(batch_started.elapsed(), duty);
                }
            }
        }
        let after = self.settle_pages()?;
        let report = VacuumReport {
            pages_freed: after.released.saturating_sub(before.released),
            rows_moved,
            bytes_moved,
            pages: after.pages,
            live_bytes: after.live_bytes,
            pages_pending: after.evacuating,
            checkpoint: false,
            elapsed: started.elapsed(),
        };
        if report.pages_freed > 0 {
            // Memory goes back to the system once per pass, by whoever asked for it
            // (`Table::vacuum`, or `run` for an automatic pass), after this.
            worktable_pages::release_thread_garbage();
        }
        // A pass that found nothing to do is no news.
        if report.pages_freed > 0 || report.rows_moved > 0 {
            tracing::info!(
                table = S::NAME,
                pages_freed = report.pages_freed,
                rows_moved = report.rows_moved,
                bytes_moved = report.bytes_moved,
                pages = report.pages,
                live_bytes = report.live_bytes,
                pages_pending = report.pages_pending,
                elapsed_ms = report.elapsed.as_millis() as u64,
                "vacuum pass"
            );
        }
        Ok(report)
    }

    /// Takes back the slots of versions retired before now (deleted and replaced rows),
    /// pushing the epoch on until the readers that could hold them are gone, so that
    /// pages are judged by what they really hold. Slots retired meanwhile may still be
    /// waiting when this returns; it waits `SETTLE_FOR` at most.
    fn settle_reclaimed(&self) -> Result<WriterUsage, WorkTableError> {
        let deadline = Instant::now() + SETTLE_FOR;
        let mut usage = total(&self.ask_all(|reply| VacuumOp::Collect { reply })?);
        let mut moves = 0;
        // Epoch moves after which every slot retired before the first one is free (one
        // more than a generation: the first reading may lag).
        let mut round = 0;
        while usage.retired > 0 && moves <= RECLAIM_EPOCHS && Instant::now() < deadline {
            if push_epoch(round) {
                moves += 1;
            }
            round += 1;
            usage = total(&self.ask_all(|reply| VacuumOp::Collect { reply })?);
        }
        Ok(usage)
    }

    /// Waits, a while at most, for the readers that could hold the moved originals to
    /// leave, taking slots back meanwhile, until no page is left being emptied.
    fn settle_pages(&self) -> Result<WriterUsage, WorkTableError> {
        let deadline = Instant::now() + SETTLE_FOR;
        let mut round = 0;
        loop {
            let _ = push_epoch(round);
            round += 1;
            let usage = total(&self.ask_all(|reply| VacuumOp::Collect { reply })?);
            if usage.evacuating == 0 || Instant::now() >= deadline {
                return Ok(usage);
            }
        }
    }

    /// Sends the step `op` makes to every shard and waits for their answers.
    fn ask_all<T>(
        &self,
        op: impl Fn(flume::Sender<T>) -> VacuumOp<S>,
    ) -> Result<Vec<T>, WorkTableError> {
        (0..self.shards.len())
            .map(|shard| self.ask(shard, &op))
            .collect()
    }

    /// Sends the step `op` makes to shard `shard` and waits for its answer. The shard
    /// runs it on this thread if it is idle, or in the batch of the thread running it.
    fn ask<T>(
        &self,
        shard: usize,
        op: impl FnOnce(flume::Sender<T>) -> VacuumOp<S>,
    ) -> Result<T, WorkTableError> {
        if self.is_stopped() {
            return Err(self.stopped_error());
        }
        let actor = self.shards.get(shard).ok_or_else(|| {
            WorkTableError::Storage(format!("no shard {shard}: the vacuum asked past the count"))
        })?;
        let (reply, answer) = flume::bounded(1);
        // Run here, not left to whichever writer runs the shard: a pass's work stays on
        // the vacuum thread, and writes queued meanwhile are handled here too.
        actor
            .submit_and_run(WriteOp::Vacuum(op(reply)))
            .map_err(|_| self.stopped_error())?;
        // A shard that stops or fails drops the step, and with it the reply.
        answer.recv().map_err(|_| self.stopped_error())
    }

    /// Why the table takes no more work: its failure, or its shutdown.
    fn stopped_error(&self) -> WorkTableError {
        self.health
            .failure()
            .cloned()
            .unwrap_or(WorkTableError::ShutDown)
    }
}

/// Whether a durable table (one with a `log`) has a directory grown well past its rows;
/// the rule is in [`Table::vacuum`]'s docs.
fn directory_is_bloated<S: TableSchema>(store: &Store<S>, log: Option<&LogQueue>) -> bool {
    let Some(log) = log else {
        return false;
    };
    let (log_bytes, checkpoint_rows) = log.disk();
    let rows = store.rows.len() as u64;
    let live_bytes = store.rows.stats().live_bytes as u64;
    log_bytes > (live_bytes / 2).max(MIN_LOG_BYTES) || checkpoint_rows > rows + rows / 2
}

/// Asks the epoch to move on (it does once no reader is pinned in the current one), and
/// gives readers a moment to leave, longer from one `round` to the next (100 µs to
/// 6.4 ms); whether it moved.
fn push_epoch(round: u32) -> bool {
    let guard = Guard::new();
    let before = guard.epoch();
    guard.accelerate();
    drop(guard);
    std::thread::sleep(Duration::from_micros(100 << round.min(6)));
    Guard::new().epoch() != before
}

/// The usage of every shard's pages, added up.
fn total(usages: &[WriterUsage]) -> WriterUsage {
    usages
        .iter()
        .fold(WriterUsage::default(), |sum, usage| WriterUsage {
            pages: sum.pages + usage.pages,
            live_bytes: sum.live_bytes + usage.live_bytes,
            evacuating: sum.evacuating + usage.evacuating,
            released: sum.released + usage.released,
            retired: sum.retired + usage.retired,
        })
}

/// Sleeps so that work taking `worked` is `duty` percent of the time; not at all for
/// 100 (or 0, which is taken as 100).
fn throttle(worked: Duration, duty: u8) {
    if (1..100).contains(&duty) {
        let idle = worked.mul_f64(f64::from(100 - duty) / f64::from(duty));
        std::thread::sleep(idle);
    }
}
