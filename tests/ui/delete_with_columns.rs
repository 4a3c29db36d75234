use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: { delete: { ByValue(value) by value } },
);

fn main() {}
