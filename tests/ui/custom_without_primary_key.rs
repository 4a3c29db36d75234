use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key, seq: u64 custom });

fn main() {}
