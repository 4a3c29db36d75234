//! Errors of the page layer.

/// What can go wrong when storing or reading a row version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The encoded row does not fit in one page.
    #[error("row of {size} bytes is larger than a page ({max} bytes)")]
    RowTooLarge {
        /// Encoded size of the row in bytes.
        size: usize,
        /// The largest row a page holds: the page size.
        max: usize,
    },
    /// The row could not be encoded.
    #[error("row could not be encoded: {0}")]
    Encode(String),
    /// A page size outside the allowed range or not a multiple of the row alignment.
    #[error(
        "page size {0} is invalid: it must be a multiple of 16 between {min} and {max}",
        min = crate::MIN_PAGE_SIZE,
        max = crate::MAX_PAGE_SIZE
    )]
    InvalidPageSize(u64),
    /// A link that does not address a slot of these pages.
    #[error("link {0:?} does not address a row in these pages")]
    BadLink(crate::Link),
    /// Every page id is in use.
    #[error("the table has used every page id")]
    OutOfPages,
    /// Bytes given to [`CheckedRowFormat::decode_checked`](crate::CheckedRowFormat) are
    /// not a valid encoding of the type (rkyv's validation refused them).
    #[error("bytes are not a valid encoding of the row or key: {0}")]
    InvalidBytes(String),
}
