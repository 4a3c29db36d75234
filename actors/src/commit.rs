//! The commit point: the only writer of every index. Applying a write's index changes
//! is what makes it visible, so the order in which this actor applies writes is the
//! table's commit order, and each committed write gets the next sequence number.
//!
//! A write is checked completely (key present or free, every unique index free, the
//! version it was computed from still current) before any index changes, so a refused
//! write is never visible, even for a moment.

use std::collections::VecDeque;
use std::sync::Arc;

use worktable_pages::{CommitError, Guard, Link, RowChange, Unpublished};
use worktable_persistence::{Operation, OperationKind};

use crate::combine::Handler;
use crate::feed::FeedPublisher;
use crate::ops::{Commit, CommitMsg, Prepared, Reply, Staged, WriteKind};
use crate::persist::LogSink;
use crate::schema::PRIMARY_KEY_INDEX;
use crate::store::{RowCommitter, Store};
use crate::{TableSchema, WorkTableError};

/// Publishes written row versions in one total order.
pub(crate) struct CommitPoint<S: TableSchema> {
    store: Arc<Store<S>>,
    /// The one writer of the table's indexes.
    committer: RowCommitter<S>,
    /// The sequence number of the last committed operation.
    seq: u64,
    feed: FeedPublisher<S::Pk, S::Row>,
    /// Where committed operations go to be logged, for a durable table.
    log: Option<LogSink<S>>,
    /// Answers of a durable table's single-row writes, sent once the message's records
    /// are logged (see `answer`).
    held_answers: Vec<(Reply<S>, S::Pk)>,
}

impl<S: TableSchema> Handler for CommitPoint<S> {
    type Msg = CommitMsg<S>;
    const NAME: &'static str = "commit";

    fn handle(&mut self, batch: &mut VecDeque<CommitMsg<S>>) {
        let _span =
            tracing::debug_span!("commit_batch", table = S::NAME, messages = batch.len()).entered();
        self.feed.admit(&self.store.feed);
        for message in batch.drain(..) {
            match message {
                CommitMsg::Writes {
                    shard,
                    batch,
                    commits,
                } => {
                    for commit in commits {
                        self.apply(commit);
                    }
                    self.answer_held();
                    self.store.advance(shard, batch);
                }
                CommitMsg::Group { rows, reply } => {
                    let outcome = self.apply_group(rows);
                    self.seal();
                    let _ = reply.send(outcome);
                }
                CommitMsg::Inserts { rows, reply } => {
                    let outcome = self.apply_inserts(rows);
                    self.seal();
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    fn nudge(msg: &CommitMsg<S>) -> bool {
        msg.nudge()
    }

    fn abandon(&mut self) {
        // Their callers learn that the table failed.
        self.held_answers.clear();
    }
}

impl<S: TableSchema> CommitPoint<S> {
    /// The commit point of `store`, numbering operations after `seq` (the last one
    /// recovered from disk, or 0), logging them to `log` for a durable table.
    pub(crate) fn new(
        store: Arc<Store<S>>,
        committer: RowCommitter<S>,
        seq: u64,
        log: Option<LogSink<S>>,
    ) -> Self {
        CommitPoint {
            store,
            committer,
            seq,
            feed: FeedPublisher::new(),
            log,
            held_answers: Vec::new(),
        }
    }

    /// The sequence number of the last committed operation. Read through the actor's
    /// state, so no commit is half done: every operation up to it is logged.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Hands the records of the operations committed so far to the log queue, as one
    /// group: before any of their callers is answered.
    fn seal(&mut self) {
        if let Some(log) = &mut self.log {
            log.seal();
        }
    }

    /// Answers a single-row write. For a durable table the answer waits for the end of
    /// the message, whose records are then handed to the log as one group before any of
    /// its writes is answered: one hand-over per shard batch, not one per write.
    fn answer(&mut self, reply: Reply<S>, pk: S::Pk) {
        if self.log.is_some() {
            self.held_answers.push((reply, pk));
        } else {
            let _ = reply.send(Ok(pk));
        }
    }

    /// Logs what the message committed, then sends the answers held for it.
    fn answer_held(&mut self) {
        if self.held_answers.is_empty() {
            return;
        }
        self.seal();
        for (reply, pk) in self.held_answers.drain(..) {
            let _ = reply.send(Ok(pk));
        }
    }

    /// Keeps the bytes of `version` for the log record of the write being committed.
    fn hold_row(&mut self, version: &Unpublished) {
        if let Some(log) = &mut self.log {
            log.hold_row(&self.store.rows, version);
        }
    }

    /// Ends the change feed, for present and later subscriptions: nothing commits any more.
    pub(crate) fn close_feed(&mut self) {
        self.feed.close(&self.store.feed);
    }

    fn apply(&mut self, commit: Commit<S>) {
        match commit {
            Commit::Put {
                kind,
                pk,
                row,
                version,
                reply,
            } => {
                let guard = Guard::new();
                let current = self.store.current(&pk, &guard);
                match (kind, current) {
                    (WriteKind::Insert, Some(_)) => {
                        let refusal = WorkTableError::AlreadyExists {
                            index: PRIMARY_KEY_INDEX,
                        };
                        self.refuse(&pk, reply, refusal)
                    }
                    (WriteKind::Update, None) => self.refuse(&pk, reply, WorkTableError::NotFound),
                    (WriteKind::Insert | WriteKind::Upsert, None) => {
                        self.insert(pk, row, version, reply)
                    }
                    (WriteKind::Update | WriteKind::Upsert, Some(old)) => {
                        self.replace(pk, row, version, old, reply, &guard)
                    }
                }
            }
            Commit::Modify {
                pk,
                base,
                row,
                version,
                reply,
            } => {
                let guard = Guard::new();
                match self.store.current(&pk, &guard) {
                    None => self.refuse(&pk, reply, WorkTableError::NotFound),
                    Some((link, _)) if link != base => {
                        self.refuse(&pk, reply, Self::moved_under_its_shard())
                    }
                    Some(old) => self.replace(pk, row, version, old, reply, &guard),
                }
            }
            Commit::Delete { pk, base, reply } => self.delete(pk, base, reply),
            Commit::Move { pk, relocation } => self.relocate(&pk, relocation),
        }
    }

    /// Points the row with `pk` at a vacuum's copy of its version. Not an operation: no
    /// sequence number, no log record, no change-feed record. A row written since the copy
    /// was made keeps its newer version, and the copy is dropped (which frees it).
    fn relocate(&mut self, pk: &S::Pk, relocation: worktable_pages::Relocation<S::Row>) {
        let guard = Guard::new();
        match self
            .committer
            .relocate(&self.store.rows, pk, relocation, &guard)
        {
            Ok(()) | Err(CommitError::Stale) => {}
            Err(error) => tracing::error!(table = S::NAME, %error, "a vacuum move was refused"),
        }
    }

    /// Tells the caller why its write was refused. The write's unpublished version, if
    /// any, was dropped by the caller of this, which frees its space.
    fn refuse(&self, pk: &S::Pk, reply: Reply<S>, error: WorkTableError) {
        tracing::debug!(table = S::NAME, ?pk, %error, "write refused");
        let _ = reply.send(Err(error));
    }

    fn insert(&mut self, pk: S::Pk, row: S::Row, version: Unpublished, reply: Reply<S>) {
        self.hold_row(&version);
        let store = &*self.store;
        let guard = Guard::new();
        // Secondary entries first and the primary key last (and the reverse on delete):
        // a row a reader can reach by its key, it can reach by every index.
        if let Err(error) = self
            .committer
            .insert(&store.rows, &pk, &row, version, &guard)
        {
            return self.refuse(&pk, reply, Self::refusal(error));
        }
        S::on_inserted(&store.generator, &pk);
        self.publish(OperationKind::Insert, pk.clone(), Some(row));
        self.answer(reply, pk);
    }

    /// Replaces the current version `old` of `pk` with `version`.
    fn replace(
        &mut self,
        pk: S::Pk,
        row: S::Row,
        version: Unpublished,
        (old_link, old_row): (Link, S::Row),
        reply: Reply<S>,
        guard: &Guard,
    ) {
        self.hold_row(&version);
        let store = &*self.store;
        let old = (old_link, &old_row);
        if let Err(error) = self
            .committer
            .replace(&store.rows, &pk, old, &row, version, guard)
        {
            return self.refuse(&pk, reply, Self::refusal(error));
        }
        self.publish(OperationKind::Update, pk.clone(), Some(row));
        self.answer(reply, pk);
    }

    fn delete(&mut self, pk: S::Pk, base: Option<Link>, reply: Reply<S>) {
        let store = &*self.store;
        let guard = Guard::new();
        let Some((link, old_row)) = store.current(&pk, &guard) else {
            return self.refuse(&pk, reply, WorkTableError::NotFound);
        };
        if base.is_some_and(|base| base != link) {
            return self.refuse(&pk, reply, Self::moved_under_its_shard());
        }
        let old = (link, &old_row);
        if let Err(error) = self.committer.remove(&store.rows, &pk, old, &guard) {
            return self.refuse(&pk, reply, Self::refusal(error));
        }
        self.publish(OperationKind::Delete, pk.clone(), None);
        self.answer(reply, pk);
    }

    /// The answer to a write the committer refused: a taken unique value is the caller's
    /// `AlreadyExists`; a stale version, or one of another table, is a bug.
    fn refusal(error: CommitError) -> WorkTableError {
        match error {
            CommitError::Taken(index) => WorkTableError::AlreadyExists { index },
            CommitError::Stale => Self::moved_under_its_shard(),
            CommitError::Foreign | CommitError::NotEmpty | CommitError::Unordered => {
                tracing::error!(table = S::NAME, %error, "write refused");
                WorkTableError::Storage(error.to_string())
            }
        }
    }

    /// The error for a change whose base version is no longer current. A shard orders
    /// every write to its rows and a multi-row update reserves its rows, so this is a bug;
    /// the write is refused rather than applied over a version it did not see.
    fn moved_under_its_shard() -> WorkTableError {
        let message = "a row changed between its shard and its commit";
        tracing::error!(table = S::NAME, message);
        WorkTableError::Storage(message.into())
    }

    /// Applies every row of a multi-row update, or none.
    ///
    /// Index entries whose value changes leave first, for every row, so that rows can take
    /// values others give up; then each row enters its new values and its unchanged
    /// values are relinked in place, so a reader looking up a value a row holds before
    /// and after never misses it.
    fn apply_group(&mut self, rows: Vec<Prepared<S>>) -> Result<(), WorkTableError> {
        let store = Arc::clone(&self.store);
        let guard = Guard::new();
        let mut olds = Vec::with_capacity(rows.len());
        for row in &rows {
            let old = store
                .current(&row.pk, &guard)
                .filter(|(link, _)| *link == row.base)
                .map(|(_, old)| old);
            match old {
                Some(old) => olds.push(old),
                // Dropping `rows` frees every prepared version.
                None => return Err(Self::moved_under_its_shard()),
            }
        }
        let changes: Vec<RowChange<'_, S::Row, S::Pk>> = rows
            .iter()
            .zip(&olds)
            .map(|(row, old)| RowChange {
                old: Some((old, row.base)),
                new: &row.row,
                pk: &row.pk,
            })
            .collect();
        if let Some((_, index)) = store.rows.group_conflict(&changes, &guard) {
            tracing::debug!(table = S::NAME, index, "multi-row update refused");
            return Err(WorkTableError::AlreadyExists { index });
        }
        drop(changes);
        let mut leaving = Vec::with_capacity(rows.len());
        for (row, old) in rows.iter().zip(&olds) {
            let left = self
                .committer
                .leave(&store.rows, &row.pk, (row.base, old), &row.row)
                .map_err(Self::refusal)?;
            leaving.push(left);
        }
        for ((row, old), left) in rows.into_iter().zip(&olds).zip(leaving) {
            self.hold_row(&row.version);
            self.committer
                .enter(
                    &store.rows,
                    left,
                    &row.pk,
                    old,
                    &row.row,
                    row.version,
                    &guard,
                )
                .map_err(Self::refusal)?;
            self.publish(OperationKind::Update, row.pk, Some(row.row));
        }
        Ok(())
    }

    /// Inserts every row of a batch, or none; a refusal names the first refused row.
    fn apply_inserts(&mut self, rows: Vec<Staged<S>>) -> Result<(), (usize, WorkTableError)> {
        let store = Arc::clone(&self.store);
        // Dropping `rows` frees every staged version.
        let refuse = |position: usize, error: WorkTableError| {
            tracing::debug!(table = S::NAME, position, %error, "insert batch refused");
            Err((position, error))
        };
        let mut keys = foldhash::HashSet::with_capacity_and_hasher(rows.len(), Default::default());
        for row in &rows {
            if store.contains(&row.pk) || !keys.insert(&row.pk) {
                let error = WorkTableError::AlreadyExists {
                    index: PRIMARY_KEY_INDEX,
                };
                return refuse(row.position, error);
            }
        }
        drop(keys);
        let changes: Vec<RowChange<'_, S::Row, S::Pk>> = rows
            .iter()
            .map(|row| RowChange {
                old: None,
                new: &row.row,
                pk: &row.pk,
            })
            .collect();
        let guard = Guard::new();
        if let Some((position, index)) = store.rows.group_conflict(&changes, &guard) {
            let position = changes_position(&rows, position);
            return refuse(position, WorkTableError::AlreadyExists { index });
        }
        drop(changes);
        // No guard while the rows go in: a batch of tens of thousands would keep the epoch
        // from moving, and with it every retired version's space, for its whole length.
        drop(guard);
        for row in rows {
            self.hold_row(&row.version);
            if let Err(error) = self
                .committer
                .link_new(&store.rows, &row.pk, &row.row, row.version)
            {
                return refuse(row.position, Self::refusal(error));
            }
            S::on_inserted(&store.generator, &row.pk);
            self.publish(OperationKind::Insert, row.pk, Some(row.row));
        }
        Ok(())
    }

    /// Numbers a committed operation and hands it to the change feed.
    fn publish(&mut self, kind: OperationKind, pk: S::Pk, row: Option<S::Row>) {
        self.seq += 1;
        if let Some(log) = &mut self.log {
            log.record(self.seq, kind, &pk);
        }
        if self.feed.is_listened() {
            self.feed.publish(Operation {
                seq: self.seq,
                kind,
                pk,
                row,
            });
        }
    }
}

/// The batch position of the row at `index` of a staged batch.
fn changes_position<S: TableSchema>(rows: &[Staged<S>], index: usize) -> usize {
    rows.get(index).map_or(index, |row| row.position)
}
