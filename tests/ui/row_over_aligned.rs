//! Rows sit at 16-byte aligned slots of a page and are read without validation, so a
//! column type whose archive needs a larger alignment is refused at compile time.
use worktable::prelude::*;

#[derive(
    Clone,
    Debug,
    PartialEq,
    worktable::rkyv::Archive,
    worktable::rkyv::Serialize,
    worktable::rkyv::Deserialize,
)]
#[rkyv(crate = worktable::rkyv, attr(repr(align(32))))]
pub struct Wide {
    pub x: u64,
}

worktable!(name: Test, columns: { id: u64 primary_key, wide: Wide });

fn main() {}
