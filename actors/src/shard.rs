//! A page shard: the only writer of its pages, and the place where every write to a row
//! whose key hashes here is ordered. It runs as a [`Combiner`] actor (see `combine.rs`).
//!
//! It handles a batch of writes in order: whole rows are encoded and written into free
//! slots; changes of a row (`Modify`, conditional deletes, rows of multi-row updates)
//! are computed from the row's committed version. Staged writes go to the commit point
//! as one message per batch. Before computing a change, the shard makes sure every batch
//! it sent has been applied, so a change is always computed from the version it follows:
//! it sends what it holds, and if the commit point is busy with another runner, it waits
//! for that runner and runs the commit point itself (`Combiner::run_blocking`).
//!
//! A row prepared for a multi-row update is reserved until the update releases it:
//! writes to it wait in the shard, in order, so the update commits the versions it
//! computed from. Multi-row updates of a table run one at a time, so reservations never
//! wait for each other.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use foldhash::HashMap;
use worktable_pages::{Guard, Link, PageWriter};

use crate::combine::{Combiner, Handler, panic_message};
use crate::commit::CommitPoint;
use crate::ops::{
    BatchPart, Commit, CommitMsg, DeleteOp, ModifyOp, PrepareOp, Prepared, StageOutcome, Staged,
    VacuumOp, WriteOp,
};
use crate::reply::Reply;
use crate::store::Store;
use crate::{TableSchema, WorkTableError};

/// Writes the row versions of the keys that hash to it.
pub(crate) struct Shard<S: TableSchema> {
    id: u16,
    store: Arc<Store<S>>,
    writer: PageWriter<S::Row>,
    commit: Arc<Combiner<CommitPoint<S>>>,
    /// The number of the last batch sent to the commit point.
    sent: u64,
    /// Writes staged for the next batch.
    unsent: Vec<Commit<S>>,
    /// Rows reserved by a multi-row update, with the writes waiting for them.
    reserved: HashMap<S::Pk, VecDeque<WriteOp<S>>>,
}

impl<S: TableSchema> Handler for Shard<S> {
    type Msg = WriteOp<S>;
    const NAME: &'static str = "shard";

    fn handle(&mut self, work: &mut VecDeque<WriteOp<S>>) {
        let _span = tracing::debug_span!(
            "shard_batch",
            table = S::NAME,
            shard = self.id,
            ops = work.len()
        )
        .entered();
        while let Some(op) = work.pop_front() {
            if let WriteOp::Release(pks) = op {
                self.release(pks, work);
                continue;
            }
            if let Some(waiting) = op.pk().and_then(|pk| self.reserved.get_mut(pk)) {
                waiting.push_back(op);
                continue;
            }
            if op.reads_current() {
                self.settle();
            }
            self.stage(op);
        }
        self.send();
    }

    fn nudge(msg: &WriteOp<S>) -> bool {
        msg.nudge()
    }

    fn abandon(&mut self) {
        self.unsent.clear();
        self.reserved.clear();
    }
}

impl<S: TableSchema> Shard<S> {
    /// The shard `id` of `store`, sending to `commit`.
    pub(crate) fn new(
        id: u16,
        store: Arc<Store<S>>,
        commit: Arc<Combiner<CommitPoint<S>>>,
        writer: PageWriter<S::Row>,
    ) -> Self {
        Shard {
            id,
            store,
            writer,
            commit,
            sent: 0,
            unsent: Vec::new(),
            reserved: HashMap::default(),
        }
    }

    /// Sends what is staged and waits until every batch this shard sent is applied, so
    /// the committed versions of its rows are current.
    fn settle(&mut self) {
        self.send();
        if self.store.applied(self.id) < self.sent {
            self.commit.run_blocking();
        }
    }

    /// Sends the staged writes to the commit point as the next batch.
    fn send(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        self.sent += 1;
        let message = CommitMsg::Writes {
            shard: self.id,
            batch: self.sent,
            commits: std::mem::take(&mut self.unsent),
        };
        if self.commit.submit(message).is_err() {
            // Dropping the writes frees their versions and tells their callers.
            tracing::warn!(
                table = S::NAME,
                "the commit point has stopped; failing writes"
            );
        }
    }

    /// Ends a multi-row update's reservation of `pks`: the update was submitted before
    /// this, so once the commit point has run, the writes held back go first, in order.
    fn release(&mut self, pks: Vec<S::Pk>, work: &mut VecDeque<WriteOp<S>>) {
        self.send();
        self.commit.run_blocking();
        let mut position = 0;
        for pk in pks {
            for op in self.reserved.remove(&pk).unwrap_or_default() {
                work.insert(position, op);
                position += 1;
            }
        }
    }

    /// Fails every write held back by a reservation: the table is shutting down and no
    /// release will come.
    pub(crate) fn abandon_reserved(&mut self) {
        self.reserved.clear();
    }

    /// Checks and writes one operation, staging what must be committed.
    fn stage(&mut self, op: WriteOp<S>) {
        match op {
            WriteOp::Put {
                kind,
                pk,
                row,
                reply,
            } => match self.writer.write_row(&row) {
                Ok(version) => self.unsent.push(Commit::Put {
                    kind,
                    pk,
                    row,
                    version,
                    reply,
                }),
                Err(error) => {
                    tracing::debug!(table = S::NAME, %error, "write rejected by pages");
                    let _ = reply.send(Err(error.into()));
                }
            },
            WriteOp::Delete(op) => self.stage_delete(op),
            WriteOp::Modify(op) => self.stage_modify(op),
            WriteOp::Prepare(op) => self.prepare(op),
            WriteOp::Stage { rows, reply } => self.stage_batch(rows, reply),
            WriteOp::Vacuum(op) => self.vacuum(op),
            WriteOp::Release(_) => {}
        }
    }

    /// A step of a vacuum pass; see `handle/vacuum.rs`.
    fn vacuum(&mut self, op: VacuumOp<S>) {
        match op {
            VacuumOp::Evacuate {
                share,
                budget,
                reply,
            } => {
                self.writer.collect();
                self.writer.evacuate_sparsest(share, budget);
                let _ = reply.send(self.writer.usage());
            }
            VacuumOp::Move { pks, reply } => {
                // Moves copy the committed versions: make them current first.
                self.settle();
                let guard = Guard::new();
                let (mut rows, mut copied) = (0u64, 0u64);
                for pk in pks {
                    if self.reserved.contains_key(&pk) {
                        continue;
                    }
                    match self.store.rows.relocate(&mut self.writer, &pk, &guard) {
                        Ok(Some(relocation)) => {
                            rows += 1;
                            copied += relocation.len() as u64;
                            self.unsent.push(Commit::Move { pk, relocation });
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(table = S::NAME, %error, "a vacuum move failed");
                            break;
                        }
                    }
                }
                // Committed by this thread (the vacuum's, see `Combiner::submit_and_run`),
                // not by the next writer to find the commit point idle.
                self.send();
                self.commit.run_blocking();
                let _ = reply.send((rows, copied));
            }
            VacuumOp::Collect { reply } => {
                self.settle();
                self.writer.collect();
                let _ = reply.send(self.writer.usage());
            }
            VacuumOp::Usage { reply } => {
                let _ = reply.send(self.writer.usage());
            }
        }
    }

    /// The committed version of the row with `pk` and its link.
    fn current(&self, pk: &S::Pk) -> Option<(Link, S::Row)> {
        self.store.current(pk, &Guard::new())
    }

    fn stage_delete(&mut self, op: DeleteOp<S>) {
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
        self.unsent.push(Commit::Delete {
            pk: op.pk,
            base,
            reply: op.reply,
        });
    }

    fn stage_modify(&mut self, op: ModifyOp<S>) {
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
            Ok(version) => self.unsent.push(Commit::Modify {
                pk: op.pk,
                base,
                row,
                version,
                reply: op.reply,
            }),
            Err(error) => {
                let _ = op.reply.send(Err(error.into()));
            }
        }
    }

    /// Writes this shard's rows of an insert batch and hands them to the caller, which
    /// commits the batch at once; a row that cannot be written fails this part.
    fn stage_batch(&mut self, rows: BatchPart<S>, reply: Reply<StageOutcome<S>>) {
        let mut staged = Vec::with_capacity(rows.len());
        for (position, pk, row) in rows {
            match self.writer.write_row(&row) {
                Ok(version) => staged.push(Staged {
                    position,
                    pk,
                    row,
                    version,
                }),
                Err(error) => {
                    // Dropping `staged` frees what was written.
                    let _ = reply.send(Err((position, error.into())));
                    return;
                }
            }
        }
        // A caller that has gone hands the rows back, and dropping them frees them.
        let _ = reply.send(Ok(staged));
    }

    /// Computes and writes one row of a multi-row update and hands it to the caller,
    /// which commits the whole set at once.
    fn prepare(&mut self, op: PrepareOp<S>) {
        self.reserved.entry(op.pk.clone()).or_default();
        let prepared = match self.current(&op.pk) {
            Some((base, mut row)) if (op.condition)(&row) => {
                edit_row::<S>(&op.pk, &mut row, |row| (op.edit)(row)).and_then(|()| {
                    let version = self.writer.write_row(&row)?;
                    Ok(Some(Prepared {
                        pk: op.pk,
                        base,
                        row,
                        version,
                    }))
                })
            }
            _ => Ok(None),
        };
        let _ = op.reply.send(prepared);
    }
}

/// Runs `edit` on `row`, turning a panic into an error and refusing a changed key.
fn edit_row<S: TableSchema>(
    pk: &S::Pk,
    row: &mut S::Row,
    edit: impl FnOnce(&mut S::Row),
) -> Result<(), WorkTableError> {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| edit(row))) {
        let message = panic_message(panic.as_ref());
        tracing::warn!(table = S::NAME, %message, "an in-place update panicked");
        return Err(WorkTableError::EditPanicked(message));
    }
    if S::primary_key(row) != *pk {
        return Err(WorkTableError::PrimaryUpdateTry);
    }
    Ok(())
}
