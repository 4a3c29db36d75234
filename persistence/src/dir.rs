//! The open table directory: appending commit groups, syncing, rolling segments over,
//! checkpoints.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use crate::Record;
use crate::checkpoint::CheckpointWriter;
use crate::error::{Corruption, PersistError, corrupt};
use crate::format::{
    FILE_HEADER_LEN, FileName, LOCK, MANIFEST, checkpoint_name, parse_name, segment_name,
};
use crate::frame;
use crate::log::LogWriter;
use crate::manifest::{CheckpointRef, Manifest, SegmentRef};
use crate::recovery::Recovery;
use crate::schema::SchemaDescription;
use crate::sticky::Sticky;
use crate::storage::{Storage, StorageLock};

/// Settings of a table directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// A segment is closed and a new one started when the next frame would take it past
    /// this many bytes (a frame larger than this gets a segment of its own). Default
    /// 64 MiB.
    pub segment_size: u64,
    /// Checkpoint rows are written in blocks of about this many bytes, each with its own
    /// CRC. Default 64 KiB.
    pub checkpoint_block_size: usize,
    /// The last segment keeps this many bytes of zeros written (and synced) ahead of its
    /// frames, so that a sync after a small write does not grow the file (FORMAT.md §7);
    /// 0 for none. Default 1 MiB.
    ///
    /// Measured on the reference machine (2 cores, ext4 on a virtual disk), `fdatasync`
    /// after a 3,000-byte write: 202 µs when the write grows the file (a block
    /// allocated, the size journaled), 101 µs into zeros written before. 64 tasks
    /// inserting with `Sync` make rounds of about that size: 82,000-95,000 inserts/s
    /// became 164,000-200,000 (alternated runs), and one task's insert 175-183 µs became
    /// 139-150 µs. Where rounds are large and their syncs rare (`Buffered`), the zeros
    /// only double the bytes written.
    pub preallocate: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segment_size: 64 << 20,
            checkpoint_block_size: 64 << 10,
            preallocate: 1 << 20,
        }
    }
}

impl Options {
    /// Sets [`Self::segment_size`].
    pub fn segment_size(mut self, bytes: u64) -> Options {
        self.segment_size = bytes;
        self
    }

    /// Sets [`Self::checkpoint_block_size`].
    pub fn checkpoint_block_size(mut self, bytes: usize) -> Options {
        self.checkpoint_block_size = bytes;
        self
    }

    /// Sets [`Self::preallocate`].
    pub fn preallocate(mut self, bytes: u64) -> Options {
        self.preallocate = bytes;
        self
    }
}

/// An open, recovered table directory, holding its lock. See the crate docs for the
/// protocol; every method is blocking I/O (run it off async executors' worker threads).
///
/// After any I/O error, every later call returns [`PersistError::PreviousError`]: drop
/// the `Dir` and open the directory again.
#[derive(Debug)]
pub struct Dir {
    storage: Arc<dyn Storage>,
    _lock: Box<dyn StorageLock>,
    sticky: Sticky,
    options: Options,
    manifest: Manifest,
    log: LogWriter,
}

impl Dir {
    /// Opens (or, if it holds no table, creates) the table directory behind `storage`
    /// and starts its recovery.
    ///
    /// Takes the directory's lock ([`PersistError::Locked`] if another handle holds
    /// it), reads the MANIFEST, compares its schema with `schema`
    /// ([`PersistError::SchemaMismatch`] naming every difference), checks that every file
    /// it names exists ([`PersistError::MissingFile`]) and opens the checkpoint. Nothing
    /// is modified until [`Recovery::finish`], except when a new table is created.
    pub fn open<S: Storage + 'static>(
        storage: S,
        schema: &SchemaDescription,
        options: Options,
    ) -> Result<Recovery, PersistError> {
        let started = Instant::now();
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let io = |op, file: &str, source| PersistError::Io {
            op,
            file: file.to_owned(),
            source,
        };
        let lock = match storage.lock() {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(PersistError::Locked),
            Err(e) => return Err(io("lock", LOCK, e)),
        };
        let mut listing = storage.list().map_err(|e| io("list", ".", e))?;
        let manifest = if listing.iter().any(|n| n == MANIFEST) {
            Manifest::load(&*storage)?
        } else {
            let m = create(&*storage, &listing, schema)?;
            listing = storage.list().map_err(|e| io("list", ".", e))?;
            m
        };
        let stored = SchemaDescription::decode(&manifest.schema).ok_or_else(|| {
            corrupt(
                MANIFEST,
                0,
                Corruption::Malformed("the stored schema description does not decode"),
            )
        })?;
        let differences = stored.differences(schema);
        if !differences.is_empty() {
            return Err(PersistError::SchemaMismatch { differences });
        }
        let named = manifest
            .segments
            .iter()
            .map(|s| segment_name(s.number))
            .chain(manifest.checkpoint.map(|c| checkpoint_name(c.number)));
        for file in named {
            if !listing.contains(&file) {
                return Err(PersistError::MissingFile { file });
            }
        }
        tracing::info!(
            schema = format_args!("{:08x}", schema.fingerprint()),
            checkpoint_seq = manifest.checkpoint.map_or(0, |c| c.seq),
            segments = manifest.segments.len(),
            "opening table directory"
        );
        Recovery::new(storage, lock, options, manifest, listing, started)
    }

    pub(crate) fn from_parts(
        storage: Arc<dyn Storage>,
        lock: Box<dyn StorageLock>,
        options: Options,
        manifest: Manifest,
        mut log: LogWriter,
    ) -> Dir {
        log.keep_ahead(options.preallocate);
        Dir {
            storage,
            _lock: lock,
            sticky: Sticky::default(),
            options,
            manifest,
            log,
        }
    }

    /// The last sequence number appended (0 for an empty table).
    pub fn last_seq(&self) -> u64 {
        self.log.last_seq
    }

    /// The last sequence number covered by a completed sync.
    pub fn durable_seq(&self) -> u64 {
        self.log.durable_seq
    }

    /// The current checkpoint's sequence number (0 without a checkpoint).
    pub fn checkpoint_seq(&self) -> u64 {
        self.manifest.checkpoint.map_or(0, |c| c.seq)
    }

    /// How many log segments the directory holds.
    pub fn segment_count(&self) -> usize {
        self.manifest.segments.len()
    }

    /// The settings it was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Appends one commit group as one frame (held in memory and written, with the frames
    /// appended after it, in one write at the next sync, or once 1 MiB is held; a dropped
    /// handle writes what it holds without syncing). The records' sequence
    /// numbers must continue the log without gaps (the first is [`Self::last_seq`] + 1);
    /// deletes carry no row, inserts and updates do.
    ///
    /// The group is not durable until [`Self::sync`] returns. If the segment is full, it
    /// is synced and closed first and a new one is started (a manifest rewrite).
    /// Refusing a bad group changes nothing and is not sticky.
    pub fn append_group(&mut self, records: &[Record<'_>]) -> Result<(), PersistError> {
        self.sticky.check()?;
        let body = frame::body_len(records, self.log.last_seq + 1)?;
        let len = frame::frame_len(body) as u64;
        if self.log.len > FILE_HEADER_LEN as u64 && self.log.len + len > self.options.segment_size {
            self.roll_over()?;
        }
        self.log.append(&self.sticky, records, body)
    }

    /// Makes every appended group durable (`fdatasync` of the current segment; nothing
    /// if nothing was appended since the last sync). Returns [`Self::durable_seq`].
    /// A failure is sticky and never retried.
    pub fn sync(&mut self) -> Result<u64, PersistError> {
        self.sticky.check()?;
        self.log.sync(&self.sticky)?;
        Ok(self.log.durable_seq)
    }

    /// Like [`Self::sync`], but syncs the current segment even when nothing was appended
    /// through this handle: for a handle that reopened a directory another handle of this
    /// process was appending to, whose bytes may still be only in the OS cache.
    pub fn sync_all(&mut self) -> Result<u64, PersistError> {
        self.sticky.check()?;
        self.log.sync_if(&self.sticky, true)?;
        Ok(self.log.durable_seq)
    }

    fn next_file_number(&mut self) -> u64 {
        let n = self.manifest.next_file;
        self.manifest.next_file += 1;
        n
    }

    /// Closes the current segment (synced, its preallocated zeros cut) and starts the next
    /// one: created and synced, the directory synced, then named in a new manifest before
    /// anything is appended.
    fn roll_over(&mut self) -> Result<(), PersistError> {
        self.log.sync(&self.sticky)?;
        self.log.trim(&self.sticky)?;
        let number = self.next_file_number();
        let base_seq = self.log.last_seq;
        let mut next = LogWriter::create(&*self.storage, &self.sticky, number, base_seq)?;
        next.keep_ahead(self.options.preallocate);
        self.sticky
            .io("sync directory", &next.name, self.storage.sync_dir())?;
        let mut manifest = self.manifest.clone();
        manifest.generation += 1;
        manifest.segments.push(SegmentRef { number, base_seq });
        manifest.store(&*self.storage, &self.sticky)?;
        tracing::debug!(closed = %self.log.name, opened = %next.name, base_seq, "log segment rolled over");
        self.manifest = manifest;
        self.log = next;
        Ok(())
    }

    /// Starts a checkpoint at sequence number `seq`: the caller noted `seq` as the last
    /// committed operation and will push every live row as it is now or later (a fuzzy
    /// scan), in primary-key order. Writers may keep appending meanwhile. A segment
    /// holding frames is closed first (and a new one started), so the checkpoint, once
    /// finished, covers it and it is removed.
    pub fn begin_checkpoint(&mut self, seq: u64) -> Result<CheckpointWriter, PersistError> {
        self.sticky.check()?;
        if seq < self.checkpoint_seq() {
            return Err(PersistError::CheckpointNotNewer {
                seq,
                current: self.checkpoint_seq(),
            });
        }
        // The segment being written is closed, so that once this checkpoint is in place
        // every segment before the next one holds only operations it covers and is
        // removed: the directory then holds the checkpoint and the log after it.
        if self.log.len > FILE_HEADER_LEN as u64 {
            self.roll_over()?;
        }
        let number = self.next_file_number();
        CheckpointWriter::create(
            Arc::clone(&self.storage),
            self.sticky.clone(),
            number,
            seq,
            self.options.checkpoint_block_size,
        )
    }

    /// Completes a checkpoint. `scan_end_seq` is the last committed sequence number when
    /// the scan ended: the rows may reflect any operation up to it, so the log must hold
    /// them all ([`PersistError::CheckpointAheadOfLog`] otherwise).
    ///
    /// In order: the checkpoint's last block and footer are written and the file synced;
    /// the log is synced (so every operation the rows may reflect is durable); the file
    /// is renamed into place and the directory synced; a new manifest naming it is
    /// written atomically; then the old checkpoint and every segment holding only
    /// operations up to `seq` are removed.
    pub fn finish_checkpoint(
        &mut self,
        mut writer: CheckpointWriter,
        scan_end_seq: u64,
    ) -> Result<(), PersistError> {
        self.sticky.check()?;
        if !writer.sticky.same(&self.sticky) {
            return Err(PersistError::ForeignCheckpoint);
        }
        let seq = writer.seq;
        if seq < self.checkpoint_seq() {
            return Err(PersistError::CheckpointNotNewer {
                seq,
                current: self.checkpoint_seq(),
            });
        }
        let needed = scan_end_seq.max(seq);
        if self.log.last_seq < needed {
            return Err(PersistError::CheckpointAheadOfLog {
                needed,
                appended: self.log.last_seq,
            });
        }
        let started = Instant::now();
        let (tmp, name, len) = writer.complete()?;
        self.log.sync(&self.sticky)?;
        self.sticky
            .io("rename", &name, self.storage.rename(&tmp, &name))?;
        self.sticky
            .io("sync directory", &name, self.storage.sync_dir())?;

        let mut manifest = self.manifest.clone();
        manifest.generation += 1;
        let old = manifest.checkpoint.replace(CheckpointRef {
            number: writer.number,
            seq,
            len,
        });
        // Segment i holds operations base(i)+1 ..= base(i+1): droppable once base(i+1) <= seq.
        let segments = std::mem::take(&mut manifest.segments);
        let keep_from = segments
            .windows(2)
            .take_while(|w| w.get(1).is_some_and(|next| next.base_seq <= seq))
            .count();
        let (dropped, kept) = segments.split_at(keep_from);
        manifest.segments = kept.to_vec();
        manifest.store(&*self.storage, &self.sticky)?;
        self.manifest = manifest;

        let mut obsolete: Vec<String> = dropped.iter().map(|s| segment_name(s.number)).collect();
        obsolete.extend(old.map(|c| checkpoint_name(c.number)));
        for file in &obsolete {
            self.sticky.io("remove", file, self.storage.remove(file))?;
        }
        if !obsolete.is_empty() {
            self.sticky
                .io("sync directory", ".", self.storage.sync_dir())?;
        }
        tracing::info!(
            file = %name,
            seq,
            rows = writer.rows(),
            bytes = len,
            segments_removed = dropped.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "checkpoint written"
        );
        Ok(())
    }
}

/// Creates a new table in a directory without a MANIFEST. Leftovers of an earlier
/// creation that crashed (a segment holding only its header, temp files) are removed;
/// anything holding data is refused.
fn create(
    storage: &dyn Storage,
    listing: &[String],
    schema: &SchemaDescription,
) -> Result<Manifest, PersistError> {
    let sticky = Sticky::default();
    let mut data = Vec::new();
    let mut leftovers = Vec::new();
    let mut max_number = 0;
    for name in listing {
        match parse_name(name) {
            FileName::Checkpoint(n) => {
                max_number = max_number.max(n);
                data.push(name.clone());
            }
            FileName::Segment(n) => {
                max_number = max_number.max(n);
                let mut f = sticky.io("open", name, storage.open(name))?;
                if sticky.io("len", name, f.len())? > FILE_HEADER_LEN as u64 {
                    data.push(name.clone());
                } else {
                    leftovers.push(name.clone());
                }
            }
            FileName::CheckpointTmp(n) => {
                max_number = max_number.max(n);
                leftovers.push(name.clone());
            }
            FileName::ManifestTmp => leftovers.push(name.clone()),
            FileName::Lock | FileName::Manifest | FileName::Foreign => {}
        }
    }
    if !data.is_empty() {
        data.sort();
        return Err(PersistError::MissingManifest { files: data });
    }
    for name in &leftovers {
        sticky.io("remove", name, storage.remove(name))?;
    }
    let number = max_number + 1;
    let log = LogWriter::create(storage, &sticky, number, 0)?;
    sticky.io("sync directory", &log.name, storage.sync_dir())?;
    let manifest = Manifest {
        generation: 1,
        next_file: number + 1,
        checkpoint: None,
        segments: vec![SegmentRef {
            number,
            base_seq: 0,
        }],
        schema: schema.encode(),
    };
    manifest.store(storage, &sticky)?;
    tracing::info!(table = %schema.table, "created a new table directory");
    Ok(manifest)
}
