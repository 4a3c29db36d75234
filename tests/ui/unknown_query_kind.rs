use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: { upsert: { ValueById(value) by id } },
);

fn main() {}
