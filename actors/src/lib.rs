//! The running side of WorkTable: the generic [`Table`] handle, its page-shard actors,
//! its commit point and its change feed, plus the traits a table declaration implements
//! ([`TableSchema`] and friends).
//!
//! # Write path
//!
//! A write goes from the handle to the page shard that owns its key (by hash), which
//! encodes the row and writes the new version into its own pages, then to the table's
//! single commit point, which checks the primary key and unique indexes, updates every
//! index (this is the moment the write becomes visible), numbers it and publishes it on
//! the change feed, and answers the caller.
//!
//! This crate holds no `unsafe` code (`forbid(unsafe_code)`), and its soundness does not
//! rest on it being right: pages, links and indexes are reached only through the safe
//! interface of `worktable-pages`. The table's `RowStore` reads rows; its one `Committer`,
//! owned by the commit point, is the only writer of its indexes and decides when a
//! version's space may be reused; each shard's `PageWriter` is the only writer of its
//! pages. The handle never hands out an index: a method that needs one takes a `fn` that
//! picks it from the table's own indexes, which outside `worktable-pages` can only be
//! read.
//!
//! Shards and the commit point are actors without a task of their own (`combine.rs`): a
//! sender whose actor is idle runs it at once on its own thread, so an uncontended write
//! is a chain of function calls and resolves on its first poll; a sender whose actor is
//! busy leaves its message to the running thread's next batch and waits for the answer
//! (`reply.rs`), spinning briefly before it parks. So a table needs no runtime: it works
//! from any runtime, or none, and outlives every runtime it was used from.
//!
//! Every write to a row goes through its shard, so the shard is where a row's writes are
//! ordered. Changes computed from the current version (in-place and partial updates,
//! conditional deletes) read the committed row; before reading, the shard makes sure
//! that every batch it sent has been applied. Multi-row writes (insert batches, updates by
//! a non-unique index) have each shard write its rows unpublished, then commit the set in
//! one step, all or nothing; multi-row updates reserve their rows in the shards until they
//! are done (`handle/multi_row.rs`). A written version travels as an `Unpublished` token
//! until it is committed, so a write refused or cancelled anywhere frees its space.
//!
//! # Read path
//!
//! Reads never await and never message an actor: pin an epoch guard, and the table's
//! `RowStore` looks the key up in the lock-free primary index and decodes the row version
//! from its page.
//!
//! # Tracing
//!
//! Every public write runs in a `DEBUG` span named after the operation with the table
//! name, and every actor batch in a `DEBUG` span. With an `INFO` subscriber these spans
//! are disabled at their call site, so they cost a relaxed load, not an allocation.
//! Refused writes (`NotFound`, `AlreadyExists`) are answers, logged at `DEBUG`; failures
//! of the table itself are `WARN`/`ERROR` events.

#![forbid(unsafe_code)]

mod autoincrement;
mod column;
mod combine;
mod commit;
mod config;
mod edit;
mod error;
mod feed;
mod handle;
mod ops;
mod persist;
mod reply;
mod schema;
mod select;
mod shard;
mod storable;
mod store;
mod vacuum;

pub use autoincrement::{AutoIncrement, CounterInt, next_key};
pub use column::{
    AnyValue, ColumnDef, ColumnIndex, ColumnVisitor, ErasedRange, OrderedIndex, TotalOrder, coerce,
    in_range, probe,
};
pub use config::{TableConfig, VacuumConfig};
pub use edit::{RowCondition, RowEdit, SharedRowEdit};
pub use error::WorkTableError;
pub use feed::{Subscription, SubscriptionError};
pub use handle::Table;
pub use persist::{Durability, PersistConfig, PersistFailure};
pub use schema::{
    PRIMARY_KEY_INDEX, PrimaryKeyGenerator, TableColumn, TablePrimaryKey, TableSchema,
};
pub use select::{ColumnArg, Order, SelectQuery};
pub use storable::{ArchivedAlign, StorableColumn, UnstorableAlign};
pub use vacuum::VacuumReport;
pub use worktable_persistence::{Operation, OperationKind, PersistError};
