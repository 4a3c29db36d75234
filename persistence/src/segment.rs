//! Reading one log segment during recovery: frames in order, the torn-tail decision.

use std::io;

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

/// How much of a segment is read at a time while reading frames in order: 1 MiB, or the
/// rest of the file if less. A single-row frame takes about a hundred bytes, so one read
/// covers thousands of them and the per-read cost disappears next to checking a MiB of
/// frames; a larger chunk would save almost nothing more. It is a fixed cost: recovery
/// reads one segment at a time, and the buffer never grows past it. A frame larger than
/// this goes straight into the frame buffer (after what of it was already read ahead).
const READ_AHEAD: usize = 1 << 20;

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
    ///
    /// A frame is copied here from `ahead` rather than handed out where it lies: what
    /// reads a frame (the entries' positions, the frame's offset `pos - buf.len()`) takes
    /// `buf` to be exactly that frame, and copying a frame already in memory costs far
    /// less than the read it replaces.
    pub buf: AlignedVec,
    /// The segment read ahead of `pos`.
    ahead: ReadAhead,
    pub entries: Vec<EntryPos>,
    pub first_seq: u64,
    /// Set when the last segment ends in a torn tail: where it starts.
    pub torn_at: Option<u64>,
    /// Whether that tail holds nothing but zeros: space preallocated for frames not yet
    /// written, or frames of which no byte reached the disk.
    pub tail_is_zeros: bool,
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
            ahead: ReadAhead::default(),
            entries: Vec::new(),
            first_seq: 0,
            torn_at: None,
            tail_is_zeros: false,
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
        self.ahead
            .read(&mut *self.file, self.len, at, &mut head)
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
        self.ahead
            .read(&mut *self.file, self.len, at, self.buf.as_mut_slice())
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
        self.tail_is_zeros = self.only_zeros_from(at)?;
        Ok(())
    }

    /// Whether the segment holds nothing but zeros from `at` to its end.
    fn only_zeros_from(&mut self, at: u64) -> Result<bool, PersistError> {
        let mut chunk = Vec::new();
        let mut start = at;
        while start < self.len {
            let end = (start + SCAN_CHUNK as u64).min(self.len);
            chunk.resize(usize::try_from(end - start).unwrap_or(0), 0);
            self.file
                .read_exact_at(start, &mut chunk)
                .map_err(|e| self.io("read", e))?;
            if chunk.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            start = end;
        }
        Ok(true)
    }
}

/// A read-ahead buffer over a file read from front to back: it holds up to
/// [`READ_AHEAD`] bytes of the file, from `start` on, and never grows beyond that.
#[derive(Debug, Default)]
struct ReadAhead {
    bytes: Vec<u8>,
    start: u64,
}

impl ReadAhead {
    /// The bytes held from `at` on (none if `at` lies outside the buffer).
    fn held_from(&self, at: u64) -> &[u8] {
        at.checked_sub(self.start)
            .and_then(|from| usize::try_from(from).ok())
            .and_then(|from| self.bytes.get(from..))
            .unwrap_or_default()
    }

    /// Fills `out` with the bytes of `file` (`file_len` bytes long) at `at`. They come
    /// from the buffer, which is refilled from `at` first when it does not hold them all;
    /// bytes more than it can hold are read straight into `out` (after those it holds).
    /// An error is the file's own.
    fn read(
        &mut self,
        file: &mut dyn StorageFile,
        file_len: u64,
        at: u64,
        out: &mut [u8],
    ) -> io::Result<()> {
        if out.len() <= READ_AHEAD && self.held_from(at).len() < out.len() {
            self.refill(file, file_len, at)?;
        }
        let held = self.held_from(at);
        let held = held.get(..out.len()).unwrap_or(held);
        let (done, rest) = out.split_at_mut(held.len());
        done.copy_from_slice(held);
        if !rest.is_empty() {
            file.read_exact_at(at + held.len() as u64, rest)?;
        }
        Ok(())
    }

    /// Makes the buffer start at `at` and hold [`READ_AHEAD`] bytes, or the rest of the
    /// file if less: what it holds from `at` on is kept, the rest is read. After an
    /// error it holds nothing.
    fn refill(&mut self, file: &mut dyn StorageFile, file_len: u64, at: u64) -> io::Result<()> {
        let kept = self.held_from(at).len();
        let from = self.bytes.len() - kept;
        self.bytes.copy_within(from.., 0);
        self.bytes.truncate(kept);
        let want =
            usize::try_from(file_len.saturating_sub(at)).map_or(READ_AHEAD, |n| n.min(READ_AHEAD));
        // Exactly: the buffer is never to hold more than `READ_AHEAD` bytes.
        self.bytes.reserve_exact(want.saturating_sub(kept));
        self.bytes.resize(want.max(kept), 0);
        self.start = at;
        let result = match self.bytes.get_mut(kept..) {
            Some(rest) if !rest.is_empty() => file.read_exact_at(at + kept as u64, rest),
            _ => Ok(()),
        };
        if result.is_err() {
            self.bytes.clear();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    /// A file of `len` bytes, each derived from its offset, and its contents.
    fn file(len: usize) -> (MemoryStorage, Box<dyn StorageFile>, Vec<u8>) {
        let disk = MemoryStorage::new();
        let data: Vec<u8> = (0..len).map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8).collect();
        let mut f = disk.create("f").unwrap();
        f.append(&data).unwrap();
        (disk, f, data)
    }

    /// Reads the whole file front to back in pieces of the given lengths (cycled), as
    /// frames are read, and checks every piece and the buffer's bound.
    fn read_through(lens: &[usize]) -> u64 {
        let total = 5 * READ_AHEAD + 12_345;
        let (disk, mut f, data) = file(total);
        let before = disk.calls();
        let mut ahead = ReadAhead::default();
        let mut at = 0usize;
        for &len in lens.iter().cycle() {
            let len = len.min(total - at);
            let mut out = vec![0u8; len];
            ahead
                .read(&mut *f, total as u64, at as u64, &mut out)
                .unwrap();
            assert!(out == data[at..at + len], "{len} bytes at {at}");
            assert!(ahead.bytes.capacity() <= READ_AHEAD, "the buffer grew");
            at += len;
            if at == total {
                break;
            }
        }
        disk.calls() - before
    }

    #[test]
    fn small_pieces_take_one_read_per_chunk() {
        // Pieces that do not divide the chunk, so many of them cross its end.
        let calls = read_through(&[32, 80, 112, 48, 3000]);
        assert_eq!(calls, 6, "one read per 1 MiB, the last one shorter");
    }

    #[test]
    fn pieces_larger_than_the_chunk_and_crossing_it_come_back_whole() {
        read_through(&[READ_AHEAD + 16, 32, READ_AHEAD - 16, 3 * READ_AHEAD / 2, 16]);
        read_through(&[READ_AHEAD, READ_AHEAD / 2 + 1, 2 * READ_AHEAD + 7]);
    }

    #[test]
    fn a_failed_read_is_the_files_error_and_leaves_nothing_stale() {
        let (disk, mut f, data) = file(3 * READ_AHEAD);
        let len = data.len() as u64;
        let mut ahead = ReadAhead::default();
        let mut out = [0u8; 64];
        ahead.read(&mut *f, len, 0, &mut out).unwrap();
        disk.fail_call(disk.calls() + 1);
        let at = READ_AHEAD as u64 - 32;
        let err = ahead.read(&mut *f, len, at, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "injected fault");
        assert!(ahead.bytes.is_empty());
        ahead.read(&mut *f, len, at, &mut out).unwrap();
        assert!(out[..] == data[at as usize..at as usize + 64]);
    }

    #[test]
    fn reads_stop_at_the_end_of_the_file() {
        let (_disk, mut f, data) = file(READ_AHEAD / 4);
        let mut ahead = ReadAhead::default();
        let mut out = [0u8; 100];
        ahead
            .read(&mut *f, data.len() as u64, 1000, &mut out)
            .unwrap();
        assert_eq!(ahead.bytes.len(), data.len() - 1000, "the rest of the file");
        let end = data.len() as u64;
        let mut past = [0u8; 1];
        assert!(ahead.read(&mut *f, end, end, &mut past).is_err());
    }
}
