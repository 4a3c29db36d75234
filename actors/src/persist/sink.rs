//! The commit point's end of the log queue: it encodes each committed operation as a
//! record and hands a message's records over as one group.

use std::sync::Arc;

use rkyv::util::AlignedVec;
use worktable_pages::{RowStore, Unpublished};
use worktable_persistence::OperationKind;

use super::queue::{LogBatch, LogQueue};
use crate::TableSchema;

/// Encodes a primary key for the log (rkyv, as the key is stored in checkpoints).
pub(crate) type EncodePk<Pk> = fn(&Pk, AlignedVec) -> Result<AlignedVec, rkyv::rancor::Error>;

/// Records of the message being handled, on their way to the queue.
pub(crate) struct LogSink<S: TableSchema> {
    queue: Arc<LogQueue>,
    encode_pk: EncodePk<S::Pk>,
    group: LogBatch,
    /// The row bytes of the write being committed, copied before its version is published.
    row: Vec<u8>,
    pk: AlignedVec,
}

impl<S: TableSchema> LogSink<S> {
    /// A sink into `queue`.
    pub(crate) fn new(queue: Arc<LogQueue>, encode_pk: EncodePk<S::Pk>) -> Self {
        LogSink {
            queue,
            encode_pk,
            group: LogBatch::default(),
            row: Vec::new(),
            pk: AlignedVec::new(),
        }
    }

    /// Copies the bytes of `version`, the row of the write about to be committed: after
    /// the commit the version is published and may be replaced at any time.
    pub(crate) fn hold_row(
        &mut self,
        rows: &RowStore<S::Row, S::Pk, S::Indexes>,
        version: &Unpublished,
    ) {
        self.row.clear();
        if let Some(bytes) = rows.version_bytes(version) {
            self.row.extend_from_slice(bytes);
        }
    }

    /// Records a committed operation; an insert or update logs the row held last.
    pub(crate) fn record(&mut self, seq: u64, kind: OperationKind, pk: &S::Pk) {
        let buffer = std::mem::take(&mut self.pk);
        let encoded = match (self.encode_pk)(pk, buffer) {
            Ok(encoded) => encoded,
            Err(error) => {
                // A key that rkyv encoded into its index always encodes; if not, the log
                // would have a gap, so this must not be skipped silently.
                panic!("the primary key of a committed row failed to encode for the log: {error}")
            }
        };
        let row = match kind {
            OperationKind::Delete => None,
            OperationKind::Insert | OperationKind::Update => Some(self.row.as_slice()),
        };
        self.group.push(seq, kind, &encoded, row);
        self.pk = encoded;
    }

    /// Hands the records of the message handled so far to the queue, as one group.
    pub(crate) fn seal(&mut self) {
        if !self.group.is_empty() {
            self.queue.push_group(&mut self.group);
        }
    }
}
