use worktable::prelude::*;

#[derive(
    Clone,
    Debug,
    PartialEq,
    worktable::rkyv::Archive,
    worktable::rkyv::Serialize,
    worktable::rkyv::Deserialize,
)]
#[rkyv(crate = worktable::rkyv)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

worktable!(
    name: Test,
    columns: { id: u64 primary_key, point: Point },
    indexes: { point_idx: point },
);

fn main() {}
