use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64, value: u8 });

fn main() {}
