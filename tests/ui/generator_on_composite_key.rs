use worktable::prelude::*;

worktable!(
    name: Test,
    columns: { a: u64 primary_key autoincrement, b: String primary_key },
);

fn main() {}
