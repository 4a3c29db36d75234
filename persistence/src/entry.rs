//! One entry: a primary key and, except for deletes, a row, each padded to 16 bytes.
//! Log frames hold entries tagged insert/update/delete; checkpoint blocks hold entries
//! tagged row.

use std::ops::Range;

use crate::OperationKind;
use crate::bytes::{ALIGN, Cursor, pad_to_align, padded, put_u32};

/// Length of an entry's header.
pub(crate) const ENTRY_HEADER_LEN: usize = 16;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    /// A live row of a checkpoint.
    Row,
    /// A logged operation.
    Op(OperationKind),
}

impl Tag {
    fn byte(self) -> u8 {
        match self {
            Tag::Row => 0,
            Tag::Op(OperationKind::Insert) => 1,
            Tag::Op(OperationKind::Update) => 2,
            Tag::Op(OperationKind::Delete) => 3,
        }
    }

    fn from_byte(b: u8) -> Option<Tag> {
        Some(match b {
            0 => Tag::Row,
            1 => Tag::Op(OperationKind::Insert),
            2 => Tag::Op(OperationKind::Update),
            3 => Tag::Op(OperationKind::Delete),
            _ => return None,
        })
    }

    fn has_row(self) -> bool {
        self != Tag::Op(OperationKind::Delete)
    }
}

/// The encoded length of an entry, `None` if a length does not fit the format (u32).
pub(crate) fn entry_len(pk: usize, row: Option<usize>) -> Option<usize> {
    u32::try_from(pk).ok()?;
    let row = row.unwrap_or(0);
    u32::try_from(row).ok()?;
    ENTRY_HEADER_LEN
        .checked_add(padded(pk)?)?
        .checked_add(padded(row)?)
}

/// Appends one entry. The caller has checked the lengths with [`entry_len`] and that
/// `row` is present exactly when the tag has a row.
pub(crate) fn encode_entry(buf: &mut Vec<u8>, tag: Tag, pk: &[u8], row: Option<&[u8]>) {
    let row = row.unwrap_or(&[]);
    buf.extend_from_slice(&[tag.byte(), 0, 0, 0]);
    put_u32(buf, u32::try_from(pk.len()).unwrap_or(u32::MAX));
    put_u32(buf, u32::try_from(row.len()).unwrap_or(u32::MAX));
    put_u32(buf, 0);
    buf.extend_from_slice(pk);
    pad_to_align(buf);
    buf.extend_from_slice(row);
    pad_to_align(buf);
}

/// Where an entry's parts lie in the buffer it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPos {
    pub tag: Tag,
    pub pk: Range<usize>,
    pub row: Option<Range<usize>>,
}

/// Decodes the entry at `at` (a multiple of 16) of `body`; returns it and where the next
/// entry starts. Every byte is checked: tag, reserved zeros, lengths within the body,
/// zero padding.
pub(crate) fn decode_entry(body: &[u8], at: usize) -> Result<(EntryPos, usize), &'static str> {
    let rest = body.get(at..).ok_or("entry starts past the end")?;
    let mut c = Cursor::new(rest);
    let tag = c.u8().ok_or("entry header cut short")?;
    let tag = Tag::from_byte(tag).ok_or("unknown entry tag")?;
    let reserved = c.take(3).ok_or("entry header cut short")?;
    let pk_len = c.u32().ok_or("entry header cut short")? as usize;
    let row_len = c.u32().ok_or("entry header cut short")? as usize;
    let reserved2 = c.u32().ok_or("entry header cut short")?;
    if reserved != [0, 0, 0] || reserved2 != 0 {
        return Err("reserved entry bytes are not zero");
    }
    if !tag.has_row() && row_len != 0 {
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
        return Err("entry runs past the end of its frame or block");
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
        tag,
        pk: pk_start..pk_start + pk_len,
        row: tag.has_row().then_some(row_start..row_start + row_len),
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
            Tag::Op(OperationKind::Insert),
            b"key",
            Some(b"a row of 17 bytes"),
        );
        encode_entry(&mut buf, Tag::Op(OperationKind::Delete), b"k2", None);
        assert_eq!(
            buf.len(),
            entry_len(3, Some(17)).unwrap_or(0) + entry_len(2, None).unwrap_or(0)
        );
        let (a, next) = decode_entry(&buf, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.tag, Tag::Op(OperationKind::Insert));
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
        encode_entry(&mut buf, Tag::Op(OperationKind::Update), b"k", Some(b"r"));
        if let Some(tag) = buf.first_mut() {
            *tag = 3;
        }
        assert!(decode_entry(&buf, 0).is_err());
    }
}
