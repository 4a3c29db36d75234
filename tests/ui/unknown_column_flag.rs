use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, value: u8 unique });

fn main() {}
