//! The error every table operation returns.

use worktable_pages::PageError;

/// Why a table operation failed. A failed write leaves no trace in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkTableError {
    /// No row has the given key.
    #[error("row not found")]
    NotFound,
    /// The write would give a unique index (or the primary key) a second row for one value.
    #[error("a row with this value already exists in index `{index}`")]
    AlreadyExists {
        /// The index that refused the value; the primary key is named `primary_key`.
        index: &'static str,
    },
    /// A write tried to change a row's primary key.
    #[error("the primary key of a row cannot be updated; delete the row and insert it anew")]
    PrimaryUpdateTry,
    /// The encoded row is larger than a page.
    #[error("row of {size} bytes does not fit in a page of {max} bytes")]
    RowTooLarge {
        /// Encoded size of the row.
        size: usize,
        /// Page size of the table, the largest row it can hold.
        max: usize,
    },
    /// A query named a column the table does not have.
    #[error("table has no column `{0}`")]
    UnknownColumn(String),
    /// A query gave a value of the wrong type for a column.
    #[error("column `{column}` holds {expected}, but the query gave {found}")]
    ColumnType {
        /// The column.
        column: &'static str,
        /// The column's type.
        expected: &'static str,
        /// The type the query gave.
        found: &'static str,
    },
    /// A query asked to filter or sort by a column whose type has no order.
    #[error("column `{0}` has no order, so it cannot be filtered by range or sorted")]
    ColumnNotOrdered(&'static str),
    /// The table was shut down.
    #[error("the table has been shut down")]
    ShutDown,
    /// An actor of the table panicked: the table has failed for good. Every later write,
    /// and `shutdown`, returns this error; reads keep working.
    #[error("actor `{actor}` of the table failed: {reason}")]
    ActorFailed {
        /// Which actor.
        actor: &'static str,
        /// What it reported.
        reason: String,
    },
    /// A row of a batch was refused, so none of the batch was written.
    #[error("row {row} of the batch was refused, so none was written: {error}")]
    Batch {
        /// The position of the refused row in the batch.
        row: usize,
        /// Why it was refused.
        error: Box<WorkTableError>,
    },
    /// The closure of an in-place update panicked; the row is unchanged.
    #[error("the closure of an in-place update panicked: {0}")]
    EditPanicked(String),
    /// The table's configuration is invalid.
    #[error("invalid table configuration: {0}")]
    Config(String),
    /// A row could not be encoded or read back.
    #[error("row storage failed: {0}")]
    Storage(String),
    /// The `autoincrement` generator has handed out (or passed) every key of the key's
    /// integer type, so it has no new key; it never hands out a key twice.
    #[error(
        "every `{key_type}` key has been handed out: the autoincrement generator is exhausted; \
         declare a wider key type"
    )]
    KeysExhausted {
        /// The key's integer type, e.g. `u8`.
        key_type: &'static str,
    },
    /// The table's directory could not be opened or recovered, or persistence failed:
    /// an I/O error (sticky: every later write, `flush`, `checkpoint` and `shutdown`
    /// reports it; reads keep working), a directory locked by another open table, a
    /// schema that differs from the stored one, or a corrupt file (named, with the
    /// offset). Match on the [`PersistError`](worktable_persistence::PersistError) inside.
    #[error("persistence: {0}")]
    Persist(crate::persist::PersistFailure),
    /// `checkpoint()` was called on a table that is not durable.
    #[error("the table is not durable: it was not opened from a directory")]
    NotDurable,
}

impl From<PageError> for WorkTableError {
    fn from(error: PageError) -> Self {
        match error {
            PageError::RowTooLarge { size, max } => WorkTableError::RowTooLarge { size, max },
            PageError::InvalidPageSize(_) => WorkTableError::Config(error.to_string()),
            other => WorkTableError::Storage(other.to_string()),
        }
    }
}
