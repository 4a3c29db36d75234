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
    /// When and how hard the table gives memory back; see [`VacuumConfig`].
    pub vacuum: VacuumConfig,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            page_size: worktable_pages::DEFAULT_PAGE_SIZE,
            shards: None,
            feed_capacity: 65_536,
            vacuum: VacuumConfig::default(),
        }
    }
}

/// When a table's vacuum runs and what it empties.
///
/// A vacuum pass moves the rows of sparse pages (those whose live bytes are below
/// `page_fill_percent` of a page) into other pages, and gives back the memory of every
/// page left empty. [`Table::vacuum`](crate::Table::vacuum) runs a pass now; automatic
/// passes run on the table's vacuum thread when, at a check every `check_every`, the
/// pages hold at least `min_page_bytes` and their live share is below
/// `trigger_percent`; an automatic pass empties the sparsest of those pages whose live
/// bytes add up to a fifth of the table's, so that the pages it closes to new versions
/// while it runs stay few. Every pass works at most `duty_percent` of the time, sleeping
/// between batches of moves, so writers keep most of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumConfig {
    /// Whether passes run on their own; `true` by default.
    pub auto: bool,
    /// A page whose live bytes are below this share of it (in percent) is emptied; 85 by
    /// default. Emptying a page at share `p` moves `p` of a page to win back the rest, so
    /// a higher value keeps the pages denser for more copying.
    pub page_fill_percent: u8,
    /// An automatic pass starts when the live share of all pages is below this (in
    /// percent); 85 by default.
    ///
    /// Measured with 10,000 rows of 0 to 4,000 bytes updated 3,000,000 times at random
    /// sizes (64 KiB pages, 2 cores): with 70 and a `page_fill_percent` of 75 the pages
    /// held 1.26 to 1.40 times the live bytes; with 80 and 85, 1.21 to 1.22, in the same
    /// time. Sampled every 10,000 updates (3 runs each), the pages' median ratio was 1.23
    /// with 80 and 1.18-1.20 with 85, in the same time; 85 with a `page_fill_percent` of
    /// 90 left more pages behind (1.13-1.84 at the end). These runs predate the limit of
    /// an automatic pass to a fifth of the live bytes; with it, the median was 1.23-1.24
    /// and the highest sample 1.36-1.38 where it had been 1.66-1.79.
    pub trigger_percent: u8,
    /// An automatic pass starts only when the pages hold at least this many bytes; 4 MiB
    /// by default.
    pub min_page_bytes: usize,
    /// How often the vacuum thread looks at the pages; 100 ms by default. A look costs a
    /// few microseconds of each shard's time. Measured with 10,000 rows of 0 to 4,000
    /// bytes updated 3,000,000 times at random sizes: looking every second, the pages
    /// ended at 1.41 (1.28-1.45) times the live bytes (10,000,000 updates); every 100 ms,
    /// 1.23 (1.13-1.28).
    pub check_every: std::time::Duration,
    /// The share of time (in percent) a pass works, sleeping between batches of moves
    /// otherwise; 25 by default. 100 (or 0) runs passes flat out.
    pub duty_percent: u8,
}

impl Default for VacuumConfig {
    fn default() -> Self {
        VacuumConfig {
            auto: true,
            page_fill_percent: 85,
            trigger_percent: 85,
            min_page_bytes: 4 << 20,
            check_every: std::time::Duration::from_millis(100),
            duty_percent: 25,
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
