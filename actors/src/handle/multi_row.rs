//! Writes of several rows at once: insert batches, multi-row updates and deletes. Each
//! has its shards write (or prepare) their rows, then commits the set in one step.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::Instrument;
use worktable_pages::Link;

use super::Table;
use crate::edit::{RowCondition, SharedRowEdit};
use crate::ops::{BatchPart, CommitMsg, DeleteOp, PrepareOp, Prepared, Staged, WriteOp};
use crate::store::Store;
use crate::{TableSchema, WorkTableError};

/// A row version written by a shard but not committed.
trait Written {
    fn link(&self) -> Link;
}

impl<S: TableSchema> Written for Prepared<S> {
    fn link(&self) -> Link {
        self.link
    }
}

impl<S: TableSchema> Written for Staged<S> {
    fn link(&self) -> Link {
        self.link
    }
}

/// Rows written but not committed; their space goes back to their shards unless they
/// are taken for commit (a cancelled caller leaks nothing).
struct Unpublished<'a, S: TableSchema, T: Written> {
    store: &'a Store<S>,
    rows: Vec<T>,
}

impl<S: TableSchema, T: Written> Unpublished<'_, S, T> {
    fn take(mut self) -> Vec<T> {
        std::mem::take(&mut self.rows)
    }
}

impl<S: TableSchema, T: Written> Drop for Unpublished<'_, S, T> {
    fn drop(&mut self) {
        for row in &self.rows {
            self.store.retirer.release_unpublished(row.link());
        }
    }
}

/// Rows a multi-row update reserved in their shards; released when dropped, so a
/// cancelled update never leaves rows blocked.
struct Reservation<'a, S: TableSchema> {
    table: &'a Table<S>,
    pks: Vec<S::Pk>,
}

impl<S: TableSchema> Drop for Reservation<'_, S> {
    fn drop(&mut self) {
        let Some(actors) = self.table.inner.actors.get() else {
            return;
        };
        let mut by_shard: HashMap<usize, Vec<S::Pk>> = HashMap::new();
        for pk in self.pks.drain(..) {
            by_shard
                .entry(self.table.shard_index(&pk, actors))
                .or_default()
                .push(pk);
        }
        for (shard, pks) in by_shard {
            // A stopped shard has nothing left to release.
            let _ = actors.shards[shard].ops.send(WriteOp::Release(pks));
        }
    }
}

impl<S: TableSchema> Table<S> {
    /// Inserts every row of `rows`, or none: the batch commits at once, and the actor
    /// round trips are paid once per batch, not per row. Returns the keys in input
    /// order. A row refused (a key or unique value taken, also by another row of the
    /// batch, or a row too large) fails the batch with `Batch { row, error }`, `row`
    /// being its position.
    pub async fn insert_many(&self, rows: Vec<S::Row>) -> Result<Vec<S::Pk>, WorkTableError> {
        let span = tracing::debug_span!("insert_many", table = S::NAME, rows = rows.len());
        async {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let actors = self.actors()?;
            let keys: Vec<S::Pk> = rows.iter().map(S::primary_key).collect();
            let mut by_shard: Vec<BatchPart<S>> =
                actors.shards.iter().map(|_| Vec::new()).collect();
            for (position, (row, pk)) in rows.into_iter().zip(&keys).enumerate() {
                by_shard[self.shard_index(pk, actors)].push((position, pk.clone(), row));
            }
            let mut pending = Vec::new();
            for (shard, rows) in by_shard.into_iter().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let (reply, staged) = oneshot::channel();
                actors.shards[shard]
                    .ops
                    .send(WriteOp::Stage { rows, reply })
                    .map_err(|_| WorkTableError::ShutDown)?;
                pending.push(staged);
            }
            let mut staged = Unpublished {
                store: &self.inner.store,
                rows: Vec::new(),
            };
            let mut refused: Option<(usize, WorkTableError)> = None;
            for part in pending {
                match part.await.map_err(|_| WorkTableError::ShutDown)? {
                    Ok(rows) => staged.rows.extend(rows),
                    Err((row, error)) => {
                        if refused.as_ref().is_none_or(|(first, _)| row < *first) {
                            refused = Some((row, error));
                        }
                    }
                }
            }
            if let Some((row, error)) = refused {
                return Err(WorkTableError::Batch {
                    row,
                    error: Box::new(error),
                });
            }
            let mut rows = staged.take();
            rows.sort_unstable_by_key(|row| row.position);
            let (reply, outcome) = oneshot::channel();
            actors
                .commit_inbox
                .send(CommitMsg::Inserts { rows, reply })
                .map_err(|_| WorkTableError::ShutDown)?;
            match outcome.await.map_err(|_| WorkTableError::ShutDown)? {
                Ok(()) => Ok(keys),
                Err((row, error)) => Err(WorkTableError::Batch {
                    row,
                    error: Box::new(error),
                }),
            }
        }
        .instrument(span)
        .await
    }

    /// Changes every row whose key `find` lists and that passes `condition`, all or
    /// nothing: if one changed row would violate a unique index, no row changes and the
    /// error names the index. Matching no row is not an error. Readers may see the rows
    /// change one after another, never a row half changed.
    pub async fn modify_many(
        &self,
        find: impl Fn(&Self) -> Result<Vec<S::Pk>, WorkTableError> + Send + Sync,
        condition: RowCondition<S::Row>,
        edit: SharedRowEdit<S::Row>,
    ) -> Result<(), WorkTableError> {
        async {
            let _one_at_a_time = self.inner.store.multi_row.lock().await;
            let mut pks = find(self)?;
            pks.sort_unstable();
            pks.dedup();
            // Released when this returns, after the commit point has answered.
            let _reserved = Reservation {
                table: self,
                pks: pks.clone(),
            };
            let prepared = self.prepare_all(pks, &condition, &edit).await?;
            if prepared.rows.is_empty() {
                return Ok(());
            }
            let (reply, outcome) = oneshot::channel();
            let rows = prepared.take();
            self.actors()?
                .commit_inbox
                .send(CommitMsg::Group { rows, reply })
                .map_err(|_| WorkTableError::ShutDown)?;
            outcome.await.map_err(|_| WorkTableError::ShutDown)?
        }
        .instrument(tracing::debug_span!("modify_many", table = S::NAME))
        .await
    }

    /// Has every shard compute and write its rows of a multi-row update.
    async fn prepare_all(
        &self,
        pks: Vec<S::Pk>,
        condition: &RowCondition<S::Row>,
        edit: &SharedRowEdit<S::Row>,
    ) -> Result<Unpublished<'_, S, Prepared<S>>, WorkTableError> {
        let actors = self.actors()?;
        let mut pending = Vec::with_capacity(pks.len());
        for pk in pks {
            let (reply, prepared) = oneshot::channel();
            let op = PrepareOp {
                pk: pk.clone(),
                condition: Arc::clone(condition),
                edit: Arc::clone(edit),
                reply,
            };
            self.shard_of(&pk, actors)
                .ops
                .send(WriteOp::Prepare(op))
                .map_err(|_| WorkTableError::ShutDown)?;
            pending.push(prepared);
        }
        let mut unpublished = Unpublished {
            store: &self.inner.store,
            rows: Vec::new(),
        };
        let mut failure = None;
        for prepared in pending {
            match prepared.await {
                Ok(Ok(Some(row))) => unpublished.rows.push(row),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => failure = failure.or(Some(error)),
                Err(_) => failure = failure.or(Some(WorkTableError::ShutDown)),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(unpublished),
        }
    }

    /// Deletes every row whose key `find` lists and that passes `condition`, one by one
    /// (readers may see some gone and some not yet). Matching no row is not an error.
    pub async fn delete_many(
        &self,
        find: impl Fn(&Self) -> Result<Vec<S::Pk>, WorkTableError> + Send + Sync,
        condition: RowCondition<S::Row>,
    ) -> Result<(), WorkTableError> {
        async {
            let actors = self.actors()?;
            let mut pending = Vec::new();
            for pk in find(self)? {
                let (reply, outcome) = oneshot::channel();
                let op = DeleteOp {
                    pk: pk.clone(),
                    condition: Some(Arc::clone(&condition)),
                    reply,
                };
                self.shard_of(&pk, actors)
                    .ops
                    .send(WriteOp::Delete(op))
                    .map_err(|_| WorkTableError::ShutDown)?;
                pending.push(outcome);
            }
            for outcome in pending {
                match Self::outcome(outcome.await) {
                    Ok(_) | Err(WorkTableError::NotFound) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        }
        .instrument(tracing::debug_span!("delete_many", table = S::NAME))
        .await
    }
}
