//! Log frames: one frame per commit group, `header | entries | trailer`, with a CRC over
//! the header alone (so a damaged length is caught before it is used) and one over the
//! whole frame (so a group is recovered whole or not at all).

use crate::Record;
use crate::bytes::{ALIGN, get_u32, get_u64, put_u32, put_u64, set_u32};
use crate::entry::{EntryPos, decode_entry, encode_entry, entry_len};
use crate::error::PersistError;

pub(crate) const FRAME_HEADER_LEN: usize = 32;
pub(crate) const FRAME_TRAILER_LEN: usize = 16;
/// The largest body a frame may have: 1 GiB.
pub(crate) const MAX_FRAME_BODY: usize = 1 << 30;

const FRAME_MAGIC: [u8; 4] = *b"WTFR";
const FRAME_END: [u8; 4] = *b"WTFE";

/// Checks a group and returns its body length: sequence numbers continue from
/// `next_seq` without gaps, deletes carry no row, inserts and updates do.
pub(crate) fn body_len(records: &[Record<'_>], next_seq: u64) -> Result<usize, PersistError> {
    if records.is_empty() {
        return Err(PersistError::EmptyGroup);
    }
    let mut expected = next_seq;
    let mut body = 0usize;
    for r in records {
        if r.seq != expected {
            return Err(PersistError::SequenceMismatch {
                expected,
                found: r.seq,
            });
        }
        if r.kind.has_row() != r.row.is_some() {
            return Err(PersistError::InvalidRecord {
                seq: r.seq,
                reason: if r.row.is_some() {
                    "a delete carries no row"
                } else {
                    "an insert or update needs its row"
                },
            });
        }
        let too_large = || PersistError::TooLarge {
            what: "a commit group",
            bytes: u64::MAX,
            limit: MAX_FRAME_BODY as u64,
        };
        let n = entry_len(r.pk.len(), r.row.map(<[u8]>::len)).ok_or_else(too_large)?;
        body = body.checked_add(n).ok_or_else(too_large)?;
        expected = expected.checked_add(1).ok_or(PersistError::InvalidRecord {
            seq: r.seq,
            reason: "sequence numbers are exhausted",
        })?;
    }
    if body > MAX_FRAME_BODY {
        return Err(PersistError::TooLarge {
            what: "a commit group",
            bytes: body as u64,
            limit: MAX_FRAME_BODY as u64,
        });
    }
    Ok(body)
}

/// The encoded length of a frame with a body of `body` bytes.
pub(crate) fn frame_len(body: usize) -> usize {
    FRAME_HEADER_LEN + body + FRAME_TRAILER_LEN
}

fn header_crc(salt: u64, header: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&salt.to_le_bytes()), header)
}

/// Encodes a checked group (see [`body_len`]) into `buf`, replacing its contents.
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    salt: u64,
    synced_len: u64,
    records: &[Record<'_>],
    body: usize,
) {
    buf.clear();
    buf.reserve(frame_len(body));
    let first_seq = records.first().map_or(0, |r| r.seq);
    let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&FRAME_MAGIC);
    put_u32(buf, u32::try_from(body).unwrap_or(u32::MAX));
    put_u64(buf, first_seq);
    put_u64(buf, synced_len);
    put_u32(buf, count);
    let crc = header_crc(salt, buf);
    put_u32(buf, crc);
    for r in records {
        encode_entry(buf, r.kind, r.pk, r.row);
    }
    debug_assert_eq!(buf.len(), FRAME_HEADER_LEN + body);
    put_u64(buf, first_seq + u64::from(count) - 1);
    buf.extend_from_slice(&FRAME_END);
    put_u32(buf, 0);
    let crc = crc32c::crc32c(buf.get(..buf.len() - 4).unwrap_or_default());
    let at = buf.len() - 4;
    set_u32(buf, at, crc);
}

/// A frame header that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub body_len: usize,
    pub first_seq: u64,
    pub synced_len: u64,
    pub count: u32,
}

impl FrameHeader {
    /// Decodes a header: magic, header CRC (seeded with the segment's salt), a body length
    /// that is a multiple of 16 within the limit, at least one record. `None` if any fails.
    pub(crate) fn decode(bytes: &[u8], salt: u64) -> Option<FrameHeader> {
        if bytes.get(0..4)? != FRAME_MAGIC {
            return None;
        }
        if get_u32(bytes, 28)? != header_crc(salt, bytes.get(0..28)?) {
            return None;
        }
        let body_len = get_u32(bytes, 4)? as usize;
        let count = get_u32(bytes, 24)?;
        if !body_len.is_multiple_of(ALIGN) || body_len > MAX_FRAME_BODY || count == 0 {
            return None;
        }
        Some(FrameHeader {
            body_len,
            first_seq: get_u64(bytes, 8)?,
            synced_len: get_u64(bytes, 16)?,
            count,
        })
    }

    pub(crate) fn frame_len(&self) -> usize {
        frame_len(self.body_len)
    }

    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.first_seq.checked_add(u64::from(self.count) - 1)
    }
}

/// Checks a whole frame (header already decoded): trailer magic, last sequence, CRC.
pub(crate) fn check_frame(frame: &[u8], header: &FrameHeader) -> bool {
    let len = header.frame_len();
    let (Some(covered), Some(trailer)) = (
        frame.get(..len - 4),
        frame.get(len - FRAME_TRAILER_LEN..len),
    ) else {
        return false;
    };
    get_u32(trailer, 12) == Some(crc32c::crc32c(covered))
        && trailer.get(8..12) == Some(&FRAME_END[..])
        && get_u64(trailer, 0) == header.last_seq()
}

/// Decodes the entries of a checked frame into `out` (positions in `frame`): exactly
/// `count` operation entries filling the body.
pub(crate) fn entries(
    frame: &[u8],
    header: &FrameHeader,
    out: &mut Vec<EntryPos>,
) -> Result<(), &'static str> {
    out.clear();
    let body_end = FRAME_HEADER_LEN + header.body_len;
    let body = frame
        .get(..body_end)
        .ok_or("frame shorter than its header says")?;
    let mut at = FRAME_HEADER_LEN;
    for _ in 0..header.count {
        let (entry, next) = decode_entry(body, at)?;
        out.push(entry);
        at = next;
    }
    if at != body_end {
        return Err("frame body longer than its records");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OperationKind;

    fn group() -> Vec<Record<'static>> {
        vec![
            Record {
                seq: 5,
                kind: OperationKind::Insert,
                pk: b"a",
                row: Some(b"row-a"),
            },
            Record {
                seq: 6,
                kind: OperationKind::Delete,
                pk: b"b",
                row: None,
            },
        ]
    }

    #[test]
    fn a_frame_round_trips() {
        let g = group();
        let body = body_len(&g, 5).unwrap();
        let mut buf = Vec::new();
        encode(&mut buf, 99, 48, &g, body);
        let h = FrameHeader::decode(&buf, 99).unwrap();
        assert_eq!(h.frame_len(), buf.len());
        assert_eq!((h.first_seq, h.count, h.synced_len), (5, 2, 48));
        assert!(check_frame(&buf, &h));
        let mut e = Vec::new();
        entries(&buf, &h, &mut e).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            FrameHeader::decode(&buf, 98),
            None,
            "another segment's salt"
        );
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let g = group();
        let body = body_len(&g, 5).unwrap();
        let mut buf = Vec::new();
        encode(&mut buf, 1, 48, &g, body);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            let ok = FrameHeader::decode(&b, 1)
                .is_some_and(|h| h.frame_len() == b.len() && check_frame(&b, &h));
            assert!(!ok, "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn bad_groups_are_refused() {
        assert!(matches!(body_len(&[], 1), Err(PersistError::EmptyGroup)));
        assert!(matches!(
            body_len(&group(), 4),
            Err(PersistError::SequenceMismatch {
                expected: 4,
                found: 5
            })
        ));
        let bad = [Record {
            seq: 1,
            kind: OperationKind::Update,
            pk: b"k",
            row: None,
        }];
        assert!(matches!(
            body_len(&bad, 1),
            Err(PersistError::InvalidRecord { .. })
        ));
    }
}
