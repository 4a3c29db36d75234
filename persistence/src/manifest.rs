//! The MANIFEST: which checkpoint and which log segments make up the table, and the
//! schema it was created with. Replaced atomically: written to `MANIFEST.tmp`, synced,
//! renamed over `MANIFEST`, directory synced.

use crate::bytes::{Cursor, put_u32, put_u64};
use crate::error::{Corruption, PersistError, corrupt};
use crate::format::{FILE_HEADER_LEN, FileHeader, MAGIC_MANIFEST, MANIFEST, MANIFEST_TMP};
use crate::sticky::Sticky;
use crate::storage::Storage;

/// A MANIFEST larger than this is not one of ours.
const MAX_MANIFEST: u64 = 64 << 20;

/// The checkpoint a manifest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointRef {
    pub number: u64,
    /// Every operation up to and including this sequence number is in the checkpoint.
    pub seq: u64,
    /// The checkpoint file's length in bytes.
    pub len: u64,
}

/// A log segment a manifest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentRef {
    pub number: u64,
    /// The sequence number just before the segment's first record.
    pub base_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// Incremented by every rewrite.
    pub generation: u64,
    /// Every file number in use is below this.
    pub next_file: u64,
    pub checkpoint: Option<CheckpointRef>,
    /// At least one; ascending; the last is the one being appended to.
    pub segments: Vec<SegmentRef>,
    /// The encoded [`crate::SchemaDescription`].
    pub schema: Vec<u8>,
}

impl Manifest {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_u64(&mut body, self.next_file);
        let c = self.checkpoint.unwrap_or(CheckpointRef {
            number: 0,
            seq: 0,
            len: 0,
        });
        put_u64(&mut body, c.number);
        put_u64(&mut body, c.seq);
        put_u64(&mut body, c.len);
        put_u32(
            &mut body,
            u32::try_from(self.segments.len()).unwrap_or(u32::MAX),
        );
        put_u32(
            &mut body,
            u32::try_from(self.schema.len()).unwrap_or(u32::MAX),
        );
        for s in &self.segments {
            put_u64(&mut body, s.number);
            put_u64(&mut body, s.base_seq);
        }
        body.extend_from_slice(&self.schema);
        let mut out = FileHeader {
            magic: MAGIC_MANIFEST,
            a: self.generation,
            b: 0,
            c: 0,
        }
        .encode();
        put_u32(&mut out, u32::try_from(body.len()).unwrap_or(u32::MAX));
        put_u32(&mut out, crc32c::crc32c(&body));
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Manifest, PersistError> {
        let header = FileHeader::decode(bytes, MAGIC_MANIFEST, MANIFEST)?;
        let bad = |offset: usize, reason| corrupt(MANIFEST, offset as u64, reason);
        if header.b != 0 || header.c != 0 {
            return Err(bad(
                24,
                Corruption::Malformed("unused header fields are not zero"),
            ));
        }
        let mut c = Cursor::new(bytes.get(FILE_HEADER_LEN..).unwrap_or_default());
        let (Some(body_len), Some(crc)) = (c.u32(), c.u32()) else {
            return Err(bad(FILE_HEADER_LEN, Corruption::Truncated));
        };
        let body_at = FILE_HEADER_LEN + 8;
        let expected = body_at as u64 + u64::from(body_len);
        if expected != bytes.len() as u64 {
            let found = bytes.len() as u64;
            return Err(bad(
                FILE_HEADER_LEN,
                Corruption::WrongLength { expected, found },
            ));
        }
        let body = c
            .take(body_len as usize)
            .ok_or(bad(body_at, Corruption::Truncated))?;
        if crc32c::crc32c(body) != crc {
            return Err(bad(FILE_HEADER_LEN, Corruption::BadChecksum));
        }
        let malformed = |what| bad(body_at, Corruption::Malformed(what));
        let short = || malformed("body cut short");
        let mut c = Cursor::new(body);
        let next_file = c.u64().ok_or_else(short)?;
        let (number, seq, len) = (
            c.u64().ok_or_else(short)?,
            c.u64().ok_or_else(short)?,
            c.u64().ok_or_else(short)?,
        );
        let checkpoint = match number {
            0 if seq == 0 && len == 0 => None,
            0 => return Err(malformed("checkpoint fields without a checkpoint")),
            _ => Some(CheckpointRef { number, seq, len }),
        };
        let n_segments = c.u32().ok_or_else(short)?;
        let schema_len = c.u32().ok_or_else(short)?;
        let mut segments = Vec::new();
        for _ in 0..n_segments {
            segments.push(SegmentRef {
                number: c.u64().ok_or_else(short)?,
                base_seq: c.u64().ok_or_else(short)?,
            });
        }
        let schema = c.take(schema_len as usize).ok_or_else(short)?.to_vec();
        if !c.is_empty() {
            return Err(malformed("bytes after the schema"));
        }
        let m = Manifest {
            generation: header.a,
            next_file,
            checkpoint,
            segments,
            schema,
        };
        m.check().map_err(malformed)?;
        Ok(m)
    }

    /// The invariants every manifest keeps.
    fn check(&self) -> Result<(), &'static str> {
        if self.segments.is_empty() {
            return Err("no log segment");
        }
        let mut prev: Option<SegmentRef> = None;
        for s in &self.segments {
            if s.number == 0 || s.number >= self.next_file {
                return Err("segment number out of range");
            }
            if let Some(p) = prev
                && (s.number <= p.number || s.base_seq < p.base_seq)
            {
                return Err("segments out of order");
            }
            prev = Some(*s);
        }
        if let Some(c) = self.checkpoint
            && (c.number >= self.next_file || self.segments.iter().any(|s| s.number == c.number))
        {
            return Err("checkpoint number out of range");
        }
        Ok(())
    }

    /// Reads and checks the MANIFEST.
    pub(crate) fn load(storage: &dyn Storage) -> Result<Manifest, PersistError> {
        let io = |op, source| PersistError::Io {
            op,
            file: MANIFEST.to_owned(),
            source,
        };
        let mut file = storage.open(MANIFEST).map_err(|e| io("open", e))?;
        let len = file.len().map_err(|e| io("len", e))?;
        if len > MAX_MANIFEST {
            return Err(corrupt(
                MANIFEST,
                0,
                Corruption::Malformed("manifest too large"),
            ));
        }
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
        file.read_exact_at(0, &mut bytes)
            .map_err(|e| io("read", e))?;
        Manifest::decode(&bytes)
    }

    /// Replaces the MANIFEST atomically: temp file, sync, rename, sync the directory.
    pub(crate) fn store(&self, storage: &dyn Storage, sticky: &Sticky) -> Result<(), PersistError> {
        let bytes = self.encode();
        let mut tmp = sticky.io("create", MANIFEST_TMP, storage.create(MANIFEST_TMP))?;
        sticky.io("append", MANIFEST_TMP, tmp.append(&bytes))?;
        sticky.io("sync", MANIFEST_TMP, tmp.sync())?;
        drop(tmp);
        sticky.io("rename", MANIFEST, storage.rename(MANIFEST_TMP, MANIFEST))?;
        sticky.io("sync directory", MANIFEST, storage.sync_dir())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            generation: 3,
            next_file: 9,
            checkpoint: Some(CheckpointRef {
                number: 6,
                seq: 40,
                len: 4096,
            }),
            segments: vec![
                SegmentRef {
                    number: 5,
                    base_seq: 30,
                },
                SegmentRef {
                    number: 8,
                    base_seq: 55,
                },
            ],
            schema: b"schema bytes".to_vec(),
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn every_flip_and_cut_is_an_error() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(Manifest::decode(&b).is_err(), "flip at {i}");
        }
        for len in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
    }
}
