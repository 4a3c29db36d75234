//! The address of one row version.

/// Where one row version lives: a page, the offset of its first byte in that page and
/// its encoded length. A link is only meaningful for the [`DataPages`](crate::DataPages)
/// that produced it.
///
/// Links cannot be made outside this crate: the fields are private, there is no
/// constructor and no `Default`. Only a [`PageWriter`](crate::PageWriter) makes one, for
/// the slot it has just written. Code outside this crate sees links (an index lookup hands
/// them out, a commit names the version it replaces) but can only compare them: nothing
/// public reads a page at a link, frees its slot, or puts it in an index.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// The page that holds the row version.
    pub(crate) page_id: u32,
    /// Offset of the first byte of the version in its page; a multiple of
    /// [`ROW_ALIGN`](crate::ROW_ALIGN).
    pub(crate) offset: u32,
    /// Encoded length of the version in bytes.
    pub(crate) length: u32,
}

impl Link {
    /// The space this version occupies in its page: its length rounded up to
    /// [`ROW_ALIGN`](crate::ROW_ALIGN).
    pub fn capacity(&self) -> u32 {
        round_up(self.length)
    }
}

/// Rounds `len` up to the next multiple of [`ROW_ALIGN`](crate::ROW_ALIGN).
pub(crate) fn round_up(len: u32) -> u32 {
    let align = crate::ROW_ALIGN;
    len.div_ceil(align).saturating_mul(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_to_alignment() {
        let link = |length| Link {
            page_id: 0,
            offset: 0,
            length,
        };
        assert_eq!(link(1).capacity(), 16);
        assert_eq!(link(16).capacity(), 16);
        assert_eq!(link(17).capacity(), 32);
        assert_eq!(link(0).capacity(), 0);
    }
}
