//! Checkpoint files: every live row, in primary-key order, in checksummed blocks, closed
//! by a footer that counts them. Written to a temp file; the directory renames it and
//! records it in the manifest (see [`crate::Dir::finish_checkpoint`]).

use std::sync::Arc;

use rkyv::util::AlignedVec;

use crate::bytes::{get_u32, get_u64, put_u32, put_u64, set_u32};
use crate::entry::{EntryPos, Tag, decode_entry, encode_entry, entry_len};
use crate::error::{Corruption, PersistError, corrupt};
use crate::format::{
    FILE_HEADER_LEN, FileHeader, MAGIC_CHECKPOINT, checkpoint_name, checkpoint_tmp_name,
};
use crate::sticky::Sticky;
use crate::storage::{Storage, StorageFile};

const BLOCK_MAGIC: [u8; 4] = *b"WTCB";
const FOOTER_MAGIC: [u8; 4] = *b"WTCE";
const BLOCK_HEADER_LEN: usize = 16;
const FOOTER_LEN: usize = 32;
/// The largest payload one block may have: 1 GiB (a row larger than that is refused).
const MAX_BLOCK_PAYLOAD: usize = 1 << 30;

/// Writes one checkpoint: begun by [`crate::Dir::begin_checkpoint`], fed every live row
/// with [`Self::push`], completed by [`crate::Dir::finish_checkpoint`].
///
/// It owns its own file, so it can run on another thread while the directory keeps
/// appending to the log. It shares the directory's failure state: an I/O error here
/// fails the directory too, and a failed directory refuses further pushes.
#[derive(Debug)]
pub struct CheckpointWriter {
    storage: Arc<dyn Storage>,
    pub(crate) sticky: Sticky,
    file: Box<dyn StorageFile>,
    pub(crate) number: u64,
    pub(crate) seq: u64,
    tmp_name: String,
    block: Vec<u8>,
    block_rows: u32,
    block_size: usize,
    rows: u64,
    blocks: u64,
    len: u64,
}

impl CheckpointWriter {
    pub(crate) fn create(
        storage: Arc<dyn Storage>,
        sticky: Sticky,
        number: u64,
        seq: u64,
        block_size: usize,
    ) -> Result<CheckpointWriter, PersistError> {
        let tmp_name = checkpoint_tmp_name(number);
        let mut file = sticky.io("create", &tmp_name, storage.create(&tmp_name))?;
        let header = FileHeader {
            magic: MAGIC_CHECKPOINT,
            a: number,
            b: seq,
            c: 0,
        }
        .encode();
        sticky.io("append", &tmp_name, file.append(&header))?;
        Ok(CheckpointWriter {
            storage,
            sticky,
            file,
            number,
            seq,
            tmp_name,
            block: Vec::new(),
            block_rows: 0,
            block_size: block_size.clamp(BLOCK_HEADER_LEN * 4, MAX_BLOCK_PAYLOAD),
            rows: 0,
            blocks: 0,
            len: FILE_HEADER_LEN as u64,
        })
    }

    /// The sequence number this checkpoint is taken at: every operation up to it is
    /// reflected in the rows pushed.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// How many rows were pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one live row: its primary key's and its row's encoded bytes. Rows are pushed
    /// in primary-key order, each key once (recovery hands them back in this order).
    /// Blocks are written as they fill.
    pub fn push(&mut self, pk: &[u8], row: &[u8]) -> Result<(), PersistError> {
        self.sticky.check()?;
        let n = entry_len(pk.len(), Some(row.len()))
            .filter(|n| *n <= MAX_BLOCK_PAYLOAD)
            .ok_or(PersistError::TooLarge {
                what: "a checkpoint row",
                bytes: (pk.len() as u64).saturating_add(row.len() as u64),
                limit: MAX_BLOCK_PAYLOAD as u64,
            })?;
        let payload = self.block.len().saturating_sub(BLOCK_HEADER_LEN);
        if self.block_rows > 0 && (payload + n > self.block_size || self.block_rows == u32::MAX) {
            self.write_block()?;
        }
        if self.block.is_empty() {
            self.block.resize(BLOCK_HEADER_LEN, 0);
        }
        encode_entry(&mut self.block, Tag::Row, pk, Some(row));
        self.block_rows += 1;
        self.rows += 1;
        if self.block.len() - BLOCK_HEADER_LEN >= self.block_size {
            self.write_block()?;
        }
        Ok(())
    }

    fn write_block(&mut self) -> Result<(), PersistError> {
        if self.block_rows == 0 {
            return Ok(());
        }
        let payload = self.block.len() - BLOCK_HEADER_LEN;
        if let Some(h) = self.block.get_mut(0..4) {
            h.copy_from_slice(&BLOCK_MAGIC);
        }
        set_u32(
            &mut self.block,
            4,
            u32::try_from(payload).unwrap_or(u32::MAX),
        );
        set_u32(&mut self.block, 8, self.block_rows);
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(self.block.get(0..12).unwrap_or_default()),
            self.block.get(BLOCK_HEADER_LEN..).unwrap_or_default(),
        );
        set_u32(&mut self.block, 12, crc);
        self.sticky
            .io("append", &self.tmp_name, self.file.append(&self.block))?;
        self.len += self.block.len() as u64;
        self.blocks += 1;
        self.block.clear();
        self.block_rows = 0;
        Ok(())
    }

    /// Writes the last block and the footer and syncs the file. Returns the temp name,
    /// the final name and the length.
    pub(crate) fn complete(&mut self) -> Result<(String, String, u64), PersistError> {
        self.sticky.check()?;
        self.write_block()?;
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        footer.extend_from_slice(&FOOTER_MAGIC);
        put_u32(&mut footer, 0);
        put_u64(&mut footer, self.rows);
        put_u64(&mut footer, self.blocks);
        put_u32(&mut footer, 0);
        let crc = crc32c::crc32c(&footer);
        put_u32(&mut footer, crc);
        self.sticky
            .io("append", &self.tmp_name, self.file.append(&footer))?;
        self.len += FOOTER_LEN as u64;
        self.sticky.io("sync", &self.tmp_name, self.file.sync())?;
        Ok((
            self.tmp_name.clone(),
            checkpoint_name(self.number),
            self.len,
        ))
    }

    /// Gives the checkpoint up and removes its temp file. (A writer that is just dropped
    /// leaves the temp file; the next open removes it.)
    pub fn abort(self) -> Result<(), PersistError> {
        self.sticky.check()?;
        let CheckpointWriter {
            storage,
            sticky,
            file,
            tmp_name,
            ..
        } = self;
        drop(file);
        sticky.io("remove", &tmp_name, storage.remove(&tmp_name))
    }
}

/// Reads a checkpoint file during recovery, one verified block at a time.
#[derive(Debug)]
pub(crate) struct CheckpointReader {
    file: Box<dyn StorageFile>,
    name: String,
    len: u64,
    pos: u64,
    /// The current block, header included, 16-byte aligned.
    buf: AlignedVec,
    entries: Vec<EntryPos>,
    next: usize,
    current: Option<usize>,
    rows: u64,
    blocks: u64,
    done: bool,
}

impl CheckpointReader {
    /// Opens the checkpoint and checks its header and length against the manifest.
    pub(crate) fn open(
        storage: &dyn Storage,
        number: u64,
        seq: u64,
        expected_len: u64,
    ) -> Result<CheckpointReader, PersistError> {
        let name = checkpoint_name(number);
        let io = |op, r| io_err(&name, op, r);
        let mut file = storage.open(&name).map_err(|e| io("open", e))?;
        let len = file.len().map_err(|e| io("len", e))?;
        if len != expected_len {
            return Err(corrupt(
                &name,
                len.min(expected_len),
                Corruption::WrongLength {
                    expected: expected_len,
                    found: len,
                },
            ));
        }
        if len < FILE_HEADER_LEN as u64 {
            return Err(corrupt(&name, 0, Corruption::Truncated));
        }
        let mut header = [0u8; FILE_HEADER_LEN];
        file.read_exact_at(0, &mut header)
            .map_err(|e| io("read", e))?;
        let h = FileHeader::decode(&header, MAGIC_CHECKPOINT, &name)?;
        if h.a != number {
            return Err(corrupt(
                &name,
                16,
                Corruption::WrongFile {
                    expected: number,
                    found: h.a,
                },
            ));
        }
        if h.b != seq || h.c != 0 {
            return Err(corrupt(
                &name,
                24,
                Corruption::Malformed("header disagrees with the manifest"),
            ));
        }
        Ok(CheckpointReader {
            file,
            name,
            len,
            pos: FILE_HEADER_LEN as u64,
            buf: AlignedVec::new(),
            entries: Vec::new(),
            next: 0,
            current: None,
            rows: 0,
            blocks: 0,
            done: false,
        })
    }

    /// Where the current block starts.
    pub(crate) fn block_start(&self) -> u64 {
        self.pos.saturating_sub(self.buf.len() as u64)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Moves to the next row; `false` after the (checked) footer.
    pub(crate) fn advance(&mut self) -> Result<bool, PersistError> {
        while self.next >= self.entries.len() {
            if self.done || !self.load_block()? {
                return Ok(false);
            }
        }
        self.current = Some(self.next);
        self.next += 1;
        self.rows += 1;
        Ok(true)
    }

    /// The row [`Self::advance`] moved to, as `(pk, row)`, both 16-byte aligned.
    pub(crate) fn current(&self) -> Option<(&[u8], &[u8])> {
        let e = self.entries.get(self.current?)?;
        let pk = self.buf.get(e.pk.clone())?;
        let row = self.buf.get(e.row.clone()?)?;
        Some((pk, row))
    }

    /// Loads the next block; `false` at the (checked) footer.
    fn load_block(&mut self) -> Result<bool, PersistError> {
        let at = self.pos;
        let bad = |reason| corrupt(&self.name, at, reason);
        let remaining = self.len - at;
        if remaining < BLOCK_HEADER_LEN as u64 {
            return Err(bad(Corruption::Truncated));
        }
        let mut head = [0u8; BLOCK_HEADER_LEN];
        self.file
            .read_exact_at(at, &mut head)
            .map_err(|e| io_err(&self.name, "read", e))?;
        let magic = head.get(0..4).unwrap_or_default();
        if magic == FOOTER_MAGIC {
            return self.read_footer().map(|()| false);
        }
        if magic != BLOCK_MAGIC {
            return Err(bad(Corruption::BadMagic));
        }
        let payload = get_u32(&head, 4).unwrap_or(0) as u64;
        let count = get_u32(&head, 8).unwrap_or(0);
        if !payload.is_multiple_of(16)
            || count == 0
            || payload > remaining - BLOCK_HEADER_LEN as u64
        {
            return Err(bad(Corruption::Malformed(
                "impossible block length or row count",
            )));
        }
        let total = BLOCK_HEADER_LEN + payload as usize;
        self.buf.clear();
        self.buf.resize(total, 0);
        self.file
            .read_exact_at(at, self.buf.as_mut_slice())
            .map_err(|e| io_err(&self.name, "read", e))?;
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(self.buf.get(0..12).unwrap_or_default()),
            self.buf.get(BLOCK_HEADER_LEN..).unwrap_or_default(),
        );
        if get_u32(&self.buf, 12) != Some(crc) {
            return Err(bad(Corruption::BadChecksum));
        }
        self.entries.clear();
        self.next = 0;
        self.current = None;
        let mut pos = BLOCK_HEADER_LEN;
        for _ in 0..count {
            let (e, next) =
                decode_entry(&self.buf, pos).map_err(|w| bad(Corruption::Malformed(w)))?;
            if e.tag != Tag::Row {
                return Err(bad(Corruption::Malformed(
                    "a log operation inside a checkpoint",
                )));
            }
            self.entries.push(e);
            pos = next;
        }
        if pos != total {
            return Err(bad(Corruption::Malformed("block longer than its rows")));
        }
        self.pos += total as u64;
        self.blocks += 1;
        Ok(true)
    }

    fn read_footer(&mut self) -> Result<(), PersistError> {
        let at = self.pos;
        let bad = |reason| corrupt(&self.name, at, reason);
        if self.len - at < FOOTER_LEN as u64 {
            return Err(bad(Corruption::Truncated));
        }
        if self.len - at > FOOTER_LEN as u64 {
            return Err(corrupt(
                &self.name,
                at + FOOTER_LEN as u64,
                Corruption::TrailingBytes,
            ));
        }
        let mut f = [0u8; FOOTER_LEN];
        self.file
            .read_exact_at(at, &mut f)
            .map_err(|e| io_err(&self.name, "read", e))?;
        if get_u32(&f, 28) != Some(crc32c::crc32c(f.get(..28).unwrap_or_default())) {
            return Err(bad(Corruption::BadChecksum));
        }
        if get_u32(&f, 4) != Some(0) || get_u32(&f, 24) != Some(0) {
            return Err(bad(Corruption::Malformed(
                "reserved footer bytes are not zero",
            )));
        }
        // Every row of every block has been handed out by the time the footer is read.
        if get_u64(&f, 8) != Some(self.rows) || get_u64(&f, 16) != Some(self.blocks) {
            return Err(bad(Corruption::Malformed(
                "footer counts differ from the blocks read",
            )));
        }
        self.entries.clear();
        self.next = 0;
        self.current = None;
        self.done = true;
        Ok(())
    }
}

fn io_err(name: &str, op: &'static str, source: std::io::Error) -> PersistError {
    PersistError::Io {
        op,
        file: name.to_owned(),
        source,
    }
}
