use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { id: u64 primary_key, value: u8 },
    queries: {
        update: { Nothing() by id },
        in_place: { NothingInPlace() by id },
    },
);

fn main() {}
