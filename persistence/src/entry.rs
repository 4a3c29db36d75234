//! Entries, the records inside log frames and checkpoint blocks. Two layouts:
//!
//! * a log entry (an insert, update or delete) has a 16-byte header, then its primary
//!   key and, except for deletes, its row, each padded to 16 bytes, so that a frame read
//!   into an aligned buffer hands out aligned slices without a copy;
//! * a checkpoint entry (a live row) is two varint lengths, then the key and the row back
//!   to back, without padding: a checkpoint holds every row, and padding would be a
//!   large part of it. The reader copies each one into an aligned buffer
//!   ([`crate::bytes::realign`]).

use std::ops::Range;

use crate::OperationKind;
use crate::bytes::{
    ALIGN, Cursor, VarintError, pad_to_align, padded, put_u32, put_varint, varint_len,
};

/// Length of a log entry's header.
pub(crate) const ENTRY_HEADER_LEN: usize = 16;

fn tag_byte(kind: OperationKind) -> u8 {
    match kind {
        OperationKind::Insert => 1,
        OperationKind::Update => 2,
        OperationKind::Delete => 3,
    }
}

fn kind_from_tag(b: u8) -> Option<OperationKind> {
    Some(match b {
        1 => OperationKind::Insert,
        2 => OperationKind::Update,
        3 => OperationKind::Delete,
        _ => return None,
    })
}

/// The encoded length of a log entry, `None` if a length does not fit the format (u32).
pub(crate) fn entry_len(pk: usize, row: Option<usize>) -> Option<usize> {
    u32::try_from(pk).ok()?;
    let row = row.unwrap_or(0);
    u32::try_from(row).ok()?;
    ENTRY_HEADER_LEN
        .checked_add(padded(pk)?)?
        .checked_add(padded(row)?)
}

/// Appends one log entry. The caller has checked the lengths with [`entry_len`] and that
/// `row` is present exactly when the operation has a row.
pub(crate) fn encode_entry(buf: &mut Vec<u8>, kind: OperationKind, pk: &[u8], row: Option<&[u8]>) {
    let row = row.unwrap_or(&[]);
    buf.extend_from_slice(&[tag_byte(kind), 0, 0, 0]);
    put_u32(buf, u32::try_from(pk.len()).unwrap_or(u32::MAX));
    put_u32(buf, u32::try_from(row.len()).unwrap_or(u32::MAX));
    put_u32(buf, 0);
    buf.extend_from_slice(pk);
    pad_to_align(buf);
    buf.extend_from_slice(row);
    pad_to_align(buf);
}

/// Where a log entry's parts lie in the buffer it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPos {
    pub kind: OperationKind,
    pub pk: Range<usize>,
    pub row: Option<Range<usize>>,
}

/// Decodes the log entry at `at` (a multiple of 16) of `body`; returns it and where the
/// next entry starts. Every byte is checked: tag, reserved zeros, lengths within the
/// body, zero padding.
pub(crate) fn decode_entry(body: &[u8], at: usize) -> Result<(EntryPos, usize), &'static str> {
    let rest = body.get(at..).ok_or("entry starts past the end")?;
    let mut c = Cursor::new(rest);
    let tag = c.u8().ok_or("entry header cut short")?;
    let kind = kind_from_tag(tag).ok_or("unknown entry tag")?;
    let reserved = c.take(3).ok_or("entry header cut short")?;
    let pk_len = c.u32().ok_or("entry header cut short")? as usize;
    let row_len = c.u32().ok_or("entry header cut short")? as usize;
    let reserved2 = c.u32().ok_or("entry header cut short")?;
    if reserved != [0, 0, 0] || reserved2 != 0 {
        return Err("reserved entry bytes are not zero");
    }
    if !kind.has_row() && row_len != 0 {
        return Err("a delete carries row bytes");
    }
    let pk_start = at + ENTRY_HEADER_LEN;
    let pk_padded = padded(pk_len).ok_or("key length overflows")?;
    let row_start = pk_start
        .checked_add(pk_padded)
        .ok_or("key length overflows")?;
    let row_padded = padded(row_len).ok_or("row length overflows")?;
    let end = row_start
        .checked_add(row_padded)
        .ok_or("row length overflows")?;
    if end > body.len() {
        return Err("entry runs past the end of its frame");
    }
    let zero = |from: usize, to: usize| {
        body.get(from..to)
            .is_some_and(|p| p.iter().all(|b| *b == 0))
    };
    if !zero(pk_start + pk_len, row_start) || !zero(row_start + row_len, end) {
        return Err("entry padding is not zero");
    }
    debug_assert_eq!(end % ALIGN, at % ALIGN);
    let pos = EntryPos {
        kind,
        pk: pk_start..pk_start + pk_len,
        row: kind.has_row().then_some(row_start..row_start + row_len),
    };
    Ok((pos, end))
}

/// The encoded length of a checkpoint entry, `None` if a length does not fit the format
/// (u32).
pub(crate) fn row_entry_len(pk: usize, row: usize) -> Option<usize> {
    let pk32 = u32::try_from(pk).ok()?;
    let row32 = u32::try_from(row).ok()?;
    (varint_len(pk32) + varint_len(row32))
        .checked_add(pk)?
        .checked_add(row)
}

/// Appends one checkpoint entry: key length, row length (varints), key, row. The caller
/// has checked the lengths with [`row_entry_len`].
pub(crate) fn encode_row_entry(buf: &mut Vec<u8>, pk: &[u8], row: &[u8]) {
    put_varint(buf, u32::try_from(pk.len()).unwrap_or(u32::MAX));
    put_varint(buf, u32::try_from(row.len()).unwrap_or(u32::MAX));
    buf.extend_from_slice(pk);
    buf.extend_from_slice(row);
}

/// Where a checkpoint entry's key and row lie in the payload it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowPos {
    pub pk: Range<usize>,
    pub row: Range<usize>,
}

/// Decodes the checkpoint entry at `at` of `payload`; returns it and where the next entry
/// starts. The lengths must be varints in their shortest form, and the key and row must
/// lie within the payload.
pub(crate) fn decode_row_entry(payload: &[u8], at: usize) -> Result<(RowPos, usize), &'static str> {
    let rest = payload
        .get(at..)
        .filter(|rest| !rest.is_empty())
        .ok_or("fewer entries than the block's row count")?;
    let mut c = Cursor::new(rest);
    let length = |r: Result<u32, VarintError>| match r {
        Ok(n) => Ok(n as usize),
        Err(VarintError::CutShort) => Err("entry lengths cut short by the end of the block"),
        Err(VarintError::Invalid) => Err("invalid entry length"),
    };
    let pk_len = length(c.varint())?;
    let row_len = length(c.varint())?;
    let pk_start = at + c.pos();
    let row_start = pk_start.checked_add(pk_len).ok_or("key length overflows")?;
    let end = row_start
        .checked_add(row_len)
        .ok_or("row length overflows")?;
    if end > payload.len() {
        return Err("entry runs past the end of its block");
    }
    let pos = RowPos {
        pk: pk_start..row_start,
        row: row_start..end,
    };
    Ok((pos, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_padded() {
        let mut buf = Vec::new();
        encode_entry(
            &mut buf,
            OperationKind::Insert,
            b"key",
            Some(b"a row of 17 bytes"),
        );
        encode_entry(&mut buf, OperationKind::Delete, b"k2", None);
        assert_eq!(
            buf.len(),
            entry_len(3, Some(17)).unwrap_or(0) + entry_len(2, None).unwrap_or(0)
        );
        let (a, next) = decode_entry(&buf, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.kind, OperationKind::Insert);
        assert_eq!(buf.get(a.pk.clone()), Some(&b"key"[..]));
        assert_eq!(
            a.row.as_ref().and_then(|r| buf.get(r.clone())),
            Some(&b"a row of 17 bytes"[..])
        );
        assert_eq!(a.pk.start % 16, 0);
        assert_eq!(a.row.as_ref().map(|r| r.start % 16), Some(0));
        let (b, end) = decode_entry(&buf, next).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.row, None);
        assert_eq!(end, buf.len());
    }

    #[test]
    fn a_delete_with_a_row_is_rejected() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, OperationKind::Update, b"k", Some(b"r"));
        if let Some(tag) = buf.first_mut() {
            *tag = 3;
        }
        assert!(decode_entry(&buf, 0).is_err());
    }

    #[test]
    fn tag_zero_is_not_a_log_entry() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, OperationKind::Insert, b"k", Some(b"r"));
        if let Some(tag) = buf.first_mut() {
            *tag = 0;
        }
        assert_eq!(decode_entry(&buf, 0), Err("unknown entry tag"));
    }

    #[test]
    fn row_entries_are_packed_back_to_back() {
        let mut buf = Vec::new();
        encode_row_entry(&mut buf, b"key", b"a row of 17 bytes");
        encode_row_entry(&mut buf, b"", &[5; 200]);
        assert_eq!(buf.len(), (2 + 3 + 17) + (1 + 2 + 200));
        assert_eq!(buf.get(..2), Some(&[3, 17][..]));
        assert_eq!(
            buf.len(),
            row_entry_len(3, 17).unwrap_or(0) + row_entry_len(0, 200).unwrap_or(0)
        );
        let (a, next) = decode_row_entry(&buf, 0).unwrap();
        assert_eq!((a.pk.clone(), a.row.clone()), (2..5, 5..22));
        assert_eq!(buf.get(a.row), Some(&b"a row of 17 bytes"[..]));
        let (b, end) = decode_row_entry(&buf, next).unwrap();
        assert_eq!(b.pk.len(), 0);
        assert_eq!(b.row.len(), 200);
        assert_eq!(end, buf.len());
    }

    #[test]
    fn row_entry_lengths_past_the_payload_are_refused() {
        let mut buf = Vec::new();
        encode_row_entry(&mut buf, b"key", b"row");
        // Every cut: the lengths or the bytes end early.
        for cut in 0..buf.len() {
            assert!(decode_row_entry(&buf[..cut], 0).is_err(), "cut at {cut}");
        }
        for (at, value) in [(0, 4), (1, 4), (0, 0x7f), (1, 0x7f)] {
            let mut b = buf.clone();
            b[at] = value;
            assert_eq!(
                decode_row_entry(&b, 0),
                Err("entry runs past the end of its block"),
                "byte {at} = {value}"
            );
        }
        // The largest lengths the format allows, on a tiny payload: refused, not read.
        let mut huge = Vec::new();
        put_varint(&mut huge, u32::MAX);
        put_varint(&mut huge, u32::MAX);
        assert_eq!(
            decode_row_entry(&huge, 0),
            Err("entry runs past the end of its block")
        );
        assert_eq!(
            decode_row_entry(&[0x80, 0x00, 0x00], 0),
            Err("invalid entry length")
        );
    }
}
