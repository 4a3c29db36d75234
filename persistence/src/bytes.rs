//! Little-endian encoding helpers with checked bounds: decoding never indexes out of
//! range, it returns `None`.

use std::ops::Range;

use rkyv::util::AlignedVec;

/// The alignment of every key and row slice handed out. Log entries are padded to it, so
/// payloads read into a 16-byte aligned buffer are 16-byte aligned (what rkyv's
/// validation expects); checkpoint entries are not, and are copied into an aligned
/// buffer with [`realign`].
pub(crate) const ALIGN: usize = 16;

/// The most bytes a [`put_varint`] takes: 32 bits, 7 per byte.
pub(crate) const MAX_VARINT_LEN: usize = 5;

/// `n` rounded up to a multiple of [`ALIGN`]; `None` on overflow.
pub(crate) fn padded(n: usize) -> Option<usize> {
    n.checked_add(ALIGN - 1).map(|m| m & !(ALIGN - 1))
}

/// Appends zero bytes until `buf.len()` is a multiple of [`ALIGN`].
pub(crate) fn pad_to_align(buf: &mut Vec<u8>) {
    let rem = buf.len() % ALIGN;
    if rem != 0 {
        buf.resize(buf.len() + (ALIGN - rem), 0);
    }
}

/// Replaces the contents of `scratch` (16-byte aligned) with `pk`, zeros up to a multiple
/// of [`ALIGN`], then `row`; returns where the two lie in it, both 16-byte aligned.
/// `None` if the lengths overflow (they come from a checked block, so they do not).
pub(crate) fn realign(
    scratch: &mut AlignedVec,
    pk: &[u8],
    row: &[u8],
) -> Option<(Range<usize>, Range<usize>)> {
    let row_start = padded(pk.len())?;
    let end = row_start.checked_add(row.len())?;
    scratch.clear();
    scratch.reserve(end);
    scratch.extend_from_slice(pk);
    scratch.resize(row_start, 0);
    scratch.extend_from_slice(row);
    Some((0..pk.len(), row_start..end))
}

/// How many bytes [`put_varint`] takes for `v`.
pub(crate) fn varint_len(v: u32) -> usize {
    match v {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// Appends `v` as an unsigned LEB128 varint: seven bits per byte, least significant
/// first, the high bit set on every byte but the last.
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Overwrites four bytes at `at` (which the caller wrote before) with `v`.
pub(crate) fn set_u32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn get_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// A forward reader over a byte slice.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// Where the next byte would be read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Reads a varint written by [`put_varint`]. `Err` if the bytes end inside it, or if
    /// it is not the one encoding `put_varint` writes: longer than five bytes, above
    /// `u32::MAX`, or with a needless trailing zero byte.
    pub(crate) fn varint(&mut self) -> Result<u32, VarintError> {
        let mut v: u32 = 0;
        for i in 0..MAX_VARINT_LEN {
            let b = self.u8().ok_or(VarintError::CutShort)?;
            let bits = u32::from(b & 0x7f);
            if i == MAX_VARINT_LEN - 1 && bits > 0x0f {
                return Err(VarintError::Invalid);
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(VarintError::Invalid);
                }
                return Ok(v);
            }
        }
        Err(VarintError::Invalid)
    }
}

/// Why [`Cursor::varint`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The bytes end inside the varint.
    CutShort,
    /// Too long, too large or not in its shortest form.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_up_to_sixteen() {
        assert_eq!(padded(0), Some(0));
        assert_eq!(padded(1), Some(16));
        assert_eq!(padded(16), Some(16));
        assert_eq!(padded(17), Some(32));
        assert_eq!(padded(usize::MAX), None);
    }

    #[test]
    fn varints_round_trip_at_every_length_boundary() {
        for v in [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            0x1f_ffff,
            0x20_0000,
            0x0fff_ffff,
            0x1000_0000,
            u32::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v:#x}");
            let mut c = Cursor::new(&buf);
            assert_eq!(c.varint(), Ok(v), "{v:#x}");
            assert!(c.is_empty());
            let mut cut = Cursor::new(buf.get(..buf.len() - 1).unwrap_or_default());
            assert_eq!(cut.varint(), Err(VarintError::CutShort), "{v:#x}");
        }
    }

    #[test]
    fn varints_other_than_the_shortest_u32_encoding_are_refused() {
        for bad in [
            &[0x80, 0x00][..],                     // 0 in two bytes
            &[0xff, 0x00],                         // 127 in two bytes
            &[0xff, 0xff, 0xff, 0xff, 0x10],       // 2^32
            &[0xff, 0xff, 0xff, 0xff, 0x8f, 0x01], // six bytes
        ] {
            assert_eq!(
                Cursor::new(bad).varint(),
                Err(VarintError::Invalid),
                "{bad:x?}"
            );
        }
    }

    #[test]
    fn realigned_slices_are_aligned_and_hold_the_bytes() {
        let mut scratch = AlignedVec::new();
        for (pk, row) in [(&b"k"[..], &b"row"[..]), (b"", b"x"), (&[7; 17], &[9; 33])] {
            let (p, r) = realign(&mut scratch, pk, row).unwrap_or_default();
            assert_eq!(scratch.get(p.clone()), Some(pk));
            assert_eq!(scratch.get(r.clone()), Some(row));
            let base = scratch.as_ptr() as usize;
            assert_eq!((base + p.start) % ALIGN, 0);
            assert_eq!((base + r.start) % ALIGN, 0);
        }
    }

    #[test]
    fn cursor_stops_at_the_end() {
        let mut c = Cursor::new(&[1, 0, 0, 0, 2]);
        assert_eq!(c.u32(), Some(1));
        assert_eq!(c.u32(), None);
        assert_eq!(c.u8(), Some(2));
        assert!(c.is_empty());
    }
}
