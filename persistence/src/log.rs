//! Appending to the current log segment.

use std::hash::{BuildHasher, Hasher};

use crate::Record;
use crate::error::PersistError;
use crate::format::{FileHeader, MAGIC_SEGMENT, segment_name};
use crate::frame;
use crate::sticky::Sticky;
use crate::storage::{Storage, StorageFile};

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: Box<dyn StorageFile>,
    pub name: String,
    salt: u64,
    /// Where the frames end, counting those not yet written: the file may hold
    /// preallocated zeros after them.
    pub len: u64,
    /// The length covered by the last completed sync.
    synced_len: u64,
    /// The last sequence number appended.
    pub last_seq: u64,
    /// The last sequence number covered by a completed sync.
    pub durable_seq: u64,
    buf: Vec<u8>,
    /// Frames encoded and counted in `len`, not yet written: they go to the file with one
    /// write at the next sync (or once they pass [`PENDING_LIMIT`]), so a round of many
    /// commit groups costs one write and one sync.
    pending: Vec<u8>,
    /// How far the file holds preallocated zeros (or frames): writes up to here do not
    /// grow it.
    reserved_to: u64,
    /// How many bytes of zeros to write ahead of the frames when they reach
    /// `reserved_to` ([`Options::preallocate`](crate::Options::preallocate)); 0: none.
    ahead: u64,
}

/// Encoded frames held before they are written anyway.
const PENDING_LIMIT: usize = 1 << 20;

/// A per-segment random salt, mixed into every frame header's CRC so that bytes that
/// merely look like a frame (say, a frame stored inside a row) are never taken for one.
fn new_salt(number: u64) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(number);
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

impl LogWriter {
    /// Continues a recovered segment whose bytes up to `len` are durable.
    pub(crate) fn resume(
        file: Box<dyn StorageFile>,
        number: u64,
        salt: u64,
        len: u64,
        last_seq: u64,
    ) -> LogWriter {
        LogWriter {
            file,
            name: segment_name(number),
            salt,
            len,
            synced_len: len,
            last_seq,
            durable_seq: last_seq,
            buf: Vec::new(),
            pending: Vec::new(),
            reserved_to: len,
            ahead: 0,
        }
    }

    /// Keeps `bytes` of zeros written ahead of the frames from the next write on (see
    /// [`Options::preallocate`](crate::Options::preallocate)); 0: none.
    pub(crate) fn keep_ahead(&mut self, bytes: u64) {
        self.ahead = bytes;
    }

    /// Creates a new segment holding only its header, synced (the caller syncs the
    /// directory and records the segment in the manifest before appending to it).
    pub(crate) fn create(
        storage: &dyn Storage,
        sticky: &Sticky,
        number: u64,
        base_seq: u64,
    ) -> Result<LogWriter, PersistError> {
        let name = segment_name(number);
        let salt = new_salt(number);
        let mut file = sticky.io("create", &name, storage.create(&name))?;
        let header = FileHeader {
            magic: MAGIC_SEGMENT,
            a: number,
            b: base_seq,
            c: salt,
        }
        .encode();
        sticky.io("append", &name, file.append(&header))?;
        sticky.io("sync", &name, file.sync())?;
        Ok(LogWriter::resume(
            file,
            number,
            salt,
            header.len() as u64,
            base_seq,
        ))
    }

    /// Encodes a checked group (`body` from [`frame::body_len`]) and appends it: it is
    /// written with the frames appended after it, in one write, by the next
    /// [`Self::sync`] (or [`Self::write_pending`]).
    pub(crate) fn append(
        &mut self,
        sticky: &Sticky,
        records: &[Record<'_>],
        body: usize,
    ) -> Result<(), PersistError> {
        frame::encode(&mut self.buf, self.salt, self.synced_len, records, body);
        self.pending.extend_from_slice(&self.buf);
        self.len += self.buf.len() as u64;
        self.last_seq += records.len() as u64;
        if self.buf.capacity() > 1 << 20 {
            // Do not keep a buffer the size of one huge group around.
            self.buf = Vec::new();
        }
        if self.pending.len() >= PENDING_LIMIT {
            self.write_pending(sticky)?;
        }
        Ok(())
    }

    /// Writes the frames appended and not yet written, with one write.
    pub(crate) fn write_pending(&mut self, sticky: &Sticky) -> Result<(), PersistError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.ahead > 0 && self.len > self.reserved_to {
            let to = self.len + self.ahead;
            sticky.io("preallocate", &self.name, self.file.preallocate(to))?;
            self.reserved_to = to;
        }
        // Written or not (even if the storage panics), the bytes are never offered again:
        // after a failed write the file's end is unknown, and the failure is sticky.
        let mut pending = std::mem::take(&mut self.pending);
        let written = self.file.append(&pending);
        pending.clear();
        if pending.capacity() <= PENDING_LIMIT * 2 {
            self.pending = pending;
        }
        sticky.io("append", &self.name, written)
    }

    /// Cuts the zeros preallocated after the frames, durably: a segment that is not the
    /// last must end with its last frame. Called once everything appended is synced.
    pub(crate) fn trim(&mut self, sticky: &Sticky) -> Result<(), PersistError> {
        if self.reserved_to <= self.len {
            return Ok(());
        }
        sticky.io("truncate", &self.name, self.file.truncate(self.len))?;
        sticky.io("sync", &self.name, self.file.sync())?;
        self.reserved_to = self.len;
        Ok(())
    }

    /// Syncs the segment if anything was appended since the last sync, or always when
    /// `always` (bytes appended by an earlier handle may still be only in the OS cache).
    pub(crate) fn sync(&mut self, sticky: &Sticky) -> Result<(), PersistError> {
        self.sync_if(sticky, false)
    }

    /// See [`Self::sync`].
    pub(crate) fn sync_if(&mut self, sticky: &Sticky, always: bool) -> Result<(), PersistError> {
        if self.synced_len == self.len && !always {
            return Ok(());
        }
        self.write_pending(sticky)?;
        sticky.io("sync", &self.name, self.file.sync())?;
        self.synced_len = self.len;
        self.durable_seq = self.last_seq;
        Ok(())
    }
}

impl Drop for LogWriter {
    /// Hands frames appended and not yet written to the file (unsynced, as they would
    /// have been without the buffer): a directory dropped without a sync keeps what the
    /// OS keeps, as if every append had been written at once.
    fn drop(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty()
            && let Err(error) = self.file.append(&pending)
        {
            tracing::warn!(file = %self.name, %error, "appended frames were not written at close");
        }
    }
}
