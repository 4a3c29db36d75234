use worktable::prelude::*;

worktable!(name: Test, persist: true, columns: { id: u64 primary_key });

fn main() {}
