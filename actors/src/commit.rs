//! The commit point: the only writer of every index. Applying a write's index changes
//! is what makes it visible, so the order in which this actor applies writes is the
//! table's commit order, and each committed write gets the next sequence number.
//!
//! A write is checked completely (key present or free, every unique index free) before
//! any index changes, so a refused write is never visible, even for a moment.

use std::sync::Arc;

use kameo::Actor;
use kameo::actor::{ActorRef, WeakActorRef};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use tokio::sync::mpsc::UnboundedReceiver;
use worktable_pages::Guard;
use worktable_persistence::{Operation, OperationKind};

use crate::feed::FeedPublisher;
use crate::ops::{Commit, CommitMsg, Reply, WriteKind};
use crate::pump::{Pump, next_signal};
use crate::schema::{PRIMARY_KEY_INDEX, SecondaryIndexes};
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
}

impl<S: TableSchema> Pump for CommitActor<S> {
    type Item = CommitMsg<S>;

    fn queue(&mut self) -> (&mut UnboundedReceiver<CommitMsg<S>>, &mut Vec<CommitMsg<S>>) {
        (&mut self.inbox, &mut self.batch)
    }

    fn handle(&mut self, batch: &mut Vec<CommitMsg<S>>) {
        let _span =
            tracing::debug_span!("commit_batch", table = S::NAME, messages = batch.len()).entered();
        self.feed.admit(&self.store.feed);
        for message in batch.drain(..) {
            match message {
                CommitMsg::Writes(commits) => {
                    for commit in commits {
                        self.apply(commit);
                    }
                }
                CommitMsg::Delete { pk, reply } => self.delete(pk, reply),
            }
        }
    }
}

impl<S: TableSchema> CommitActor<S> {
    fn apply(&mut self, commit: Commit<S>) {
        let exists = self.store.primary.contains(&commit.pk);
        match (commit.kind, exists) {
            (WriteKind::Insert, true) => self.refuse(
                commit,
                WorkTableError::AlreadyExists {
                    index: PRIMARY_KEY_INDEX,
                },
            ),
            (WriteKind::Update, false) => self.refuse(commit, WorkTableError::NotFound),
            (WriteKind::Insert | WriteKind::Upsert, false) => self.insert(commit),
            (WriteKind::Update | WriteKind::Upsert, true) => self.replace(commit),
        }
    }

    /// Hands the unpublished version's space back and tells the caller why.
    fn refuse(&self, commit: Commit<S>, error: WorkTableError) {
        tracing::debug!(table = S::NAME, pk = ?commit.pk, %error, "write refused");
        self.store.retirer.release_unpublished(commit.link);
        let _ = commit.reply.send(Err(error));
    }

    fn insert(&mut self, commit: Commit<S>) {
        let store = &*self.store;
        if let Some(index) = store.indexes.conflict(&commit.row, &commit.pk) {
            return self.refuse(commit, WorkTableError::AlreadyExists { index });
        }
        store.primary.insert(commit.pk.clone(), commit.link);
        store.indexes.insert(&commit.row, &commit.pk);
        S::on_inserted(&store.generator, &commit.pk);
        self.committed(
            OperationKind::Insert,
            commit.pk,
            Some(commit.row),
            commit.reply,
        );
    }

    fn replace(&mut self, commit: Commit<S>) {
        let store = &*self.store;
        let guard = Guard::new();
        let Some(old_link) = store.primary.get(&commit.pk, &guard) else {
            return self.refuse(commit, WorkTableError::NotFound);
        };
        let old_row = match store.pages.read(old_link, &guard) {
            Ok(row) => row,
            Err(error) => {
                tracing::error!(table = S::NAME, %error, "current row version is unreadable");
                return self.refuse(commit, WorkTableError::Storage(error.to_string()));
            }
        };
        if let Some(index) = store.indexes.conflict(&commit.row, &commit.pk) {
            return self.refuse(commit, WorkTableError::AlreadyExists { index });
        }
        store.primary.replace(&commit.pk, commit.link);
        store.indexes.update(&old_row, &commit.row, &commit.pk);
        store.retirer.retire(old_link, &guard);
        self.committed(
            OperationKind::Update,
            commit.pk,
            Some(commit.row),
            commit.reply,
        );
    }

    fn delete(&mut self, pk: S::Pk, reply: Reply<S>) {
        let store = &*self.store;
        let guard = Guard::new();
        let Some(link) = store.primary.get(&pk, &guard) else {
            tracing::debug!(table = S::NAME, ?pk, "delete of a missing row");
            let _ = reply.send(Err(WorkTableError::NotFound));
            return;
        };
        match store.pages.read(link, &guard) {
            Ok(old_row) => store.indexes.remove(&old_row, &pk),
            Err(error) => {
                tracing::error!(table = S::NAME, %error, "deleted row version is unreadable");
            }
        }
        store.primary.remove(&pk, &guard);
        store.retirer.retire(link, &guard);
        self.committed(OperationKind::Delete, pk, None, reply);
    }

    /// Numbers a committed operation, publishes it and answers the caller.
    fn committed(&mut self, kind: OperationKind, pk: S::Pk, row: Option<S::Row>, reply: Reply<S>) {
        self.seq += 1;
        let answer = pk.clone();
        if self.feed.is_listened() {
            self.feed.publish(Operation {
                seq: self.seq,
                kind,
                pk,
                row,
            });
        }
        let _ = reply.send(Ok(answer));
    }
}
