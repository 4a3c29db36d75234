//! What every file starts with, and how files are named. `FORMAT.md` describes the same
//! bytes in prose.

use crate::bytes::{get_u32, get_u64, put_u32, put_u64};
use crate::error::{Corruption, PersistError, corrupt};

/// The format version this build reads and writes. Version 2 stores checkpoint rows
/// unpadded; version 1 padded them like log entries. A file of another version is
/// refused ([`PersistError::UnsupportedVersion`]), never read with the wrong layout.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// Length of the header every file starts with.
pub(crate) const FILE_HEADER_LEN: usize = 48;

pub(crate) const MAGIC_SEGMENT: [u8; 8] = *b"WTBL-LOG";
pub(crate) const MAGIC_CHECKPOINT: [u8; 8] = *b"WTBL-CKP";
pub(crate) const MAGIC_MANIFEST: [u8; 8] = *b"WTBL-MAN";

/// The lock file's name. It holds no data.
pub(crate) const LOCK: &str = "LOCK";
pub(crate) const MANIFEST: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";

/// The 48-byte header of every file: magic, version, three file-specific fields, CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileHeader {
    pub magic: [u8; 8],
    pub a: u64,
    pub b: u64,
    pub c: u64,
}

impl FileHeader {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(FILE_HEADER_LEN);
        buf.extend_from_slice(&self.magic);
        put_u32(&mut buf, FORMAT_VERSION);
        put_u32(&mut buf, 0);
        put_u64(&mut buf, self.a);
        put_u64(&mut buf, self.b);
        put_u64(&mut buf, self.c);
        put_u32(&mut buf, 0);
        let crc = crc32c::crc32c(&buf);
        put_u32(&mut buf, crc);
        buf
    }

    /// Checks magic, version, reserved bytes and CRC, in that order.
    pub(crate) fn decode(
        bytes: &[u8],
        magic: [u8; 8],
        file: &str,
    ) -> Result<FileHeader, PersistError> {
        let bad = |reason| corrupt(file, 0, reason);
        if bytes.len() < FILE_HEADER_LEN {
            return Err(bad(Corruption::Truncated));
        }
        if bytes.get(0..8) != Some(&magic[..]) {
            return Err(bad(Corruption::BadMagic));
        }
        let version = get_u32(bytes, 8).ok_or(bad(Corruption::Truncated))?;
        if version != FORMAT_VERSION {
            return Err(PersistError::UnsupportedVersion {
                file: file.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let covered = bytes.get(0..44).ok_or(bad(Corruption::Truncated))?;
        if get_u32(bytes, 44) != Some(crc32c::crc32c(covered)) {
            return Err(bad(Corruption::BadChecksum));
        }
        if get_u32(bytes, 12) != Some(0) || get_u32(bytes, 40) != Some(0) {
            return Err(bad(Corruption::Malformed(
                "reserved header bytes are not zero",
            )));
        }
        let field = |at| get_u64(bytes, at).ok_or(bad(Corruption::Truncated));
        Ok(FileHeader {
            magic,
            a: field(16)?,
            b: field(24)?,
            c: field(32)?,
        })
    }
}

/// What a directory entry is, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileName {
    Lock,
    Manifest,
    ManifestTmp,
    Segment(u64),
    Checkpoint(u64),
    CheckpointTmp(u64),
    /// Not a file of ours: left alone.
    Foreign,
}

pub(crate) fn segment_name(number: u64) -> String {
    format!("{number:020}.log")
}

pub(crate) fn checkpoint_name(number: u64) -> String {
    format!("{number:020}.ckpt")
}

pub(crate) fn checkpoint_tmp_name(number: u64) -> String {
    format!("{number:020}.ckpt.tmp")
}

pub(crate) fn parse_name(name: &str) -> FileName {
    let number = |stem: &str| {
        (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse::<u64>().ok())
            .flatten()
    };
    match name {
        LOCK => FileName::Lock,
        MANIFEST => FileName::Manifest,
        MANIFEST_TMP => FileName::ManifestTmp,
        _ => {
            if let Some(n) = name.strip_suffix(".log").and_then(number) {
                FileName::Segment(n)
            } else if let Some(n) = name.strip_suffix(".ckpt").and_then(number) {
                FileName::Checkpoint(n)
            } else if let Some(n) = name.strip_suffix(".ckpt.tmp").and_then(number) {
                FileName::CheckpointTmp(n)
            } else {
                FileName::Foreign
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_flips() {
        let h = FileHeader {
            magic: MAGIC_SEGMENT,
            a: 7,
            b: 42,
            c: 0xdead_beef,
        };
        let bytes = h.encode();
        assert_eq!(bytes.len(), FILE_HEADER_LEN);
        assert_eq!(FileHeader::decode(&bytes, MAGIC_SEGMENT, "f").ok(), Some(h));
        assert!(FileHeader::decode(&bytes, MAGIC_CHECKPOINT, "f").is_err());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            if let Some(x) = b.get_mut(i) {
                *x ^= 0x01;
            }
            assert!(
                FileHeader::decode(&b, MAGIC_SEGMENT, "f").is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_name(&segment_name(3)), FileName::Segment(3));
        assert_eq!(parse_name(&checkpoint_name(4)), FileName::Checkpoint(4));
        assert_eq!(
            parse_name(&checkpoint_tmp_name(5)),
            FileName::CheckpointTmp(5)
        );
        assert_eq!(parse_name("MANIFEST"), FileName::Manifest);
        assert_eq!(parse_name("notes.txt"), FileName::Foreign);
        assert_eq!(parse_name("1.log"), FileName::Foreign);
    }
}
