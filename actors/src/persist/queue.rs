//! The lossless queue from the commit point to the persistence actor, and the durable
//! sequence number it publishes back.
//!
//! The commit point encodes each committed operation as a record (sequence number, kind,
//! the key's bytes and the row's bytes: those the shard wrote into its page) and hands
//! every message's records over as one *group*, before it answers the message's callers.
//! So when a caller has its answer, its operation is queued; a multi-row commit is one
//! group, which the log writes as one frame. Nothing is ever dropped: when the queue holds
//! more than its limit, new writes wait (in [`LogQueue::wait_for_space`], before they are
//! submitted) until the persistence actor has taken what is queued.
//!
//! With `Durability::Sync` the actor starts a round as soon as anything is queued: writers
//! wait for it. With `Durability::Buffered` nobody waits, so rounds are paced (see
//! [`Pace`]): a round per sync would cost the writers a wake-up of the actor and the
//! sync's interference (interrupts, the kernel's writeback threads) every hundred
//! microseconds or so; measured, that made Buffered inserts 0.64× a memory-only table's
//! from one task, and paced rounds 2 ms apart 0.9×.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use worktable_persistence::{OperationKind, Record};

use super::PersistFailure;
use crate::WorkTableError;

/// Records in encoded form, in one buffer, cut into commit groups.
#[derive(Default)]
pub(crate) struct LogBatch {
    bytes: Vec<u8>,
    records: Vec<RecordAt>,
    /// The end (exclusive) of every group in `records`.
    group_ends: Vec<usize>,
}

/// One record of a [`LogBatch`]: where its key and row are in the batch's bytes.
struct RecordAt {
    seq: u64,
    kind: OperationKind,
    pk: Range<usize>,
    row: Option<Range<usize>>,
}

impl LogBatch {
    /// Adds a record to the group being built.
    pub(crate) fn push(&mut self, seq: u64, kind: OperationKind, pk: &[u8], row: Option<&[u8]>) {
        let pk = self.append(pk);
        let row = row.map(|row| self.append(row));
        self.records.push(RecordAt { seq, kind, pk, row });
    }

    fn append(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        start..self.bytes.len()
    }

    /// Ends the group being built, if it has records.
    fn seal(&mut self) {
        if self.group_ends.last().copied().unwrap_or(0) < self.records.len() {
            self.group_ends.push(self.records.len());
        }
    }

    /// Whether no record is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The encoded size held, in bytes.
    fn len_bytes(&self) -> usize {
        self.bytes.len() + self.records.len() * std::mem::size_of::<RecordAt>()
    }

    /// The sequence number of the last record held.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.records.last().map(|record| record.seq)
    }

    /// Appends every sealed group of `other` to this batch, leaving `other` empty.
    pub(crate) fn take_all_from(&mut self, other: &mut LogBatch) {
        let base_bytes = self.bytes.len();
        let base_records = self.records.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.records
            .extend(other.records.drain(..).map(|record| RecordAt {
                pk: shift(&record.pk, base_bytes),
                row: record.row.as_ref().map(|row| shift(row, base_bytes)),
                ..record
            }));
        self.group_ends
            .extend(other.group_ends.drain(..).map(|end| end + base_records));
        other.bytes.clear();
    }

    /// Empties the batch, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.group_ends.clear();
    }

    /// Calls `f` with the records of every group, in order.
    pub(crate) fn for_each_group<E>(
        &self,
        mut f: impl FnMut(&[Record<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut records = Vec::new();
        let mut start = 0;
        for &end in &self.group_ends {
            records.clear();
            for record in self.records.get(start..end).unwrap_or_default() {
                records.push(Record {
                    seq: record.seq,
                    kind: record.kind,
                    pk: self.bytes.get(record.pk.clone()).unwrap_or_default(),
                    row: record
                        .row
                        .as_ref()
                        .map(|row| self.bytes.get(row.clone()).unwrap_or_default()),
                });
            }
            f(&records)?;
            start = end;
        }
        Ok(())
    }
}

fn shift(range: &Range<usize>, by: usize) -> Range<usize> {
    range.start + by..range.end + by
}

/// What the persistence actor is asked to do besides logging.
#[derive(Default)]
pub(crate) struct Requests {
    /// A `flush` waits: sync now, even with nothing new to append.
    pub(crate) flush: bool,
    /// `checkpoint()` was called.
    pub(crate) checkpoint: bool,
    /// The checkpoint scan has ended.
    pub(crate) scanned: bool,
    /// Stop once everything queued is durable; take a checkpoint first if `true`.
    pub(crate) stop: Option<bool>,
}

impl Requests {
    fn any(&self) -> bool {
        self.flush || self.checkpoint || self.scanned || self.stop.is_some()
    }
}

struct QueueState {
    batch: LogBatch,
    requests: Requests,
    /// When the batch last went from empty to holding records.
    since: Option<Instant>,
}

/// How a [`Durability::Buffered`](super::Durability::Buffered) table's rounds are paced:
/// the actor lets records gather for up to `interval` after the first one arrives, or
/// until `round_bytes` are held, so that a round (a write and a sync) serves many writes.
#[derive(Debug, Clone, Copy)]
struct Pace {
    interval: Duration,
    round_bytes: usize,
}

/// Bytes held that start a paced round at once (at most half the queue's limit).
const ROUND_BYTES: usize = 256 << 10;

/// The queue; see the module docs.
pub(crate) struct LogQueue {
    state: Mutex<QueueState>,
    /// Wakes the persistence actor.
    work: Condvar,
    /// Wakes writers waiting for space.
    space: tokio::sync::Notify,
    /// Above this many queued bytes, new writes wait.
    limit: usize,
    /// `None`: a round starts as soon as a record is queued (Sync).
    pace: Option<Pace>,
    /// The sequence number of the last record queued.
    queued: AtomicU64,
    /// The bytes the queue holds (see [`LogBatch::len_bytes`]), kept beside it so that
    /// writers check the limit without the lock.
    held: AtomicUsize,
    /// `checkpoint()` calls so far: each waits until a checkpoint begun after its call
    /// has completed (see [`Durable::checkpoints_answered`]).
    asked: AtomicU64,
    /// Everything the actor reports back.
    durable: tokio::sync::watch::Sender<Durable>,
}

/// What the persistence actor has made durable, or why it stopped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durable {
    /// Every operation up to this sequence number is durable.
    pub(crate) seq: u64,
    /// How many checkpoints have been completed since the table was opened.
    pub(crate) checkpoints: u64,
    /// Every `checkpoint()` call up to this number has been answered by a checkpoint
    /// begun after it.
    pub(crate) checkpoints_answered: u64,
    /// The sticky failure: nothing more becomes durable.
    pub(crate) failure: Option<PersistFailure>,
    /// The actor has stopped (after a shutdown, or a failure).
    pub(crate) stopped: bool,
    /// Bytes logged since the newest checkpoint began (estimated from the records).
    pub(crate) log_bytes: u64,
    /// Rows in the newest checkpoint.
    pub(crate) checkpoint_rows: u64,
}

impl LogQueue {
    /// An empty queue after `recovered`, the last sequence number on disk, holding up to
    /// about `limit` bytes; with `buffered_interval` (a Buffered table), its rounds are
    /// paced (see [`Pace`]).
    pub(crate) fn new(
        recovered: u64,
        limit: usize,
        buffered_interval: Option<Duration>,
    ) -> LogQueue {
        let limit = limit.max(1);
        let pace = buffered_interval.map(|interval| Pace {
            interval,
            round_bytes: ROUND_BYTES.min(limit / 2).max(1),
        });
        let (durable, _) = tokio::sync::watch::channel(Durable {
            seq: recovered,
            ..Durable::default()
        });
        LogQueue {
            state: Mutex::new(QueueState {
                batch: LogBatch::default(),
                requests: Requests::default(),
                since: None,
            }),
            work: Condvar::new(),
            space: tokio::sync::Notify::new(),
            limit,
            pace,
            queued: AtomicU64::new(recovered),
            held: AtomicUsize::new(0),
            asked: AtomicU64::new(0),
            durable,
        }
    }

    /// Hands every record of `group` over as one commit group (the commit point, before
    /// it answers the group's callers), leaving `group` empty.
    pub(crate) fn push_group(&self, group: &mut LogBatch) {
        let Some(last) = group.last_seq() else {
            return;
        };
        group.seal();
        let mut state = self.state.lock();
        let was_empty = state.batch.is_empty();
        let held_before = state.batch.len_bytes();
        state.batch.take_all_from(group);
        let held = state.batch.len_bytes();
        if was_empty {
            state.since = self.pace.map(|_| Instant::now());
        }
        self.queued.store(last, Ordering::Release);
        self.held.store(held, Ordering::Release);
        drop(state);
        // A paced actor is woken by the first record of a round and by the record that
        // fills it; in between it sleeps until its deadline, and writers skip the wake-up.
        let wake = match self.pace {
            None => true,
            Some(pace) => was_empty || (held_before < pace.round_bytes && held >= pace.round_bytes),
        };
        if wake {
            self.work.notify_one();
        }
    }

    /// The sequence number of the last record queued: every operation whose write has
    /// been answered is at or below it.
    pub(crate) fn queued_seq(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    fn is_full(&self) -> bool {
        self.held.load(Ordering::Acquire) >= self.limit
    }

    /// Waits while the queue holds more than its limit (the disk is behind), or until the
    /// actor has stopped. A queue with room costs one atomic load: writers do not meet
    /// on a lock here.
    pub(crate) async fn wait_for_space(&self) {
        if !self.is_full() {
            return;
        }
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_full() || self.durable.borrow().stopped {
                return;
            }
            notified.await;
        }
    }

    /// Counts a `checkpoint()` call and asks the actor for a checkpoint; the call's
    /// number, which [`Durable::checkpoints_answered`] reaches when it is done.
    pub(crate) fn ask_checkpoint(&self) -> u64 {
        let ticket = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        self.request(|requests| requests.checkpoint = true);
        ticket
    }

    /// The number of `checkpoint()` calls so far.
    pub(crate) fn checkpoints_asked(&self) -> u64 {
        self.asked.load(Ordering::Acquire)
    }

    /// Asks the actor for something and wakes it.
    pub(crate) fn request(&self, ask: impl FnOnce(&mut Requests)) {
        ask(&mut self.state.lock().requests);
        self.work.notify_one();
    }

    /// A receiver of what the actor reports.
    pub(crate) fn watch(&self) -> tokio::sync::watch::Receiver<Durable> {
        self.durable.subscribe()
    }

    /// The sequence number the actor last reported durable.
    pub(crate) fn durable_seq(&self) -> u64 {
        self.durable.borrow().seq
    }

    /// Bytes logged since the newest checkpoint began, and the rows that checkpoint holds.
    pub(crate) fn disk(&self) -> (u64, u64) {
        let state = self.durable.borrow();
        (state.log_bytes, state.checkpoint_rows)
    }

    /// Waits until the actor reports a state `done` accepts; fails with the actor's
    /// failure, or `ShutDown`, if it fails or stops first.
    pub(crate) async fn wait_until(
        &self,
        done: impl Fn(&Durable) -> bool,
    ) -> Result<(), WorkTableError> {
        let mut watch = self.watch();
        let state = watch
            .wait_for(|state| done(state) || state.failure.is_some() || state.stopped)
            .await
            .map(|state| state.clone())
            .map_err(|_| WorkTableError::ShutDown)?;
        if done(&state) {
            return Ok(());
        }
        Err(state
            .failure
            .map_or(WorkTableError::ShutDown, WorkTableError::Persist))
    }

    /// Reports progress (the actor).
    pub(crate) fn report(&self, change: impl FnOnce(&mut Durable)) {
        self.durable.send_modify(change);
    }

    /// Waits until there are records or requests (the actor), then swaps the queued
    /// records into `into` (which must be empty) and takes the requests.
    pub(crate) fn take(&self, into: &mut LogBatch) -> Requests {
        self.take_when(into, true)
    }

    /// Like [`Self::take`] but returns at once, possibly with nothing.
    pub(crate) fn try_take(&self, into: &mut LogBatch) -> Requests {
        self.take_when(into, false)
    }

    fn take_when(&self, into: &mut LogBatch, wait: bool) -> Requests {
        let mut state = self.state.lock();
        while wait && !state.requests.any() {
            if state.batch.is_empty() {
                self.work.wait(&mut state);
                continue;
            }
            let (Some(pace), Some(since)) = (self.pace, state.since) else {
                break;
            };
            if state.batch.len_bytes() >= pace.round_bytes {
                break;
            }
            // An interval too long to add (`Duration::MAX`) means no deadline: only a full
            // round or a request starts one.
            match since.checked_add(pace.interval) {
                Some(deadline) => {
                    if self.work.wait_until(&mut state, deadline).timed_out() {
                        break;
                    }
                }
                None => self.work.wait(&mut state),
            }
        }
        std::mem::swap(&mut state.batch, into);
        self.held.store(state.batch.len_bytes(), Ordering::Release);
        let requests = std::mem::take(&mut state.requests);
        drop(state);
        self.space.notify_waiters();
        requests
    }

    /// Wakes every writer waiting for space (the actor stopped).
    pub(crate) fn release_writers(&self) {
        self.space.notify_waiters();
    }
}
