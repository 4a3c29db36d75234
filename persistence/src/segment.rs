//! Reading one log segment during recovery: frames in order, the torn-tail decision.

use rkyv::util::AlignedVec;

use crate::bytes::ALIGN;
use crate::entry::EntryPos;
use crate::error::{Corruption, PersistError, corrupt};
use crate::format::{FILE_HEADER_LEN, FileHeader, MAGIC_SEGMENT, segment_name};
use crate::frame::{self, FRAME_HEADER_LEN, FrameHeader};
use crate::manifest::SegmentRef;
use crate::storage::{Storage, StorageFile};

/// How much of a torn tail is read at a time while looking for later frames.
const SCAN_CHUNK: usize = 1 << 20;

/// Why a frame could not be read.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The file ends inside the frame.
    Incomplete,
    /// The header fails its magic, CRC or length checks.
    BadHeader,
    /// The frame fails its trailer or CRC.
    BadFrame,
}

impl Fault {
    fn reason(self) -> Corruption {
        match self {
            Fault::Incomplete => Corruption::Truncated,
            Fault::BadHeader | Fault::BadFrame => Corruption::BadChecksum,
        }
    }
}

/// One segment being read.
#[derive(Debug)]
pub(crate) struct SegmentReader {
    pub file: Box<dyn StorageFile>,
    pub name: String,
    pub number: u64,
    pub salt: u64,
    pub len: u64,
    /// Where the next frame starts.
    pub pos: u64,
    is_last: bool,
    /// The current frame, 16-byte aligned.
    pub buf: AlignedVec,
    pub entries: Vec<EntryPos>,
    pub first_seq: u64,
    /// Set when the last segment ends in a torn tail: where it starts.
    pub torn_at: Option<u64>,
}

impl SegmentReader {
    /// Opens a segment and checks its header against the manifest.
    pub(crate) fn open(
        storage: &dyn Storage,
        seg: SegmentRef,
        is_last: bool,
    ) -> Result<SegmentReader, PersistError> {
        let name = segment_name(seg.number);
        let io = |op, source| PersistError::Io {
            op,
            file: name.clone(),
            source,
        };
        let mut file = storage.open(&name).map_err(|e| io("open", e))?;
        let len = file.len().map_err(|e| io("len", e))?;
        if len < FILE_HEADER_LEN as u64 {
            return Err(corrupt(&name, 0, Corruption::Truncated));
        }
        let mut header = [0u8; FILE_HEADER_LEN];
        file.read_exact_at(0, &mut header)
            .map_err(|e| io("read", e))?;
        let h = FileHeader::decode(&header, MAGIC_SEGMENT, &name)?;
        if h.a != seg.number {
            return Err(corrupt(
                &name,
                16,
                Corruption::WrongFile {
                    expected: seg.number,
                    found: h.a,
                },
            ));
        }
        if h.b != seg.base_seq {
            return Err(corrupt(
                &name,
                24,
                Corruption::Malformed("base sequence disagrees with the manifest"),
            ));
        }
        Ok(SegmentReader {
            file,
            name,
            number: seg.number,
            salt: h.c,
            len,
            pos: FILE_HEADER_LEN as u64,
            is_last,
            buf: AlignedVec::new(),
            entries: Vec::new(),
            first_seq: 0,
            torn_at: None,
        })
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> PersistError {
        PersistError::Io {
            op,
            file: self.name.clone(),
            source,
        }
    }

    /// Reads the next frame into `buf`/`entries`; `false` at the end of the segment
    /// (or at a torn tail, recorded in `torn_at`). `expected_seq` is the sequence number
    /// the frame must start with.
    pub(crate) fn next_frame(&mut self, expected_seq: u64) -> Result<bool, PersistError> {
        if self.torn_at.is_some() || self.pos == self.len {
            return Ok(false);
        }
        let at = self.pos;
        let header = match self.read_frame(at)? {
            Ok(h) => h,
            Err(fault) => return self.bad_frame(at, fault).map(|()| false),
        };
        let bad = |reason| corrupt(&self.name, at, reason);
        if header.first_seq != expected_seq {
            return Err(bad(Corruption::SequenceGap {
                expected: expected_seq,
                found: header.first_seq,
            }));
        }
        if header.synced_len > at || header.synced_len < FILE_HEADER_LEN as u64 {
            return Err(bad(Corruption::Malformed(
                "frame claims a sync point it cannot have seen",
            )));
        }
        frame::entries(&self.buf, &header, &mut self.entries)
            .map_err(|w| bad(Corruption::Malformed(w)))?;
        self.first_seq = header.first_seq;
        self.pos += header.frame_len() as u64;
        Ok(true)
    }

    /// Reads and checks the frame at `at` into `buf`.
    fn read_frame(&mut self, at: u64) -> Result<Result<FrameHeader, Fault>, PersistError> {
        let remaining = self.len - at;
        if remaining < FRAME_HEADER_LEN as u64 {
            return Ok(Err(Fault::Incomplete));
        }
        let mut head = [0u8; FRAME_HEADER_LEN];
        self.file
            .read_exact_at(at, &mut head)
            .map_err(|e| self.io("read", e))?;
        let Some(header) = FrameHeader::decode(&head, self.salt) else {
            return Ok(Err(Fault::BadHeader));
        };
        let len = header.frame_len();
        if len as u64 > remaining {
            return Ok(Err(Fault::Incomplete));
        }
        self.buf.clear();
        self.buf.resize(len, 0);
        self.file
            .read_exact_at(at, self.buf.as_mut_slice())
            .map_err(|e| self.io("read", e))?;
        Ok(if frame::check_frame(&self.buf, &header) {
            Ok(header)
        } else {
            Err(Fault::BadFrame)
        })
    }

    /// A frame at `at` failed. In any segment but the last that is corruption. In the
    /// last it is a torn tail, unless a later frame in the file was written after this
    /// one had been synced (its `synced_len` lies beyond `at`): then it is damage to
    /// acknowledged data.
    fn bad_frame(&mut self, at: u64, fault: Fault) -> Result<(), PersistError> {
        if !self.is_last {
            return Err(corrupt(&self.name, at, fault.reason()));
        }
        let mut chunk = Vec::new();
        let mut start = at + ALIGN as u64;
        while start + FRAME_HEADER_LEN as u64 <= self.len {
            let end = (start + (SCAN_CHUNK + FRAME_HEADER_LEN) as u64).min(self.len);
            chunk.resize(usize::try_from(end - start).unwrap_or(0), 0);
            self.file
                .read_exact_at(start, &mut chunk)
                .map_err(|e| self.io("read", e))?;
            let mut off = 0usize;
            while off + FRAME_HEADER_LEN <= chunk.len() && off < SCAN_CHUNK {
                if let Some(h) = chunk
                    .get(off..off + FRAME_HEADER_LEN)
                    .and_then(|b| FrameHeader::decode(b, self.salt))
                    && h.synced_len > at
                {
                    let later_frame = start + off as u64;
                    return Err(corrupt(
                        &self.name,
                        at,
                        Corruption::DamagedBeforeSyncedData { later_frame },
                    ));
                }
                off += ALIGN;
            }
            start += SCAN_CHUNK as u64;
        }
        self.torn_at = Some(at);
        Ok(())
    }
}
