//! What a vacuum pass reports. The pass itself is `handle/vacuum.rs`.

use std::time::Duration;

/// What one vacuum pass did, from [`Table::vacuum`](crate::Table::vacuum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VacuumReport {
    /// Pages whose memory went back to the allocator during the pass.
    pub pages_freed: u64,
    /// Rows copied out of sparse pages.
    pub rows_moved: u64,
    /// Bytes of those rows.
    pub bytes_moved: u64,
    /// Pages holding memory when the pass ended.
    pub pages: usize,
    /// Bytes of those pages that hold row versions when the pass ended.
    pub live_bytes: u64,
    /// Pages still being emptied when the pass ended: a row in them was held (by a
    /// multi-row update, or a reader that kept an old version pinned) and the next pass
    /// finishes them.
    pub pages_pending: usize,
    /// Whether a durable table took a checkpoint after the pass, to shrink its
    /// directory (see [`Table::vacuum`](crate::Table::vacuum)).
    pub checkpoint: bool,
    /// How long the pass took.
    pub elapsed: Duration,
}
