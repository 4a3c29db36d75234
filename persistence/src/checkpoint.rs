//! Checkpoint files: every live row, in primary-key order, in checksummed blocks, closed
//! by a footer that counts them. Written to a temp file; the directory renames it and
//! records it in the manifest (see [`crate::Dir::finish_checkpoint`]).
//!
//! Rows are stored unpadded (see [`crate::entry`]); the reader copies each key and row
//! into an aligned buffer as it hands them out.

use std::ops::Range;
use std::sync::Arc;

use rkyv::util::AlignedVec;

use crate::bytes::{get_u32, get_u64, put_u32, put_u64, realign, set_u32};
use crate::entry::{RowPos, decode_row_entry, encode_row_entry, row_entry_len};
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
        let n = row_entry_len(pk.len(), row.len())
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
        encode_row_entry(&mut self.block, pk, row);
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
    /// The current block, header included.
    buf: Vec<u8>,
    /// Where each entry of the current block lies in `buf`.
    entries: Vec<RowPos>,
    next: usize,
    /// The current row's key and row, each starting at a multiple of 16.
    aligned: AlignedVec,
    /// Where the current key and row lie in `aligned`; `None` before the first row of a
    /// block.
    current: Option<(Range<usize>, Range<usize>)>,
    rows: u64,
    blocks: u64,
    done: bool,
    /// The rows the footer counts, read when the file is opened, as a hint only.
    rows_hint: u64,
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
        let rows_hint = footer_rows_hint(&mut *file, len);
        Ok(CheckpointReader {
            file,
            name,
            len,
            pos: FILE_HEADER_LEN as u64,
            buf: Vec::new(),
            entries: Vec::new(),
            next: 0,
            aligned: AlignedVec::new(),
            current: None,
            rows: 0,
            blocks: 0,
            done: false,
            rows_hint,
        })
    }

    /// How many rows the footer says the file holds, for sizing what receives them: read
    /// when the file is opened and not checked against the blocks until the end (see
    /// [`footer_rows_hint`]). 0 when the footer could not be read or failed its CRC.
    pub(crate) fn rows_hint(&self) -> u64 {
        self.rows_hint
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

    /// Moves to the next row, copying its key and row into the aligned buffer; `false`
    /// after the (checked) footer.
    pub(crate) fn advance(&mut self) -> Result<bool, PersistError> {
        while self.next >= self.entries.len() {
            if self.done || !self.load_block()? {
                return Ok(false);
            }
        }
        let parts = self.entries.get(self.next).and_then(|e| {
            let pk = self.buf.get(e.pk.clone())?;
            let row = self.buf.get(e.row.clone())?;
            realign(&mut self.aligned, pk, row)
        });
        if parts.is_none() {
            // `load_block` checked every entry against the block it read.
            return Err(corrupt(
                &self.name,
                self.block_start(),
                Corruption::Malformed("entry outside its block"),
            ));
        }
        self.current = parts;
        self.next += 1;
        self.rows += 1;
        Ok(true)
    }

    /// The row [`Self::advance`] moved to, as `(pk, row)`, both 16-byte aligned.
    pub(crate) fn current(&self) -> Option<(&[u8], &[u8])> {
        let (pk, row) = self.current.as_ref()?;
        Some((
            self.aligned.get(pk.clone())?,
            self.aligned.get(row.clone())?,
        ))
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
        if count == 0
            || payload > MAX_BLOCK_PAYLOAD as u64
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
                decode_row_entry(&self.buf, pos).map_err(|w| bad(Corruption::Malformed(w)))?;
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
        if !footer_checksum_holds(&f) {
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

/// The row count of the footer at the end of a checkpoint file of `len` bytes, if the
/// footer reads and passes its CRC; else 0. At most half the bytes after the header, as
/// every entry takes at least two. Only a hint: the rows counted as the blocks are read
/// are checked against the footer when it is reached in order.
fn footer_rows_hint(file: &mut dyn StorageFile, len: u64) -> u64 {
    let Some(at) = len.checked_sub(FOOTER_LEN as u64) else {
        return 0;
    };
    let mut f = [0u8; FOOTER_LEN];
    if at < FILE_HEADER_LEN as u64 || file.read_exact_at(at, &mut f).is_err() {
        return 0;
    }
    let sound = f.starts_with(&FOOTER_MAGIC) && footer_checksum_holds(&f);
    match get_u64(&f, 8) {
        Some(rows) if sound => rows.min((at - FILE_HEADER_LEN as u64) / 2),
        _ => 0,
    }
}

/// Whether a footer's last four bytes are the CRC of the bytes before them.
fn footer_checksum_holds(footer: &[u8; FOOTER_LEN]) -> bool {
    get_u32(footer, 28) == Some(crc32c::crc32c(footer.get(..28).unwrap_or_default()))
}

fn io_err(name: &str, op: &'static str, source: std::io::Error) -> PersistError {
    PersistError::Io {
        op,
        file: name.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::put_varint;
    use crate::storage::MemoryStorage;

    const NUMBER: u64 = 7;
    const SEQ: u64 = 40;

    /// A block around `payload` claiming `count` rows, with a valid CRC.
    fn block(payload: &[u8], count: u32) -> Vec<u8> {
        let mut b = BLOCK_MAGIC.to_vec();
        put_u32(&mut b, u32::try_from(payload.len()).unwrap());
        put_u32(&mut b, count);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&b), payload);
        put_u32(&mut b, crc);
        b.extend_from_slice(payload);
        b
    }

    /// A checkpoint file of `blocks`, whose footer counts `rows` rows; stored in a memory
    /// disk and opened.
    fn open(blocks: &[Vec<u8>], rows: u64) -> CheckpointReader {
        open_bytes(&file_of(blocks, rows))
    }

    /// The bytes of a checkpoint file of `blocks`, whose footer counts `rows` rows.
    fn file_of(blocks: &[Vec<u8>], rows: u64) -> Vec<u8> {
        let mut file = FileHeader {
            magic: MAGIC_CHECKPOINT,
            a: NUMBER,
            b: SEQ,
            c: 0,
        }
        .encode();
        for b in blocks {
            file.extend_from_slice(b);
        }
        let mut footer = FOOTER_MAGIC.to_vec();
        put_u32(&mut footer, 0);
        put_u64(&mut footer, rows);
        put_u64(&mut footer, blocks.len() as u64);
        put_u32(&mut footer, 0);
        let crc = crc32c::crc32c(&footer);
        put_u32(&mut footer, crc);
        file.extend_from_slice(&footer);
        file
    }

    /// `file` stored in a memory disk as the checkpoint, and opened.
    fn open_bytes(file: &[u8]) -> CheckpointReader {
        let disk = MemoryStorage::new();
        disk.write(&checkpoint_name(NUMBER), file);
        CheckpointReader::open(&disk, NUMBER, SEQ, file.len() as u64).unwrap()
    }

    /// Every row read, as owned `(key, row)` pairs.
    type Rows = Vec<(Vec<u8>, Vec<u8>)>;

    fn read_all(reader: &mut CheckpointReader) -> Result<Rows, PersistError> {
        let mut rows = Vec::new();
        while reader.advance()? {
            let (pk, row) = reader.current().unwrap();
            assert_eq!(pk.as_ptr() as usize % 16, 0, "key of row {}", rows.len());
            assert_eq!(row.as_ptr() as usize % 16, 0, "row of row {}", rows.len());
            rows.push((pk.to_vec(), row.to_vec()));
        }
        Ok(rows)
    }

    /// The error reading a file of `blocks` must give: corrupt at `offset`, with `reason`.
    fn refused(blocks: &[Vec<u8>], rows: u64, offset: u64, reason: &str) {
        let err = read_all(&mut open(blocks, rows)).unwrap_err();
        match &err {
            PersistError::Corrupt {
                file,
                offset: at,
                reason: Corruption::Malformed(why),
            } => {
                assert_eq!(file, &checkpoint_name(NUMBER));
                assert_eq!((*at, *why), (offset, reason), "{err}");
            }
            other => panic!("expected Corrupt/Malformed, got {other}"),
        }
    }

    #[test]
    fn a_hand_built_block_reads_back_aligned() {
        let mut payload = Vec::new();
        encode_row_entry(&mut payload, b"abc", b"odd row");
        encode_row_entry(&mut payload, b"", b"");
        encode_row_entry(&mut payload, &[1; 17], &[2; 129]);
        let rows = read_all(&mut open(&[block(&payload, 3)], 3)).unwrap();
        assert_eq!(
            rows,
            [
                (b"abc".to_vec(), b"odd row".to_vec()),
                (Vec::new(), Vec::new()),
                (vec![1; 17], vec![2; 129]),
            ]
        );
    }

    #[test]
    fn the_row_hint_is_the_footers_count_within_what_the_file_can_hold() {
        let mut payload = Vec::new();
        for k in 0u8..5 {
            encode_row_entry(&mut payload, &[k], b"row");
        }
        let blocks = [block(&payload, 5)];
        assert_eq!(open(&blocks, 5).rows_hint(), 5);
        // A footer that counts more entries than the file has bytes for is capped: every
        // entry takes at least two bytes. Reading it in order still refuses it.
        let overclaimed = open(&blocks, u64::MAX);
        let room = (overclaimed.len - (FILE_HEADER_LEN + FOOTER_LEN) as u64) / 2;
        assert_eq!(overclaimed.rows_hint(), room);
        refused(
            &blocks,
            u64::MAX,
            overclaimed.len - FOOTER_LEN as u64,
            "footer counts differ from the blocks read",
        );
    }

    #[test]
    fn a_footer_that_fails_its_crc_gives_no_hint() {
        let mut payload = Vec::new();
        encode_row_entry(&mut payload, b"k", b"row");
        let mut file = file_of(&[block(&payload, 1)], 1);
        let at = file.len() - FOOTER_LEN + 8;
        file[at] ^= 1;
        let mut reader = open_bytes(&file);
        assert_eq!(reader.rows_hint(), 0);
        assert!(matches!(
            read_all(&mut reader),
            Err(PersistError::Corrupt {
                reason: Corruption::BadChecksum,
                ..
            })
        ));
    }

    #[test]
    fn entry_lengths_past_the_block_are_refused() {
        let mut tail = Vec::new();
        encode_row_entry(&mut tail, b"k2", b"second");
        for (pk_len, row_len) in [(200, 6), (3, 200), (u32::MAX, 6), (3, u32::MAX)] {
            let mut payload = Vec::new();
            put_varint(&mut payload, pk_len);
            put_varint(&mut payload, row_len);
            payload.extend_from_slice(b"k1!row-one");
            payload.extend_from_slice(&tail);
            refused(
                &[block(&payload, 2)],
                2,
                FILE_HEADER_LEN as u64,
                "entry runs past the end of its block",
            );
        }
    }

    #[test]
    fn a_length_running_into_the_next_block_is_refused() {
        // The key length is one too large: it takes the next block's first byte, which
        // is in the file but not in this block.
        let mut first = Vec::new();
        put_varint(&mut first, 3);
        put_varint(&mut first, 4);
        first.extend_from_slice(b"k1row");
        let mut second = Vec::new();
        encode_row_entry(&mut second, b"k2", b"row2");
        let blocks = [block(&first, 1), block(&second, 1)];
        refused(
            &blocks,
            2,
            FILE_HEADER_LEN as u64,
            "entry runs past the end of its block",
        );
    }

    #[test]
    fn lengths_that_are_not_shortest_varints_are_refused() {
        let mut payload = vec![0x83, 0x00, 0x01];
        payload.extend_from_slice(b"k1!r");
        refused(
            &[block(&payload, 1)],
            1,
            FILE_HEADER_LEN as u64,
            "invalid entry length",
        );
        let payload = [0x01, 0xff, 0xff];
        refused(
            &[block(&payload, 1)],
            1,
            FILE_HEADER_LEN as u64,
            "entry lengths cut short by the end of the block",
        );
    }

    #[test]
    fn a_row_count_that_disagrees_with_the_entries_is_refused() {
        let mut payload = Vec::new();
        encode_row_entry(&mut payload, b"k1", b"row1");
        encode_row_entry(&mut payload, b"k2", b"row2");
        // One row fewer than the block holds: the rest is unexplained bytes.
        refused(
            &[block(&payload, 1)],
            1,
            FILE_HEADER_LEN as u64,
            "block longer than its rows",
        );
        // More rows than it holds, up to the largest count: the first missing one ends
        // the block (nothing is allocated for the count).
        for count in [3, u32::MAX] {
            refused(
                &[block(&payload, count)],
                u64::from(count),
                FILE_HEADER_LEN as u64,
                "fewer entries than the block's row count",
            );
        }
    }

    #[test]
    fn a_block_length_past_the_file_is_refused_before_reading() {
        let mut payload = Vec::new();
        encode_row_entry(&mut payload, b"k1", b"row1");
        let mut b = block(&payload, 1);
        set_u32(&mut b, 4, u32::MAX);
        refused(
            &[b],
            1,
            FILE_HEADER_LEN as u64,
            "impossible block length or row count",
        );
    }
}
