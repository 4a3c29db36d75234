use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, config: { pagesize: 4096 });

fn main() {}
