//! The commit point: the only writer of every index. Applying a write's index changes
//! is what makes it visible, so the order in which this actor applies writes is the
//! table's commit order, and each committed write gets the next sequence number.
//!
//! A write is checked completely (key present or free, every unique index free, the
//! version it was computed from still current) before any index changes, so a refused
//! write is never visible, even for a moment.

use std::sync::Arc;

use kameo::Actor;
use kameo::actor::{ActorRef, WeakActorRef};
use kameo::error::{ActorStopReason, Infallible};
use kameo::mailbox::{MailboxReceiver, Signal};
use tokio::sync::mpsc::UnboundedReceiver;
use worktable_pages::{Guard, Link};
use worktable_persistence::{Operation, OperationKind};

use crate::feed::FeedPublisher;

use crate::ops::{Commit, CommitMsg, Prepared, Reply, Staged, WriteKind};
use crate::pump::{Pump, next_signal};
use crate::schema::{PRIMARY_KEY_INDEX, RowChange, SecondaryIndexes};
use crate::store::Store;
use crate::{TableSchema, WorkTableError};

/// Publishes written row versions in one total order.
pub(crate) struct CommitActor<S: TableSchema> {
    pub(crate) store: Arc<Store<S>>,
    pub(crate) inbox: UnboundedReceiver<CommitMsg<S>>,
    pub(crate) batch: Vec<CommitMsg<S>>,
    /// The sequence number of the last committed operation.
    pub(crate) seq: u64,
    pub(crate) feed: FeedPublisher<S::Pk, S::Row>,
}

impl<S: TableSchema> Actor for CommitActor<S> {
    type Args = Self;
    type Error = Infallible;

    fn name() -> &'static str {
        "worktable::commit"
    }

    async fn on_start(args: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        tracing::debug!(table = S::NAME, "commit point started");
        Ok(args)
    }

    async fn next(
        &mut self,
        _: WeakActorRef<Self>,
        mailbox: &mut MailboxReceiver<Self>,
    ) -> Result<Option<Signal<Self>>, Infallible> {
        next_signal(self, mailbox).await
    }

    async fn on_stop(
        &mut self,
        _: WeakActorRef<Self>,
        _: ActorStopReason,
    ) -> Result<(), Infallible> {
        // Nothing commits any more: end the change feed, also for late subscribers.
        self.feed.close(&self.store.feed);
        Ok(())
    }
}

impl<S: TableSchema> Pump for CommitActor<S> {
    type Item = CommitMsg<S>;

    fn queue(&mut self) -> (&mut UnboundedReceiver<CommitMsg<S>>, &mut Vec<CommitMsg<S>>) {
        (&mut self.inbox, &mut self.batch)
    }

    async fn handle(&mut self, batch: &mut Vec<CommitMsg<S>>) {
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
                    if let Some(progress) = self.store.progress.get(usize::from(shard)) {
                        progress.advance(batch);
                    }
                }
                CommitMsg::Group { rows, reply } => {
                    let _ = reply.send(self.apply_group(rows));
                }
                CommitMsg::Inserts { rows, reply } => {
                    let _ = reply.send(self.apply_inserts(rows));
                }
            }
        }
    }
}

impl<S: TableSchema> CommitActor<S> {
    fn apply(&mut self, commit: Commit<S>) {
        match commit {
            Commit::Put {
                kind,
                pk,
                row,
                link,
                reply,
            } => {
                let exists = self.store.contains(&pk);
                match (kind, exists) {
                    (WriteKind::Insert, true) => {
                        let refusal = WorkTableError::AlreadyExists {
                            index: PRIMARY_KEY_INDEX,
                        };
                        self.refuse(&pk, Some(link), reply, refusal)
                    }
                    (WriteKind::Update, false) => {
                        self.refuse(&pk, Some(link), reply, WorkTableError::NotFound)
                    }
                    (WriteKind::Insert | WriteKind::Upsert, false) => {
                        self.insert(pk, row, link, reply)
                    }
                    (WriteKind::Update | WriteKind::Upsert, true) => {
                        self.replace(pk, row, link, None, reply)
                    }
                }
            }
            Commit::Modify {
                pk,
                base,
                row,
                link,
                reply,
            } => self.replace(pk, row, link, Some(base), reply),
            Commit::Delete { pk, base, reply } => self.delete(pk, base, reply),
        }
    }

    /// Hands an unpublished version's space back and tells the caller why.
    fn refuse(&self, pk: &S::Pk, link: Option<Link>, reply: Reply<S>, error: WorkTableError) {
        tracing::debug!(table = S::NAME, ?pk, %error, "write refused");
        if let Some(link) = link {
            self.store.retirer.release_unpublished(link);
        }
        let _ = reply.send(Err(error));
    }

    fn insert(&mut self, pk: S::Pk, row: S::Row, link: Link, reply: Reply<S>) {
        let store = &*self.store;
        let guard = Guard::new();
        if let Some(index) = store.indexes.conflict(&row, None, &store.rows(&guard)) {
            return self.refuse(
                &pk,
                Some(link),
                reply,
                WorkTableError::AlreadyExists { index },
            );
        }
        store.primary.insert(pk.clone(), link, &store.keys());
        store.indexes.insert(&row, &pk, link);
        S::on_inserted(&store.generator, &pk);
        self.publish(OperationKind::Insert, pk.clone(), Some(row));
        let _ = reply.send(Ok(pk));
    }

    /// Replaces the current version of `pk` (which must be `expected`, if given).
    fn replace(
        &mut self,
        pk: S::Pk,
        row: S::Row,
        link: Link,
        expected: Option<Link>,
        reply: Reply<S>,
    ) {
        let store = &*self.store;
        let guard = Guard::new();
        let Some((old_link, old_row)) = store.current(&pk, &guard) else {
            return self.refuse(&pk, Some(link), reply, WorkTableError::NotFound);
        };
        if expected.is_some_and(|base| base != old_link) {
            return self.refuse(&pk, Some(link), reply, Self::moved_under_its_shard());
        }
        if let Some(index) = store
            .indexes
            .conflict(&row, Some(old_link), &store.rows(&guard))
        {
            return self.refuse(
                &pk,
                Some(link),
                reply,
                WorkTableError::AlreadyExists { index },
            );
        }
        store.primary.replace(&pk, old_link, link);
        store.indexes.update(&old_row, &row, &pk, old_link, link);
        store.retirer.retire(old_link, &guard);
        self.publish(OperationKind::Update, pk.clone(), Some(row));
        let _ = reply.send(Ok(pk));
    }

    fn delete(&mut self, pk: S::Pk, base: Option<Link>, reply: Reply<S>) {
        let store = &*self.store;
        let guard = Guard::new();
        let Some((link, old_row)) = store.current(&pk, &guard) else {
            return self.refuse(&pk, None, reply, WorkTableError::NotFound);
        };
        if base.is_some_and(|base| base != link) {
            return self.refuse(&pk, None, reply, Self::moved_under_its_shard());
        }
        store.indexes.remove(&old_row, &pk, link);
        store.primary.remove(&pk, link);
        store.retirer.retire(link, &guard);
        self.publish(OperationKind::Delete, pk.clone(), None);
        let _ = reply.send(Ok(pk));
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
    fn apply_group(&mut self, rows: Vec<Prepared<S>>) -> Result<(), WorkTableError> {
        let store = Arc::clone(&self.store);
        let guard = Guard::new();
        let release = |rows: &[Prepared<S>]| {
            for row in rows {
                store.retirer.release_unpublished(row.link);
            }
        };
        let mut olds = Vec::with_capacity(rows.len());
        for row in &rows {
            let old = store
                .current(&row.pk, &guard)
                .filter(|(link, _)| *link == row.base)
                .map(|(_, old)| old);
            match old {
                Some(old) => olds.push(old),
                None => {
                    release(&rows);
                    return Err(Self::moved_under_its_shard());
                }
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
        if let Some((_, index)) = store.indexes.group_conflict(&changes, &store.rows(&guard)) {
            drop(changes);
            release(&rows);
            tracing::debug!(table = S::NAME, index, "multi-row update refused");
            return Err(WorkTableError::AlreadyExists { index });
        }
        drop(changes);
        // Every old entry goes first, so rows can take values others give up.
        for (row, old) in rows.iter().zip(&olds) {
            store.indexes.remove(old, &row.pk, row.base);
        }
        for row in rows {
            store.primary.replace(&row.pk, row.base, row.link);
            store.indexes.insert(&row.row, &row.pk, row.link);
            store.retirer.retire(row.base, &guard);
            self.publish(OperationKind::Update, row.pk, Some(row.row));
        }
        Ok(())
    }

    /// Inserts every row of a batch, or none; a refusal names the first refused row.
    fn apply_inserts(&mut self, rows: Vec<Staged<S>>) -> Result<(), (usize, WorkTableError)> {
        let store = Arc::clone(&self.store);
        let refuse = |position: usize, error: WorkTableError| {
            for row in &rows {
                store.retirer.release_unpublished(row.link);
            }
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
        let changes: Vec<RowChange<'_, S::Row, S::Pk>> = rows
            .iter()
            .map(|row| RowChange {
                old: None,
                new: &row.row,
                pk: &row.pk,
            })
            .collect();
        let guard = Guard::new();
        if let Some((position, index)) = store.indexes.group_conflict(&changes, &store.rows(&guard))
        {
            let position = rows[position].position;
            drop(changes);
            return refuse(position, WorkTableError::AlreadyExists { index });
        }
        drop(changes);
        drop(keys);
        for row in rows {
            store
                .primary
                .insert(row.pk.clone(), row.link, &store.keys());
            store.indexes.insert(&row.row, &row.pk, row.link);
            S::on_inserted(&store.generator, &row.pk);
            self.publish(OperationKind::Insert, row.pk, Some(row.row));
        }
        Ok(())
    }

    /// Numbers a committed operation and hands it to the change feed.
    fn publish(&mut self, kind: OperationKind, pk: S::Pk, row: Option<S::Row>) {
        self.seq += 1;
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
