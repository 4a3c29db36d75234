//! What a column type needs to be stored in a row: rkyv's `Archive`, `Serialize` (with
//! the serializer rows are encoded with) and `Deserialize` of its archived form.
//!
//! The `worktable!` macro requires [`StorableColumn`] of every column type in a `where`
//! clause spanned at the type's tokens, placed before the row's rkyv derives: rustc then
//! reports a type without the derives first at the column, with the derives to add. rkyv's
//! own errors about the same type still follow it, at the macro call (its derives bound
//! every field type); borrowed and unsized column types (`&str`, `[u8]`, `dyn Trait`) are
//! refused by the macro itself, with one error and no generated code.

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
pub trait StorableColumn {}

impl<T> StorableColumn for T
where
    T: Archive,
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    T::Archived: Deserialize<T, HighDeserializer<rancor::Error>>,
{
}
