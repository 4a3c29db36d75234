use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: {
        update: { ValueById(value) by id },
        in_place: { ValueById(value) by id },
    },
);

fn main() {}
