use worktable::prelude::*;

/// A type of the user's own, without rkyv's derives.
#[derive(Clone, Debug, PartialEq)]
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
