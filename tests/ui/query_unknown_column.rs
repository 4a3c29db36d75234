use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: { update: { ValueById(valeu) by id } },
);

fn main() {}
