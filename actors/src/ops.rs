//! What flows from the handle to the shards and from the shards to the commit point.

use tokio::sync::oneshot;
use worktable_pages::Link;

use crate::{TableSchema, WorkTableError};

/// Where a write's outcome goes: the key of the row it touched, or why it failed.
pub(crate) type Reply<S> = oneshot::Sender<Result<<S as TableSchema>::Pk, WorkTableError>>;

/// The kinds of whole-row writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// Store a new row; its key must be free.
    Insert,
    /// Store the row whether or not its key exists.
    Upsert,
    /// Replace the row with the same key; it must exist.
    Update,
}

/// A write on its way to the shard that owns its key.
pub(crate) struct WriteOp<S: TableSchema> {
    pub(crate) kind: WriteKind,
    pub(crate) pk: S::Pk,
    pub(crate) row: S::Row,
    pub(crate) reply: Reply<S>,
}

/// A written, not yet published row version on its way to the commit point.
pub(crate) struct Commit<S: TableSchema> {
    pub(crate) kind: WriteKind,
    pub(crate) pk: S::Pk,
    pub(crate) row: S::Row,
    pub(crate) link: Link,
    pub(crate) reply: Reply<S>,
}

/// What the commit point receives.
pub(crate) enum CommitMsg<S: TableSchema> {
    /// Row versions written by one shard, in the order the shard received them.
    Writes(Vec<Commit<S>>),
    /// Removal of a row; no page write is needed.
    Delete { pk: S::Pk, reply: Reply<S> },
}
