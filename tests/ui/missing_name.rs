use worktable::prelude::*;

worktable!(columns: { id: u64 primary_key });

fn main() {}
