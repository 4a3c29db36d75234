use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, value: u8, value: u16 });

fn main() {}
