//! A page-shard actor: the only writer of its pages. It encodes each row, writes the new
//! version into a free slot and forwards the batch to the commit point, which publishes
//! it or hands the slot back.

use kameo::Actor;
use kameo::actor::{ActorRef, WeakActorRef};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use worktable_pages::PageWriter;

use crate::ops::{Commit, CommitMsg, WriteOp};
use crate::pump::{Pump, next_signal};
use crate::{TableSchema, WorkTableError};

/// Writes the row versions of the keys that hash to it.
pub(crate) struct ShardActor<S: TableSchema> {
    pub(crate) id: u16,
    pub(crate) writer: PageWriter<S::Row>,
    pub(crate) ops: UnboundedReceiver<WriteOp<S>>,
    pub(crate) batch: Vec<WriteOp<S>>,
    pub(crate) commit: UnboundedSender<CommitMsg<S>>,
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

impl<S: TableSchema> Pump for ShardActor<S> {
    type Item = WriteOp<S>;

    fn queue(&mut self) -> (&mut UnboundedReceiver<WriteOp<S>>, &mut Vec<WriteOp<S>>) {
        (&mut self.ops, &mut self.batch)
    }

    fn handle(&mut self, batch: &mut Vec<WriteOp<S>>) {
        let _span = tracing::debug_span!(
            "shard_batch",
            table = S::NAME,
            shard = self.id,
            ops = batch.len()
        )
        .entered();
        let mut commits = Vec::with_capacity(batch.len());
        for op in batch.drain(..) {
            match self.writer.write_row(&op.row) {
                Ok(link) => commits.push(Commit {
                    kind: op.kind,
                    pk: op.pk,
                    row: op.row,
                    link,
                    reply: op.reply,
                }),
                Err(error) => {
                    tracing::debug!(table = S::NAME, %error, "write rejected by pages");
                    let _ = op.reply.send(Err(error.into()));
                }
            }
        }
        if commits.is_empty() {
            return;
        }
        if let Err(tokio::sync::mpsc::error::SendError(CommitMsg::Writes(commits))) =
            self.commit.send(CommitMsg::Writes(commits))
        {
            tracing::warn!(table = S::NAME, "commit point is gone; failing writes");
            for commit in commits {
                self.writer.release_unpublished(commit.link);
                let _ = commit.reply.send(Err(WorkTableError::ShutDown));
            }
        }
    }
}
