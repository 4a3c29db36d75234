//! What a column type needs to be stored in a row: rkyv's `Archive`, `Serialize` (with
//! the serializer rows are encoded with) and `Deserialize` of its archived form.
//!
//! The `worktable!` macro bounds the row's and the key's rkyv impls, and the generated
//! items that use them, by [`StorableColumn`] of each column type instead of by rkyv's
//! traits of each field's type, in `where` clauses spanned at the column's type. rkyv's
//! traits follow from that bound (they are supertraits of [`StorableColumn`]), so a type
//! without the derives fails each of those clauses alone, with the same error at the same
//! place, and rustc shows it once: at the column, with the derives to add. A type with
//! only some of the derives gets rkyv's error for the one it lacks, at the column too.
//! Borrowed and unsized column types (`&str`, `[u8]`, `dyn Trait`) are refused by the
//! macro itself, with one error and no generated code.

use std::marker::PhantomData;

use rkyv::api::high::{HighDeserializer, HighSerializer};
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

/// A type a column can hold: rkyv can archive it, serialize it with the serializer
/// rows are encoded with, and deserialize it back. Implemented for every such type; the
/// derives make a type of your own one.
#[diagnostic::on_unimplemented(
    message = "column type `{Self}` cannot be stored in a row: it does not implement rkyv's \
               `Archive`, `Serialize` and `Deserialize`",
    label = "this column type needs rkyv's `Archive`, `Serialize` and `Deserialize`",
    note = "for a type of your own, add `#[derive(worktable::rkyv::Archive, \
            worktable::rkyv::Serialize, worktable::rkyv::Deserialize)]` and \
            `#[rkyv(crate = worktable::rkyv)]` to it"
)]
pub trait StorableColumn:
    Sized
    + Archive<Archived: Deserialize<Self, HighDeserializer<rancor::Error>>>
    + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
{
}

// Not recommended, so that an error names `StorableColumn` (with its message) rather than
// the first of these bounds the type lacks.
#[diagnostic::do_not_recommend]
impl<T> StorableColumn for T where
    T: Archive<Archived: Deserialize<T, HighDeserializer<rancor::Error>>>
        + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
{
}

/// The alignment of a column type's archived form, `ArchivedAlign::<T>::OF`, for the
/// `worktable!` macro's compile-time check that a row's archive fits the 16-byte aligned
/// slots of a page. (A row's archive is a `repr(C)` struct of its columns' archives, so
/// its alignment is the largest of theirs.)
///
/// `OF` is the inherent constant below for a [`StorableColumn`], and
/// [`UnstorableAlign::OF`] (with that trait in scope) for any other type, whose error is
/// the macro's `StorableColumn` bound: the check adds none of its own.
pub struct ArchivedAlign<T>(PhantomData<fn() -> T>);

impl<T: StorableColumn> ArchivedAlign<T> {
    /// The alignment of `T`'s archived form.
    pub const OF: usize = core::mem::align_of::<T::Archived>();
}

/// `ArchivedAlign::<T>::OF` of a type that is not a [`StorableColumn`]: 1, which passes
/// the check. Inherent constants come first, so a storable type never gets this one.
pub trait UnstorableAlign {
    /// 1.
    const OF: usize = 1;
}

impl<T> UnstorableAlign for ArchivedAlign<T> {}
