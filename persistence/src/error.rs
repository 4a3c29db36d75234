//! The crate's error type: every failure is typed and names the file (and offset) it is
//! about. Nothing in this crate panics on bad input.

use std::{fmt, io};

use thiserror::Error;

use crate::schema::SchemaDifference;

/// Everything that can go wrong while opening, recovering, writing or checkpointing a
/// table directory.
///
/// I/O failures are *sticky*: after an [`PersistError::Io`] from a [`crate::Dir`] (or from
/// a [`crate::CheckpointWriter`] of it), every later call on that directory returns
/// [`PersistError::PreviousError`]. A failed `fsync` is never retried: the kernel may have
/// dropped the dirty pages and would report success the next time. Close the directory
/// and open it again; recovery then reads what is really on disk.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PersistError {
    /// A storage call failed.
    #[error("I/O error: {op} `{file}`: {source}")]
    Io {
        /// What was being done (`append`, `sync`, `rename`, …).
        op: &'static str,
        /// The file (or, for directory calls, the directory entry) concerned.
        file: String,
        /// The error the storage reported.
        #[source]
        source: io::Error,
    },
    /// An earlier error ended this handle; drop it and open the directory again.
    #[error(
        "an earlier error ended this directory handle ({first}); drop it and open the directory again"
    )]
    PreviousError {
        /// The first error, as text.
        first: String,
    },
    /// Another handle (in this process or another one) holds the directory's lock.
    #[error("the table directory is locked: another open table holds it")]
    Locked,
    /// A file failed a check: a checksum, a length, a magic number, a sequence number.
    #[error("`{file}` is corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: String,
        /// The byte offset of the damaged structure in that file.
        offset: u64,
        /// What was wrong.
        reason: Corruption,
    },
    /// A file was written by a format version this build does not read.
    #[error("`{file}` has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version written in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The manifest names a file that is not in the directory.
    #[error("the MANIFEST names `{file}`, which is missing from the directory")]
    MissingFile {
        /// The missing file.
        file: String,
    },
    /// There is no `MANIFEST`, but the directory holds table data: refusing to start an
    /// empty table over it.
    #[error(
        "the directory has no MANIFEST but holds table data ({files:?}); refusing to start an empty table over it"
    )]
    MissingManifest {
        /// The data files found.
        files: Vec<String>,
    },
    /// The directory was written with a different schema description.
    #[error("the table on disk has a different schema: {}", DisplayList(.differences))]
    SchemaMismatch {
        /// Every difference found, stored against given.
        differences: Vec<SchemaDifference>,
    },
    /// `append_group` was given records whose sequence numbers do not continue the log.
    #[error("record sequence {found} does not continue the log (expected {expected})")]
    SequenceMismatch {
        /// The sequence number the log expects next.
        expected: u64,
        /// The sequence number given.
        found: u64,
    },
    /// `append_group` was given a record that cannot be logged.
    #[error("record {seq} cannot be logged: {reason}")]
    InvalidRecord {
        /// The record's sequence number.
        seq: u64,
        /// Why.
        reason: &'static str,
    },
    /// `append_group` was given no records.
    #[error("a commit group needs at least one record")]
    EmptyGroup,
    /// A commit group (or a checkpoint row) is larger than one frame (or block) may be.
    #[error("{what} of {bytes} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its encoded size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A checkpoint would not be newer than the one the directory already has.
    #[error("a checkpoint at sequence {seq} is not newer than the current one at {current}")]
    CheckpointNotNewer {
        /// The new checkpoint's sequence number.
        seq: u64,
        /// The current checkpoint's sequence number.
        current: u64,
    },
    /// A checkpoint was finished before the log held every operation its scan may have
    /// seen.
    #[error(
        "the checkpoint's scan may hold operations through {needed}, but the log holds only through {appended}: append them first"
    )]
    CheckpointAheadOfLog {
        /// The last sequence the scan may have seen.
        needed: u64,
        /// The last sequence appended to the log.
        appended: u64,
    },
    /// A checkpoint writer was handed to a directory it was not begun on.
    #[error("the checkpoint writer was begun on another directory handle")]
    ForeignCheckpoint,
}

/// What was wrong with a corrupt file (see [`PersistError::Corrupt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file ends inside a structure that should be complete.
    Truncated,
    /// The file is longer than its structures account for.
    TrailingBytes,
    /// A structure does not start with its magic number.
    BadMagic,
    /// A checksum does not match.
    BadChecksum,
    /// A header names a different file than the one it is in.
    WrongFile {
        /// The file number the manifest expects.
        expected: u64,
        /// The file number in the header.
        found: u64,
    },
    /// The file's length differs from the length the manifest recorded.
    WrongLength {
        /// The recorded length.
        expected: u64,
        /// The actual length.
        found: u64,
    },
    /// Sequence numbers do not continue where they should (a lost or foreign frame).
    SequenceGap {
        /// The sequence number expected.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// A closed segment ends elsewhere than where the next segment continues: frames at
    /// its end were lost (or it holds more than the next segment expects).
    SegmentEnd {
        /// The last sequence number in the segment.
        last_seq: u64,
        /// The sequence number the next segment continues after.
        next_base: u64,
    },
    /// The log ends before the checkpoint's sequence number: synced frames were lost.
    LogBehindCheckpoint {
        /// The checkpoint's sequence number.
        checkpoint: u64,
        /// The last sequence number in the log.
        log: u64,
    },
    /// A frame that fails its checks is followed by frames written after it was synced,
    /// so it is not a torn tail but damage to acknowledged data.
    DamagedBeforeSyncedData {
        /// Where the later frame that proves it starts.
        later_frame: u64,
    },
    /// A structure passed its checksum but its contents are inconsistent (a foreign or
    /// buggy writer).
    Malformed(&'static str),
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("the file ends inside a structure"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the last structure"),
            Self::BadMagic => f.write_str("bad magic number"),
            Self::BadChecksum => f.write_str("checksum mismatch"),
            Self::WrongFile { expected, found } => {
                write!(f, "header names file {found}, expected {expected}")
            }
            Self::WrongLength { expected, found } => {
                write!(
                    f,
                    "length is {found} bytes, the manifest recorded {expected}"
                )
            }
            Self::SequenceGap { expected, found } => {
                write!(f, "sequence {found} where {expected} was expected")
            }
            Self::SegmentEnd {
                last_seq,
                next_base,
            } => write!(
                f,
                "the segment ends at sequence {last_seq}, but the next one continues after {next_base}"
            ),
            Self::LogBehindCheckpoint { checkpoint, log } => write!(
                f,
                "the log ends at sequence {log}, before the checkpoint's sequence {checkpoint}"
            ),
            Self::DamagedBeforeSyncedData { later_frame } => write!(
                f,
                "a damaged frame precedes the frame at offset {later_frame}, written after it was synced"
            ),
            Self::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = PersistError> = std::result::Result<T, E>;

struct DisplayList<'a>(&'a [SchemaDifference]);

impl fmt::Display for DisplayList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

pub(crate) fn corrupt(file: &str, offset: u64, reason: Corruption) -> PersistError {
    PersistError::Corrupt {
        file: file.to_owned(),
        offset,
        reason,
    }
}
