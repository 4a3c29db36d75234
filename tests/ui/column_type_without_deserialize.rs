use worktable::prelude::*;

/// A type of the user's own that rkyv can archive and serialize, but not deserialize:
/// its `Deserialize` derive is missing.
#[derive(Clone, Debug, PartialEq, worktable::rkyv::Archive, worktable::rkyv::Serialize)]
#[rkyv(crate = worktable::rkyv)]
pub struct Point {
    pub x: u32,
}

worktable!(
    name: Test,
    columns: {
        id: u64 primary_key,
        point: Point,
    },
);

fn main() {}
