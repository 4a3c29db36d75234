use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: { delete: { ByValue() by vaule } },
);

fn main() {}
