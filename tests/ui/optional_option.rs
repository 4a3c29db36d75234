use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, value: Option<u8> optional });

fn main() {}
