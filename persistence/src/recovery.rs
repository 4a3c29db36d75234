//! Recovery: the checkpoint's rows, then the log after it, checked as they are read; the
//! torn tail cut and everything recovered made durable before the directory is handed
//! over for appending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checkpoint::CheckpointReader;
use crate::dir::{Dir, Options};
use crate::error::{Corruption, PersistError, corrupt};
use crate::format::{FileName, parse_name};
use crate::log::LogWriter;
use crate::manifest::Manifest;
use crate::segment::SegmentReader;
use crate::sticky::Sticky;
use crate::storage::{Storage, StorageLock};
use crate::{OperationKind, Record};

/// One row of the checkpoint, as recovery hands it out. Both slices are 16-byte aligned
/// and passed their block's CRC; validate them with rkyv before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointRow<'a> {
    /// The primary key's encoded bytes.
    pub pk: &'a [u8],
    /// The row's encoded bytes.
    pub row: &'a [u8],
}

/// Where a torn tail was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub file: String,
    /// Where the cut frame started (the file's new length).
    pub offset: u64,
    /// How many bytes were cut.
    pub bytes: u64,
}

/// What recovery read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// The checkpoint's sequence number (0 without a checkpoint).
    pub checkpoint_seq: u64,
    /// Rows loaded from the checkpoint.
    pub rows: u64,
    /// Log frames read (each one commit group).
    pub frames: u64,
    /// Log records handed out (those after the checkpoint).
    pub records: u64,
    /// Log records skipped because the checkpoint already holds them.
    pub skipped: u64,
    /// Log segments read.
    pub segments: u64,
    /// The last sequence number recovered (checkpoint or log).
    pub last_seq: u64,
    /// The torn tail cut off, if there was one. Zeros alone after the last frame are not
    /// one: they are space preallocated for frames (or frames none of whose bytes reached
    /// the disk), cut and preallocated again without a report.
    pub torn_tail: Option<TornTail>,
    /// Time from open to the end of [`Recovery::finish`].
    pub elapsed: Duration,
}

/// An opened directory being recovered; returned by [`Dir::open`].
///
/// Read it in order: [`Self::next_row`] until `None` (the checkpoint's rows, in the
/// order they were written: primary-key order), then [`Self::next_record`] until `None`
/// (every logged operation after the checkpoint's sequence number, in sequence order,
/// whole commit groups only), then [`Self::finish`] for the [`Dir`] to append to.
/// Skipping ahead is allowed: `next_record` first reads (and checks) the rows not yet
/// taken, and `finish` reads and checks everything not yet taken.
///
/// Every error is final: later calls return [`PersistError::PreviousError`].
#[derive(Debug)]
pub struct Recovery {
    storage: Arc<dyn Storage>,
    lock: Box<dyn StorageLock>,
    options: Options,
    manifest: Manifest,
    listing: Vec<String>,
    checkpoint: Option<CheckpointReader>,
    rows_done: bool,
    segment: Option<SegmentReader>,
    /// Index in `manifest.segments` of `segment`.
    segment_index: usize,
    /// Index of the next entry of the current frame.
    next_entry: usize,
    current_entry: Option<usize>,
    /// The sequence number the log must continue with.
    expected_seq: u64,
    log_done: bool,
    stats: RecoveryStats,
    failed: Sticky,
    started: Instant,
}

impl Recovery {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        lock: Box<dyn StorageLock>,
        options: Options,
        manifest: Manifest,
        listing: Vec<String>,
        started: Instant,
    ) -> Result<Recovery, PersistError> {
        let checkpoint = match manifest.checkpoint {
            Some(c) => Some(CheckpointReader::open(&*storage, c.number, c.seq, c.len)?),
            None => None,
        };
        let stats = RecoveryStats {
            checkpoint_seq: manifest.checkpoint.map_or(0, |c| c.seq),
            ..RecoveryStats::default()
        };
        Ok(Recovery {
            storage,
            lock,
            options,
            manifest,
            listing,
            rows_done: checkpoint.is_none(),
            checkpoint,
            segment: None,
            segment_index: 0,
            next_entry: 0,
            current_entry: None,
            expected_seq: 0,
            log_done: false,
            stats,
            failed: Sticky::default(),
            started,
        })
    }

    /// The checkpoint's sequence number S (0 without a checkpoint): the rows reflect
    /// every operation up to S, and the records start after it.
    pub fn checkpoint_seq(&self) -> u64 {
        self.stats.checkpoint_seq
    }

    /// How many rows the checkpoint's footer counts (0 without a checkpoint, or when its
    /// footer does not read): a hint for sizing what receives the rows, checked against
    /// the rows handed out only when the footer is reached in order.
    pub fn checkpoint_rows_hint(&self) -> u64 {
        self.checkpoint
            .as_ref()
            .map_or(0, CheckpointReader::rows_hint)
    }

    /// A [`PersistError::Corrupt`] for the row or record handed out last, which passed
    /// its checksum but not the caller's own check (rkyv's validation of its bytes, say):
    /// it names the file and the offset of the checkpoint block or log frame holding it.
    pub fn corrupt_here(&self, reason: &'static str) -> PersistError {
        let (file, offset) = match (&self.segment, &self.checkpoint) {
            (Some(segment), _) if self.rows_done => (
                segment.name.clone(),
                segment.pos.saturating_sub(segment.buf.len() as u64),
            ),
            (_, Some(checkpoint)) => (checkpoint.name().to_owned(), checkpoint.block_start()),
            _ => (String::new(), 0),
        };
        crate::error::corrupt(&file, offset, Corruption::Malformed(reason))
    }

    /// What was read so far.
    pub fn stats(&self) -> &RecoveryStats {
        &self.stats
    }

    /// The next row of the checkpoint; `None` once they are all read (or without a
    /// checkpoint).
    pub fn next_row(&mut self) -> Result<Option<CheckpointRow<'_>>, PersistError> {
        self.failed.check()?;
        if !self.advance_row().map_err(|e| self.failed.fail(e))? {
            return Ok(None);
        }
        Ok(self
            .checkpoint
            .as_ref()
            .and_then(CheckpointReader::current)
            .map(|(pk, row)| CheckpointRow { pk, row }))
    }

    fn advance_row(&mut self) -> Result<bool, PersistError> {
        let Some(reader) = self.checkpoint.as_mut().filter(|_| !self.rows_done) else {
            return Ok(false);
        };
        if reader.advance()? {
            return Ok(true);
        }
        self.stats.rows = reader.rows();
        tracing::debug!(
            file = reader.name(),
            rows = self.stats.rows,
            "checkpoint loaded"
        );
        self.rows_done = true;
        Ok(false)
    }

    /// The next logged operation after the checkpoint; `None` at the end of the log.
    /// Key and row bytes are 16-byte aligned and passed their frame's CRC; validate them
    /// with rkyv before use.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, PersistError> {
        self.failed.check()?;
        let more = (|| {
            while self.advance_row()? {}
            self.advance_record()
        })()
        .map_err(|e| self.failed.fail(e))?;
        if !more {
            return Ok(None);
        }
        Ok(self.current_record())
    }

    fn current_record(&self) -> Option<Record<'_>> {
        let seg = self.segment.as_ref()?;
        let i = self.current_entry?;
        let e = seg.entries.get(i)?;
        Some(Record {
            seq: seg.first_seq + i as u64,
            kind: e.kind,
            pk: seg.buf.get(e.pk.clone())?,
            row: match &e.row {
                Some(r) => Some(seg.buf.get(r.clone())?),
                None => None,
            },
        })
    }

    /// Moves to the next record after the checkpoint; `false` at the end of the log.
    fn advance_record(&mut self) -> Result<bool, PersistError> {
        let s = self.stats.checkpoint_seq;
        loop {
            if self.log_done {
                return Ok(false);
            }
            let Some(seg) = self.segment.as_mut() else {
                self.open_segment(0)?;
                continue;
            };
            if self.next_entry < seg.entries.len() {
                let i = self.next_entry;
                self.next_entry += 1;
                if seg.first_seq + i as u64 <= s {
                    self.stats.skipped += 1;
                    continue;
                }
                self.current_entry = Some(i);
                self.stats.records += 1;
                return Ok(true);
            }
            self.current_entry = None;
            if seg.next_frame(self.expected_seq)? {
                self.next_entry = 0;
                self.expected_seq += seg.entries.len() as u64;
                self.stats.frames += 1;
                continue;
            }
            if let Some(next) = self.manifest.segments.get(self.segment_index + 1) {
                let last_seq = self.expected_seq - 1;
                if seg.torn_at.is_none() && last_seq != next.base_seq {
                    return Err(corrupt(
                        &seg.name,
                        seg.pos,
                        Corruption::SegmentEnd {
                            last_seq,
                            next_base: next.base_seq,
                        },
                    ));
                }
                self.open_segment(self.segment_index + 1)?;
                continue;
            }
            let last = self.expected_seq - 1;
            if last < s {
                return Err(corrupt(
                    &seg.name,
                    seg.pos,
                    Corruption::LogBehindCheckpoint {
                        checkpoint: s,
                        log: last,
                    },
                ));
            }
            self.stats.last_seq = last;
            self.log_done = true;
        }
    }

    fn open_segment(&mut self, index: usize) -> Result<(), PersistError> {
        let Some(seg) = self.manifest.segments.get(index).copied() else {
            return Err(corrupt(
                crate::format::MANIFEST,
                0,
                Corruption::Malformed("no log segment"),
            ));
        };
        let is_last = index + 1 == self.manifest.segments.len();
        let reader = SegmentReader::open(&*self.storage, seg, is_last)?;
        if index == 0 {
            if seg.base_seq > self.stats.checkpoint_seq {
                return Err(corrupt(
                    &reader.name,
                    24,
                    Corruption::SequenceGap {
                        expected: self.stats.checkpoint_seq + 1,
                        found: seg.base_seq + 1,
                    },
                ));
            }
        } else if seg.base_seq + 1 != self.expected_seq {
            return Err(corrupt(
                &reader.name,
                24,
                Corruption::SequenceGap {
                    expected: self.expected_seq,
                    found: seg.base_seq + 1,
                },
            ));
        }
        self.expected_seq = seg.base_seq + 1;
        self.segment = Some(reader);
        self.segment_index = index;
        self.next_entry = 0;
        self.current_entry = None;
        self.stats.segments += 1;
        Ok(())
    }

    /// Reads and checks whatever was not taken yet, cuts a torn tail off the last
    /// segment and syncs it, syncs the directory, removes files no manifest names
    /// (left by a crash), and hands over the directory, ready to append after the last
    /// recovered sequence number.
    pub fn finish(mut self) -> Result<(Dir, RecoveryStats), PersistError> {
        self.failed.check()?;
        while self.advance_record()? {}
        let Some(mut seg) = self.segment.take() else {
            return Err(corrupt(
                crate::format::MANIFEST,
                0,
                Corruption::Malformed("no log segment"),
            ));
        };
        let storage = &*self.storage;
        let io = |op, file: &str, source| PersistError::Io {
            op,
            file: file.to_owned(),
            source,
        };
        if let Some(at) = seg.torn_at {
            let torn = TornTail {
                file: seg.name.clone(),
                offset: at,
                bytes: seg.len - at,
            };
            // Zeros after the last frame are most often space preallocated for frames;
            // they are cut all the same, and preallocated again before the next write.
            if seg.tail_is_zeros {
                tracing::debug!(file = %torn.file, offset = at, bytes = torn.bytes, "cutting off the zeros after the log's last frame");
            } else {
                tracing::warn!(file = %torn.file, offset = at, bytes = torn.bytes, "cutting off a torn tail of the log");
                self.stats.torn_tail = Some(torn);
            }
            seg.file
                .truncate(at)
                .map_err(|e| io("truncate", &seg.name, e))?;
            seg.len = at;
        }
        // What recovery read must be durable before anything builds on it, even if the
        // previous process died with these bytes still in the page cache.
        seg.file.sync().map_err(|e| io("sync", &seg.name, e))?;
        storage
            .sync_dir()
            .map_err(|e| io("sync directory", ".", e))?;
        let mut removed = 0;
        let mut max_number = 0;
        for name in &self.listing {
            let referenced = match parse_name(name) {
                FileName::Segment(n) => {
                    max_number = max_number.max(n);
                    self.manifest.segments.iter().any(|s| s.number == n)
                }
                FileName::Checkpoint(n) => {
                    max_number = max_number.max(n);
                    self.manifest.checkpoint.is_some_and(|c| c.number == n)
                }
                FileName::CheckpointTmp(n) => {
                    max_number = max_number.max(n);
                    false
                }
                FileName::ManifestTmp => false,
                FileName::Lock | FileName::Manifest | FileName::Foreign => true,
            };
            if !referenced {
                tracing::info!(file = %name, "removing a file no manifest names (left by a crash)");
                storage.remove(name).map_err(|e| io("remove", name, e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            storage
                .sync_dir()
                .map_err(|e| io("sync directory", ".", e))?;
        }
        self.manifest.next_file = self.manifest.next_file.max(max_number + 1);
        let last_seq = self.stats.last_seq;
        let log = LogWriter::resume(seg.file, seg.number, seg.salt, seg.len, last_seq);
        self.stats.elapsed = self.started.elapsed();
        let stats = self.stats;
        tracing::info!(
            rows = stats.rows,
            frames = stats.frames,
            records = stats.records,
            segments = stats.segments,
            last_seq,
            elapsed_ms = stats.elapsed.as_millis() as u64,
            "recovered table directory"
        );
        let dir = Dir::from_parts(self.storage, self.lock, self.options, self.manifest, log);
        Ok((dir, stats))
    }
}

impl OperationKind {
    /// Whether a record of this kind carries the row.
    pub(crate) fn has_row(self) -> bool {
        self != OperationKind::Delete
    }
}
