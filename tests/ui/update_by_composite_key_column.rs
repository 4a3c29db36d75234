use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { a: u64 primary_key, b: String primary_key, value: u8 },
    queries: { update: { ValueByA(value) by a } },
);

fn main() {}
