use worktable::prelude::*;

worktable!(name: Test, persist: yes, columns: { id: u64 primary_key });

fn main() {}
