//! Encoding of rows with rkyv.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use crate::PageError;

/// A type that can be stored as a row version in pages.
///
/// It is implemented for every type that rkyv can serialize and deserialize with its
/// default (high-level) serializer and whose archived form needs an alignment of at most
/// [`ROW_ALIGN`](crate::ROW_ALIGN); the `worktable!` macro derives those traits on the
/// generated row type. The alignment is checked at compile time: encoding or decoding a
/// row whose archive is over-aligned (`#[rkyv(attr(repr(align(32))))]`, say) is a compile
/// error where it is instantiated, because its archive would sit misaligned in a page.
pub trait RowFormat: Sized + Send + Sync + 'static {
    /// Encodes the row into an aligned buffer.
    fn encode(&self) -> Result<AlignedVec, rancor::Error> {
        self.encode_into(AlignedVec::new())
    }

    /// Encodes the row into `buffer`, after clearing it, so a writer can reuse one
    /// allocation for every row it encodes.
    fn encode_into(&self, buffer: AlignedVec) -> Result<AlignedVec, rancor::Error>;

    /// Decodes a row from bytes produced by [`RowFormat::encode`] of the same type.
    ///
    /// # Safety
    ///
    /// `bytes` must be exactly the output of `encode` for `Self` (or, when `Self` is a
    /// [`CheckedRowFormat`], whose encoding is rkyv's, bytes that
    /// [`CheckedRowFormat::decode_checked`] accepted from an address aligned to
    /// [`ROW_ALIGN`](crate::ROW_ALIGN)), located at an address aligned to
    /// [`ROW_ALIGN`](crate::ROW_ALIGN), and must not change while this runs.
    unsafe fn decode(bytes: &[u8]) -> Result<Self, rancor::Error>;
}

impl<T> RowFormat for T
where
    T: Archive + Send + Sync + 'static,
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    T::Archived: Deserialize<T, HighDeserializer<rancor::Error>>,
{
    fn encode_into(&self, mut buffer: AlignedVec) -> Result<AlignedVec, rancor::Error> {
        let () = AlignedRow::<T>::FITS;
        buffer.clear();
        rkyv::api::high::to_bytes_in::<_, rancor::Error>(self, buffer)
    }

    unsafe fn decode(bytes: &[u8]) -> Result<Self, rancor::Error> {
        let () = AlignedRow::<T>::FITS;
        // SAFETY: the caller guarantees that `bytes` is an unchanging encoding of `T` made
        // by `encode`, at an address aligned to `ROW_ALIGN`, which is at least the
        // alignment of `T`'s archive (`FITS` above): what `from_bytes_unchecked` requires.
        unsafe { rkyv::from_bytes_unchecked::<T, rancor::Error>(bytes) }
    }
}

/// A [`RowFormat`] whose encodings can also be decoded from untrusted bytes, such as a row
/// or a primary key read back from a file.
///
/// Implemented for every row format whose archive rkyv can validate (`CheckBytes`, which
/// rkyv's derives implement: the workspace enables rkyv's `bytecheck` feature). The rows
/// and primary keys the `worktable!` macro generates are such types.
///
/// The trait is sealed: its one implementation is this crate's, for types whose
/// [`RowFormat`] is the rkyv one above, so that bytes it accepts are bytes
/// [`RowFormat::decode`] may read. [`PageWriter::write_checked`](crate::PageWriter::write_checked)
/// relies on it to write validated bytes into a page.
pub trait CheckedRowFormat: RowFormat + sealed::RkyvChecked {
    /// Decodes a value from `bytes` after validating them with rkyv's checked access.
    ///
    /// Any bytes are accepted: bytes that are not an encoding of `Self` (truncated,
    /// corrupted, of another type) give [`PageError::InvalidBytes`], never a panic or
    /// undefined behaviour. `bytes` need not be aligned: unless they start at a multiple
    /// of [`ROW_ALIGN`](crate::ROW_ALIGN), they are first copied into an aligned buffer.
    fn decode_checked(bytes: &[u8]) -> Result<Self, PageError>;
}

mod sealed {
    /// Types whose [`RowFormat`](super::RowFormat) is the rkyv implementation of this
    /// module and whose archive rkyv validates: the only types that are
    /// [`CheckedRowFormat`](super::CheckedRowFormat). Not nameable outside this crate, so no
    /// other crate implements `CheckedRowFormat` with a check of its own.
    pub trait RkyvChecked {}
}

/// The bounds of the `RowFormat` implementation, so that the one below applies only to
/// types that have it, and `CheckedRowFormat`'s validation is that of their encoding.
impl<T> sealed::RkyvChecked for T
where
    T: Archive + Send + Sync + 'static,
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + Deserialize<T, HighDeserializer<rancor::Error>>,
{
}

impl<T> CheckedRowFormat for T
where
    T: RowFormat + sealed::RkyvChecked + Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + Deserialize<T, HighDeserializer<rancor::Error>>,
{
    fn decode_checked(bytes: &[u8]) -> Result<Self, PageError> {
        let () = AlignedRow::<T>::FITS;
        let invalid = |error: rancor::Error| PageError::InvalidBytes(error.to_string());
        // Encodings are made in buffers aligned to `ROW_ALIGN`, and their inner pointers
        // are aligned relative to that start: validate them from such a start too.
        if bytes.as_ptr().addr() % crate::ROW_ALIGN as usize == 0 {
            rkyv::from_bytes::<T, rancor::Error>(bytes).map_err(invalid)
        } else {
            let mut aligned =
                AlignedVec::<{ crate::ROW_ALIGN as usize }>::with_capacity(bytes.len());
            aligned.extend_from_slice(bytes);
            rkyv::from_bytes::<T, rancor::Error>(&aligned).map_err(invalid)
        }
    }
}

/// The compile-time check that a row's archive can sit at any `ROW_ALIGN`-aligned offset.
struct AlignedRow<T>(std::marker::PhantomData<T>);

impl<T: Archive> AlignedRow<T> {
    /// Evaluated when `encode_into` or `decode` is instantiated for `T`.
    const FITS: () = assert!(
        std::mem::align_of::<T::Archived>() <= crate::ROW_ALIGN as usize,
        "the archived row needs an alignment above ROW_ALIGN (16 bytes), so it cannot sit \
         at a slot of a page; drop the over-aligned `repr(align)` from the row's archive"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq, Clone)]
    struct Sample {
        id: u64,
        name: String,
        tags: Vec<u16>,
        maybe: Option<i32>,
    }

    #[test]
    fn encode_then_decode_gives_the_row_back() {
        let row = Sample {
            id: 7,
            name: "seven".into(),
            tags: vec![1, 2],
            maybe: Some(-3),
        };
        let bytes = row.encode().expect("sample rows always encode");
        // SAFETY: `bytes` is an aligned, unchanged encoding of `Sample`.
        let back = unsafe { Sample::decode(&bytes) }.expect("valid encoding");
        assert_eq!(back, row);
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq, Clone)]
    enum Kind {
        Plain,
        Tagged(u32),
        Named { text: String },
    }

    /// A row with every kind of field validation cares about: lengths and pointers
    /// (`String`, `Vec`), tags (`Option`, `bool`, `char`, an enum).
    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq, Clone)]
    struct Checked {
        id: u64,
        name: String,
        tags: Vec<u16>,
        maybe: Option<i32>,
        flag: bool,
        letter: char,
        kinds: Vec<Kind>,
        ratio: f64,
    }

    fn checked_sample() -> Checked {
        Checked {
            id: 7,
            name: "a name longer than the inline limit of eight".into(),
            tags: vec![1, 2, 3],
            maybe: Some(-3),
            flag: true,
            letter: 'ж',
            kinds: vec![
                Kind::Plain,
                Kind::Tagged(9),
                Kind::Named {
                    text: "x".repeat(20),
                },
            ],
            ratio: 0.5,
        }
    }

    #[test]
    fn decode_checked_round_trips_rows_and_keys() {
        let row = checked_sample();
        let bytes = row.encode().expect("sample rows always encode");
        assert_eq!(Checked::decode_checked(&bytes), Ok(row));
        let key = (42_u64, String::from("a composite key's string part"));
        let bytes = key.encode().expect("keys always encode");
        assert_eq!(<(u64, String)>::decode_checked(&bytes), Ok(key));
        let bytes = 5_u32.encode().expect("integers always encode");
        assert_eq!(u32::decode_checked(&bytes), Ok(5));
    }

    #[test]
    fn decode_checked_refuses_empty_and_foreign_bytes() {
        assert!(matches!(
            Checked::decode_checked(&[]),
            Err(PageError::InvalidBytes(_))
        ));
        // A `u64` is too short to be a `Checked`.
        let bytes = 7_u64.encode().expect("integers always encode");
        assert!(matches!(
            Checked::decode_checked(&bytes),
            Err(PageError::InvalidBytes(_))
        ));
        // A `bool` other than 0 or 1.
        let mut bytes = AlignedVec::<16>::new();
        bytes.push(2);
        assert!(matches!(
            bool::decode_checked(&bytes),
            Err(PageError::InvalidBytes(_))
        ));
    }

    /// Every prefix of an encoding, and the encoding with any one byte changed, decodes
    /// to some value or is refused with `InvalidBytes`: it never panics (and under Miri,
    /// never reads out of bounds or misaligned).
    #[test]
    fn decode_checked_survives_truncation_and_byte_flips() {
        let row = checked_sample();
        let bytes = row.encode().expect("sample rows always encode");
        let decodes_or_is_refused = |bytes: &[u8]| match Checked::decode_checked(bytes) {
            Ok(_) => false,
            Err(PageError::InvalidBytes(_)) => true,
            Err(other) => panic!("unexpected error {other:?}"),
        };
        for len in 0..bytes.len() {
            // A strict prefix may still hold a valid (other) value.
            decodes_or_is_refused(&bytes[..len]);
        }
        // Every byte takes every other value; under Miri, one change of every fourth
        // byte keeps the run short.
        let all: Vec<u8> = (1..=u8::MAX).collect();
        let (masks, step): (&[u8], usize) = if cfg!(miri) { (&[0xff], 4) } else { (&all, 1) };
        let mut refused = 0;
        let mut changed = AlignedVec::<16>::with_capacity(bytes.len());
        for at in (0..bytes.len()).step_by(step) {
            for &mask in masks {
                changed.clear();
                changed.extend_from_slice(&bytes);
                changed[at] ^= mask;
                refused += usize::from(decodes_or_is_refused(&changed));
            }
        }
        assert!(refused > 0, "some flips must be refused");
    }

    #[test]
    fn decode_checked_accepts_a_misaligned_buffer() {
        let row = checked_sample();
        let bytes = row.encode().expect("sample rows always encode");
        let mut shifted = AlignedVec::<16>::with_capacity(bytes.len() + 1);
        shifted.push(0);
        shifted.extend_from_slice(&bytes);
        let misaligned = &shifted[1..];
        assert_ne!(misaligned.as_ptr().addr() % 16, 0);
        assert_eq!(Checked::decode_checked(misaligned), Ok(row));
        assert!(matches!(
            Checked::decode_checked(&misaligned[..misaligned.len() / 2]),
            Ok(_) | Err(PageError::InvalidBytes(_))
        ));
    }
}
