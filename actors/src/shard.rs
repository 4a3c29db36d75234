//! A page-shard actor: the only writer of its pages, and the place where every write to
//! a row whose key hashes here is ordered.
//!
//! It handles a batch of writes in order: whole rows are encoded and written into free
//! slots; changes of a row (`Modify`, conditional deletes, rows of multi-row updates)
//! are computed from the row's committed version. Batches go to the commit point without
//! waiting; the shard remembers which batch last wrote each row, and before it reads a
//! row still in flight it sends what it holds and waits until that batch is applied
//! (see `progress.rs`), so every change is computed from the version it follows.
//!
//! A row prepared for a multi-row update is reserved until the update releases it:
//! writes to it wait in the shard, in order, so the update commits the versions it
//! computed from. Multi-row updates of a table run one at a time, so reservations never
//! wait for each other.

use std::collections::VecDeque;

use foldhash::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use kameo::Actor;
use kameo::actor::{ActorRef, WeakActorRef};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tracing::Instrument;
use worktable_pages::{Guard, Link, PageWriter};

use crate::ops::{
    BatchPart, Commit, CommitMsg, DeleteOp, ModifyOp, PrepareOp, Prepared, StageOutcome, Staged,
    WriteOp,
};
use crate::progress::Progress;
use crate::pump::{Pump, next_signal};
use crate::store::Store;
use crate::{TableSchema, WorkTableError};

/// Writes the row versions of the keys that hash to it.
pub(crate) struct ShardActor<S: TableSchema> {
    pub(crate) id: u16,
    pub(crate) store: Arc<Store<S>>,
    pub(crate) writer: PageWriter<S::Row>,
    pub(crate) ops: UnboundedReceiver<WriteOp<S>>,
    pub(crate) batch: Vec<WriteOp<S>>,
    pub(crate) commit: UnboundedSender<CommitMsg<S>>,
    /// The number of the last batch sent to the commit point.
    pub(crate) sent: u64,
    /// For rows written by batches perhaps not yet applied: the last such batch.
    pub(crate) in_flight: HashMap<S::Pk, u64>,
    /// Rows reserved by a multi-row update, with the writes waiting for them.
    pub(crate) reserved: HashMap<S::Pk, VecDeque<WriteOp<S>>>,
}

impl<S: TableSchema> Actor for ShardActor<S> {
    type Args = Self;
    type Error = Infallible;

    fn name() -> &'static str {
        "worktable::shard"
    }

    async fn on_start(args: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        tracing::debug!(table = S::NAME, shard = args.id, "shard started");
        Ok(args)
    }

    async fn next(
        &mut self,
        _: WeakActorRef<Self>,
        mailbox: &mut MailboxReceiver<Self>,
    ) -> Result<Option<Signal<Self>>, Infallible> {
        next_signal(self, mailbox).await
    }
}

/// Writes staged for the next batch.
struct Unsent<S: TableSchema> {
    commits: Vec<Commit<S>>,
}

/// Rows remembered as in flight before the shard prunes the applied ones.
const IN_FLIGHT_PRUNE: usize = 4_096;

impl<S: TableSchema> Pump for ShardActor<S> {
    type Item = WriteOp<S>;

    fn queue(&mut self) -> (&mut UnboundedReceiver<WriteOp<S>>, &mut Vec<WriteOp<S>>) {
        (&mut self.ops, &mut self.batch)
    }

    async fn handle(&mut self, batch: &mut Vec<WriteOp<S>>) {
        let span = tracing::debug_span!(
            "shard_batch",
            table = S::NAME,
            shard = self.id,
            ops = batch.len()
        );
        let work: VecDeque<WriteOp<S>> = batch.drain(..).collect();
        self.handle_batch(work).instrument(span).await;
    }
}

impl<S: TableSchema> ShardActor<S> {
    async fn handle_batch(&mut self, mut work: VecDeque<WriteOp<S>>) {
        let mut unsent = Unsent {
            commits: Vec::with_capacity(work.len()),
        };
        loop {
            while let Some(op) = work.pop_front() {
                if let WriteOp::Release(pks) = op {
                    for pk in pks {
                        let waiting = self.reserved.remove(&pk).unwrap_or_default();
                        for (position, op) in waiting.into_iter().enumerate() {
                            work.insert(position, op);
                        }
                    }
                    continue;
                }
                if let Some(waiting) = op.pk().and_then(|pk| self.reserved.get_mut(pk)) {
                    waiting.push_back(op);
                    continue;
                }
                let reads_current = !matches!(op, WriteOp::Put { .. });
                let last_write = op.pk().and_then(|pk| self.in_flight.get(pk)).copied();
                if let Some(batch) = last_write.filter(|_| reads_current) {
                    if batch > self.sent {
                        self.send(&mut unsent);
                    }
                    let (store, commit) = (Arc::clone(&self.store), self.commit.clone());
                    wait_applied(&store.progress[usize::from(self.id)], &commit, batch).await;
                }
                self.stage(op, &mut unsent);
            }
            self.send(&mut unsent);
            if work.is_empty() {
                break;
            }
        }
        if self.in_flight.len() > IN_FLIGHT_PRUNE {
            let applied = self.progress().applied();
            self.in_flight.retain(|_, batch| *batch > applied);
        }
    }

    fn progress(&self) -> &Progress {
        &self.store.progress[usize::from(self.id)]
    }

    /// Records that the batch being staged writes `pk`.
    fn writes(&mut self, pk: &S::Pk) {
        self.in_flight.insert(pk.clone(), self.sent + 1);
    }

    /// Sends the staged writes to the commit point as the next batch.
    fn send(&mut self, unsent: &mut Unsent<S>) {
        if unsent.commits.is_empty() {
            return;
        }
        self.sent += 1;
        let message = CommitMsg::Writes {
            shard: self.id,
            batch: self.sent,
            commits: std::mem::take(&mut unsent.commits),
        };
        if let Err(tokio::sync::mpsc::error::SendError(CommitMsg::Writes { commits, .. })) =
            self.commit.send(message)
        {
            tracing::warn!(table = S::NAME, "commit point is gone; failing writes");
            for commit in commits {
                self.abandon(commit);
            }
        }
    }

    fn abandon(&mut self, commit: Commit<S>) {
        let (link, reply) = match commit {
            Commit::Put { link, reply, .. } | Commit::Modify { link, reply, .. } => {
                (Some(link), reply)
            }
            Commit::Delete { reply, .. } => (None, reply),
        };
        if let Some(link) = link {
            self.writer.release_unpublished(link);
        }
        let _ = reply.send(Err(WorkTableError::ShutDown));
    }

    /// Checks and writes one operation, adding what must be committed to `unsent`.
    fn stage(&mut self, op: WriteOp<S>, unsent: &mut Unsent<S>) {
        match op {
            WriteOp::Put {
                kind,
                pk,
                row,
                reply,
            } => match self.writer.write_row(&row) {
                Ok(link) => {
                    self.writes(&pk);
                    unsent.commits.push(Commit::Put {
                        kind,
                        pk,
                        row,
                        link,
                        reply,
                    });
                }
                Err(error) => {
                    tracing::debug!(table = S::NAME, %error, "write rejected by pages");
                    let _ = reply.send(Err(error.into()));
                }
            },
            WriteOp::Delete(op) => self.stage_delete(op, unsent),
            WriteOp::Modify(op) => self.stage_modify(op, unsent),
            WriteOp::Prepare(op) => self.prepare(op),
            WriteOp::Stage { rows, reply } => self.stage_batch(rows, reply),
            WriteOp::Release(_) => {}
        }
    }

    /// The committed version of the row with `pk` and its link.
    fn current(&self, pk: &S::Pk) -> Option<(Link, S::Row)> {
        self.store.current(pk, &Guard::new())
    }

    fn stage_delete(&mut self, op: DeleteOp<S>, unsent: &mut Unsent<S>) {
        let base = match &op.condition {
            None => None,
            Some(condition) => match self.current(&op.pk) {
                Some((link, row)) if condition(&row) => Some(link),
                _ => {
                    let _ = op.reply.send(Err(WorkTableError::NotFound));
                    return;
                }
            },
        };
        self.writes(&op.pk);
        unsent.commits.push(Commit::Delete {
            pk: op.pk,
            base,
            reply: op.reply,
        });
    }

    fn stage_modify(&mut self, op: ModifyOp<S>, unsent: &mut Unsent<S>) {
        let Some((base, mut row)) = self.current(&op.pk) else {
            let _ = op.reply.send(Err(WorkTableError::NotFound));
            return;
        };
        if op
            .condition
            .as_ref()
            .is_some_and(|condition| !condition(&row))
        {
            let _ = op.reply.send(Err(WorkTableError::NotFound));
            return;
        }
        if let Err(error) = edit_row::<S>(&op.pk, &mut row, op.edit) {
            let _ = op.reply.send(Err(error));
            return;
        }
        match self.writer.write_row(&row) {
            Ok(link) => {
                self.writes(&op.pk);
                let (pk, reply) = (op.pk, op.reply);
                unsent.commits.push(Commit::Modify {
                    pk,
                    base,
                    row,
                    link,
                    reply,
                });
            }
            Err(error) => {
                let _ = op.reply.send(Err(error.into()));
            }
        }
    }

    /// Writes this shard's rows of an insert batch and hands them to the caller, which
    /// commits the batch at once; a row that cannot be written fails this part.
    fn stage_batch(&mut self, rows: BatchPart<S>, reply: oneshot::Sender<StageOutcome<S>>) {
        let mut staged = Vec::with_capacity(rows.len());
        for (position, pk, row) in rows {
            match self.writer.write_row(&row) {
                Ok(link) => staged.push(Staged {
                    position,
                    pk,
                    row,
                    link,
                }),
                Err(error) => {
                    for written in staged {
                        self.writer.release_unpublished(written.link);
                    }
                    let _ = reply.send(Err((position, error.into())));
                    return;
                }
            }
        }
        if let Err(Ok(unsent)) = reply.send(Ok(staged)) {
            // The caller is gone; nothing was published.
            for written in unsent {
                self.writer.release_unpublished(written.link);
            }
        }
    }

    /// Computes and writes one row of a multi-row update and hands it to the caller,
    /// which commits the whole set at once.
    fn prepare(&mut self, op: PrepareOp<S>) {
        self.reserved.entry(op.pk.clone()).or_default();
        let prepared = match self.current(&op.pk) {
            Some((base, mut row)) if (op.condition)(&row) => {
                edit_row::<S>(&op.pk, &mut row, |row| (op.edit)(row)).and_then(|()| {
                    let link = self.writer.write_row(&row)?;
                    Ok(Some(Prepared {
                        pk: op.pk,
                        base,
                        row,
                        link,
                    }))
                })
            }
            _ => Ok(None),
        };
        if let Err(Ok(Some(unsent))) = op.reply.send(prepared) {
            // The caller is gone; the version was never published.
            self.writer.release_unpublished(unsent.link);
        }
    }
}

/// Waits until the commit point has applied batch `batch` (or has stopped).
async fn wait_applied<S: TableSchema>(
    progress: &Progress,
    commit: &UnboundedSender<CommitMsg<S>>,
    batch: u64,
) {
    if progress.applied() >= batch {
        return;
    }
    tokio::select! {
        () = progress.wait_for(batch) => {}
        () = commit.closed() => {}
    }
}

/// Runs `edit` on `row`, turning a panic into an error and refusing a changed key.
fn edit_row<S: TableSchema>(
    pk: &S::Pk,
    row: &mut S::Row,
    edit: impl FnOnce(&mut S::Row),
) -> Result<(), WorkTableError> {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| edit(row))) {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_owned());
        tracing::warn!(table = S::NAME, %message, "an in-place update panicked");
        return Err(WorkTableError::EditPanicked(message));
    }
    if S::primary_key(row) != *pk {
        return Err(WorkTableError::PrimaryUpdateTry);
    }
    Ok(())
}
