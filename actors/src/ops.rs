//! What flows from the handle to the shards and from the shards to the commit point.
//!
//! A row version a shard wrote travels as an [`Unpublished`] token until the commit point
//! links it from the indexes; wherever a write is refused, abandoned or cancelled on the
//! way, dropping the token gives the slot back.

use worktable_pages::{Link, Relocation, Unpublished, WriterUsage};

use crate::edit::{RowCondition, RowEdit, SharedRowEdit};
use crate::reply;
use crate::{TableSchema, WorkTableError};

/// Where a write's outcome goes: the key of the row it touched, or why it failed.
pub(crate) type Reply<S> = reply::Reply<Result<<S as TableSchema>::Pk, WorkTableError>>;

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

/// A change of one row computed from its current version, if it passes `condition`.
pub(crate) struct ModifyOp<S: TableSchema> {
    pub(crate) pk: S::Pk,
    pub(crate) condition: Option<RowCondition<S::Row>>,
    pub(crate) edit: RowEdit<S::Row>,
    pub(crate) reply: Reply<S>,
}

/// A removal of one row, if it passes `condition`.
pub(crate) struct DeleteOp<S: TableSchema> {
    pub(crate) pk: S::Pk,
    pub(crate) condition: Option<RowCondition<S::Row>>,
    pub(crate) reply: Reply<S>,
}

/// One row of a multi-row update, prepared by its shard but not committed.
pub(crate) struct Prepared<S: TableSchema> {
    pub(crate) pk: S::Pk,
    /// The committed version the change was computed from.
    pub(crate) base: Link,
    pub(crate) row: S::Row,
    pub(crate) version: Unpublished,
}

/// A request to prepare one row of a multi-row update.
pub(crate) struct PrepareOp<S: TableSchema> {
    pub(crate) pk: S::Pk,
    pub(crate) condition: RowCondition<S::Row>,
    pub(crate) edit: SharedRowEdit<S::Row>,
    /// `None` when the row is gone or fails the condition.
    pub(crate) reply: reply::Reply<Result<Option<Prepared<S>>, WorkTableError>>,
}

/// A write on its way to the shard that owns its key.
pub(crate) enum WriteOp<S: TableSchema> {
    /// A whole row to store.
    Put {
        kind: WriteKind,
        pk: S::Pk,
        row: S::Row,
        reply: Reply<S>,
    },
    /// A change of the current version.
    Modify(ModifyOp<S>),
    /// A removal.
    Delete(DeleteOp<S>),
    /// A row of a multi-row update to prepare. The shard holds later writes to the row
    /// back until the update releases it.
    Prepare(PrepareOp<S>),
    /// The end of a multi-row update: writes held back for these rows go ahead, after
    /// the update (submitted before this) has been applied.
    Release(Vec<S::Pk>),
    /// Rows of an insert batch to write (not commit).
    Stage {
        rows: BatchPart<S>,
        reply: reply::Reply<StageOutcome<S>>,
    },
    /// A step of a vacuum pass.
    Vacuum(VacuumOp<S>),
}

/// A step of a vacuum pass, sent by the vacuum thread, which waits for the answer on a
/// channel of its own (it is no task, and nobody is nudged for it).
pub(crate) enum VacuumOp<S: TableSchema> {
    /// Take back reclaimed slots and mark the sparse pages for emptying: those whose live
    /// bytes are below `share` of a page, sparsest first, while their live bytes add up
    /// to at most `budget`. Answers the pages' usage after.
    Evacuate {
        share: f64,
        budget: u64,
        reply: flume::Sender<WriterUsage>,
    },
    /// Move these rows out of the pages being emptied (a row that has moved, gone, or
    /// is reserved by a multi-row update is left alone). Answers the rows and bytes
    /// copied.
    Move {
        pks: Vec<S::Pk>,
        reply: flume::Sender<(u64, u64)>,
    },
    /// Take back reclaimed slots, giving back empty pages. Answers the pages' usage after
    /// every batch this shard sent has been applied.
    Collect { reply: flume::Sender<WriterUsage> },
    /// Answer the pages' usage as it is, taking nothing back: where a pass starts from.
    Usage { reply: flume::Sender<WriterUsage> },
}

/// A shard's rows of an insert batch: `(position in the batch, key, row)`.
pub(crate) type BatchPart<S> = Vec<(usize, <S as TableSchema>::Pk, <S as TableSchema>::Row)>;

/// A row of an insert batch, written by its shard but not committed.
pub(crate) struct Staged<S: TableSchema> {
    pub(crate) position: usize,
    pub(crate) pk: S::Pk,
    pub(crate) row: S::Row,
    pub(crate) version: Unpublished,
}

/// A shard's part of an insert batch, or the position of the row it refused and why.
pub(crate) type StageOutcome<S> = Result<Vec<Staged<S>>, (usize, WorkTableError)>;

impl<S: TableSchema> WriteOp<S> {
    /// The key of the row the write touches; `None` for a release.
    pub(crate) fn pk(&self) -> Option<&S::Pk> {
        match self {
            WriteOp::Put { pk, .. } => Some(pk),
            WriteOp::Modify(op) => Some(&op.pk),
            WriteOp::Delete(op) => Some(&op.pk),
            WriteOp::Prepare(op) => Some(&op.pk),
            WriteOp::Release(_) | WriteOp::Stage { .. } | WriteOp::Vacuum(_) => None,
        }
    }

    /// Whether the write is computed from the row's committed version.
    pub(crate) fn reads_current(&self) -> bool {
        match self {
            WriteOp::Put { .. }
            | WriteOp::Release(_)
            | WriteOp::Stage { .. }
            | WriteOp::Vacuum(_) => false,
            WriteOp::Delete(op) => op.condition.is_some(),
            WriteOp::Modify(_) | WriteOp::Prepare(_) => true,
        }
    }

    /// Asks the caller waiting for this write to run the table's actors.
    pub(crate) fn nudge(&self) -> bool {
        match self {
            WriteOp::Put { reply, .. } => reply.nudge(),
            WriteOp::Modify(op) => op.reply.nudge(),
            WriteOp::Delete(op) => op.reply.nudge(),
            WriteOp::Prepare(op) => op.reply.nudge(),
            WriteOp::Stage { reply, .. } => reply.nudge(),
            WriteOp::Release(_) | WriteOp::Vacuum(_) => false,
        }
    }
}

/// A write checked and, where it has one, written by its shard, on its way to the
/// commit point.
///
/// A change computed from a version names that version (`base`). Nothing else can commit
/// a version of the row in between (its shard orders every write to it, and a multi-row
/// update reserves its rows), so the commit point only verifies it.
pub(crate) enum Commit<S: TableSchema> {
    /// A whole row, written as `version`.
    Put {
        kind: WriteKind,
        pk: S::Pk,
        row: S::Row,
        version: Unpublished,
        reply: Reply<S>,
    },
    /// A changed row written as `version`, computed from the version at `base`.
    Modify {
        pk: S::Pk,
        base: Link,
        row: S::Row,
        version: Unpublished,
        reply: Reply<S>,
    },
    /// A removal; with a `base`, of that version, which passed the delete's condition.
    Delete {
        pk: S::Pk,
        base: Option<Link>,
        reply: Reply<S>,
    },
    /// A vacuum's move of a row to a copy of its current version: no user-visible
    /// change, so no sequence number, no log record and no change-feed record.
    Move {
        pk: S::Pk,
        relocation: Relocation<S::Row>,
    },
}

/// What the commit point receives.
pub(crate) enum CommitMsg<S: TableSchema> {
    /// Batch number `batch` of shard `shard`: its writes in the order it received them.
    Writes {
        shard: u16,
        batch: u64,
        commits: Vec<Commit<S>>,
    },
    /// A multi-row update, all or nothing.
    Group {
        rows: Vec<Prepared<S>>,
        reply: reply::Reply<Result<(), WorkTableError>>,
    },
    /// An insert batch in batch order, all or nothing; a refusal names the row's position.
    Inserts {
        rows: Vec<Staged<S>>,
        reply: reply::Reply<Result<(), (usize, WorkTableError)>>,
    },
}

impl<S: TableSchema> Commit<S> {
    /// Where the write's outcome goes; a move has no caller.
    fn reply(&self) -> Option<&Reply<S>> {
        match self {
            Commit::Put { reply, .. }
            | Commit::Modify { reply, .. }
            | Commit::Delete { reply, .. } => Some(reply),
            Commit::Move { .. } => None,
        }
    }
}

impl<S: TableSchema> CommitMsg<S> {
    /// Asks a caller waiting for this message to run the table's actors.
    pub(crate) fn nudge(&self) -> bool {
        match self {
            CommitMsg::Writes { commits, .. } => commits
                .iter()
                .any(|c| c.reply().is_some_and(|reply| reply.nudge())),
            CommitMsg::Group { reply, .. } => reply.nudge(),
            CommitMsg::Inserts { reply, .. } => reply.nudge(),
        }
    }
}
