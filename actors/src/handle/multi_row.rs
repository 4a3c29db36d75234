//! Writes of several rows at once: insert batches, multi-row updates and deletes. Each
//! has its shards write (or prepare) their rows, then commits the set in one step.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::Instrument;

use super::Table;
use crate::edit::{RowCondition, SharedRowEdit};
use crate::ops::{BatchPart, CommitMsg, DeleteOp, PrepareOp, Prepared, WriteOp};
use crate::reply;
use crate::{TableSchema, WorkTableError};

/// Rows a multi-row update reserved in their shards; released when dropped, so a
/// cancelled update never leaves rows blocked. The release is handled after everything
/// submitted before it, the update's commit included, so held writes follow the update.
struct Reservation<'a, S: TableSchema> {
    table: &'a Table<S>,
    pks: Vec<S::Pk>,
}

impl<S: TableSchema> Drop for Reservation<'_, S> {
    fn drop(&mut self) {
        let mut by_shard: HashMap<usize, Vec<S::Pk>> = HashMap::new();
        for pk in self.pks.drain(..) {
            by_shard
                .entry(self.table.shard_index(&pk))
                .or_default()
                .push(pk);
        }
        for (shard, pks) in by_shard {
            if let Some(shard) = self.table.inner.shards.get(shard) {
                // A stopped shard has abandoned what it held: nothing is left to release.
                let _ = shard.submit(WriteOp::Release(pks));
            }
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
            self.admit().await;
            let keys: Vec<S::Pk> = rows.iter().map(S::primary_key).collect();
            let mut by_shard: Vec<BatchPart<S>> =
                self.inner.shards.iter().map(|_| Vec::new()).collect();
            for (position, (row, pk)) in rows.into_iter().zip(&keys).enumerate() {
                if let Some(part) = by_shard.get_mut(self.shard_index(pk)) {
                    part.push((position, pk.clone(), row));
                }
            }
            let mut pending = Vec::new();
            for (shard, rows) in by_shard.into_iter().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let (reply, staged) = reply::channel();
                self.submit(shard, WriteOp::Stage { rows, reply })?;
                pending.push(staged);
            }
            // Written but unpublished versions are tokens: whatever is dropped on the way
            // (a refusal, a cancelled caller) frees its slots.
            let mut staged = Vec::new();
            let mut refused: Option<(usize, WorkTableError)> = None;
            for part in pending {
                match self.receive(part).await? {
                    Ok(rows) => staged.extend(rows),
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
            staged.sort_unstable_by_key(|row| row.position);
            let (reply, outcome) = reply::channel();
            self.inner
                .commit
                .submit(CommitMsg::Inserts {
                    rows: staged,
                    reply,
                })
                .map_err(|_| self.stopped())?;
            let result = match self.receive(outcome).await? {
                Ok(()) => Ok(keys),
                Err((row, error)) => Err(WorkTableError::Batch {
                    row,
                    error: Box::new(error),
                }),
            };
            self.made_durable(result).await
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
            self.admit().await;
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
            if prepared.is_empty() {
                return Ok(());
            }
            let (reply, outcome) = reply::channel();
            self.inner
                .commit
                .submit(CommitMsg::Group {
                    rows: prepared,
                    reply,
                })
                .map_err(|_| self.stopped())?;
            let result = self.answer(outcome).await;
            self.made_durable(result).await
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
    ) -> Result<Vec<Prepared<S>>, WorkTableError> {
        let mut pending = Vec::with_capacity(pks.len());
        for pk in pks {
            let (reply, prepared) = reply::channel();
            let op = PrepareOp {
                pk: pk.clone(),
                condition: Arc::clone(condition),
                edit: Arc::clone(edit),
                reply,
            };
            self.submit(self.shard_index(&pk), WriteOp::Prepare(op))?;
            pending.push(prepared);
        }
        // Every answer is awaited, so no reservation is released before its row is
        // prepared; prepared versions dropped on a failure free their slots.
        let mut prepared = Vec::new();
        let mut failure = None;
        for outcome in pending {
            match self.answer(outcome).await {
                Ok(Some(row)) => prepared.push(row),
                Ok(None) => {}
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(prepared),
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
            self.admit().await;
            let mut pending = Vec::new();
            for pk in find(self)? {
                let (reply, outcome) = reply::channel();
                let op = DeleteOp {
                    pk: pk.clone(),
                    condition: Some(Arc::clone(&condition)),
                    reply,
                };
                self.submit(self.shard_index(&pk), WriteOp::Delete(op))?;
                pending.push(outcome);
            }
            for outcome in pending {
                match self.answer(outcome).await {
                    Ok(_) | Err(WorkTableError::NotFound) => {}
                    Err(error) => return Err(error),
                }
            }
            self.made_durable(Ok(())).await
        }
        .instrument(tracing::debug_span!("delete_many", table = S::NAME))
        .await
    }
}
