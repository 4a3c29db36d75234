//! Little-endian encoding helpers with checked bounds: decoding never indexes out of
//! range, it returns `None`.

/// Every record payload, frame and block is padded to this many bytes, so payloads read
/// into a 16-byte aligned buffer are 16-byte aligned (what rkyv's validation expects).
pub(crate) const ALIGN: usize = 16;

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
    fn cursor_stops_at_the_end() {
        let mut c = Cursor::new(&[1, 0, 0, 0, 2]);
        assert_eq!(c.u32(), Some(1));
        assert_eq!(c.u32(), None);
        assert_eq!(c.u8(), Some(2));
        assert!(c.is_empty());
    }
}
