//! How a durable table is opened.

use std::time::Duration;

use crate::TableConfig;

/// When a write to a durable table resolves, relative to the disk.
///
/// In both modes a write is visible to readers as soon as it commits, which may be before
/// it is durable, and a crash never leaves part of a multi-row write or a row that was
/// never written: recovery gives back a prefix of the commit order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A write resolves after the `fdatasync` that covers it. Writers waiting at the same
    /// moment share one sync (group commit). Neither a process crash nor a power loss
    /// loses a write that resolved.
    #[default]
    Sync,
    /// A write resolves when it commits; the persistence actor writes and syncs it in its
    /// next round, at most [`PersistConfig::buffered_interval`] later (sooner once 256 KiB
    /// are waiting), and `flush().await` waits for that. A process crash (the operating
    /// system survives) loses at most what was committed but not yet handed to the OS:
    /// the writes of the last interval and round; a power loss loses what was not yet
    /// synced, the same. Either way a write that resolved before a completed `flush()`
    /// survives.
    Buffered,
}

/// Settings of a durable table ([`Table::open_with`](crate::Table::open_with)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistConfig {
    /// When writes resolve; [`Durability::Sync`] by default.
    pub durability: Durability,
    /// A checkpoint is taken in the background once the log written since the last one
    /// passes this many bytes (64 MiB by default); `checkpoint()` and a clean `shutdown()`
    /// take one as well. Recovery reads the checkpoint and the log after it, so this bounds
    /// the log that a reopen replays.
    pub checkpoint_log_bytes: u64,
    /// Log segments are cut at about this many bytes (64 MiB by default); segments that a
    /// checkpoint covers are removed.
    pub segment_bytes: u64,
    /// With [`Durability::Buffered`], how long committed writes may wait before the
    /// persistence actor writes and syncs them (2 ms by default): rounds this far apart
    /// cost writers far less than a round per sync, and bound what a crash loses.
    /// `Duration::MAX` leaves only the other triggers: 256 KiB waiting, or a `flush()`,
    /// `checkpoint()` or shutdown. Ignored with [`Durability::Sync`], where a round starts
    /// as soon as a write waits.
    pub buffered_interval: Duration,
    /// Records waiting for the persistence actor, in bytes, above which new writes wait
    /// for the disk to catch up (64 MiB by default). Nothing is ever dropped.
    pub queue_bytes: usize,
    /// The in-memory layout (page size, shards, feed capacity); `None` takes the
    /// declaration's `config` section, as a table that is not persisted does.
    pub table: Option<TableConfig>,
}

impl Default for PersistConfig {
    fn default() -> Self {
        PersistConfig {
            durability: Durability::Sync,
            checkpoint_log_bytes: 64 << 20,
            segment_bytes: 64 << 20,
            buffered_interval: Duration::from_millis(2),
            queue_bytes: 64 << 20,
            table: None,
        }
    }
}
