//! Encoding of rows with rkyv.

use rkyv::api::high::{HighDeserializer, HighSerializer};
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

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
    /// `bytes` must be exactly the output of `encode` for `Self`, located at an address
    /// aligned to [`ROW_ALIGN`](crate::ROW_ALIGN), and must not change while this runs.
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
}
