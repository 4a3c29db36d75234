//! Per-table settings.

use crate::WorkTableError;

/// How a table is laid out and run. The `worktable!` macro builds it from the
/// declaration's `config` section; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConfig {
    /// Bytes per page; also the largest row the table can hold.
    pub page_size: u32,
    /// Number of page-shard actors; `None` picks the machine's available parallelism
    /// (at most 1024).
    pub shards: Option<usize>,
    /// How many committed operations each change-feed subscription buffers before it
    /// starts missing operations (it is then told it lagged); 65 536 by default, set with
    /// `config: { feed_capacity: N }` in the declaration (checked there to be at least
    /// 1). A value of 0 given here directly counts as 1.
    pub feed_capacity: usize,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            page_size: worktable_pages::DEFAULT_PAGE_SIZE,
            shards: None,
            feed_capacity: 65_536,
        }
    }
}

impl TableConfig {
    /// The number of shards to run, between 1 and 1024.
    pub fn shard_count(&self) -> Result<u16, WorkTableError> {
        let shards = self.shards.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| usize::from(n).min(1024))
        });
        match u16::try_from(shards) {
            Ok(n @ 1..=1024) => Ok(n),
            _ => Err(WorkTableError::Config(format!(
                "shards must be between 1 and 1024, not {shards}"
            ))),
        }
    }
}
