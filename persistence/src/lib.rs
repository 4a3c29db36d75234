//! The records of WorkTable's change feed.
//!
//! Every committed write becomes one [`Operation`], numbered by a gapless sequence in
//! commit order. The change feed hands them to subscribers today; the on-disk log of a
//! later release writes the same records.

#![forbid(unsafe_code)]

/// What a committed operation did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// A new row was stored.
    Insert,
    /// An existing row was replaced by a new version.
    Update,
    /// A row was removed.
    Delete,
}

/// One committed operation, as the change feed reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation<Pk, Row> {
    /// Position in the table's commit order: 1 for the first commit, then without gaps.
    pub seq: u64,
    /// What happened.
    pub kind: OperationKind,
    /// The primary key of the row.
    pub pk: Pk,
    /// The row as it is after the operation; `None` for a delete.
    pub row: Option<Row>,
}
