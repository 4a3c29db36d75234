//! Read-modify-write operations: changes applied to the current version of a row inside
//! the shard that owns it, and multi-row changes committed all or nothing.

use std::sync::Arc;

/// A change to one row, run once by the row's shard on its current version.
pub type RowEdit<Row> = Box<dyn FnOnce(&mut Row) + Send>;

/// A change applied to every row of a multi-row update.
pub type SharedRowEdit<Row> = Arc<dyn Fn(&mut Row) + Send + Sync>;

/// A test the current version of a row must pass for a conditional write to apply.
pub type RowCondition<Row> = Arc<dyn Fn(&Row) -> bool + Send + Sync>;
