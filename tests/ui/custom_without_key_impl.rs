use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key custom });

fn main() {}
