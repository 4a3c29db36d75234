//! WorkTable's operation records and its on-disk format: a directory with a lock, a
//! manifest, log segments and checkpoints, and the recovery that reads it back.
//!
//! This crate knows nothing of row types, actors or async runtimes. A record is a
//! sequence number, an [`OperationKind`], the primary key's encoded bytes and (except
//! for deletes) the row's encoded bytes: the rkyv encodings the table already produces.
//! What it hands back from disk passed a CRC32C and is 16-byte aligned, ready for rkyv's
//! *validating* access in the caller, which knows the row type (never
//! `from_bytes_unchecked` on file bytes).
//!
//! The byte layout, the commit protocol and why it is crash-safe are in `FORMAT.md`
//! beside this crate's `Cargo.toml`.
//!
//! # Using it
//!
//! ```
//! use worktable_persistence::{Dir, MemoryStorage, Options, OperationKind, Record, SchemaDescription};
//!
//! # fn main() -> Result<(), worktable_persistence::PersistError> {
//! let disk = MemoryStorage::new(); // or FsStorage::new(path)?
//! let schema = SchemaDescription { table: "Test".into(), ..Default::default() };
//!
//! // Open: a new directory is created; an existing one is recovered.
//! let mut recovery = Dir::open(disk.clone(), &schema, Options::default())?;
//! while let Some(row) = recovery.next_row()? { /* put row.pk -> row.row */ }
//! while let Some(rec) = recovery.next_record()? { /* redo rec */ }
//! let (mut dir, _stats) = recovery.finish()?; // torn tail cut, ready to append
//!
//! // Log: one frame per commit group, one sync for many groups.
//! dir.append_group(&[Record { seq: 1, kind: OperationKind::Insert, pk: b"k1", row: Some(b"r1") }])?;
//! dir.append_group(&[Record { seq: 2, kind: OperationKind::Delete, pk: b"k1", row: None }])?;
//! assert_eq!(dir.sync()?, 2);
//!
//! // Checkpoint: note S, push every live row in key order, finish.
//! let mut ckpt = dir.begin_checkpoint(2)?;
//! ckpt.push(b"k0", b"r0")?;
//! dir.finish_checkpoint(ckpt, 2)?;
//! drop(dir);
//!
//! let mut recovery = Dir::open(disk, &schema, Options::default())?;
//! assert_eq!(recovery.checkpoint_seq(), 2);
//! assert_eq!(recovery.next_row()?.map(|r| r.pk.to_vec()), Some(b"k0".to_vec()));
//! # Ok(()) }
//! ```
//!
//! # The protocol a driver follows
//!
//! * **Recovery.** [`Dir::open`] returns a [`Recovery`]: read the checkpoint's rows,
//!   then the log records after the checkpoint's sequence number S, then
//!   [`Recovery::finish`] returns the [`Dir`]. Redo records idempotently: insert and
//!   update put the row, delete removes the key. A torn tail (an incomplete or failing
//!   frame at the end of the last segment) is never handed out and is cut off (and
//!   synced) in `finish`, before anything can be appended; any other failed check is a
//!   [`PersistError::Corrupt`] naming the file and offset.
//! * **Group commit.** [`Dir::append_group`] encodes one commit group as one frame;
//!   [`Dir::sync`] writes every frame appended since the last sync with one write and
//!   makes them durable with one `fdatasync`.
//!   Acknowledge a durable write only after the `sync` that covers it has returned.
//! * **Checkpoints.** Note the last committed sequence S, [`Dir::begin_checkpoint`]`(S)`,
//!   push every live row (the scan may see later operations: it is fuzzy), then
//!   [`Dir::finish_checkpoint`] with the last committed sequence at the end of the scan,
//!   after appending the log through it. Segments holding only operations up to S and
//!   the previous checkpoint are removed.
//! * **Failure.** Any I/O error is sticky: every later call on the `Dir` returns
//!   [`PersistError::PreviousError`]. A failed sync is never retried. Reopen.
//!
//! # Decisions
//!
//! * The schema is stored whole ([`SchemaDescription`]) so a mismatch can name what
//!   differs; its CRC32C ([`SchemaDescription::fingerprint`]) is what the logs show.
//! * The `Dir` exists only after recovery finished: nothing can be appended before the
//!   torn tail is cut. Recovery streams one block or frame at a time; memory stays
//!   bounded by the largest commit group or checkpoint block, plus the log's 1 MiB
//!   read-ahead.
//! * Checkpoint rows are stored unpadded, so a checkpoint is about as large as the keys
//!   and rows it holds; recovery copies each one into an aligned buffer (one copy per
//!   row). Log entries stay padded: a frame read into an aligned buffer is handed out
//!   without copies.
//! * A checkpoint writer shares the directory's failure state.
//! * A directory without a MANIFEST but with a checkpoint or a segment holding frames is
//!   refused ([`PersistError::MissingManifest`]) rather than overwritten.
//! * Files this crate did not write (any name it does not use) are left alone.

#![forbid(unsafe_code)]
#![deny(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod bytes;
mod checkpoint;
mod dir;
mod entry;
mod error;
mod format;
mod frame;
mod log;
mod manifest;
mod recovery;
mod schema;
mod segment;
mod sticky;
pub mod storage;

pub use checkpoint::CheckpointWriter;
pub use dir::{Dir, Options};
pub use error::{Corruption, PersistError, Result};
pub use recovery::{CheckpointRow, Recovery, RecoveryStats, TornTail};
pub use schema::{ColumnDescription, IndexDescription, SchemaDescription, SchemaDifference};
pub use storage::{
    CrashMode, CrashSnapshot, FsStorage, MemoryStorage, Storage, StorageFile, StorageLock,
};

/// What a committed operation did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// A new row was stored.
    Insert,
    /// An existing row was replaced by a new version.
    Update,
    /// A row was removed.
    Delete,
}

/// One committed operation, as the change feed reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation<Pk, Row> {
    /// Position in the table's commit order: 1 for the first commit, then without gaps.
    pub seq: u64,
    /// What happened.
    pub kind: OperationKind,
    /// The primary key of the row.
    pub pk: Pk,
    /// The row as it is after the operation; `None` for a delete.
    pub row: Option<Row>,
}

/// One logged operation in encoded form: what [`Dir::append_group`] takes and
/// [`Recovery::next_record`] hands back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The operation's sequence number.
    pub seq: u64,
    /// What it did.
    pub kind: OperationKind,
    /// The primary key's encoded bytes.
    pub pk: &'a [u8],
    /// The row's encoded bytes after the operation; `None` for a delete.
    pub row: Option<&'a [u8]>,
}
