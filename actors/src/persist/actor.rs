//! The persistence actor: it takes what the commit point queued, appends it to the log
//! one frame per commit group, syncs once per round (group commit: every writer whose
//! operation was queued when the round began shares the sync), publishes the durable
//! sequence number, and takes checkpoints.
//!
//! It runs on a thread of its own, under a supervisor loop on that thread: a panic is
//! logged, the directory is reopened (recovery cuts any torn tail) and a new actor goes on
//! with what the old one had taken and not yet appended. Records at or below the reopened
//! log's last sequence number are already on disk and are skipped. After a restart the
//! first sync is a real `fdatasync` even if nothing new was appended, since the old
//! handle's appends may be only in the OS cache.
//!
//! A checkpoint scans the table on a second thread, so writers never wait for it (DESIGN
//! §5): the actor notes the last committed sequence number S, starts the scan, keeps
//! logging, and when the scan is done notes the last committed sequence number E, makes
//! the log durable through E and completes the checkpoint.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;

use worktable_persistence::{CheckpointWriter, Dir, PersistError};

use super::PersistFailure;
use super::queue::{LogBatch, LogQueue, Requests};
use crate::WorkTableError;
use crate::combine::{Health, panic_message};

/// What a checkpoint reads from the table.
pub(crate) trait Source: Send + Sync + 'static {
    /// The sequence number of the last committed operation, read when no commit is in
    /// progress, so every operation up to it is in the log queue.
    fn quiescent_seq(&self) -> u64;
    /// Pushes every live row into `writer`, in primary-key order.
    fn scan(&self, writer: &mut CheckpointWriter) -> Result<(), PersistError>;
}

/// Opens the table's directory again, after a panic.
pub(crate) type Reopen = Box<dyn Fn() -> Result<Dir, PersistError> + Send>;

/// How many panics the supervisor restarts the actor after before it gives up and fails
/// the table.
const MAX_RESTARTS: u32 = 8;

/// Everything the persistence actor needs; [`Persister::start`] runs it.
pub(crate) struct Persister {
    pub(crate) table: &'static str,
    pub(crate) queue: Arc<LogQueue>,
    pub(crate) source: Arc<dyn Source>,
    pub(crate) health: Arc<Health>,
    pub(crate) reopen: Reopen,
    /// Log bytes after which a checkpoint is taken.
    pub(crate) checkpoint_log_bytes: u64,
}

/// A checkpoint whose scan runs on its own thread.
struct Scan {
    /// The scanned writer comes back here.
    done: mpsc::Receiver<Result<CheckpointWriter, ScanFailed>>,
    /// Checkpoint requests this checkpoint answers.
    answers: u64,
}

/// The actor's state that survives a restart.
#[derive(Default)]
struct Carried {
    /// Records taken from the queue and not yet appended.
    pending: LogBatch,
    /// Requests taken and not yet answered.
    requests: Requests,
    /// Log bytes appended since the last checkpoint (estimated from record sizes).
    log_bytes: u64,
    /// Checkpoint requests taken so far.
    asked: u64,
}

impl Persister {
    /// Starts the actor on its own thread with the recovered directory `dir`.
    pub(crate) fn start(self, dir: Dir) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("worktable-persist-{}", self.table))
            .spawn(move || self.supervise(dir))
    }

    /// Runs the actor, restarting it after a panic, until it stops or fails. A panic
    /// while reopening the directory for a restart counts as one more panic.
    fn supervise(self, dir: Dir) {
        let mut dir = Some(dir);
        let mut carried = Carried::default();
        let mut restarts = 0u32;
        let outcome = loop {
            let life = catch_unwind(AssertUnwindSafe(|| {
                let current = match dir.as_mut() {
                    Some(current) => current,
                    None => dir.insert((self.reopen)()?),
                };
                let mut actor = Actor {
                    persister: &self,
                    dir: current,
                    carried: &mut carried,
                    scan: None,
                    force_sync: restarts > 0,
                };
                actor.run()
            }));
            match life {
                Ok(outcome) => break outcome,
                Err(panic) => {
                    restarts += 1;
                    let reason = panic_message(panic.as_ref());
                    tracing::error!(table = self.table, %reason, restarts, "the persistence actor panicked; restarting it");
                    if restarts > MAX_RESTARTS {
                        break Err(PersistError::PreviousError {
                            first: format!(
                                "the persistence actor panicked {restarts} times: {reason}"
                            ),
                        });
                    }
                    // The old handle's state is unknown: drop it (releasing the lock); the
                    // next life recovers the directory from what is really there.
                    drop_quietly(self.table, dir.take());
                }
            }
        };
        drop_quietly(self.table, dir.take());
        if let Err(error) = outcome {
            let failure = PersistFailure::from(error);
            tracing::error!(table = self.table, error = %failure, "persistence failed; the table takes no more writes");
            self.health.fail(WorkTableError::Persist(failure.clone()));
            self.queue.report(|durable| durable.failure = Some(failure));
        }
        self.queue.report(|durable| durable.stopped = true);
        self.queue.release_writers();
    }
}

/// Drops a directory handle whose drop may reach a storage that panics: its unwritten
/// frames are lost like any unsynced write, and the thread goes on.
fn drop_quietly(table: &'static str, dir: Option<Dir>) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(dir))) {
        let reason = panic_message(panic.as_ref());
        tracing::error!(table, %reason, "closing the directory handle panicked");
    }
}

/// How a checkpoint scan ended, if not with its writer.
enum ScanFailed {
    Error(PersistError),
    Panic(String),
}

/// One life of the actor, between restarts.
struct Actor<'a> {
    persister: &'a Persister,
    dir: &'a mut Dir,
    carried: &'a mut Carried,
    scan: Option<Scan>,
    /// Sync even if nothing is appended (first round after a restart).
    force_sync: bool,
}

impl Actor<'_> {
    /// Rounds until asked to stop, or an I/O error.
    fn run(&mut self) -> Result<(), PersistError> {
        let queue = Arc::clone(&self.persister.queue);
        let mut taken = LogBatch::default();
        // Whether a checkpoint completed after the stop was asked for.
        let mut stop_checkpointed = false;
        if self.force_sync {
            // A restart: what the old actor appended, and what it had taken, is made
            // durable and reported before waiting for anything new.
            self.log_round()?;
        }
        loop {
            // Wait for work unless a carried request (from before a restart, say) needs
            // acting on now.
            let requests = if self.carried.pending.is_empty() && !self.must_act() {
                queue.take(&mut taken)
            } else {
                queue.try_take(&mut taken)
            };
            self.merge(requests);
            self.carried.pending.take_all_from(&mut taken);
            self.log_round()?;
            let stopping = self.carried.requests.stop;
            if std::mem::take(&mut self.carried.requests.scanned) {
                self.finish_checkpoint()?;
                stop_checkpointed |= stopping.is_some();
            }
            let wants_checkpoint = self.carried.requests.checkpoint
                || self.carried.log_bytes >= self.persister.checkpoint_log_bytes
                || (stopping == Some(true) && !stop_checkpointed);
            if wants_checkpoint && self.scan.is_none() {
                self.carried.requests.checkpoint = false;
                self.begin_checkpoint()?;
            }
            let Some(with_checkpoint) = stopping else {
                continue;
            };
            if with_checkpoint && self.scan.is_some() {
                continue;
            }
            // A stop without a checkpoint gives a running scan up: it is waited for, so
            // no thread of this table touches the directory once its lock is released,
            // and its temporary file is removed.
            if let Some(Ok(Ok(writer))) = self.scan.take().map(|scan| scan.done.recv()) {
                writer.abort()?;
            }
            // The commit point has stopped: log what it left, and end.
            let requests = queue.try_take(&mut taken);
            self.merge(requests);
            self.carried.pending.take_all_from(&mut taken);
            self.log_round()?;
            return Ok(());
        }
    }

    /// Whether the requests held need handling before waiting for more work.
    fn must_act(&self) -> bool {
        let held = &self.carried.requests;
        let scanning = self.scan.is_some();
        held.flush
            || held.scanned
            || (held.checkpoint && !scanning)
            || match held.stop {
                None => false,
                // A stop that checkpoints waits for a running scan to end.
                Some(checkpoint) => !(checkpoint && scanning),
            }
    }

    fn merge(&mut self, requests: Requests) {
        let held = &mut self.carried.requests;
        held.flush |= requests.flush;
        held.checkpoint |= requests.checkpoint;
        held.scanned |= requests.scanned;
        if requests.stop.is_some() {
            held.stop = requests.stop;
        }
        if requests.checkpoint {
            self.carried.asked = self.persister.queue.checkpoints_asked();
        }
    }

    /// Appends what is pending and syncs: one sync for everything taken.
    fn log_round(&mut self) -> Result<(), PersistError> {
        let last = self.dir.last_seq();
        let mut bytes = 0u64;
        let dir = &mut *self.dir;
        self.carried
            .pending
            .for_each_group(|records| -> Result<(), PersistError> {
                match records.first() {
                    // Appended by the actor before a restart.
                    Some(first) if first.seq <= last => Ok(()),
                    Some(_) => {
                        bytes += records
                            .iter()
                            .map(|r| (r.pk.len() + r.row.map_or(0, <[u8]>::len) + 16) as u64)
                            .sum::<u64>();
                        dir.append_group(records)
                    }
                    None => Ok(()),
                }
            })?;
        let durable = if std::mem::take(&mut self.force_sync) {
            self.dir.sync_all()?
        } else {
            self.dir.sync()?
        };
        // Kept until the sync returned: an actor restarted after a panic in the sync
        // appends whatever of it the reopened log does not hold.
        self.carried.pending.clear();
        self.carried.log_bytes += bytes;
        self.carried.requests.flush = false;
        let log_bytes = self.carried.log_bytes;
        self.persister.queue.report(|state| {
            state.seq = durable;
            state.log_bytes = log_bytes;
        });
        Ok(())
    }

    /// Notes S and starts scanning the table on a thread of its own.
    fn begin_checkpoint(&mut self) -> Result<(), PersistError> {
        let seq = self.persister.source.quiescent_seq();
        let mut writer = self.dir.begin_checkpoint(seq)?;
        let source = Arc::clone(&self.persister.source);
        let queue = Arc::clone(&self.persister.queue);
        let (done, scanned) = mpsc::channel();
        let scan = move || {
            let outcome = match catch_unwind(AssertUnwindSafe(|| source.scan(&mut writer))) {
                Ok(Ok(())) => Ok(writer),
                Ok(Err(error)) => Err(ScanFailed::Error(error)),
                Err(panic) => Err(ScanFailed::Panic(panic_message(panic.as_ref()))),
            };
            let _ = done.send(outcome);
            queue.request(|requests| requests.scanned = true);
        };
        std::thread::Builder::new()
            .name(format!("worktable-checkpoint-{}", self.persister.table))
            .spawn(scan)
            .map_err(|source| PersistError::Io {
                op: "spawn checkpoint thread",
                file: String::new(),
                source,
            })?;
        tracing::debug!(table = self.persister.table, seq, "checkpoint started");
        self.scan = Some(Scan {
            done: scanned,
            answers: self.carried.asked,
        });
        self.carried.log_bytes = 0;
        Ok(())
    }

    /// Completes the checkpoint whose scan has ended: the log is made durable through E,
    /// the last operation the scan may have seen, then the checkpoint is put in place.
    fn finish_checkpoint(&mut self) -> Result<(), PersistError> {
        let Some(scan) = self.scan.take() else {
            return Ok(());
        };
        let writer = match scan.done.recv() {
            Ok(Ok(writer)) => writer,
            Ok(Err(ScanFailed::Error(error))) => return Err(error),
            Ok(Err(ScanFailed::Panic(reason))) => {
                // Handled like a panic of the actor itself: it is restarted, and the
                // checkpoint taken again for whoever asked for it.
                self.carried.requests.checkpoint = true;
                std::panic::resume_unwind(Box::new(format!(
                    "the checkpoint scan panicked: {reason}"
                )));
            }
            Err(_) => {
                return Err(PersistError::PreviousError {
                    first: "the checkpoint scan ended without a result".into(),
                });
            }
        };
        let end = self.persister.source.quiescent_seq();
        // Every operation up to `end` is queued: append it before completing.
        while self.dir.last_seq() < end {
            let mut taken = LogBatch::default();
            let requests = self.persister.queue.try_take(&mut taken);
            self.merge(requests);
            if taken.is_empty() && self.carried.pending.is_empty() {
                break;
            }
            self.carried.pending.take_all_from(&mut taken);
            self.log_round()?;
        }
        let rows = writer.rows();
        self.dir.finish_checkpoint(writer, end)?;
        let log_bytes = self.carried.log_bytes;
        self.persister.queue.report(|state| {
            state.checkpoint_rows = rows;
            state.log_bytes = log_bytes;
            state.checkpoints += 1;
            state.checkpoints_answered = state.checkpoints_answered.max(scan.answers);
        });
        Ok(())
    }
}
