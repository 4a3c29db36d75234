use worktable::prelude::*;

worktable!(name: Test, columns: { id: u64 primary_key }, config: { page_size: 128 });

fn main() {}
