use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, a: u8, b: u8 },
    indexes: { idx: a, idx: b },
);

fn main() {}
