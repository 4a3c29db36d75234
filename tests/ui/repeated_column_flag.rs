use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, value: u8 optional optional });

fn main() {}
