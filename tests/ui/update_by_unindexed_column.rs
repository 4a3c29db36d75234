use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8, other: u8 },
    queries: { update: { ValueByOther(value) by other } },
);

fn main() {}
